"""The queue's gauges, computed from the store when /metrics is scraped (never kept up to date on the hot
path): events waiting, retrying and running, and how long the oldest due event has waited past its due time.
Each backend answers with a bounded query (EventStore.backlog)."""

from __future__ import annotations

import logging
import time

from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("jobs_connector.webhooks")
DEPTH_STATUSES = ("queued", "retrying", "running")


class BacklogCollector:
    def __init__(self, store, clock=time.time):
        self.store, self.clock = store, clock

    def describe(self):
        return []  # unchecked: collect() reads the store, which describe() must not

    def collect(self):
        depth = GaugeMetricFamily("jobs_connector_queue_depth", "Events in the queue, by status", labels=["status"])
        oldest = GaugeMetricFamily("jobs_connector_queue_oldest_waiting_seconds",
                                   "How long the oldest due event has waited for a worker (0 when none waits)")
        now = self.clock()
        try:
            counts, first_due = self.store.backlog(now)
        except Exception as exc:  # a lost store: the other metrics still answer
            log.warning("metrics: the queue gauges could not be read: %s", type(exc).__name__)
            return
        for status in DEPTH_STATUSES:
            depth.add_metric([status], counts.get(status, 0))
        oldest.add_metric([], 0.0 if first_due is None else max(0.0, now - first_due))
        yield depth
        yield oldest
