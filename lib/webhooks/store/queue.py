"""The queue: huey carries "process event <id>" tasks from the intake to the workers.

`sqlite:///PATH` (the default; PATH relative to the working directory, `sqlite:////abs/path` for an
absolute one) uses huey's SQLite storage (with fewer flushes: lib/webhooks/store/huey_sqlite.py), one file
holding both huey's queue and the events.
`redis://[:password@]host:port/db` (or `rediss://`) uses RedisHuey, for web and worker processes on
many machines.

The event store is the source of truth and the queue only says "look at event X": a task lost in a
crash (huey has no acknowledgements) is dispatched again by the workers' sweeper, and a duplicate
task is harmless because a worker must first claim the event (a compare-and-set) to run it.
Tasks are serialized as JSON, not pickle, so whoever can write to the queue cannot run code.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from huey import Huey, RedisHuey
from huey.registry import Message
from huey.serializer import Serializer

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.webhooks.store.event_store import EventStore

log = logging.getLogger("jobs_connector.webhooks")
QUEUE_ENV = "JOBS_CONNECTOR_QUEUE"
DEFAULT_QUEUE = "sqlite:///jobs-connector.db"
HUEY_NAME = "jobs-connector"
TASK_NAME = "process_event"
SQLITE_BUSY_TIMEOUT = 30  # seconds a writer waits for the other process (web or worker) to commit


class JsonSerializer(Serializer):
    """huey's task message as JSON; datetimes (eta, expiry) as ISO strings."""

    def _serialize(self, message: Message) -> bytes:
        fields = message._asdict()
        for nested in ("on_complete", "on_error", "chord_config"):
            if fields.get(nested) is not None:
                raise ValueError("pipelines and chords are not used by the webhook queue")
        return json.dumps({k: _encode(v) for k, v in fields.items()}, separators=(",", ":")).encode()

    def _deserialize(self, data: bytes) -> Message:
        fields = {k: _decode(v) for k, v in json.loads(data).items() if k in Message._fields}
        fields["args"] = tuple(fields.get("args") or ())
        return Message(**fields)


def _encode(value):
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, tuple):
        return list(value)
    return value


def _decode(value):
    if isinstance(value, dict) and set(value) == {"$datetime"}:
        return datetime.datetime.fromisoformat(value["$datetime"])
    return value


def queue_url(value: str | None) -> str:
    return value or os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE


def shown_url(url: str) -> str:
    """The URL without a password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


def sqlite_path(url: str) -> str:
    path = url[len("sqlite:///"):]
    if not path:
        raise ConfigurationError("the queue URL sqlite:///PATH needs a file path", field="queue", rule="url")
    return path


class Queue:
    """One huey instance, its single task, and the event store next to it."""

    def __init__(self, url: str, *, store_timeout: float = 5.0):
        """`store_timeout`: how long accepting an event may wait for a busy SQLite store (then 503)."""
        self.url = url
        self.huey, self.store = _open(url, store_timeout)
        self.handler: Callable[[str], object] | None = None

        def process_event(event_id: str):
            if self.handler is None:  # a web-only process never consumes
                raise RuntimeError("no worker handler installed")
            return self.handler(event_id)

        self.task = self.huey.task(name=TASK_NAME, retries=0)(process_event)

    @property
    def kind(self) -> str:
        return self.store.kind

    def accept(self, event) -> tuple[str, bool]:
        """Store a new event durably and queue it; (event id, created). With SQLite both happen in one
        (group-committed) transaction; with Redis the event is stored, then queued (if queuing fails,
        the stored event is dispatched by the workers' sweeper)."""
        if self.kind == "sqlite":
            return self.store.add(event, task=self.huey.serialize_task(self.task.s(event.id)))
        event_id, created = self.store.add(event)
        if created:
            try:
                self.dispatch(event_id)
            except Exception:
                log.exception("event %s stored but not queued; the sweeper will dispatch it", event_id)
        return event_id, created

    def dispatch(self, event_id: str, eta: float | None = None) -> None:
        delay = None if eta is None else eta - time.time()
        if delay is None or delay <= 0:
            self.task(event_id)
        else:
            self.task.schedule(args=(event_id,), delay=delay)

    def waiting_ids(self) -> set[str]:
        """Event ids with a task in the queue or the schedule (the sweeper leaves those alone)."""
        ids = set()
        for task in list(self.huey.pending()) + list(self.huey.scheduled()):
            if task.args:
                ids.add(task.args[0])
        return ids

    def close(self) -> None:
        if hasattr(self.store, "close"):
            self.store.close()
        storage = self.huey.storage
        if hasattr(storage, "close"):
            storage.close()


class _WithoutRevocation:
    """huey without task revocation, which the webhook queue never uses (nothing here revokes a task: an
    event is stopped through its own record, `jobs-connector events`). huey would otherwise look up the
    task's revoke flags before running it and clear its flag after: two storage queries per task."""

    def is_revoked(self, task, timestamp=None, peek=True) -> bool:
        return False

    def delete(self, key):
        if key.startswith("r:"):  # a task's revoke flag (huey's Task.revoke_id): never set here
            return False
        return super().delete(key)

    def revoke(self, *args, **kwargs):
        raise NotImplementedError("the webhook queue does not revoke tasks")

    revoke_all = revoke_by_id = revoke


class _Gated:
    """A task is taken only once a slot is free to run it (`gate`: the worker's pool, lib/webhooks/worker/pool.py;
    None in a process without workers): a busy worker process leaves tasks in the queue for the others."""

    gate = None

    def dequeue(self):
        gate = self.gate
        if gate is None:
            return super().dequeue()
        if not gate.reserve():
            return None  # every slot busy: huey's loop looks round and comes back
        try:
            task = super().dequeue()
        except BaseException:
            gate.unreserve()
            raise
        if task is None:
            gate.unreserve()
        return task


class WebhookHuey(_Gated, _WithoutRevocation, Huey):
    pass


class WebhookRedisHuey(_Gated, _WithoutRevocation, RedisHuey):
    pass


def _open(url: str, store_timeout: float) -> tuple[object, EventStore]:
    scheme = urlsplit(url).scheme
    serializer = JsonSerializer()
    if scheme == "sqlite":  # each engine's modules only for its URL: the redis client is not loaded for SQLite
        from jobs_connector.webhooks.store.huey_sqlite import WebhookSqliteStorage
        from jobs_connector.webhooks.store.sqlite_store import SqliteEventStore

        path = sqlite_path(url)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise ConfigurationError(f"the queue directory {directory} does not exist", field="queue", rule="path")
        # The file holds event bodies and step outputs: readable by its owner only.
        old_umask = os.umask(0o077)
        try:
            huey = WebhookHuey(HUEY_NAME, storage_class=WebhookSqliteStorage, filename=path, results=False,
                               fsync=True, serializer=serializer, timeout=SQLITE_BUSY_TIMEOUT)
            store = SqliteEventStore(huey.storage, busy_timeout=SQLITE_BUSY_TIMEOUT, accept_timeout=store_timeout)
        finally:
            os.umask(old_umask)
        return huey, store
    if scheme in ("redis", "rediss"):
        import redis

        from jobs_connector.webhooks.store.redis_store import RedisEventStore

        # A bounded connect: an unreachable Redis is an error in seconds, not a hang.
        pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=5)
        huey = WebhookRedisHuey(HUEY_NAME, connection_pool=pool, results=False, serializer=serializer,
                                blocking=True, read_timeout=1)
        # Health probes on their own connections with a bounded read: a Redis across a partition makes
        # /readyz answer 503 in seconds, never hang (the queue's own connections block on purpose).
        probe = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        store = RedisEventStore(huey.storage.conn, HUEY_NAME, probe=probe)
        return huey, store
    raise ConfigurationError(f"the queue URL must start with sqlite:/// or redis://, not {shown_url(url)!r}",
                             field="queue", rule="url")
