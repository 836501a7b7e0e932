"""The recorder's interface and the recorder that records nothing (see the package's docstring)."""

from __future__ import annotations

# Why an intake refused a webhook (jobs_connector_webhooks_refused_total{reason}).
REASONS = ("unknown-flow", "no-length", "bad-framing", "too-large", "bad-signature", "bad-json", "bad-delivery-id",
           "conflict", "store-busy", "not-durable", "store-unavailable", "headers-too-large")
# How an event ended (jobs_connector_events_finished_total{outcome}); an event dead with OutcomeUnknown
# counts as outcome_unknown, not as dead.
OUTCOMES = ("succeeded", "dead", "outcome_unknown")


class NoMetrics:
    """The recorder's interface, recording nothing."""

    page = None  # the WSGI answer to GET /metrics (PrometheusMetrics has one)

    def accepted(self, flow: str) -> None: ...

    def duplicate(self, flow: str) -> None: ...

    def refused(self, flow: str, reason: str) -> None: ...

    def step(self, flow: str, action: str, error: str, seconds: float) -> None:
        """One step attempt; `error` is the error's type ('' when the step succeeded)."""

    def retry(self, flow: str) -> None: ...

    def finished(self, flow: str, outcome: str, seconds: float) -> None:
        """An event ended (`seconds` from its arrival)."""

    def taken_over(self, flow: str) -> None: ...

    def polled(self, flow: str, ok: bool, items: int) -> None: ...

    def process_exited(self, pid: int) -> None:
        """A worker process of this serve ended (multi-process mode forgets its live values)."""

    def close(self) -> None: ...


OFF = NoMetrics()


def outcome_of(error: dict | None) -> str:
    return "outcome_unknown" if (error or {}).get("outcome") == "unknown" else "dead"

