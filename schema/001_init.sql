-- SPDX-License-Identifier: MIT
-- connrec store schema, version 1.
--
-- One SQLite file is one segment. Event tables are append-only: triggers abort UPDATE and
-- DELETE, and the writer never uses REPLACE. A connection's lifetime is its `conn` row
-- joined with its `conn_end` row (if the end was not already folded into `conn`).
-- Times are wall-clock nanoseconds since the Unix epoch (UTC).
-- See docs/schema.md for every column.

PRAGMA user_version = 1;

-- Segment metadata, key/value. Keys: schema_version, segment_id, host, boot_id, kernel,
-- recorder_version, clock_offset_ns, created_ns, first_ns, last_ns, prev_sha256, sealed.
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

-- Process context, deduplicated: many flows share one row.
CREATE TABLE proc (
	id INTEGER PRIMARY KEY,
	pid INTEGER NOT NULL,	-- tgid, 0 when unknown
	comm TEXT NOT NULL,	-- process (thread-group leader) name
	uid INTEGER NOT NULL,
	netns INTEGER NOT NULL,	-- network namespace inode
	cgroup INTEGER NOT NULL	-- cgroup v2 id
) STRICT;

-- One row per endpoint lifetime start.
CREATE TABLE conn (
	id INTEGER PRIMARY KEY,		-- connection id, unique across the whole store
	start_ns INTEGER NOT NULL,
	proto INTEGER NOT NULL,		-- 6 tcp, 17 udp
	family INTEGER NOT NULL,	-- 4 or 6 (socket family; v4-mapped stays 6)
	dir INTEGER NOT NULL,		-- 0 out, 1 in, 2 listen
	laddr BLOB NOT NULL,		-- 4 or 16 bytes, network order
	lport INTEGER NOT NULL,
	raddr BLOB NOT NULL,
	rport INTEGER NOT NULL,
	proc INTEGER NOT NULL REFERENCES proc(id),
	flags INTEGER NOT NULL,		-- 1 preexisting, 2 carried from previous segment, 4 no pid
	-- The end, when it was seen before this row was written (short flows take one row):
	dur_ns INTEGER,			-- end_ns - start_ns
	bytes_out INTEGER,
	bytes_in INTEGER,
	reason INTEGER			-- end reason (see docs/schema.md), NULL while open
) STRICT;

-- The end of a connection whose `conn` row was written while it was still open.
CREATE TABLE conn_end (
	id INTEGER PRIMARY KEY,		-- conn.id
	end_ns INTEGER NOT NULL,
	bytes_out INTEGER,
	bytes_in INTEGER,
	reason INTEGER NOT NULL
) STRICT;

-- Recording gaps. kind 1 = lost (events dropped, count known), 2 = down (recorder not running),
-- 3 = tamper (someone blinded the recorder until it healed; docs/blinding.md).
CREATE TABLE gap (
	id INTEGER PRIMARY KEY,
	kind INTEGER NOT NULL,
	start_ns INTEGER NOT NULL,
	end_ns INTEGER NOT NULL,
	count INTEGER NOT NULL,
	reason TEXT NOT NULL
) STRICT;

-- The recorder's own lifecycle: kind 1 = start, 2 = stop (clean), 3 = segment opened.
CREATE TABLE run (
	id INTEGER PRIMARY KEY,
	ts_ns INTEGER NOT NULL,
	kind INTEGER NOT NULL,
	pid INTEGER NOT NULL,
	version TEXT NOT NULL
) STRICT;

-- Sealed segments deleted by retention, recorded so verify can tell retention from tampering.
CREATE TABLE retention (
	id INTEGER PRIMARY KEY,
	ts_ns INTEGER NOT NULL,
	name TEXT NOT NULL,
	first_ns INTEGER NOT NULL,
	last_ns INTEGER NOT NULL,
	sha256 TEXT NOT NULL
) STRICT;

CREATE TRIGGER proc_no_update BEFORE UPDATE ON proc BEGIN SELECT RAISE(ABORT, 'proc is append-only'); END;
CREATE TRIGGER proc_no_delete BEFORE DELETE ON proc BEGIN SELECT RAISE(ABORT, 'proc is append-only'); END;
CREATE TRIGGER conn_no_update BEFORE UPDATE ON conn BEGIN SELECT RAISE(ABORT, 'conn is append-only'); END;
CREATE TRIGGER conn_no_delete BEFORE DELETE ON conn BEGIN SELECT RAISE(ABORT, 'conn is append-only'); END;
CREATE TRIGGER conn_end_no_update BEFORE UPDATE ON conn_end BEGIN SELECT RAISE(ABORT, 'conn_end is append-only'); END;
CREATE TRIGGER conn_end_no_delete BEFORE DELETE ON conn_end BEGIN SELECT RAISE(ABORT, 'conn_end is append-only'); END;
CREATE TRIGGER gap_no_update BEFORE UPDATE ON gap BEGIN SELECT RAISE(ABORT, 'gap is append-only'); END;
CREATE TRIGGER gap_no_delete BEFORE DELETE ON gap BEGIN SELECT RAISE(ABORT, 'gap is append-only'); END;
CREATE TRIGGER run_no_update BEFORE UPDATE ON run BEGIN SELECT RAISE(ABORT, 'run is append-only'); END;
CREATE TRIGGER run_no_delete BEFORE DELETE ON run BEGIN SELECT RAISE(ABORT, 'run is append-only'); END;
CREATE TRIGGER retention_no_update BEFORE UPDATE ON retention BEGIN SELECT RAISE(ABORT, 'retention is append-only'); END;
CREATE TRIGGER retention_no_delete BEFORE DELETE ON retention BEGIN SELECT RAISE(ABORT, 'retention is append-only'); END;

-- For people reading a segment with sqlite3: one row per lifetime, names as in query output.
CREATE VIEW flows AS
SELECT c.id AS conn_id,
	c.start_ns,
	COALESCE(e.end_ns, c.start_ns + c.dur_ns) AS end_ns,
	CASE c.proto WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' ELSE c.proto END AS proto,
	c.family,
	CASE c.dir WHEN 0 THEN 'out' WHEN 1 THEN 'in' ELSE 'listen' END AS direction,
	c.laddr, c.lport, c.raddr, c.rport,
	p.pid, p.comm, p.uid, p.netns, p.cgroup,
	COALESCE(e.bytes_out, c.bytes_out) AS bytes_out,
	COALESCE(e.bytes_in, c.bytes_in) AS bytes_in,
	COALESCE(e.reason, c.reason) AS reason,
	c.flags
FROM conn c JOIN proc p ON p.id = c.proc LEFT JOIN conn_end e ON e.id = c.id;
