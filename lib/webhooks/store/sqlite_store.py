"""Events in SQLite, in the same file and through the same connection as huey's SQLite queue.

Durability: the database runs in WAL mode and a write returns only after the WAL is flushed to disk
(fdatasync, once the write lock is given back: lib/webhooks/store/huey_sqlite.py), so an accepted event
survives a crash of the process or the machine. `save(flush=False)` and huey's dequeue are the
exceptions, for writes a power cut may undo without harm.
Sharing huey's connection (and its lock) means one writer per process: the intake threads never wait
on SQLite's busy handler for each other, only on the other process (web or worker) when there is one.

Group commit: concurrent `add` calls are written in one transaction, so one fsync covers a batch of
events. Each event's queue task is inserted in the same transaction, so an event is stored if and only
if it is queued; a caller returns only once its batch is committed.

Honest failures: accepting waits at most `accept_timeout` seconds for the store (this process's other
threads, then another process's write lock) and otherwise raises StoreBusy with nothing written, so
the intake answers 503 before a sender's own timeout, never "timed out, yet stored". The file's identity
is checked before each batch and by ping(): a queue file deleted or replaced under the server makes
it refuse events (503) and fail /healthz instead of writing into an unlinked file.

Replay after a purge: purge() moves the delivery ids and fingerprints of events whose replay window has
not passed to webhook_replay, which `add` consults too; they are forgotten once the window has passed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobs_connector.webhooks.events import RUNNING, Event
from jobs_connector.webhooks.signatures.jobs_hmac import DEFAULT_TOLERANCE
from jobs_connector.webhooks.store.event_store import Due, EventStore, NotDurable, StoreBusy, StoreUnavailable

_DDL = (
    """create table if not exists webhook_events (
        id text primary key,
        flow text not null,
        delivery_id text,
        fingerprint text,
        status text not null,
        version integer not null,
        received_at real not null,
        updated_at real not null,
        next_at real,
        claim text,
        doc text not null)""",
    "create unique index if not exists webhook_events_delivery on webhook_events (flow, delivery_id) "
    "where delivery_id is not null",
    "create unique index if not exists webhook_events_fingerprint on webhook_events (flow, fingerprint) "
    "where fingerprint is not null",
    "create index if not exists webhook_events_next on webhook_events (next_at) where next_at is not null",
    "create index if not exists webhook_events_status on webhook_events (status, received_at)",
    "create index if not exists webhook_events_received on webhook_events (received_at)",
    # Delivery ids ('d:<id>') and fingerprints ('f:<digest>') of purged events, until their replay window ends.
    """create table if not exists webhook_replay (
        flow text not null,
        key text not null,
        event_id text not null,
        until real not null,
        primary key (flow, key))""",
)

# Keep a purged event's delivery id / fingerprint until its signed request stops being valid; events
# stored before replay_until existed fall back to received_at plus the widest default window (the
# last parameter). Fixed statements: nothing in them is formatted.
_KEEP_DELIVERY = (
    "insert or replace into webhook_replay (flow, key, event_id, until) "
    "select flow, 'd:' || delivery_id, id, coalesce(json_extract(doc, '$.replay_until'), received_at + ?4) "
    "from webhook_events where status = ?1 and updated_at < ?2 and delivery_id is not null "
    "and coalesce(json_extract(doc, '$.replay_until'), received_at + ?4) > ?3")
_KEEP_FINGERPRINT = (
    "insert or replace into webhook_replay (flow, key, event_id, until) "
    "select flow, 'f:' || fingerprint, id, coalesce(json_extract(doc, '$.replay_until'), received_at + ?4) "
    "from webhook_events where status = ?1 and updated_at < ?2 and fingerprint is not null "
    "and coalesce(json_extract(doc, '$.replay_until'), received_at + ?4) > ?3")
_LEGACY_WINDOW = 2 * DEFAULT_TOLERANCE


@dataclass
class _Pending:
    event: Event
    task: bytes | None
    doc: str = ""  # the event's document, serialised before the write lock is taken
    result: tuple[str, bool] | None = None
    error: BaseException | None = None
    done: bool = False


class SqliteEventStore(EventStore):
    kind = "sqlite"

    def __init__(self, storage, *, busy_timeout: float = 30.0, accept_timeout: float = 5.0):
        """`storage` is huey's SqliteStorage; its db() context gives the connection under its lock."""
        self.storage = storage
        self.busy_timeout, self.accept_timeout = busy_timeout, accept_timeout
        self.path = os.path.abspath(storage.filename)
        self._pending: list[_Pending] = []
        self._committing = False
        self._turn = threading.Condition()
        with storage.db(commit=True) as cur:
            for statement in _DDL:
                cur.execute(statement)
        self._identity = self._stat()

    def _stat(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except OSError:
            raise StoreUnavailable("the queue file is missing (deleted, or its directory is gone)") from None
        return st.st_dev, st.st_ino

    def check_file(self) -> None:
        if self._stat() != self._identity:
            raise StoreUnavailable("the queue file was replaced by another file")

    @contextlib.contextmanager
    def _accepting(self):
        """huey's db(commit=True), with every wait bounded by accept_timeout (StoreBusy when it runs out):
        this process's other threads, the other processes' write gate, then SQLite's write lock."""
        seconds = self.accept_timeout
        deadline = time.monotonic() + seconds
        if not self.storage.lock.acquire(timeout=seconds):
            raise StoreBusy(f"this process's workers held the store for over {seconds:g} s")
        conn = None
        try:
            self.check_file()
            if not self.storage.gate.acquire(max(0.0, deadline - time.monotonic())):
                raise StoreBusy(f"another process held the write lock for over {seconds:g} s")
            try:  # the gate is held from here to COMMIT only
                conn = self.storage.conn
                conn.execute(f"pragma busy_timeout = {max(1, int((deadline - time.monotonic()) * 1000))}")
                with contextlib.closing(conn.cursor()) as cur:
                    try:
                        cur.execute(self.storage.begin_sql)
                    except sqlite3.OperationalError as exc:
                        if "locked" in str(exc) or "busy" in str(exc):
                            raise StoreBusy(f"another process held the write lock for over {seconds:g} s") from None
                        raise
                    try:
                        yield cur
                    except BaseException:
                        conn.rollback()
                        raise
                    conn.commit()
            finally:
                self.storage.gate.release()
        finally:
            try:
                if conn is not None:
                    conn.execute(f"pragma busy_timeout = {int(self.busy_timeout * 1000)}")
            finally:
                self.storage.lock.release()

    def add(self, event: Event, task: bytes | None = None) -> tuple[str, bool]:
        """Store the event and, if it is new and `task` is given, put that huey task in the queue, in
        the same transaction. Callers arriving while a batch commits form the next batch; the first of
        them commits it for all (leader/follower group commit: no extra thread)."""
        mine = _Pending(event, task, event.to_doc())
        with self._turn:
            self._pending.append(mine)
            while not mine.done and self._committing:
                self._turn.wait()
            if mine.done:
                return self._outcome(mine)
            self._committing = True
            batch, self._pending = self._pending, []
        try:
            self._commit(batch)
        finally:
            with self._turn:
                self._committing = False
                for item in batch:
                    item.done = True
                self._turn.notify_all()
        return self._outcome(mine)

    @staticmethod
    def _outcome(item: _Pending) -> tuple[str, bool]:
        if item.error is not None:
            raise item.error
        return item.result

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with self._accepting() as cur:
                results = [self._insert(cur, item) for item in batch]
            try:  # the batch is answered only once it is on disk
                self.storage.flush()
            except OSError as exc:
                raise NotDurable(f"waiting for the disk failed: {exc.strerror or exc}") from None
        except BaseException as exc:  # nothing of the batch was stored, or not durably: every caller learns it
            for item in batch:
                item.error = exc if isinstance(exc, Exception) else RuntimeError("interrupted while storing")
            if not isinstance(exc, Exception):
                raise
            return
        for item, result in zip(batch, results, strict=True):
            item.result = result
            if result[1]:
                item.event.version = 1

    def _insert(self, cur, item: _Pending) -> tuple[str, bool]:
        event = item.event
        kept = cur.execute(
            "select event_id from webhook_replay where flow = ? and key in (?, ?) and until > ?",
            (event.flow, event.delivery_id and "d:" + event.delivery_id, event.fingerprint and "f:" + event.fingerprint,
             event.received_at)).fetchone()
        if kept:  # the request of a purged event, replayed within its window
            return kept[0], False
        cur.execute(
            "insert into webhook_events (id, flow, delivery_id, fingerprint, status, version, received_at, "
            "updated_at, next_at, claim, doc) values (?, ?, ?, ?, ?, 1, ?, ?, ?, null, ?) on conflict do nothing",
            (event.id, event.flow, event.delivery_id, event.fingerprint, event.status, event.received_at,
             event.updated_at, event.next_at, item.doc))
        if cur.rowcount == 1:
            if item.task is not None:
                # huey's SqliteStorage.enqueue statement (huey pinned in requirements.txt), run inside our
                # transaction; tests/integration/test_webhooks_store.py proves huey dequeues what this inserts.
                cur.execute("insert into task (queue, data, priority) values (?, ?, ?)",
                            (self.storage.name, self.storage.to_blob(item.task), 0))
            return event.id, True
        row = cur.execute(
            "select id from webhook_events where flow = ? and (delivery_id = ? or fingerprint = ?) "
            "order by delivery_id = ? desc limit 1",
            (event.flow, event.delivery_id, event.fingerprint, event.delivery_id)).fetchone()
        return row[0], False

    def get(self, event_id: str) -> Event | None:
        with self.storage.db() as cur:
            row = cur.execute("select doc, version, next_at, status from webhook_events where id = ?",
                              (event_id,)).fetchone()
        return _event(row) if row else None

    def save(self, event: Event, *, lease_expired_before: float | None = None, flush: bool = True) -> bool:
        sql, params = _UPDATE, _update_params(event)
        if lease_expired_before is not None:
            sql += " and (next_at is null or next_at < ?)"
            params.append(lease_expired_before)
        with self.storage.db(commit=True) if flush else self.storage.relaxed() as cur:
            cur.execute(sql, params)
            changed = cur.rowcount == 1
        if changed:
            event.version += 1
        return changed

    def claim_in(self, cur, event_id: str, claim: Callable[[Event], bool]) -> Event | None:
        """Inside a write transaction that is already open (huey's dequeue): read the event and, when
        `claim(event)` has made it the worker's, save it with it; that event, or None."""
        row = cur.execute("select doc, version, next_at, status from webhook_events where id = ?",
                          (event_id,)).fetchone()
        if row is None:
            return None
        event = _event(row)
        if not claim(event):
            return None
        cur.execute(_UPDATE, _update_params(event))
        if cur.rowcount != 1:
            return None
        event.version += 1
        return event

    def renew(self, event_id: str, claim: str, until: float) -> bool:
        with self.storage.db(commit=True) as cur:
            cur.execute("update webhook_events set next_at = ? where id = ? and claim = ? and status = ?",
                        (until, event_id, claim, RUNNING))
            return cur.rowcount == 1

    def due(self, before: float, limit: int = 500) -> list[Due]:
        with self.storage.db() as cur:
            rows = cur.execute("select id, status, next_at from webhook_events where next_at is not null "
                               "and next_at < ? order by next_at limit ?", (before, limit)).fetchall()
        return [Due(*row) for row in rows]

    def list(self, status: str | None = None, limit: int = 50) -> list[Event]:
        with self.storage.db() as cur:
            if status:
                rows = cur.execute("select doc, version, next_at, status from webhook_events where status = ? "
                                   "order by received_at desc limit ?", (status, limit)).fetchall()
            else:
                rows = cur.execute("select doc, version, next_at, status from webhook_events "
                                   "order by received_at desc limit ?", (limit,)).fetchall()
        return [_event(row) for row in rows]

    def purge(self, statuses: tuple[str, ...], updated_before: float | None = None) -> int:
        now = time.time()
        cutoff = now if updated_before is None else updated_before
        removed = 0
        with self.storage.db(commit=True) as cur:  # one transaction; fixed statements per status
            for status in statuses:
                cur.execute(_KEEP_DELIVERY, (status, cutoff, now, _LEGACY_WINDOW))
                cur.execute(_KEEP_FINGERPRINT, (status, cutoff, now, _LEGACY_WINDOW))
                cur.execute("delete from webhook_events where status = ? and updated_at < ?", (status, cutoff))
                removed += cur.rowcount
            cur.execute("delete from webhook_replay where until <= ?", (now,))
        return removed

    def counts(self) -> dict[str, int]:
        with self.storage.db() as cur:
            return dict(cur.execute("select status, count(*) from webhook_events group by status").fetchall())

    def backlog(self, now: float) -> tuple[dict[str, int], float | None]:
        with self.storage.db() as cur:  # both on indexes: (status, received_at) and next_at
            counts = dict(cur.execute("select status, count(*) from webhook_events where status in "
                                      "('queued', 'retrying', 'running') group by status").fetchall())
            row = cur.execute("select next_at from webhook_events where next_at is not null and next_at <= ? "
                              "and status != 'running' order by next_at limit 1", (now,)).fetchone()
        return counts, row[0] if row else None

    def ping(self) -> None:
        self.check_file()
        with self.storage.db() as cur:
            cur.execute("select 1").fetchone()


# A compare-and-set: the event as the caller read it (its version), or nothing.
_UPDATE = ("update webhook_events set status = ?, version = version + 1, updated_at = ?, next_at = ?, claim = ?, "
           "doc = ? where id = ? and version = ?")


def _update_params(event: Event) -> list:
    return [event.status, event.updated_at, event.next_at, event.claim, event.to_doc(), event.id, event.version]


def _event(row) -> Event:
    doc, version, next_at, status = row
    event = Event.from_doc(doc, version)
    if status == RUNNING:
        event.lease_until = next_at  # the column is renewed by heartbeats; the doc keeps the first value
    return event
