-- SPDX-License-Identifier: MIT
-- Indexes built when a segment is sealed. The active segment has none besides the rowid:
-- each index costs ~18 bytes per flow and a B-tree insert on the capture path, and a scan of
-- one active segment (at most --rotate-size) is fast enough for the queries that touch it.
CREATE INDEX conn_start ON conn(start_ns);
CREATE INDEX conn_lport ON conn(lport);
CREATE INDEX conn_rport ON conn(rport);
CREATE INDEX conn_raddr ON conn(raddr);
