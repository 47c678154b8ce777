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
-- Its WHERE is written exactly as the reader's (read/store_read_internal.h, SR_SQL_FOLDED) so that
-- SQLite's planner sees that the query implies it.
CREATE INDEX conn_unfolded ON conn(id) WHERE NOT ((flags & 2) = 0 AND reason IS NOT NULL);
--
-- Not built: an index of the whole lifetimes by end (conn_ends), measured to make a late
-- window read less but to add 5.8 bytes per flow to the storm's sealed segments, over the
-- 16-byte budget (docs/store.md).

-- conn_whole: how many conn rows hold a whole lifetime (the rows conn_unfolded leaves out).
-- A reader whose copy of the segment the hash chain vouches for (its SHA-256 is the one the
-- store recorded) answers an unfiltered --count over the whole segment from it without reading
-- a page of conn; verify counts the rows again and names a segment where they differ.
INSERT INTO meta(key, value) SELECT 'conn_whole', (SELECT count(*) FROM conn) -
	(SELECT count(*) FROM conn WHERE NOT ((flags & 2) = 0 AND reason IS NOT NULL));
