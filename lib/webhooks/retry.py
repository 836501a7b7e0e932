"""Putting a dead (or retrying) event back in the queue, the one way `jobs-connector events retry` and the
console both do it: it resumes at its failed step (completed steps are never run again), the flow's attempt
count starts afresh while the history goes on counting, and an event whose last step may already have been
carried out (OutcomeUnknown) is refused unless the operator forces it after looking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from jobs_connector.base.errors import BadInput
from jobs_connector.webhooks.events import DEAD, QUEUED, RETRYING, Event

RETRYABLE = (DEAD, RETRYING)
_CAS_TRIES = 5  # compare-and-set: re-read if a worker changed the event meanwhile


@dataclass(frozen=True)
class Requeued:
    event_id: str
    resumes_at: int  # the step number it starts at
    risk: str  # what a forced retry risks ('' when the outcome was known)


def outcome_unknown(event: Event) -> str:
    """What an event's OutcomeUnknown error risks, in words ('' when its outcome is known)."""
    error = event.error or {}
    if error.get("type") != "OutcomeUnknown" and error.get("outcome") != "unknown":
        return ""
    step = f"step {error['step']} ({error.get('action', '?')})" if error.get("step") else "its failed step"
    check = error.get("check_with")
    look = f" Check with {check} whether it was." if check else " Check the service whether it was."
    return f"{step} may already have been carried out by the service.{look}"


def refusal(event: Event, *, force: bool = False) -> BadInput | None:
    """Why `event` may not be retried now (None when it may)."""
    if event.status not in RETRYABLE:
        return BadInput(f"event {event.id} is {event.status}; only dead or retrying events can be retried",
                        field="id", rule="status")
    risk = outcome_unknown(event)
    if risk and not force:
        return BadInput(f"event {event.id} ended with an unknown outcome: {risk} Look first; "
                        "`events retry --force` sends it again", field="id", rule="outcome-unknown")
    return None


def requeue(queue, event_id: str, *, force: bool = False, clock=time.time) -> Requeued:
    """Queue the event again now; BadInput naming the rule when it is missing, not dead or retrying, keeps
    changing, or ended with an unknown outcome (without `force`)."""
    # The worker's module loads the flows machinery, which `events list` and `show` do not need.
    from jobs_connector.webhooks.worker.outcomes import lifetime_attempt

    for _ in range(_CAS_TRIES):
        event = queue.store.get(event_id)
        if event is None:
            raise BadInput(f"no event with id {event_id}", field="id", rule="not-found")
        refused = refusal(event, force=force)
        if refused is not None:
            raise refused
        now = clock()
        # The flow's attempt count starts afresh; the history goes on counting (attempt 2 after attempt 1):
        # the last attempt's line keeps how many came before the retry.
        if event.history and isinstance(event.history[-1], dict):
            event.history[-1] = {**event.history[-1], "retried_at": now, "attempts_before": lifetime_attempt(event)}
        event.status, event.attempts, event.due_at, event.updated_at = QUEUED, 0, now, now
        if queue.store.save(event):
            queue.dispatch(event.id)
            return Requeued(event.id, len(event.steps) + 1, outcome_unknown(event))
    raise BadInput(f"event {event_id} keeps changing; try again", field="id", rule="conflict")
