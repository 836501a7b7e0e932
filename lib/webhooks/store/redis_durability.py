"""Is an accepted event on Redis's disk before the 202? What `serve` asks the Redis it is given at start,
and what /readyz asks again.

Two ways make each write durable:

- `appendonly yes` with `appendfsync always`: Redis syncs its append-only file before it answers a write, so
  the answer itself is the proof (mode "always");
- `WAITAOF 1 0 <ms>` (Redis >= 7.2, and Valkey) after each write that must survive: it returns once the
  writes this connection made are synced to the local AOF, so `appendfsync everysec` is durable per write
  that asks (mode "waitaof"). Used wherever the server has it (with `always` it answers at once), so a later
  CONFIG SET appendfsync everysec cannot quietly undo the promise; it also works where CONFIG is refused
  (managed services), as the probe shows.

Anything else (`appendonly no`; `everysec` or `no` on a Redis without WAITAOF; a Redis that neither shows
its settings nor has WAITAOF) is not durable: `serve` refuses to start, naming the setting and the fix,
unless `--allow-unsafe-redis` says the loss is accepted (mode "unsafe").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("jobs_connector.webhooks")
WAITAOF_SINCE = (7, 2)
PROBE_TIMEOUT_MS = 1000  # the probe's WAITAOF: an AOF that cannot sync within a second is not one to trust
FIX = ("set `appendonly yes` and `appendfsync always` (CONFIG SET appendonly yes; CONFIG SET appendfsync always; "
       "and the same in redis.conf), or run Redis >= 7.2 with appendonly yes (serve then waits for each write's "
       "fsync with WAITAOF), or start serve with --allow-unsafe-redis to accept losing recently accepted events")


@dataclass(frozen=True)
class Durability:
    mode: str  # "always", "waitaof" or "" (not durable)
    problem: str = ""  # why it is not durable, naming the setting

    @property
    def durable(self) -> bool:
        return bool(self.mode)


def _text(value) -> str:
    return (value.decode() if isinstance(value, bytes) else str(value or "")).strip().lower()


def server_version(client) -> tuple[int, ...] | None:
    """Redis's version from INFO server (Valkey reports its Redis-compatible one); None if it will not say."""
    try:
        found = str(client.info("server").get("redis_version", ""))
        return tuple(int(part) for part in found.split(".")[:3])
    except Exception:  # INFO renamed or refused, an odd version string: unknown
        return None


def _config(client) -> dict[str, str] | None:
    """appendonly and appendfsync, or None where CONFIG is refused (managed services often rename it)."""
    try:
        found = client.config_get("append*")
    except Exception:
        return None
    values = {_text(k): _text(v) for k, v in found.items()}
    return values if "appendonly" in values else None


def probe_waitaof(client) -> tuple[bool, str]:
    """(synced, why not): WAITAOF 1 0 answers at once when the AOF is on; it is refused when appendonly is off
    and unknown before Redis 7.2."""
    try:
        local, _ = client.waitaof(1, 0, PROBE_TIMEOUT_MS)
    except Exception as exc:  # an unknown command (Redis < 7.2) or "appendonly is disabled"
        return False, f"{type(exc).__name__}: {str(exc)[:160]}"
    return int(local) >= 1, "WAITAOF found no local fsync within 1 s"


def check(client) -> Durability:
    """How this Redis can make each accepted event durable, or why it cannot."""
    config = _config(client)
    version = server_version(client)
    has_waitaof = version is not None and version >= WAITAOF_SINCE
    if config is not None:
        appendonly, appendfsync = config.get("appendonly", ""), config.get("appendfsync", "")
        if appendonly != "yes":
            return Durability("", f"appendonly is {appendonly or 'unset'}: Redis keeps events in memory only, "
                                  "and a restart loses them")
        if has_waitaof and probe_waitaof(client)[0]:  # exact per write, and it holds if appendfsync changes
            return Durability("waitaof")
        if appendfsync == "always":
            return Durability("always")
        shown = ".".join(map(str, version)) if version else "an unknown version"
        return Durability("", f"appendfsync is {appendfsync or 'unset'} and this Redis ({shown}) has no WAITAOF: "
                              "an accepted event could be lost if Redis's machine fails within about a second")
    # CONFIG refused: only WAITAOF can tell.
    if has_waitaof:
        synced, why = probe_waitaof(client)
        if synced:
            return Durability("waitaof")
        return Durability("", f"this Redis refuses CONFIG, and WAITAOF did not confirm an fsync ({why})")
    return Durability("", "this Redis refuses CONFIG (as managed services do) and has no WAITAOF (Redis < 7.2), "
                          "so serve cannot tell whether it syncs each write to disk")
