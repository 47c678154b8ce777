-- SPDX-License-Identifier: MIT
-- Statements run when a segment is sealed, before it is hashed and compressed.
--
-- No general secondary indexes (measured, see docs/store.md "Indexes of sealed segments"):
-- when a query decompressed a sealed segment whole, indexes on start_ns, lport, rport and
-- raddr doubled its size and made queries slower. Sealed segments are now read in
-- place, page by page, so an index costs only the pages a query reads through it.
--
-- conn_unfolded lists the conn rows that do not hold a whole lifetime on their own: carried
-- copies of flows open at a rotation, and rows whose end is elsewhere (in conn_end, in a
-- later segment, or never seen). A --count counts the others in SQL and merges only these;
-- without the index that merge pass scans every page of conn a second time to find the few.
-- Its WHERE is written exactly as the reader's (read/store_read_where.c, sqlite_dialect.folded) so that
-- SQLite's planner sees that the query implies it.
CREATE INDEX conn_unfolded ON conn(id) WHERE NOT ((flags & 2) = 0 AND reason IS NOT NULL);

-- conn_ends orders the whole lifetimes by their end, so a window that starts late in the
-- segment (the hour before now, in the segment sealed an hour ago) reads the few rows that
-- end in it, not the whole table; and a --count over the whole segment counts this index,
-- a quarter of the table's pages, instead of the table. Its WHERE is the reader's sqlite_dialect.folded.
CREATE INDEX conn_ends ON conn(start_ns + dur_ns) WHERE (flags & 2) = 0 AND reason IS NOT NULL;
