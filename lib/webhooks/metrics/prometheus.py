"""The recorder with prometheus_client's counters and histograms (imported only when metrics are on).

Every metric lives in a registry of this recorder's own, so two services in one process (tests) never
share counts. In multi-process mode (multiprocess.py) the values are file-backed and /metrics reads every
process's files through prometheus_client's MultiProcessCollector.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram

from jobs_connector.webhooks.metrics import multiprocess as multiprocess_mode
from jobs_connector.webhooks.metrics.recorder import OUTCOMES, NoMetrics

# Seconds. A step is one request (with the transport's own retries) against a service; an event's whole
# life may include retries minutes apart.
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
EVENT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class PrometheusMetrics(NoMetrics):
    def __init__(self, store, flow_names, *, multiprocess_dir: str | None = None, expose: bool = True):
        if multiprocess_dir and os.environ.get(multiprocess_mode.ENV) != multiprocess_dir:
            raise RuntimeError(f"multi-process metrics need {multiprocess_mode.ENV} set before prometheus_client "
                               "is imported")
        self.multiprocess_dir = multiprocess_dir
        own = CollectorRegistry()

        def counter(name, text, labels):
            return Counter(name, text, labels, registry=own)

        self._accepted = counter("jobs_connector_webhooks_accepted", "Webhooks accepted as new events (202)",
                                 ["flow"])
        self._duplicates = counter("jobs_connector_webhooks_duplicates",
                                   "Webhooks recognised as an event already stored (200 duplicate)", ["flow"])
        self._refused = counter("jobs_connector_webhooks_refused", "Webhooks refused, nothing stored, by reason",
                                ["flow", "reason"])
        self._finished = counter("jobs_connector_events_finished", "Events that ended, by outcome",
                                 ["flow", "outcome"])
        self._steps = counter("jobs_connector_step_calls", "Step attempts, by action and error type ('' for none)",
                              ["flow", "action", "error"])
        self._retries = counter("jobs_connector_retries_scheduled", "Retries scheduled after a retryable failure",
                                ["flow"])
        self._taken_over = counter("jobs_connector_leases_taken_over",
                                   "Running events taken over by a sweeper after their worker stopped", ["flow"])
        self._polls = counter("jobs_connector_poll_runs", "Polls of a flow's trigger, by result", ["flow", "result"])
        self._poll_items = counter("jobs_connector_poll_items", "New items a poll turned into events", ["flow"])
        self._step_seconds = Histogram("jobs_connector_step_duration_seconds",
                                       "One step attempt: its mapping and its call", ["flow", "action"],
                                       buckets=STEP_BUCKETS, registry=own)
        self._event_seconds = Histogram("jobs_connector_event_duration_seconds",
                                        "From an event's arrival to its end, by outcome", ["flow", "outcome"],
                                        buckets=EVENT_BUCKETS, registry=own)
        for flow in flow_names:  # every flow's series from zero, so rate() sees the first event
            self._accepted.labels(flow)
            for outcome in OUTCOMES:
                self._finished.labels(flow, outcome)
        self.registry = own
        self.page = None
        if expose:
            from jobs_connector.webhooks.metrics.backlog import BacklogCollector
            from jobs_connector.webhooks.metrics.page import MetricsPage

            if multiprocess_dir:
                from prometheus_client.multiprocess import MultiProcessCollector

                self.registry = CollectorRegistry()
                MultiProcessCollector(self.registry, path=multiprocess_dir)
            self.registry.register(BacklogCollector(store))
            self.page = MetricsPage(self.registry)

    def accepted(self, flow: str) -> None:
        self._accepted.labels(flow).inc()

    def duplicate(self, flow: str) -> None:
        self._duplicates.labels(flow).inc()

    def refused(self, flow: str, reason: str) -> None:
        self._refused.labels(flow, reason).inc()

    def step(self, flow: str, action: str, error: str, seconds: float) -> None:
        self._steps.labels(flow, action, error).inc()
        self._step_seconds.labels(flow, action).observe(seconds)

    def retry(self, flow: str) -> None:
        self._retries.labels(flow).inc()

    def finished(self, flow: str, outcome: str, seconds: float) -> None:
        self._finished.labels(flow, outcome).inc()
        self._event_seconds.labels(flow, outcome).observe(max(0.0, seconds))

    def taken_over(self, flow: str) -> None:
        self._taken_over.labels(flow).inc()

    def polled(self, flow: str, ok: bool, items: int) -> None:
        self._polls.labels(flow, "ok" if ok else "error").inc()
        if items:
            self._poll_items.labels(flow).inc(items)

    def process_exited(self, pid: int) -> None:
        if self.multiprocess_dir:
            multiprocess_mode.mark_dead(pid, self.multiprocess_dir)
