"""The background duties of a worker process: the heartbeat renews the leases of the events it runs; the sweeper
takes over events whose worker died (lease expired: retried, or dead when a step not safe to repeat may have
been on the wire) and re-dispatches waiting events whose queue task was lost."""

from __future__ import annotations

import logging
import threading

from jobs_connector.webhooks.events import DEAD, QUEUED, RUNNING, WAITING
from jobs_connector.webhooks.flows import Flows
from jobs_connector.webhooks.metrics import OFF, NoMetrics, outcome_of
from jobs_connector.webhooks.store.queue import Queue
from jobs_connector.webhooks.worker.inflight import InFlight
from jobs_connector.webhooks.worker.outcomes import history_line, lifetime_attempt, outcome_unknown

log = logging.getLogger("jobs_connector.webhooks")


class Leases:
    def __init__(self, flows: Flows, queue: Queue, inflight: InFlight, *, lease: float, sweep_interval: float,
                 grace: float, clock, stopping: threading.Event, metrics: NoMetrics = OFF):
        self.flows, self.queue, self.store, self.inflight = flows, queue, queue.store, inflight
        self.lease, self.sweep_interval, self.grace, self.clock = lease, sweep_interval, grace, clock
        self.stopping = stopping  # the worker is stopping: no take-overs
        self.metrics = metrics
        self._halt = threading.Event()  # the heartbeat and sweeper stop (last, so leases stay renewed)
        self._threads: list[threading.Thread] = []

    def heartbeat(self) -> None:
        until = self.clock() + self.lease
        claims, _ = self.inflight.snapshot()
        for event_id, claim in claims.items():
            self.store.renew(event_id, claim, until)

    def sweep(self) -> dict:
        """Take over events whose worker died, and re-dispatch events whose queue task was lost."""
        if self.stopping.is_set():
            return {"taken_over": 0, "redispatched": 0}
        now = self.clock()
        taken_over = redispatched = 0
        lost_candidates = []
        for due in self.store.due(now):
            if due.status == RUNNING:
                taken_over += self._take_over(due.id, now)
            elif due.status in WAITING and due.next_at < now - self.grace:
                lost_candidates.append(due.id)
        if lost_candidates:
            waiting = self.queue.waiting_ids()
            for event_id in lost_candidates:
                if event_id not in waiting:
                    self.queue.dispatch(event_id)
                    redispatched += 1
        if taken_over or redispatched:
            log.warning("sweeper: took over %d event(s) from stopped workers, re-dispatched %d", taken_over,
                        redispatched)
        return {"taken_over": taken_over, "redispatched": redispatched}

    def _take_over(self, event_id: str, now: float) -> int:
        event = self.store.get(event_id)
        if event is None or event.status != RUNNING:
            return 0
        flow = self.flows.get(event.flow)
        limit = flow.retry.max_attempts if flow else 1
        if flow is not None and event.sending is not None and event.sending < len(flow.steps):
            # Its worker died while a step that is not safe to repeat may have been on the wire.
            error = outcome_unknown(flow.steps[event.sending], "was running when its worker stopped")
            event.history.append(history_line(error, now, lifetime_attempt(event)))
            event.status, event.claim, event.lease_until, event.sending = DEAD, None, None, None
            event.updated_at, event.error = now, error
            if not self.store.save(event, lease_expired_before=now):
                return 0
            self.metrics.taken_over(event.flow)
            self.metrics.finished(event.flow, outcome_of(error), now - event.received_at)
            return 1
        error = {"type": "WorkerStopped", "retryable": True,
                 "message": f"the worker running attempt {event.attempts} stopped before finishing "
                            f"(step {len(event.steps) + 1})"}
        event.history.append(history_line(error, now, lifetime_attempt(event)))
        event.claim, event.lease_until, event.updated_at, event.error = None, None, now, error
        if event.attempts >= limit:
            event.status = DEAD
        else:
            event.status, event.due_at = QUEUED, now
        if not self.store.save(event, lease_expired_before=now):
            return 0
        self.metrics.taken_over(event.flow)
        if event.status == QUEUED:
            self.queue.dispatch(event.id)
        else:
            self.metrics.finished(event.flow, "dead", now - event.received_at)
        return 1

    def start_background(self) -> None:
        """The heartbeat and sweeper threads (daemons; stopped by stop_background)."""
        def every(seconds: float, duty):
            def loop():
                while not self._halt.wait(seconds):
                    try:
                        duty()
                    except Exception:
                        log.exception("%s failed; trying again later", duty.__name__)
            return loop

        try:
            self.sweep()  # at start: recover what a previous run left behind
        except Exception:
            log.exception("the first sweep failed; trying again later")
        for duty, seconds in ((self.heartbeat, self.lease / 3), (self.sweep, self.sweep_interval)):
            thread = threading.Thread(target=every(seconds, duty), name=f"webhooks-{duty.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop_background(self) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(timeout=5)
