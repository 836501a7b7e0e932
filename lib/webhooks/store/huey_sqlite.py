"""huey's SQLite storage with fewer flushed write transactions per task, flushed outside the write lock.

huey's SqliteStorage runs every write as `begin exclusive ... commit` on one connection under one lock
and, with `fsync=True`, every commit waits for the disk. Per task that is the dequeue and, after the
task, clearing its revoke flag (a write transaction even when there is no flag, which is every time
here: the webhook queue never revokes). Both are needless flushes on the worker's path:

- clearing a revoke flag first looks, without the write lock, whether there is one;
- a dequeue is committed without waiting for the disk. Losing it to a power cut only brings the task
  back, and a duplicate task is harmless (a worker must claim the event first, lib/webhooks/worker/runner.py).
  The next flushed commit (an accepted event, a step's output) makes it durable with everything before
  it: the WAL keeps commits in order. The worker claims the task's event in the same transaction
  (`on_dequeue`), so the two are lost or kept together.

`relaxed()` gives the same unflushed transaction to the event store, for writes that may be lost in a
power cut without harm (the worker's claim, the output of a step declared idempotent).

Flushed writes wait for the disk after the write lock is given back, not while holding it. SQLite's
synchronous=FULL in WAL mode is a write of the frames and an fdatasync of the WAL file inside COMMIT,
so every other writer of every process waited out each flush (about 2 ms here, the intake's group
commit several hundred times a second). The connection runs synchronous=NORMAL (SQLite syncs the WAL
before each checkpoint, the database file after it, and the WAL's header when the file is reused), and a
flushed write, once committed and out of the gate, calls `flush()`: an fdatasync of the WAL file, which
holds the commit unless a checkpoint has already synced it into the database file. The caller returns
only after that, so a commit answered as flushed is on disk exactly as under FULL (with SQLite's default
power-safe overwrite, under which FULL does not pad the WAL either). A file SQLite will not put in WAL
mode (some network file systems) keeps FULL on every commit, flushed or not.

Every write transaction first takes the queue file's write gate (lib/webhooks/store/write_gate.py), so the
processes sharing the file take turns without SQLite's busy handler sleeping between them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable

from huey.constants import EmptyData
from huey.storage import SqliteStorage

from jobs_connector.webhooks.store.write_gate import WriteGate

log = logging.getLogger("jobs_connector.webhooks")


class WebhookSqliteStorage(SqliteStorage):
    # Called with the cursor and the task's data inside the transaction that takes a task off the queue:
    # the worker claims the task's event there (lib/webhooks/worker/runner.py), one write where there were two.
    on_dequeue: Callable[[sqlite3.Cursor, bytes], None] | None = None

    def __init__(self, *args, **kwargs):
        self.path = os.path.abspath(kwargs.get("filename", "huey.db"))
        self.gate = WriteGate(self.path)
        self._wal = False  # whether the connection runs in WAL mode (and so synchronous=NORMAL)
        self._database_path = self.path  # where SQLite keeps it (and its WAL beside it): set on connecting
        self._found_last = False  # whether the last dequeue found a task
        super().__init__(*args, **kwargs)

    @contextlib.contextmanager
    def db(self, commit=False, close=False):
        """huey's db(), whose write transactions go through the write gate (lib/webhooks/store/write_gate.py)."""
        if not commit:
            with super().db(close=close) as cursor:
                yield cursor
            return
        with self._write(flush=True, close=close) as cursor:
            yield cursor

    def relaxed(self):
        """db(commit=True) whose commit does not wait for the disk."""
        return self._write(flush=False)

    def _create_connection(self):
        conn = super()._create_connection()  # WAL asked for; synchronous=FULL (fsync=True)
        self._wal = conn.execute("pragma journal_mode").fetchone()[0].lower() == "wal"
        # SQLite follows a symbolic link to the database and keeps the WAL beside the file it points to.
        self._database_path = os.path.realpath(self.path)
        if self._wal and self._fsync:
            conn.execute("pragma synchronous = normal")  # flushed writes call flush() after the lock
        elif self._fsync:
            log.warning("the queue file %s is not in WAL mode; every write waits for the disk inside the "
                        "write lock", self.path)
        return conn

    def flush(self, *, closed: bool = False) -> None:
        """After a commit, outside the locks: return once it is on disk (see the module's docstring).
        `closed`: the write closed this process's connection."""
        if not (self._wal and self._fsync):
            return  # FULL: the commit itself waited for the disk
        try:
            fd = os.open(self._database_path + "-wal", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not closed:  # SQLite keeps the WAL while a connection is open: never sync a guess instead
                raise
            # That was the last connection: SQLite checkpointed the WAL into the database file, synced
            # both, and removed it. Syncing the database file again costs nothing and assumes nothing.
            fd = os.open(self._database_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _write(self, *, flush: bool, close: bool = False):
        with self.lock:
            conn = self.conn
            try:
                # The gate is held from BEGIN to COMMIT only: other processes wait for nothing else.
                if not self.gate.acquire(self._timeout):
                    raise sqlite3.OperationalError(f"database is locked (another process kept its write gate "
                                                   f"for over {self._timeout:g} s)")
                try:
                    cursor = conn.cursor()
                    try:
                        cursor.execute(self.begin_sql)
                        yield cursor
                    except BaseException:
                        conn.rollback()
                        raise
                    else:
                        conn.commit()
                    finally:
                        cursor.close()
                finally:
                    self.gate.release()
            finally:
                if close:
                    conn.close()
                    self._conn = None
        if flush:  # committed (an exception skips this), the gate and the lock given back
            self.flush(closed=close)

    def close(self):
        closed = super().close()
        self.gate.close()
        return closed

    def dequeue(self):
        # huey first looks, without the write lock, whether there is a task at all: worth it on an idle
        # queue, a query for nothing on a busy one, so only once the last dequeue found none.
        if not self._found_last and not self.sql("select 1 from task where queue = ? limit 1", (self.name,),
                                                 results=True):
            return None
        with self.relaxed() as cur:
            row = cur.execute("select id, data from task where queue = ? order by priority desc, id limit 1",
                              (self.name,)).fetchone()
            self._found_last = row is not None
            if row is not None:
                cur.execute("delete from task where id = ?", (row[0],))
                if cur.rowcount == 1:
                    if self.on_dequeue is not None:
                        self.on_dequeue(cur, row[1])  # in the same transaction (the worker's claim)
                    return row[1]
        return None

    def pop_data(self, key):
        if not self.sql("select 1 from kv where queue = ? and key = ?", (self.name, key), results=True):
            return EmptyData
        return super().pop_data(key)
