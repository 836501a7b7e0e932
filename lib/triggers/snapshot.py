"""The snapshot of a polling trigger: what was already emitted, bounded in size.

Kept as JSON (the platform stores it with the step, `watch` in its state file, `serve` in its queue):

    {"lastUpdated": "2026-12-01T16:00:00Z",        # the newest change emitted (Open Integration Hub's key)
     "seen": {"<item id>": ["<version>", <epoch or null>], ...},   # oldest first, at most `snapshotLimit`
     "floor": <epoch or null>,                     # changes at or before this are considered seen
     "runs": 3}

An item is new when its id is not in `seen` or its version differs (a job that moved on). When `seen`
grows past the limit the entries changed longest ago are dropped, and the floor rises to the newest
time among them: a dropped item that shows up again unchanged is not emitted twice. `startTime` in the
config is the initial floor (the initial snapshot from the config, as the OIH generator's triggers do).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from jobs_connector.base.errors import BadInput

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000
MAX_ID_LENGTH = 200  # longer ids are kept as their digest, so an entry's size is bounded too


@dataclass
class Item:
    """One thing a trigger found: its identity, what makes it changed, the message body to emit."""

    id: str
    version: str
    body: dict = field(repr=False)
    updated: float | None = None  # epoch seconds of the change, when the service says
    silent: bool = False  # recorded as seen, never emitted (e.g. a job another worker took)


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_of(value, where: str) -> float | None:
    """An ISO 8601 time or epoch seconds, as a float; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return parsed.timestamp()
    raise BadInput(f"'{where}' must be an ISO 8601 time (2026-01-31T12:00:00Z) or seconds since 1970",
                   field=where, rule="format")


def _key(item_id: str) -> str:
    if len(item_id) <= MAX_ID_LENGTH:
        return item_id
    return "sha256:" + hashlib.sha256(item_id.encode("utf-8")).hexdigest()


class Snapshot:
    def __init__(self, raw, *, limit: int = DEFAULT_LIMIT, start: float | None = None):
        raw = raw if isinstance(raw, dict) else {}
        self.limit = limit
        seen = raw.get("seen")
        self.seen: dict[str, list] = {}
        if isinstance(seen, dict):
            for key, entry in seen.items():
                if isinstance(entry, list) and len(entry) == 2:
                    self.seen[str(key)] = [str(entry[0]), entry[1] if isinstance(entry[1], (int, float)) else None]
        self.first_run = not isinstance(seen, dict) and "lastUpdated" not in raw
        floor = raw.get("floor")
        self.floor = float(floor) if isinstance(floor, (int, float)) and not isinstance(floor, bool) else None
        if start is not None:
            self.floor = start if self.floor is None else max(self.floor, start)
        self.last_updated = raw.get("lastUpdated") if isinstance(raw.get("lastUpdated"), str) else None
        self.runs = raw.get("runs") if isinstance(raw.get("runs"), int) else 0
        self._trim()

    def version_of(self, item_id: str) -> str | None:
        entry = self.seen.get(_key(item_id))
        return entry[0] if entry else None

    def is_new(self, item: Item) -> bool:
        known = self.version_of(item.id)
        if known is not None:
            return known != item.version
        return not (self.floor is not None and item.updated is not None and item.updated <= self.floor)

    def record(self, item: Item) -> None:
        key = _key(item.id)
        self.seen.pop(key, None)  # re-inserted last: the most recent change is dropped last
        self.seen[key] = [item.version, item.updated]
        if item.updated is not None:
            newest = iso(item.updated)
            if self.last_updated is None or newest > self.last_updated:
                self.last_updated = newest
        self._trim()

    def _trim(self) -> None:
        while len(self.seen) > self.limit:
            key = next(iter(self.seen))
            _version, updated = self.seen.pop(key)
            if updated is not None:
                self.floor = updated if self.floor is None else max(self.floor, updated)

    def finish_run(self, now: float) -> None:
        self.runs += 1
        if self.last_updated is None:  # nothing with a time yet: the time of the first complete poll
            self.last_updated = iso(now)
        self.first_run = False

    def to_dict(self) -> dict:
        return {"lastUpdated": self.last_updated, "seen": {k: list(v) for k, v in self.seen.items()},
                "floor": self.floor, "runs": self.runs}
