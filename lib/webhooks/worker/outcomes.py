"""How an attempt at an event ends when it does not succeed: retried later, dead-lettered, or handed back at a
shutdown. Each records the error in the event's history (scrubbed: a step's service may echo an earlier
step's secret) and saves it under the claim; a save refused means another worker took the event over."""

from __future__ import annotations

import logging

from jobs_connector.base.errors import OutcomeUnknown
from jobs_connector.base.log_repeats import EVERY_TIME
from jobs_connector.webhooks.events import DEAD, QUEUED, RETRYING, Event
from jobs_connector.webhooks.flows import Flows
from jobs_connector.webhooks.metrics import OFF, NoMetrics, outcome_of
from jobs_connector.webhooks.sealing import scrubbed
from jobs_connector.webhooks.store.queue import Queue

log = logging.getLogger("jobs_connector.webhooks")
MAX_HANDBACKS = 10  # shutdowns an event may live through unfinished before it ends dead
SUPERSEDED = "superseded"


def superseded(event, what: str) -> str:
    """A write of this worker refused: another worker took the event over (its lease ended, e.g. while this
    host was cut off from the store), and the compare-and-set on the event's version fences this one out."""
    log.warning("event %s was taken over by another worker; %s refused, stopping here", event.id, what,
                extra=EVERY_TIME)
    return SUPERSEDED


def history_line(error: dict, when: float, attempt: int) -> dict:
    return {"attempt": attempt, "at": when, "error": error}


def lifetime_attempt(event) -> int:
    """The attempt's number over the event's whole life: `events retry` starts the flow's attempt count
    afresh (event.attempts), and marks the last history line with how many attempts came before
    (attempts_before)."""
    before = next((line["attempts_before"] for line in reversed(event.history)
                   if isinstance(line, dict) and "attempts_before" in line), 0)
    return before + event.attempts


def log_fields(event, error: dict | None = None, *, duration: float | None) -> dict:
    """The structured fields of a log line about an event (serve --log-format json shows them)."""
    fields = {"event_id": event.id, "flow": event.flow, "attempt": lifetime_attempt(event)}
    if error:
        for name, key in (("step", "step"), ("action", "action"), ("request_id", "request_id")):
            if error.get(key) is not None:
                fields[name] = error[key]
    if duration is not None:
        fields["duration"] = round(duration, 6)
    return fields


def outcome_unknown(step, why: str) -> dict:
    """The error of an event whose step is not safe to repeat and may have been carried out: the same
    OutcomeUnknown the transport raises, as the event records every step error."""
    check_with = step.action.spec("CHECK_WITH")
    look = f"; look with {check_with} before trying again" if check_with else ""
    error = OutcomeUnknown(f"step {step.index + 1} ({step.key}) {why}; the request may have been carried out, "
                           f"and it is not safe to send again{look}", check_with=check_with)
    error.attempts = None  # the worker cannot tell how many requests its step had sent
    return {**error.to_dict(), "step": step.index + 1, "action": step.key}


class Outcomes:
    def __init__(self, flows: Flows, queue: Queue, clock, metrics: NoMetrics = OFF):
        self.flows, self.queue, self.store, self.clock = flows, queue, queue.store, clock
        self.metrics = metrics

    def retry(self, event: Event, error: dict, delay: float) -> str:
        error = scrubbed(error, event)
        now = self.clock()
        event.status, event.claim, event.lease_until, event.sending = RETRYING, None, None, None
        event.due_at, event.updated_at, event.error = now + delay, now, error
        event.history.append(history_line(error, now, lifetime_attempt(event)))
        if self.store.save(event):
            self.queue.dispatch(event.id, eta=event.due_at)
            self.metrics.retry(event.flow)
            log.info("event %s: attempt %d failed (%s); retrying in %.1fs", event.id, event.attempts,
                     error.get("type"), delay, extra=log_fields(event, error, duration=None))
            return RETRYING
        return superseded(event, "its retry")

    def dead(self, event: Event, error: dict) -> str:
        error = scrubbed(error, event)
        now = self.clock()
        event.status, event.claim, event.lease_until, event.sending = DEAD, None, None, None
        event.updated_at, event.error = now, error
        event.history.append(history_line(error, now, lifetime_attempt(event)))
        if self.store.save(event):
            self.metrics.finished(event.flow, outcome_of(error), now - event.received_at)
            log.warning("event %s (%s) dead-lettered: %s: %s", event.id, event.flow, error.get("type"),
                        error.get("message"), extra=log_fields(event, error, duration=now - event.received_at))
            return DEAD
        return SUPERSEDED

    def hand_back(self, event: Event, running_step: int | None = None) -> str:
        """Shutting down: hand the event back. Between steps this run does not count as an attempt; a step
        still running (`running_step`) does, and one not safe to repeat ends the event dead instead."""
        now = self.clock()
        event.handbacks += 1
        flow = self.flows.get(event.flow)
        if running_step is not None and flow is not None and running_step < len(flow.steps):
            step = flow.steps[running_step]
            where = {"step": running_step + 1, "action": step.key}
            if not step.action.safe_to_repeat:
                return self.dead(event, outcome_unknown(step, "was still running when the worker stopped"))
            error = {"type": "WorkerStopped", "retryable": True, **where,
                     "message": f"step {running_step + 1} ({step.key}) was still running at the shutdown timeout"}
            event.history.append(history_line(error, now, lifetime_attempt(event)))
            event.error = error
            if event.attempts >= flow.retry.max_attempts:
                error = {**error, "retryable": False,
                         "message": error["message"] + f" (gave up after {event.attempts} attempts)"}
                return self.dead(event, error)
        else:
            event.attempts = max(0, event.attempts - 1)
        if event.handbacks > MAX_HANDBACKS:
            return self.dead(event, {"type": "WorkerStopped", "retryable": False,
                                     "message": f"handed back by stopping workers {event.handbacks} times "
                                                f"(at most {MAX_HANDBACKS}); not run again"})
        event.status, event.claim, event.lease_until, event.sending = QUEUED, None, None, None
        event.due_at = event.updated_at = now
        if self.store.save(event):
            self.queue.dispatch(event.id)
            return "released"
        return superseded(event, "its hand-back")
