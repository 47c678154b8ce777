#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Leaves DB-journal as a writer that died mid-transaction leaves it: a hot rollback journal.

    hotjournal.py DB [SUPER_JOURNAL]

With SUPER_JOURNAL, the journal also names that path as its super-journal, as a multi-database
transaction does. Rolling such a journal back makes SQLite delete the super-journal when no
child journal still names it: that is the attack a copied segment must not be able to make.
DB itself is left unchanged.
"""
import os
import shutil
import sqlite3
import struct
import sys

# The rollback journal's header magic (SQLite's aJournalMagic).
MAGIC = bytes([0xD9, 0xD5, 0x05, 0xF9, 0x20, 0xA1, 0x63, 0xD7])


def main():
    db = sys.argv[1]
    journal = db + "-journal"
    keep = db + ".hotjournal-tmp"
    # Write in a child that dies before COMMIT: its journal stays behind.
    pid = os.fork()
    if pid == 0:
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("BEGIN IMMEDIATE")
        con.execute("PRAGMA user_version=424242")
        shutil.copyfile(journal, keep)
        os._exit(0)
    os.waitpid(pid, 0)
    os.replace(keep, journal)
    with open(journal, "r+b") as f:
        # SQLite writes the magic only when it syncs the journal; a crash after the sync
        # leaves it, and that is what makes a journal hot.
        f.write(MAGIC)
        if len(sys.argv) > 2:
            name = sys.argv[2].encode()
            f.seek(0, os.SEEK_END)
            f.write(struct.pack(">I", 0xFFFFFFFF) + name)
            f.write(struct.pack(">II", len(name), sum(name) & 0xFFFFFFFF) + MAGIC)


if __name__ == "__main__":
    main()
