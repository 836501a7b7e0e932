"""Events in Redis, beside huey's Redis queue, for web and worker processes on many machines.

Each change is one Lua script, so it is atomic on the server: adding an event together with its
delivery id, and every compare-and-set on the event's version. Keys (PREFIX is `jobs-connector:<name>`):

  PREFIX:ev:<id>                   hash: doc (the event as JSON), v (version), status, claim
  PREFIX:dl:<flow>:<delivery id>   the event id of a delivery (kept as long as the event, and after a
                                   purge until the event's replay window has passed)
  PREFIX:fp:<flow>:<signature>     the event id of a signed request sent without a delivery id (kept for a
                                   day, or after a purge until the replay window has passed)
  PREFIX:next                      sorted set: unfinished events by due time or lease end (the sweeper's view)
  PREFIX:all, PREFIX:st:<status>   sorted sets for listing

Durability (lib/webhooks/store/redis_durability.py): with `appendonly yes` and `appendfsync always`, Redis
answers a write only once it is in its synced append-only file; on Redis >= 7.2 with `everysec`, `add` and
every `save(flush=True)` send WAITAOF after their script, in the same round trip, and return only once the
write is synced (NotDurable otherwise). `serve` refuses a Redis that is neither, unless told the loss is
accepted. A single Redis server or a Sentinel-managed primary is supported, not Redis Cluster (the scripts
touch keys they compute).
"""

from __future__ import annotations

import logging
import time

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.webhooks.events import RUNNING, STATUSES, Event
from jobs_connector.webhooks.signatures.jobs_hmac import DEFAULT_TOLERANCE
from jobs_connector.webhooks.store import redis_durability
from jobs_connector.webhooks.store.event_store import Due, EventStore, NotDurable

log = logging.getLogger("jobs_connector.webhooks")
FINGERPRINT_TTL = 86400
BACKLOG_STATUSES = ("queued", "retrying", "running")
BACKLOG_LOOK = 50  # due entries looked at for the oldest waiting one (running ones with an ended lease come first)
WAITAOF_TIMEOUT_MS = 5000  # longer than this for a local fsync: the write is answered NotDurable

_ADD = """
local p, id, flow, delivery, fp, doc, received, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
    ARGV[7], ARGV[8]
local function known(key)
  return redis.call('GET', key)
end
if delivery ~= '' then
  local e = known(p .. ':dl:' .. flow .. ':' .. delivery)
  if e then return {e, 0} end
end
if fp ~= '' then
  local e = known(p .. ':fp:' .. flow .. ':' .. fp)
  if e then return {e, 0} end
end
redis.call('HSET', p .. ':ev:' .. id, 'doc', doc, 'v', 1, 'status', 'queued', 'claim', '')
if delivery ~= '' then redis.call('SET', p .. ':dl:' .. flow .. ':' .. delivery, id) end
if fp ~= '' then redis.call('SET', p .. ':fp:' .. flow .. ':' .. fp, id, 'EX', ttl) end
redis.call('ZADD', p .. ':next', received, id)
redis.call('ZADD', p .. ':all', received, id)
redis.call('ZADD', p .. ':st:queued', received, id)
return {id, 1}
"""

_SAVE = """
local p, id, expected, doc, status, next_at, updated, claim, expired = ARGV[1], ARGV[2], ARGV[3], ARGV[4],
    ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local key = p .. ':ev:' .. id
local v = redis.call('HGET', key, 'v')
if not v or v ~= expected then return 0 end
if expired ~= '' then
  local n = redis.call('ZSCORE', p .. ':next', id)
  if n and tonumber(n) >= tonumber(expired) then return 0 end
end
local old = redis.call('HGET', key, 'status')
redis.call('ZREM', p .. ':st:' .. old, id)
redis.call('ZADD', p .. ':st:' .. status, updated, id)
if next_at == '' then redis.call('ZREM', p .. ':next', id) else redis.call('ZADD', p .. ':next', next_at, id) end
redis.call('HSET', key, 'doc', doc, 'v', tonumber(v) + 1, 'status', status, 'claim', claim)
return 1
"""

_RENEW = """
local p, id, claim, expires = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p .. ':ev:' .. id
if redis.call('HGET', key, 'status') == 'running' and redis.call('HGET', key, 'claim') == claim then
  redis.call('ZADD', p .. ':next', expires, id)
  return 1
end
return 0
"""

_PURGE = """
local p, status, before, now, fallback = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', p .. ':st:' .. status, '-inf', '(' .. before, 'LIMIT', 0, 500)
for _, id in ipairs(ids) do
  local key = p .. ':ev:' .. id
  local doc = redis.call('HGET', key, 'doc')
  if doc then
    local d = cjson.decode(doc)
    -- a delivery id or fingerprint outlives its event until the replay window has passed
    local untl = tonumber(d.replay_until) or ((tonumber(d.received_at) or 0) + fallback)
    local function forget(k)
      if untl > now then redis.call('EXPIREAT', k, math.ceil(untl)) else redis.call('DEL', k) end
    end
    if type(d.delivery_id) == 'string' then forget(p .. ':dl:' .. d.flow .. ':' .. d.delivery_id) end
    if type(d.fingerprint) == 'string' then forget(p .. ':fp:' .. d.flow .. ':' .. d.fingerprint) end
  end
  redis.call('DEL', key)
  redis.call('ZREM', p .. ':all', id)
  redis.call('ZREM', p .. ':next', id)
  redis.call('ZREM', p .. ':st:' .. status, id)
end
return #ids
"""


class RedisEventStore(EventStore):
    kind = "redis"

    def __init__(self, client, name: str, probe=None):
        """`probe`: a client with bounded timeouts for ping and the durability check (/readyz)."""
        self.client, self.probe = client, probe or client
        self.prefix = f"jobs-connector:{name}"
        self._add = client.register_script(_ADD)
        self._save = client.register_script(_SAVE)
        self._renew = client.register_script(_RENEW)
        self._purge = client.register_script(_PURGE)
        # Until check_durable (serve does it at start): Redis's own answer is taken as the write's end.
        self.durability = redis_durability.Durability("always")
        self.unsafe_allowed = False

    def check_durable(self, *, allow_unsafe: bool = False) -> redis_durability.Durability:
        """At start: how writes are made durable; ConfigurationError naming the setting and the fix when they
        cannot be, unless `allow_unsafe` (then a warning, and writes are not waited for)."""
        found = redis_durability.check(self.client)
        self.durability, self.unsafe_allowed = found, allow_unsafe and not found.durable
        if found.durable:
            return found
        if not allow_unsafe:
            raise ConfigurationError(f"Redis is not durable: {found.problem}; {redis_durability.FIX}",
                                     field="queue", rule="redis-durability")
        log.warning("--allow-unsafe-redis: %s; accepted events can be lost", found.problem)
        return found

    def durability_problem(self) -> str | None:
        """For /readyz: why accepted events would not be durable now (settings can change while serving)."""
        found = redis_durability.check(self.probe)
        return None if found.durable or self.unsafe_allowed else found.problem

    def _write(self, script, args: list[str], flush: bool):
        """Run a script; with WAITAOF, in the same round trip, and only once the write is on disk."""
        if not (flush and self.durability.mode == "waitaof"):
            return script(args=args)
        pipe = self.client.pipeline(transaction=False)
        script(args=args, client=pipe)
        pipe.waitaof(1, 0, WAITAOF_TIMEOUT_MS)
        result, (local, _) = pipe.execute()
        if int(local) < 1:
            raise NotDurable(f"Redis did not confirm the fsync of its append-only file within "
                             f"{WAITAOF_TIMEOUT_MS / 1000:g} s (WAITAOF)")
        return result

    def add(self, event: Event) -> tuple[str, bool]:
        event_id, created = self._write(self._add, [
            self.prefix, event.id, event.flow, event.delivery_id or "", event.fingerprint or "",
            event.to_doc(), repr(event.received_at), FINGERPRINT_TTL], flush=True)
        event_id = event_id.decode() if isinstance(event_id, bytes) else event_id
        if created:
            event.version = 1
        return event_id, bool(created)

    def get(self, event_id: str) -> Event | None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(f"{self.prefix}:ev:{event_id}", "doc", "v", "status")
        pipe.zscore(f"{self.prefix}:next", event_id)
        (doc, version, status), next_at = pipe.execute()
        if doc is None:
            return None
        event = Event.from_doc(doc, version)
        if status == RUNNING.encode() and next_at is not None:
            event.lease_until = next_at
        return event

    def save(self, event: Event, *, lease_expired_before: float | None = None, flush: bool = True) -> bool:
        next_at = event.next_at
        changed = self._write(self._save, [
            self.prefix, event.id, str(event.version), event.to_doc(), event.status,
            "" if next_at is None else repr(next_at), repr(event.updated_at), event.claim or "",
            "" if lease_expired_before is None else repr(lease_expired_before)], flush=flush)
        if changed:
            event.version += 1
        return bool(changed)

    def renew(self, event_id: str, claim: str, until: float) -> bool:
        return bool(self._renew(args=[self.prefix, event_id, claim, repr(until)]))

    def due(self, before: float, limit: int = 500) -> list[Due]:
        rows = self.client.zrangebyscore(f"{self.prefix}:next", "-inf", f"({before!r}", start=0, num=limit,
                                         withscores=True)
        if not rows:
            return []
        pipe = self.client.pipeline(transaction=False)
        for event_id, _ in rows:
            pipe.hget(f"{self.prefix}:ev:{event_id.decode()}", "status")
        statuses = pipe.execute()
        return [Due(event_id.decode(), status.decode(), score)
                for (event_id, score), status in zip(rows, statuses, strict=True) if status]

    def _load(self, ids) -> list[Event]:
        pipe = self.client.pipeline(transaction=False)
        for event_id in ids:
            pipe.hmget(f"{self.prefix}:ev:{event_id.decode()}", "doc", "v")
        return [Event.from_doc(doc, version) for doc, version in pipe.execute() if doc is not None]

    def list(self, status: str | None = None, limit: int = 50) -> list[Event]:
        key = f"{self.prefix}:st:{status}" if status else f"{self.prefix}:all"
        return self._load(self.client.zrevrange(key, 0, limit - 1))

    def purge(self, statuses: tuple[str, ...], updated_before: float | None = None) -> int:
        now = time.time()
        before = repr(now if updated_before is None else updated_before)
        total = 0
        for status in statuses:
            while True:
                removed = int(self._purge(args=[self.prefix, status, before, repr(now), 2 * DEFAULT_TOLERANCE]))
                total += removed
                if removed == 0:
                    break
        return total

    def counts(self) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        for status in STATUSES:
            pipe.zcard(f"{self.prefix}:st:{status}")
        return {s: n for s, n in zip(STATUSES, pipe.execute(), strict=True) if n}

    def backlog(self, now: float) -> tuple[dict[str, int], float | None]:
        pipe = self.client.pipeline(transaction=False)
        for status in BACKLOG_STATUSES:
            pipe.zcard(f"{self.prefix}:st:{status}")
        pipe.zrangebyscore(f"{self.prefix}:next", "-inf", repr(now), start=0, num=BACKLOG_LOOK, withscores=True)
        *sizes, due = pipe.execute()
        counts = {s: n for s, n in zip(BACKLOG_STATUSES, sizes, strict=True) if n}
        if not due:
            return counts, None
        pipe = self.client.pipeline(transaction=False)
        for event_id, _ in due:
            pipe.hget(f"{self.prefix}:ev:{event_id.decode()}", "status")
        for (_, score), status in zip(due, pipe.execute(), strict=True):
            if status and status != RUNNING.encode():  # a running event's score is its lease's end
                return counts, score
        return counts, None

    def ping(self) -> None:
        self.probe.ping()

    def close(self) -> None:
        if self.probe is not self.client:
            self.probe.close()
