"""Workers: run an event's flow, step by step, through the same runtime as the CLI.

- A worker first *claims* the event (queued/retrying -> running, with a lease and a claim token); a
  duplicate task, or a second worker, finds it claimed and does nothing. With SQLite the claim is
  written in the transaction that takes the task off the queue.
- Each step's input is the step's JSONata mapping evaluated against
  {"event": body, "steps": [outputs so far], "headers": {...}, "meta": {...}}. The output of each
  completed step is recorded before the next one starts, so a retried event resumes at the failed step.
- For actions with an idempotency token (IDEMPOTENCY_TOKEN), a token derived from the event id and the
  step is filled in when the mapping sets none, so a step re-run after a crash is the same request to
  the service, which then does not act twice.
- Retryable failures (throttling, 5xx, network: a *rebound*) retry with exponential backoff up to the
  flow's max_attempts; after that, or on any other error, the event is dead-lettered with its error.
  A retry is never scheduled later than the flow's max_delay: a service asking for a longer pause
  (Retry-After) ends the event dead, saying so (`events retry` sends it again when the operator decides).
- A mapping that fails or passes a limit (time, memory, sizes: lib/webhooks/jsonata_box.py) ends the
  event dead, naming the flow, the step and the field.
- An answer that drifts from the action's output schema is used as sent; each warning is recorded in
  the event (`warnings`) and logged.
- Handbacks at shutdown are counted: a step still running at the shutdown timeout counts as an attempt
  (and a step that is not safe to repeat ends dead with OutcomeUnknown), and an event handed back
  MAX_HANDBACKS times ends dead, so a poisoned event never loops forever.
- A heartbeat renews the leases of running events; the sweeper takes over events whose worker died
  (lease expired) and re-dispatches events whose queue task was lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from ..errors import ConnectorError, OutcomeUnknown
from ..runtime import Runtime
from .events import DEAD, QUEUED, RETRYING, RUNNING, SUCCEEDED, WAITING, Event
from .flows import Flow, Flows
from .mapping import MappingError
from .queue import Queue
from .sealing import scrubbed

log = logging.getLogger("jobs_connector.webhooks")
TOKEN_NAMESPACE = uuid.UUID("6f1c5a52-8f0e-4b7e-9d55-5b1f3f0c2a11")
EARLY_TOLERANCE = 1.0  # seconds: clocks of different machines may disagree a little
MAX_HANDBACKS = 10  # shutdowns an event may live through unfinished before it ends dead


def step_token(event_id: str, index: int) -> str:
    return str(uuid.uuid5(TOKEN_NAMESPACE, f"{event_id}/{index}"))


def context_for(event: Event, outputs: list) -> dict:
    return {"event": event.opened_body(), "steps": outputs, "headers": event.headers,
            "meta": {"eventId": event.id, "flow": event.flow, "deliveryId": event.delivery_id,
                     "receivedAt": event.received_at, "attempt": event.attempts}}


def _line(error: dict, when: float, attempt: int) -> dict:
    return {"attempt": attempt, "at": when, "error": error}


def _outcome_unknown(step, why: str) -> dict:
    """The error of an event whose step is not safe to repeat and may have been carried out: the same
    OutcomeUnknown the transport raises, as the event records every step error."""
    check_with = step.action.spec("CHECK_WITH")
    look = f"; look with {check_with} before trying again" if check_with else ""
    error = OutcomeUnknown(f"step {step.index + 1} ({step.key}) {why}; the request may have been carried out, "
                           f"and it is not safe to send again{look}", check_with=check_with)
    error.attempts = None  # the worker cannot tell how many requests its step had sent
    return {**error.to_dict(), "step": step.index + 1, "action": step.key}


class Worker:
    def __init__(self, flows: Flows, queue: Queue, *, runtime: Runtime | None = None, lease: float = 30.0,
                 sweep_interval: float = 5.0, grace: float = 10.0, clock=time.time):
        self.flows, self.queue, self.store = flows, queue, queue.store
        self.runtime = runtime or Runtime()
        self.lease, self.sweep_interval, self.grace = lease, sweep_interval, grace
        self.clock = clock
        self.stopping = threading.Event()  # no new events or steps; hand events back between steps
        self._halt = threading.Event()  # the heartbeat and sweeper stop (last, so leases stay renewed)
        self._inflight: dict[str, str] = {}  # event id -> claim token
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._running_step: dict[str, int] = {}  # event id -> index of the step being run
        self._claimed = threading.local()  # the event this thread claimed as it took its task (SQLite)
        queue.handler = self.process
        if hasattr(queue.huey.storage, "on_dequeue") and hasattr(self.store, "claim_in"):
            # The name huey gives the task in its messages (its registry's, module included).
            self._task_name = json.loads(queue.huey.serialize_task(queue.task.s("")))["name"]
            queue.huey.storage.on_dequeue = self._claim_on_dequeue

    # -- one event ----------------------------------------------------------------------------------

    def _claim_on_dequeue(self, cur, data: bytes) -> None:
        """Inside the transaction that takes a task off the SQLite queue: claim its event there, when it
        can be claimed at once (process() then runs it without a write of its own); anything else is left
        to process(). Lost in a power cut, the claim goes with the dequeue: the task is back."""
        self._claimed.event = None
        try:
            task = json.loads(data)  # the JSON of lib/webhooks/queue.py's serializer
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

    def process(self, event_id: str) -> str:
        """Run one event if it can be claimed; returns what happened (for logs and tests)."""
        event, self._claimed.event = getattr(self._claimed, "event", None), None
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
        with self._lock:
            self._inflight[event.id] = event.claim
        try:
            return self._run(event, self.flows.get(event.flow))
        finally:
            with self._lock:
                self._inflight.pop(event.id, None)

    def _run(self, event: Event, flow: Flow | None) -> str:
        if flow is None:
            return self._dead(event, {"type": "UnknownFlow", "retryable": False,
                                      "message": f"the flows file of this worker has no flow '{event.flow}'"})
        outputs = event.step_outputs()
        for step in flow.steps[len(event.steps):]:
            if self.stopping.is_set():
                return self._release(event)
            where = {"step": step.index + 1, "action": step.key}
            warnings: list[str] = []
            try:
                body = step.input.evaluate(context_for(event, outputs))
                token = step.action.spec("IDEMPOTENCY_TOKEN")
                if token and isinstance(body, dict) and token not in body:
                    body[token] = step_token(event.id, step.index)
                with self._lock:
                    self._running_step[event.id] = step.index
                if not step.action.safe_to_repeat:
                    # Recorded before the request leaves: a worker that dies during it leaves the mark, and
                    # the sweeper then ends the event (outcome unknown) instead of sending it again.
                    event.sending = step.index
                    if not self.store.save(event):
                        return "superseded"
                messages = list(self.runtime.run(step.key, body, step.config, warn=warnings.append))
            except MappingError as exc:
                message = f"flow '{flow.name}' step {step.index + 1} ({step.key}) {exc}"
                return self._dead(event, {"type": "MappingError", "message": message, "rule": exc.rule,
                                          "field": exc.where, "retryable": False, **where})
            except ConnectorError as exc:
                error = {**exc.to_dict(), **where}
                if exc.retryable and exc.retry_after and exc.retry_after > flow.retry.max_delay:
                    error["message"] += (f" (the service asked to wait {exc.retry_after:g} s before trying again, "
                                         f"longer than this flow's retry.max_delay of {flow.retry.max_delay:g} s: "
                                         "not retried; `jobs-connector events retry` sends it again)")
                    error["rule"] = "retry-after-over-max-delay"
                    return self._dead(event, error)
                if exc.retryable and event.attempts < flow.retry.max_attempts:
                    return self._retry(event, flow, error, exc.retry_after)
                if exc.retryable:
                    error["message"] += f" (gave up after {event.attempts} attempts)"
                return self._dead(event, error)
            except Exception as exc:  # a bug in a step must not lose the event: retry, bounded
                log.exception("event %s: step %s failed unexpectedly", event.id, step.index + 1)
                if event.sending == step.index:  # perhaps after the request left: not sent again
                    return self._dead(event, _outcome_unknown(step, "failed inside the worker (see its log)"))
                error = {"type": type(exc).__name__, "message": "internal error (see the worker's log)",
                         "retryable": True, **where}
                if event.attempts < flow.retry.max_attempts:
                    return self._retry(event, flow, error, None)
                return self._dead(event, error)
            finally:
                with self._lock:
                    self._running_step.pop(event.id, None)
            output = messages[0] if len(messages) == 1 else messages
            outputs.append(output)
            now = self.clock()
            for text in warnings:
                event.warnings.append({**where, "warning": text})
                log.warning("event %s (%s) step %d (%s): the answer differs from the documented shape: %s",
                            event.id, event.flow, step.index + 1, step.key, text)
            event.steps.append({"action": step.key, "output": output, "finished_at": now})
            event.updated_at, event.sending = now, None
            if len(event.steps) == len(flow.steps):
                event.status, event.claim, event.lease_until, event.error = SUCCEEDED, None, None, None
            else:
                event.lease_until = now + self.lease
            # A declared-idempotent step's output need not wait for the disk: lost in a power cut, the
            # event resumes at that step and sends it again, which the service answers the same way. Any
            # other step's output is flushed before the next step (or the event's end) is recorded.
            if not self.store.save(event, flush=not step.action.spec("IDEMPOTENT", False)):
                log.warning("event %s was taken over by another worker; stopping here", event.id)
                return "superseded"
        if event.status != SUCCEEDED:  # every step was already done (e.g. the flow lost steps)
            event.status, event.claim, event.lease_until = SUCCEEDED, None, None
            event.updated_at = self.clock()
            self.store.save(event)
        log.info("event %s (%s) succeeded after %d attempt(s)", event.id, event.flow, event.attempts)
        return SUCCEEDED

    def _retry(self, event: Event, flow: Flow, error: dict, retry_after: float | None) -> str:
        error = scrubbed(error, event)  # a step's service may echo an earlier step's secret
        now = self.clock()
        delay = flow.retry.backoff(event.attempts, retry_after)
        event.status, event.claim, event.lease_until, event.sending = RETRYING, None, None, None
        event.due_at, event.updated_at, event.error = now + delay, now, error
        event.history.append(_line(error, now, event.attempts))
        if self.store.save(event):
            self.queue.dispatch(event.id, eta=event.due_at)
            log.info("event %s: attempt %d failed (%s); retrying in %.1fs", event.id, event.attempts,
                     error.get("type"), delay)
            return RETRYING
        return "superseded"

    def _dead(self, event: Event, error: dict) -> str:
        error = scrubbed(error, event)
        now = self.clock()
        event.status, event.claim, event.lease_until, event.sending = DEAD, None, None, None
        event.updated_at, event.error = now, error
        event.history.append(_line(error, now, event.attempts))
        if self.store.save(event):
            log.warning("event %s (%s) dead-lettered: %s: %s", event.id, event.flow, error.get("type"),
                        error.get("message"))
            return DEAD
        return "superseded"

    def _release(self, event: Event, running_step: int | None = None) -> str:
        """Shutting down: hand the event back. Between steps this run does not count as an attempt; a step
        still running (`running_step`) does, and one not safe to repeat ends the event dead instead."""
        now = self.clock()
        event.handbacks += 1
        flow = self.flows.get(event.flow)
        if running_step is not None and flow is not None and running_step < len(flow.steps):
            step = flow.steps[running_step]
            where = {"step": running_step + 1, "action": step.key}
            if not step.action.safe_to_repeat:
                return self._dead(event, _outcome_unknown(step, "was still running when the worker stopped"))
            error = {"type": "WorkerStopped", "retryable": True, **where,
                     "message": f"step {running_step + 1} ({step.key}) was still running at the shutdown timeout"}
            event.history.append(_line(error, now, event.attempts))
            event.error = error
            if event.attempts >= flow.retry.max_attempts:
                error = {**error, "retryable": False,
                         "message": error["message"] + f" (gave up after {event.attempts} attempts)"}
                return self._dead(event, error)
        else:
            event.attempts = max(0, event.attempts - 1)
        if event.handbacks > MAX_HANDBACKS:
            return self._dead(event, {"type": "WorkerStopped", "retryable": False,
                                      "message": f"handed back by stopping workers {event.handbacks} times "
                                                 f"(at most {MAX_HANDBACKS}); not run again"})
        event.status, event.claim, event.lease_until, event.sending = QUEUED, None, None, None
        event.due_at = event.updated_at = now
        if self.store.save(event):
            self.queue.dispatch(event.id)
            return "released"
        return "superseded"

    def release_inflight(self) -> int:
        """After the shutdown timeout: hand back events whose step is still running (never lost); each
        counts as an attempt, and one whose step is not safe to repeat ends dead (OutcomeUnknown)."""
        with self._lock:
            inflight = dict(self._inflight)
            running = dict(self._running_step)
        released = 0
        for event_id, claim in inflight.items():
            event = self.store.get(event_id)
            if event and event.status == RUNNING and event.claim == claim:
                if self._release(event, running.get(event_id)) in ("released", DEAD):
                    released += 1
        return released

    # -- the background duties of a worker process ---------------------------------------------------------

    def heartbeat(self) -> None:
        until = self.clock() + self.lease
        with self._lock:
            inflight = dict(self._inflight)
        for event_id, claim in inflight.items():
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
            error = _outcome_unknown(flow.steps[event.sending], "was running when its worker stopped")
            event.history.append(_line(error, now, event.attempts))
            event.status, event.claim, event.lease_until, event.sending = DEAD, None, None, None
            event.updated_at, event.error = now, error
            return 1 if self.store.save(event, lease_expired_before=now) else 0
        error = {"type": "WorkerStopped", "retryable": True,
                 "message": f"the worker running attempt {event.attempts} stopped before finishing "
                            f"(step {len(event.steps) + 1})"}
        event.history.append(_line(error, now, event.attempts))
        event.claim, event.lease_until, event.updated_at, event.error = None, None, now, error
        if event.attempts >= limit:
            event.status = DEAD
        else:
            event.status, event.due_at = QUEUED, now
        if not self.store.save(event, lease_expired_before=now):
            return 0
        if event.status == QUEUED:
            self.queue.dispatch(event.id)
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
