"""OpenTelemetry traces of the workers (`serve --traces`, the `traces` extra): one span per event attempt and
one per step inside it. Off by default: `OFF` does nothing and opentelemetry is never imported.

The spans go to the process's tracer provider: set one up as OpenTelemetry does for any Python program
(`opentelemetry-instrument jobs-connector serve --traces ...` with the SDK and an exporter installed and
the OTEL_* variables, or an embedding's own provider). With the API alone they are OpenTelemetry's no-op.
Attributes are ids and names only (event id, flow, attempt, step, action, error type, the service's
request id): never an event body, a step's input or output, or an error message, which may quote what
the service echoed.
"""

from __future__ import annotations

from contextlib import nullcontext


class NoTracing:
    def event(self, event):
        """A context for one attempt at an event (the worker's claim to its end)."""
        return nullcontext()

    def start_step(self, event, step):
        return None

    def end_step(self, span, error: dict | None) -> None: ...


OFF = NoTracing()


class OtelTracing(NoTracing):
    def __init__(self, tracer_provider=None):
        from opentelemetry import trace  # lazily: only with --traces, from the traces extra

        self._trace = trace
        self.tracer = trace.get_tracer("jobs_connector.webhooks", tracer_provider=tracer_provider)

    def event(self, event):
        return self.tracer.start_as_current_span(f"event {event.flow}", attributes={
            "jobs_connector.event_id": event.id, "jobs_connector.flow": event.flow,
            "jobs_connector.attempt": event.attempts})

    def start_step(self, event, step):
        return self.tracer.start_span(f"step {step.key}", attributes={  # a child of the event's span
            "jobs_connector.event_id": event.id, "jobs_connector.flow": event.flow,
            "jobs_connector.step": step.index + 1, "jobs_connector.action": step.key})

    def end_step(self, span, error: dict | None) -> None:
        if error:
            span.set_attribute("jobs_connector.error", str(error.get("type", "")))
            if error.get("request_id"):
                span.set_attribute("jobs_connector.request_id", str(error["request_id"]))
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(error.get("type", ""))))
        span.end()
