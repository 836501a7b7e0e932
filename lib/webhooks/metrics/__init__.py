"""What `serve` counts for Prometheus: one recorder, handed to the intake, the workers and the poller.

`OFF` records nothing (serve --no-metrics, and every embedding that asks for none): its methods do
nothing, and prometheus_client is never imported. `prometheus.PrometheusMetrics` (loaded only when metrics
are on) keeps the counters and histograms; `backlog.py` computes the queue gauges from the store at each
scrape; `page.py` answers GET /metrics; `multiprocess.py` shares the counts of `serve --worker-processes`
children with the intake through files (prometheus_client's multi-process mode).

Labels are bounded sets only: flow names (from the flows file), action keys, error types, reasons and
outcomes; never an event id, a device, a thing or a job id.
"""

from __future__ import annotations

from jobs_connector.webhooks.metrics.recorder import OFF, OUTCOMES, REASONS, NoMetrics, outcome_of

__all__ = ["OFF", "OUTCOMES", "REASONS", "NoMetrics", "outcome_of", "start"]


def start(store, flow_names, *, multiprocess_dir: str | None = None, expose: bool = True):
    """The Prometheus recorder (prometheus_client imported now, not before). `multiprocess_dir`: this
    process shares its counts through that directory (it must already be in PROMETHEUS_MULTIPROC_DIR
    before prometheus_client is first imported, see multiprocess.py). `expose`: this process answers
    /metrics (the intake), with the queue gauges computed from `store`."""
    from jobs_connector.webhooks.metrics.prometheus import PrometheusMetrics  # lazily: a metrics-off serve pays nothing

    return PrometheusMetrics(store, flow_names, multiprocess_dir=multiprocess_dir, expose=expose)
