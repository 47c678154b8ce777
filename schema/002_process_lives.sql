-- SPDX-License-Identifier: MIT
-- connrec store schema, version 2: process lives and cgroup names.
--
-- Applied after 001_init.sql when a segment is created, and on its own to a version-1 active
-- segment when a newer recorder reopens it (both give the same schema text).
--
-- A process life is keyed by (pid, pstart_ns) within one boot (meta boot_id): pstart_ns is
-- the process's start time on the kernel's monotonic clock, which a reused pid never repeats.
-- Flows reach their life through proc (proc.pid, proc.pstart_ns); strings are stored once per
-- life and segment, never per flow. See docs/schema.md for every column.

PRAGMA user_version = 2;

-- The key of the process life that owned the flows of this proc row; 0 when unknown (and in
-- rows written by a version-1 recorder).
ALTER TABLE proc ADD COLUMN pstart_ns INTEGER NOT NULL DEFAULT 0;

-- One row per image of a process life: the image it had when it was forked (or found at
-- start), and one more for each exec. A segment holds every life its flows reference and every
-- life that began, exec'd or ended while it was active.
CREATE TABLE life (
	id INTEGER PRIMARY KEY,
	pid INTEGER NOT NULL,		-- tgid
	pstart_ns INTEGER NOT NULL,	-- with pid, the key of the life
	start_ns INTEGER NOT NULL,	-- when the process started (fork)
	image_ns INTEGER NOT NULL,	-- when this image began (exec; the fork for the first)
	ppid INTEGER NOT NULL,		-- the process that forked it (0 when unknown)
	ppstart_ns INTEGER NOT NULL,	-- its key, with ppid
	pcomm TEXT NOT NULL,		-- its name at the fork
	uid INTEGER NOT NULL,
	cgroup INTEGER NOT NULL,	-- cgroup v2 id (see the cgroup table)
	comm TEXT NOT NULL,		-- the process name at the start of this image
	exe TEXT NOT NULL,		-- the path exec was given; '' when unknown
	args TEXT NOT NULL,		-- the command line, shell-quoted, bounded
	flags INTEGER NOT NULL,		-- see docs/schema.md (seeded, carried, exec, cut, ...)
	-- The end, when it was known before this row was written (most short lives take one row):
	exit_ns INTEGER,
	exit_code INTEGER		-- wait status: code << 8 | signal
) STRICT;

-- The end of a life whose last image row was written while it still ran.
CREATE TABLE life_exit (
	id INTEGER PRIMARY KEY,
	pid INTEGER NOT NULL,
	pstart_ns INTEGER NOT NULL,
	exit_ns INTEGER NOT NULL,
	exit_code INTEGER NOT NULL
) STRICT;

-- What a cgroup id names, resolved once: one row per cgroup a segment references.
CREATE TABLE cgroup (
	id INTEGER PRIMARY KEY,		-- cgroup v2 id (the inode of its directory)
	path TEXT NOT NULL,		-- below the cgroup v2 root; '' when it was gone already
	container TEXT NOT NULL,	-- container id named by the path, or ''
	unit TEXT NOT NULL		-- systemd unit named by the path, or ''
) STRICT;

-- The flows and lives views find a flow's image by its key; lives are few next to flows, so
-- this costs the writer little and saves a scan of life per flow.
CREATE INDEX life_key ON life(pid, pstart_ns, image_ns);

CREATE TRIGGER life_no_update BEFORE UPDATE ON life BEGIN SELECT RAISE(ABORT, 'life is append-only'); END;
CREATE TRIGGER life_no_delete BEFORE DELETE ON life BEGIN SELECT RAISE(ABORT, 'life is append-only'); END;
CREATE TRIGGER life_exit_no_update BEFORE UPDATE ON life_exit BEGIN SELECT RAISE(ABORT, 'life_exit is append-only'); END;
CREATE TRIGGER life_exit_no_delete BEFORE DELETE ON life_exit BEGIN SELECT RAISE(ABORT, 'life_exit is append-only'); END;
CREATE TRIGGER cgroup_no_update BEFORE UPDATE ON cgroup BEGIN SELECT RAISE(ABORT, 'cgroup is append-only'); END;
CREATE TRIGGER cgroup_no_delete BEFORE DELETE ON cgroup BEGIN SELECT RAISE(ABORT, 'cgroup is append-only'); END;

-- A migrated segment says which version it now is (a new one gets its meta rows later).
UPDATE meta SET value = '2' WHERE key = 'schema_version';

-- For people reading a segment with sqlite3: process lives, one row per image.
CREATE VIEW lives AS
SELECT l.pid, l.pstart_ns,
	l.start_ns,
	l.image_ns,
	COALESCE(l.exit_ns, x.exit_ns) AS exit_ns,
	COALESCE(l.exit_code, x.exit_code) AS exit_code,
	l.ppid, l.pcomm, l.uid, l.comm, l.exe, l.args,
	g.path AS cgroup_path, g.container, g.unit,
	l.flags
FROM life l
LEFT JOIN life_exit x ON x.pid = l.pid AND x.pstart_ns = l.pstart_ns
LEFT JOIN cgroup g ON g.id = l.cgroup;

-- The flows view of version 1, plus who: the image of its life that the flow's process had
-- when the flow began (the latest that began by then; else the first one), and its cgroup's
-- names.
DROP VIEW flows;
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
	c.flags,
	p.pstart_ns, l.exe, l.args, l.ppid, l.pcomm, g.container, g.unit
FROM conn c JOIN proc p ON p.id = c.proc LEFT JOIN conn_end e ON e.id = c.id
LEFT JOIN life l ON l.id = COALESCE(
	(SELECT i.id FROM life i WHERE i.pid = p.pid AND i.pstart_ns = p.pstart_ns
		AND i.image_ns <= c.start_ns ORDER BY i.image_ns DESC LIMIT 1),
	(SELECT i.id FROM life i WHERE i.pid = p.pid AND i.pstart_ns = p.pstart_ns
		ORDER BY i.image_ns LIMIT 1))
LEFT JOIN cgroup g ON g.id = p.cgroup;
