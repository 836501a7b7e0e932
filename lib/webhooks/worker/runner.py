"""The Worker: takes a task off the queue, claims its event (queued/retrying -> running, with a lease and a
claim token: a duplicate task, or a second worker, finds it claimed and does nothing; with SQLite the claim
is written in the transaction that takes the task), and runs it through the step loop."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from jobs_connector.webhooks.events import DEAD, RUNNING, WAITING, Event
from jobs_connector.webhooks.flows import Flows
from jobs_connector.webhooks.metrics import OFF, NoMetrics
from jobs_connector.webhooks.store.queue import Queue
from jobs_connector.webhooks.tracing import OFF as NO_TRACING
from jobs_connector.webhooks.tracing import NoTracing
from jobs_connector.webhooks.worker.inflight import InFlight
from jobs_connector.webhooks.worker.leases import Leases
from jobs_connector.webhooks.worker.outcomes import Outcomes
from jobs_connector.webhooks.worker.pool import StepPool
from jobs_connector.webhooks.worker.steps import StepLoop

log = logging.getLogger("jobs_connector.webhooks")
EARLY_TOLERANCE = 1.0  # seconds: clocks of different machines may disagree a little


class Worker:
    def __init__(self, flows: Flows, queue: Queue, *, runtime: Runtime | None = None, lease: float = 30.0,
                 sweep_interval: float = 5.0, grace: float = 10.0, clock=time.time, metrics: NoMetrics = OFF,
                 tracing: NoTracing = NO_TRACING, concurrency: int | None = None):
        """`concurrency`: events run at once on a pool of that many threads (lib/webhooks/worker/pool.py), huey's
        threads only taking tasks; None runs each event on the huey thread that took it."""
        self.flows, self.queue, self.store = flows, queue, queue.store
        # As many kept-alive connections as events running at once: a smaller pool would open and drop one
        # per call beyond it.
        self.runtime = runtime or Runtime(Transport(pool_size=max(16, concurrency or 0)))
        self.lease, self.sweep_interval, self.grace = lease, sweep_interval, grace
        self.stopping = threading.Event()  # no new events or steps; hand events back between steps
        self.inflight = InFlight()
        self.outcomes = Outcomes(flows, queue, clock, metrics)
        self.steps = StepLoop(self.store, self.runtime, self.outcomes, self.inflight, lease=lease, clock=clock,
                              stopping=self.stopping, metrics=metrics, tracing=tracing)
        self.tracing = tracing
        self.leases = Leases(flows, queue, self.inflight, lease=lease, sweep_interval=sweep_interval, grace=grace,
                             clock=clock, stopping=self.stopping, metrics=metrics)
        self.clock = clock
        self._claimed = threading.local()  # the event this thread claimed as it took its task (SQLite)
        self.pool = StepPool(concurrency) if concurrency else None
        queue.huey.gate = self.pool  # a task is taken only when a pool thread is free to run it
        queue.handler = self._on_task
        if hasattr(queue.huey.storage, "on_dequeue") and hasattr(self.store, "claim_in"):
            # The name huey gives the task in its messages (its registry's, module included).
            self._task_name = json.loads(queue.huey.serialize_task(queue.task.s("")))["name"]
            queue.huey.storage.on_dequeue = self._claim_on_dequeue

    @property
    def clock(self):
        return self._clock

    @clock.setter
    def clock(self, clock) -> None:
        """One clock for the worker and its parts (tests move it forward)."""
        self._clock = clock
        self.outcomes.clock = self.steps.clock = self.leases.clock = clock

    # -- one event ----------------------------------------------------------------------------------

    def _claim_on_dequeue(self, cur, data: bytes) -> None:
        """Inside the transaction that takes a task off the SQLite queue: claim its event there, when it
        can be claimed at once (process() then runs it without a write of its own); anything else is left
        to process(). Lost in a power cut, the claim goes with the dequeue: the task is back."""
        self._claimed.event = None
        try:
            task = json.loads(data)  # the JSON of lib/webhooks/store/queue.py's serializer
            args = task.get("args") or ()
            if task.get("eta") is None and task.get("name") == self._task_name and len(args) == 1:
                self._claimed.event = self.store.claim_in(cur, args[0], self._take)
        except Exception:  # never a reason to keep the task on the queue: process() claims it as before
            log.exception("could not claim the event of a task as it was taken; claiming it on its own")
            self._claimed.event = None

    def _take(self, event: Event) -> bool:
        """Make a waiting, due event this worker's (claim token, attempt, lease), unless stopping."""
        now = self.clock()
        if event.status not in WAITING or event.due_at > now + EARLY_TOLERANCE or self.stopping.is_set():
            return False
        event.status, event.claim = RUNNING, uuid.uuid4().hex
        event.attempts += 1
        event.lease_until = now + self.lease
        event.updated_at = now
        return True

    def _on_task(self, event_id: str):
        """huey's task: the event runs on a pool thread with the slot this thread reserved as it took the task
        (the claim made in that transaction goes with it), or here without a pool."""
        if self.pool is None or not self.pool.holds():
            return self.process(event_id)
        claimed, self._claimed.event = getattr(self._claimed, "event", None), None
        self.pool.run(lambda: self.process(event_id, claimed=claimed))
        return "started"

    def process(self, event_id: str, *, claimed: Event | None = None) -> str:
        """Run one event if it can be claimed; returns what happened (for logs and tests). `claimed`: the event
        as claimed when its task was taken (else this thread's, see _claim_on_dequeue)."""
        if claimed is None:
            claimed, self._claimed.event = getattr(self._claimed, "event", None), None
        event = claimed
        if event is None or event.id != event_id:
            event = self.store.get(event_id)
            if event is None:
                return "missing"
            if event.status not in WAITING:
                return "not-waiting"
            if event.due_at > self.clock() + EARLY_TOLERANCE:
                self.queue.dispatch(event.id, eta=event.due_at)
                return "early"
            if not self._take(event):  # stopping: this task was taken off the queue, put it back
                self.queue.dispatch(event.id)
                return "stopping"
            # Not flushed: lost in a power cut, the claim only leaves the event queued again (the sweeper
            # dispatches it); a step not safe to repeat is marked, flushed, before its request leaves.
            if not self.store.save(event, flush=False):
                return "claimed-elsewhere"
        self.inflight.started(event.id, event.claim)
        try:
            with self.tracing.event(event):
                return self.steps.run(event, self.flows.get(event.flow))
        finally:
            self.inflight.finished(event.id)

    def wait_idle(self, timeout: float) -> bool:
        """Stopping: wait for the pool's events to finish their step and hand back (at most `timeout`)."""
        return self.pool.wait_idle(timeout) if self.pool else True

    def close(self) -> None:
        if self.pool:
            self.pool.close()
            self.queue.huey.gate = None

    def release_inflight(self) -> int:
        """After the shutdown timeout: hand back events whose step is still running (never lost); each
        counts as an attempt, and one whose step is not safe to repeat ends dead (OutcomeUnknown)."""
        claims, running = self.inflight.snapshot()
        released = 0
        for event_id, claim in claims.items():
            event = self.store.get(event_id)
            if event and event.status == RUNNING and event.claim == claim:
                if self.outcomes.hand_back(event, running.get(event_id)) in ("released", DEAD):
                    released += 1
        return released

    # -- the background duties (leases.py), here for serve's lifecycle -----------------------------------

    def heartbeat(self) -> None:
        self.leases.heartbeat()

    def sweep(self) -> dict:
        return self.leases.sweep()

    def start_background(self) -> None:
        self.leases.start_background()

    def stop_background(self) -> None:
        self.leases.stop_background()
