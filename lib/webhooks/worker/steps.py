"""The step loop: an event's remaining steps, one after another, through the same runtime as the CLI. Each
completed step's output is saved before the next starts (flushed unless the step is declared idempotent), and a
step not safe to repeat is marked, flushed, before its request leaves."""

from __future__ import annotations

import logging
import threading
import time
import uuid

from jobs_connector.base.errors import ConnectorError
from jobs_connector.runtime import Runtime
from jobs_connector.webhooks.events import SUCCEEDED, Event
from jobs_connector.webhooks.flows import Flow
from jobs_connector.webhooks.mapping.input_mapping import MappingError
from jobs_connector.webhooks.metrics import OFF, NoMetrics
from jobs_connector.webhooks.tracing import OFF as NO_TRACING
from jobs_connector.webhooks.tracing import NoTracing
from jobs_connector.webhooks.worker.inflight import InFlight
from jobs_connector.webhooks.worker.outcomes import Outcomes, log_fields, outcome_unknown, superseded

log = logging.getLogger("jobs_connector.webhooks")
TOKEN_NAMESPACE = uuid.UUID("6f1c5a52-8f0e-4b7e-9d55-5b1f3f0c2a11")


def step_token(event_id: str, index: int) -> str:
    """The idempotency token of an event's step: the same on every attempt, so the service acts once."""
    return str(uuid.uuid5(TOKEN_NAMESPACE, f"{event_id}/{index}"))


def context_for(event: Event, outputs: list) -> dict:
    """What a step's JSONata mapping sees."""
    return {"event": event.opened_body(), "steps": outputs, "headers": event.headers,
            "meta": {"eventId": event.id, "flow": event.flow, "deliveryId": event.delivery_id,
                     "receivedAt": event.received_at, "attempt": event.attempts}}


class StepLoop:
    def __init__(self, store, runtime: Runtime, outcomes: Outcomes, inflight: InFlight, *, lease: float, clock,
                 stopping: threading.Event, metrics: NoMetrics = OFF, tracing: NoTracing = NO_TRACING):
        self.store, self.runtime, self.outcomes, self.inflight = store, runtime, outcomes, inflight
        self.lease, self.clock, self.stopping = lease, clock, stopping
        self.metrics, self.tracing = metrics, tracing

    def _step_done(self, flow: Flow, step, span, started: float, error: dict | None) -> None:
        """Count the attempt (metrics) and end its span (traces)."""
        self.metrics.step(flow.name, step.key, error["type"] if error else "", time.perf_counter() - started)
        if span is not None:
            self.tracing.end_step(span, error)

    def run(self, event: Event, flow: Flow | None) -> str:
        """Run the event's remaining steps; returns how the attempt ended."""
        if flow is None:
            return self.outcomes.dead(event, {"type": "UnknownFlow", "retryable": False,
                                      "message": f"the flows file of this worker has no flow '{event.flow}'"})
        outputs = event.step_outputs()
        for step in flow.steps[len(event.steps):]:
            if self.stopping.is_set():
                return self.outcomes.hand_back(event)
            where = {"step": step.index + 1, "action": step.key}
            warnings: list[str] = []
            started = time.perf_counter()
            span = self.tracing.start_step(event, step)
            try:
                body = step.input.evaluate(context_for(event, outputs))
                token = step.action.spec("IDEMPOTENCY_TOKEN")
                if token and isinstance(body, dict) and token not in body:
                    body[token] = step_token(event.id, step.index)
                self.inflight.step_started(event.id, step.index)
                if not step.action.safe_to_repeat:
                    # Recorded before the request leaves: a worker that dies during it leaves the mark, and
                    # the sweeper then ends the event (outcome unknown) instead of sending it again.
                    event.sending = step.index
                    if not self.store.save(event):
                        if span is not None:  # nothing was sent: no attempt to count
                            self.tracing.end_step(span, None)
                        return superseded(event, f"its mark before step {step.index + 1}")
                messages = list(self.runtime.run(step.key, body, step.config, warn=warnings.append))
            except MappingError as exc:
                self._step_done(flow, step, span, started, {"type": "MappingError"})
                message = f"flow '{flow.name}' step {step.index + 1} ({step.key}) {exc}"
                return self.outcomes.dead(event, {"type": "MappingError", "message": message, "rule": exc.rule,
                                          "field": exc.where, "retryable": False, **where})
            except ConnectorError as exc:
                self._step_done(flow, step, span, started, exc.to_dict())
                error = {**exc.to_dict(), **where}
                decision = flow.retry.decide(event.attempts, retryable=exc.retryable, retry_after=exc.retry_after)
                if decision.delay is not None:
                    return self.outcomes.retry(event, error, decision.delay)
                if decision.reason == "retry-after-over-max-delay":
                    error["message"] += (f" (the service asked to wait {exc.retry_after:g} s before trying again, "
                                         f"longer than this flow's retry.max_delay of {flow.retry.max_delay:g} s: "
                                         "not retried; `jobs-connector events retry` sends it again)")
                    error["rule"] = "retry-after-over-max-delay"
                elif decision.reason == "attempts":
                    error["message"] += f" (gave up after {event.attempts} attempts)"
                return self.outcomes.dead(event, error)
            except Exception as exc:  # a bug in a step must not lose the event: retry, bounded
                self._step_done(flow, step, span, started, {"type": "InternalError"})
                log.exception("event %s: step %s failed unexpectedly", event.id, step.index + 1,
                              extra=log_fields(event, where, duration=None))
                if event.sending == step.index:  # perhaps after the request left: not sent again
                    return self.outcomes.dead(event, outcome_unknown(step, "failed inside the worker (see its log)"))
                error = {"type": type(exc).__name__, "message": "internal error (see the worker's log)",
                         "retryable": True, **where}
                decision = flow.retry.decide(event.attempts, retryable=True)
                if decision.delay is not None:
                    return self.outcomes.retry(event, error, decision.delay)
                return self.outcomes.dead(event, error)
            finally:
                self.inflight.step_finished(event.id)
            self._step_done(flow, step, span, started, None)
            output = messages[0] if len(messages) == 1 else messages
            outputs.append(output)
            now = self.clock()
            for text in warnings:
                event.warnings.append({**where, "warning": text})
                log.warning("event %s (%s) step %d (%s): the answer differs from the documented shape: %s",
                            event.id, event.flow, step.index + 1, step.key, text,
                            extra=log_fields(event, where, duration=None))
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
                return superseded(event, f"its result of step {step.index + 1}")
        if event.status != SUCCEEDED:  # every step was already done (e.g. the flow lost steps)
            event.status, event.claim, event.lease_until = SUCCEEDED, None, None
            event.updated_at = self.clock()
            self.store.save(event)
        took = self.clock() - event.received_at
        self.metrics.finished(flow.name, SUCCEEDED, took)
        log.info("event %s (%s) succeeded after %d attempt(s)", event.id, event.flow, event.attempts,
                 extra=log_fields(event, duration=took))
        return SUCCEEDED
