-- SPDX-License-Identifier: MIT
-- Indexes built when a segment is sealed (the active segment stays lean for ingest).
CREATE INDEX conn_lport ON conn(lport);
CREATE INDEX conn_rport ON conn(rport);
CREATE INDEX conn_raddr ON conn(raddr);
