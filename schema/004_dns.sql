-- SPDX-License-Identifier: MIT
-- connrec store schema, version 4: the DNS answers local sockets received.
--
-- Applied after 003_anchors.sql to new segments, and to an active older segment when a newer
-- recorder reopens it. See docs/schema.md for every column.

PRAGMA user_version = 4;

-- One row per DNS response delivered to a local socket (UDP or TCP, from port 53).
CREATE TABLE dns (
	id INTEGER PRIMARY KEY,		-- unique across the store (same counter as conn.id)
	ts_ns INTEGER NOT NULL,		-- when the response reached the socket
	proc INTEGER NOT NULL REFERENCES proc(id),	-- the receiving socket's owner
	proto INTEGER NOT NULL,		-- 17 udp, 6 tcp
	family INTEGER NOT NULL,	-- 4 or 6: the packet's IP version
	laddr BLOB NOT NULL,		-- 4 or 16 bytes, network order: the receiving end
	lport INTEGER NOT NULL,
	raddr BLOB NOT NULL,		-- the server
	rport INTEGER NOT NULL,
	flags INTEGER NOT NULL,		-- 2 carried from the previous segment, 4 owner unknown, 8 TC set
	txid INTEGER NOT NULL,		-- the DNS message id
	qname TEXT NOT NULL,		-- presentation form, no final dot, non-printables as \DDD
	qtype INTEGER NOT NULL,		-- 1 A, 28 AAAA, ...
	rcode INTEGER NOT NULL		-- 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...
) STRICT;

-- The A, AAAA and CNAME records of each response's answer section, in message order.
CREATE TABLE dns_answer (
	dns INTEGER NOT NULL REFERENCES dns(id),
	type INTEGER NOT NULL,		-- 1 A, 5 CNAME, 28 AAAA
	name TEXT NOT NULL,		-- the record's owner name
	ttl INTEGER NOT NULL,		-- seconds
	addr BLOB,			-- A: 4 bytes, AAAA: 16 bytes; NULL for CNAME
	target TEXT			-- CNAME: the canonical name; NULL otherwise
) STRICT;

CREATE TRIGGER dns_no_update BEFORE UPDATE ON dns BEGIN SELECT RAISE(ABORT, 'dns is append-only'); END;
CREATE TRIGGER dns_no_delete BEFORE DELETE ON dns BEGIN SELECT RAISE(ABORT, 'dns is append-only'); END;
CREATE TRIGGER dns_answer_no_update BEFORE UPDATE ON dns_answer BEGIN SELECT RAISE(ABORT, 'dns_answer is append-only'); END;
CREATE TRIGGER dns_answer_no_delete BEFORE DELETE ON dns_answer BEGIN SELECT RAISE(ABORT, 'dns_answer is append-only'); END;

-- A migrated segment says which version it now is (a new one gets its meta rows later).
UPDATE meta SET value = '4' WHERE key = 'schema_version';
