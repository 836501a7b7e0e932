"""Where events live: the contract both backends keep (SQLite for one machine, Redis for many).

Every change after `add` is a compare-and-set on the event's version, so two workers, a sweeper and
an operator can never overwrite each other: the loser re-reads or gives up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from jobs_connector.webhooks.events import Event


class StoreUnavailable(Exception):
    """The store cannot take the event now (its file is gone or replaced, Redis is unreachable): nothing
    was stored, the sender should try again."""


class StoreBusy(StoreUnavailable):
    """Another writer held the store longer than the intake may wait: nothing was stored."""


class NotDurable(Exception):
    """The event was written, but waiting for the disk failed: whether it survives a crash is unknown. It
    is queued and may well run; the sender should send it again, and a repeat with the same delivery id,
    or of the same signed request (its signature's fingerprint), is recognised."""


@dataclass(frozen=True)
class Due:
    """A light view of an event the sweeper may have to act on."""

    id: str
    status: str
    next_at: float


class EventStore(ABC):
    kind = "?"

    @abstractmethod
    def add(self, event: Event) -> tuple[str, bool]:
        """Store a new event durably, unless the flow already has one with the same delivery id or
        fingerprint. Returns (event id, created). Returns only once the event is durable."""

    @abstractmethod
    def get(self, event_id: str) -> Event | None: ...

    @abstractmethod
    def save(self, event: Event, *, lease_expired_before: float | None = None, flush: bool = True) -> bool:
        """Write `event` if nobody changed it since it was read (same version), and, when
        `lease_expired_before` is given, only if its lease ended before then. Bumps event.version.
        `flush=False`: the write may be lost in a power cut (not in a crash of the process), in return for
        not waiting for the disk; only for writes whose loss is harmless (a claim: the event is queued again)."""

    @abstractmethod
    def renew(self, event_id: str, claim: str, until: float) -> bool:
        """Extend a running event's lease, if `claim` still holds it (the version is not bumped)."""

    @abstractmethod
    def due(self, before: float, limit: int = 500) -> list[Due]:
        """Unfinished events whose next moment (due time, or lease end while running) is before `before`."""

    @abstractmethod
    def list(self, status: str | None = None, limit: int = 50) -> list[Event]:
        """The newest events first, optionally of one status."""

    @abstractmethod
    def purge(self, statuses: tuple[str, ...], updated_before: float | None = None) -> int:
        """Delete finished events; returns how many. Their delivery ids and fingerprints are kept until
        the event's `replay_until` has passed, so a captured request replayed after a purge is still
        recognised as the event it was (and not run again)."""

    @abstractmethod
    def counts(self) -> dict[str, int]: ...

    @abstractmethod
    def backlog(self, now: float) -> tuple[dict[str, int], float | None]:
        """For the queue gauges, cheaply (indexed, bounded): the number of queued, retrying and running
        events, and the due time of the oldest waiting event that is due by `now` (None when none is)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    def durability_problem(self) -> str | None:
        """Why an event accepted now would not be durable (for /readyz); None when it would be."""
        return None
