"""huey's SQLite storage with fewer flushed write transactions per task.

huey's SqliteStorage runs every write as `begin exclusive ... commit` on one connection under one lock
and, with `fsync=True`, every commit waits for the disk. Per task that is the dequeue and, after the
task, clearing its revoke flag (a write transaction even when there is no flag, which is every time
here: the webhook queue never revokes). Both are needless flushes on the worker's path:

- clearing a revoke flag first looks, without the write lock, whether there is one;
- a dequeue is committed without waiting for the disk (WAL, synchronous=NORMAL for that transaction).
  Losing it to a power cut only brings the task back, and a duplicate task is harmless (a worker must
  claim the event first, lib/webhooks/worker.py). The next flushed commit (an accepted event, a step's
  output) makes it durable with everything before it: the WAL keeps commits in order. The worker claims
  the task's event in the same transaction (`on_dequeue`), so the two are lost or kept together.

`relaxed()` gives the same unflushed transaction to the event store, for writes that may be lost in a
power cut without harm (the worker's claim, the output of a step declared idempotent).

The connection's `synchronous` setting is changed only when a write needs the other one (`synchronous()`,
before BEGIN as SQLite requires), not set and restored around every unflushed transaction: a worker's
writes, nearly all unflushed, change it once, and every flushed commit still finds it FULL.

Every write transaction first takes the queue file's write gate (lib/webhooks/write_gate.py), so the
processes sharing the file take turns without SQLite's busy handler sleeping between them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable

from huey.constants import EmptyData
from huey.storage import SqliteStorage

from .write_gate import WriteGate


class WebhookSqliteStorage(SqliteStorage):
    # Called with the cursor and the task's data inside the transaction that takes a task off the queue:
    # the worker claims the task's event there (lib/webhooks/worker.py), one write where there were two.
    on_dequeue: Callable[[sqlite3.Cursor, bytes], None] | None = None

    def __init__(self, *args, **kwargs):
        self.gate = WriteGate(os.path.abspath(kwargs.get("filename", "huey.db")))
        self._synchronous: tuple[sqlite3.Connection, bool] | None = None  # the connection's setting, as last set
        self._found_last = False  # whether the last dequeue found a task
        super().__init__(*args, **kwargs)

    @contextlib.contextmanager
    def db(self, commit=False, close=False):
        """huey's db(), whose write transactions go through the write gate (lib/webhooks/write_gate.py)."""
        if not commit:
            with super().db(close=close) as cursor:
                yield cursor
            return
        with self._write(flush=True, close=close) as cursor:
            yield cursor

    def relaxed(self):
        """db(commit=True) whose commit does not wait for the disk (synchronous=NORMAL for it alone)."""
        return self._write(flush=False)

    def synchronous(self, conn: sqlite3.Connection, flush: bool) -> None:
        """Before a write transaction, under the lock: the connection set as this commit needs it, FULL (it
        waits for the disk) or NORMAL, with a statement only when it was last set otherwise."""
        if self._fsync and self._synchronous != (conn, flush):
            conn.execute("pragma synchronous = full" if flush else "pragma synchronous = normal")
            self._synchronous = (conn, flush)

    @contextlib.contextmanager
    def _write(self, *, flush: bool, close: bool = False):
        with self.lock:
            conn = self.conn
            self.synchronous(conn, flush)  # outside a transaction, as SQLite requires
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
                    self._conn, self._synchronous = None, None

    def close(self):
        closed = super().close()
        self._synchronous = None
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
