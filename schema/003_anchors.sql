-- SPDX-License-Identifier: MIT
-- connrec store schema, version 3: checkpoints and seals (docs/store.md, "Checkpoints and
-- seals"). Applied after 002 when a segment is created, and on its own to an active segment of
-- an older version when a newer recorder reopens it. Only adds tables.

PRAGMA user_version = 3;

-- The store's anchor lines of kinds checkpoint and seal, exactly as sent to syslog (MAC
-- included, when the store has a sealing key): checkpoints of this segment and seals of
-- earlier ones, made while this segment was the active one.
CREATE TABLE anchor (
	id INTEGER PRIMARY KEY,
	ts_ns INTEGER NOT NULL,
	kind TEXT NOT NULL,	-- 'checkpoint' or 'seal'
	line TEXT NOT NULL	-- "connrec-anchor v=1 store=... kind=..."
) STRICT;

-- Rows committed in checkpoint interval ck whose rowid is not above the previous checkpoint's
-- high-water mark for their table (a long flow's row, an end, a cgroup): the rowid alone would
-- put them in an earlier interval.
CREATE TABLE ckpt_late (
	id INTEGER PRIMARY KEY,
	ck INTEGER NOT NULL,	-- the interval (1 = before the segment's first checkpoint)
	tbl TEXT NOT NULL,	-- 'conn', 'conn_end' or 'cgroup'
	rid INTEGER NOT NULL	-- the row's rowid in tbl
) STRICT;

CREATE TRIGGER anchor_no_update BEFORE UPDATE ON anchor BEGIN SELECT RAISE(ABORT, 'anchor is append-only'); END;
CREATE TRIGGER anchor_no_delete BEFORE DELETE ON anchor BEGIN SELECT RAISE(ABORT, 'anchor is append-only'); END;
CREATE TRIGGER ckpt_late_no_update BEFORE UPDATE ON ckpt_late BEGIN SELECT RAISE(ABORT, 'ckpt_late is append-only'); END;
CREATE TRIGGER ckpt_late_no_delete BEFORE DELETE ON ckpt_late BEGIN SELECT RAISE(ABORT, 'ckpt_late is append-only'); END;

UPDATE meta SET value = '3' WHERE key = 'schema_version';
