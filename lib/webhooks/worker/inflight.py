"""The events this worker process is running: each one's claim token and the step it is in. The heartbeat renews
their leases, a shutdown hands them back; one lock, as huey's worker threads run events at the same time."""

from __future__ import annotations

import threading


class InFlight:
    def __init__(self):
        self._lock = threading.Lock()
        self.claims: dict[str, str] = {}  # event id -> claim token
        self.steps: dict[str, int] = {}  # event id -> index of the step being run

    def started(self, event_id: str, claim: str) -> None:
        self._put(self.claims, event_id, claim)

    def finished(self, event_id: str) -> None:
        self._put(self.claims, event_id, None)

    def step_started(self, event_id: str, index: int) -> None:
        self._put(self.steps, event_id, index)

    def step_finished(self, event_id: str) -> None:
        self._put(self.steps, event_id, None)

    def _put(self, table: dict, event_id: str, value) -> None:
        """Set the event's entry, or remove it (None)."""
        with self._lock:
            if value is None:
                table.pop(event_id, None)
            else:
                table[event_id] = value

    def snapshot(self) -> tuple[dict[str, str], dict[str, int]]:
        """(claims, running steps), copied under the lock."""
        with self._lock:
            return dict(self.claims), dict(self.steps)
