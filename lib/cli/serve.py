"""`jobs-connector serve`: receive signed webhooks, store them durably, and run their flows.

  jobs-connector serve --flows flows.yaml                       # web + workers, SQLite queue file
  jobs-connector serve --flows flows.yaml --queue redis://redis:6379/0 --web-only
  jobs-connector serve --flows flows.yaml --queue redis://redis:6379/0 --worker-only --workers 8
  jobs-connector serve --flows flows.yaml --worker-processes 2     # web here, workers in 2 processes
"""

from __future__ import annotations

import argparse
import os

from jobs_connector.auth.chain import environment_secrets
from jobs_connector.base import logs
from jobs_connector.base.errors import ConfigurationError
from jobs_connector.webhooks import flows as flows_module
from jobs_connector.webhooks.lifecycle import Service, Settings
from jobs_connector.webhooks.metrics import multiprocess as multiprocess_metrics
from jobs_connector.webhooks.processes import INDEX_ENV, WorkerProcesses, child_command
from jobs_connector.webhooks.sealing import KEY_ENV
from jobs_connector.webhooks.store.queue import QUEUE_ENV, Queue, queue_url, shown_url

# Threads per worker process taking tasks off the queue; each task's event runs on one of the process's
# DEFAULT_CONCURRENCY step threads. Many more than one a core: a step waiting for a service's answer (tens of
# milliseconds from a real one) or for the queue's write lock leaves the core to another.
DEFAULT_WORKERS = 4
DEFAULT_CONCURRENCY = 32


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise ValueError(text)
        return value
    parse.__name__ = kind.__name__
    return parse


def add_arguments(parser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("--flows", required=True, metavar="FILE", help="the flows file (YAML or JSON)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument("--queue", metavar="URL",
                        help=f"sqlite:///PATH or redis://HOST:PORT/DB (default ${QUEUE_ENV}, "
                             "else sqlite:///jobs-connector.db)")
    parser.add_argument("--workers", type=_positive(int), default=DEFAULT_WORKERS,
                        help=f"threads taking events off the queue (default {DEFAULT_WORKERS}; of each worker "
                             "process with --worker-processes); --concurrency bounds the events run at once")
    parser.add_argument("--concurrency", type=_positive(int), default=DEFAULT_CONCURRENCY, metavar="N",
                        help=f"events whose steps run at once in each worker process, on threads of their own "
                             f"(default {DEFAULT_CONCURRENCY}): a step waiting for a service's answer leaves "
                             "its core to the others")
    parser.add_argument("--worker-processes", type=_positive(int), metavar="N",
                        help="run the workers in N processes of their own, started and kept running by this "
                             "one (one interpreter uses one core at a time); default: threads of this process")
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--web-only", action="store_true", help="only receive webhooks (workers run elsewhere)")
    role.add_argument("--worker-only", action="store_true", help="only run flows (no HTTP server)")
    parser.add_argument("--max-body", type=_positive(int), default=1024 * 1024, metavar="BYTES",
                        help="largest accepted body (default 1 MiB; larger ones get 413)")
    parser.add_argument("--replay-window", type=_positive(float), default=300.0, metavar="SECONDS",
                        help="how far a signature timestamp may be from now (default 300)")
    parser.add_argument("--lease", type=_positive(float), default=30.0, metavar="SECONDS",
                        help="a running event is taken over this long after its worker stops renewing it (default 30)")
    parser.add_argument("--sweep-interval", type=_positive(float), default=5.0, metavar="SECONDS",
                        help="how often a worker looks for abandoned or lost events (default 5)")
    parser.add_argument("--shutdown-timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                        help="on SIGTERM, how long running steps may take to finish (default 30)")
    parser.add_argument("--threads", type=_positive(int), default=8,
                        help="threads answering webhook requests (default 8; more requests share one commit)")
    parser.add_argument("--store-timeout", type=_positive(float), default=5.0, metavar="SECONDS",
                        help="how long accepting an event may wait for a busy store before answering 503 (default 5)")
    parser.add_argument("--console", action="store_true",
                        help="serve the operator's console (needs JOBS_CONNECTOR_CONSOLE_TOKEN, or _USER and "
                             "_PASSWORD, in the environment; docs/webhooks.md: Console)")
    parser.add_argument("--console-host", default="127.0.0.1", metavar="HOST",
                        help="address the console listens on (default 127.0.0.1)")
    parser.add_argument("--console-port", type=int, default=8081, metavar="PORT",
                        help="the console's port (default 8081; 0 picks a free one)")
    parser.add_argument("--health-port", type=int, metavar="PORT",
                        help="with --worker-only: answer GET /healthz, /readyz and /metrics on this port (0 picks a "
                             "free one; the intake answers them on its own port)")
    parser.add_argument("--health-host", default="127.0.0.1",
                        help="address of the --health-port listener (default 127.0.0.1)")
    parser.add_argument("--allow-unsafe-redis", action="store_true",
                        help="start on a Redis that does not sync each write to disk (appendfsync everysec or no, "
                             "appendonly no), accepting that a Redis crash can lose events already answered 202")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--log-format", default="text", choices=logs.FORMATS,
                        help="log lines on stderr: text (default) or json (one object a line)")
    parser.add_argument("--metrics", default=True, action=argparse.BooleanOptionalAction,
                        help="Prometheus metrics on GET /metrics of the intake, counting its worker processes too "
                             "(default on)")
    parser.add_argument("--traces", action="store_true",
                        help="OpenTelemetry spans of the workers, one per event attempt and per step, to the process's "
                             "tracer provider (the traces extra; default off)")


def _process_name() -> str:
    """' [worker process N]' in a worker process started by serve --worker-processes, for its log lines."""
    index = os.environ.get(INDEX_ENV, "")
    return f" [worker process {index}]" if index.isdigit() else ""


def configure_logging(level: str, where: str = "", log_format: str = "text", secrets=()) -> None:
    """Log lines on stderr; `where` names the worker process that writes them (see _process_name)."""
    index = os.environ.get(INDEX_ENV, "")
    logs.configure(level, log_format=log_format, text_format=f"%(asctime)s %(levelname)s %(name)s{where}: %(message)s",
                   process=index if where and index.isdigit() else None, secrets=secrets, quiet=())


def main(args) -> int:
    if args.worker_processes and args.web_only:
        raise ConfigurationError("--worker-processes starts workers, which --web-only leaves out: give one of them",
                                 field="worker-processes", rule="conflict")
    if args.health_port is not None and not args.worker_only:
        raise ConfigurationError("--health-port is for --worker-only: the intake answers /healthz and /readyz on "
                                 "its own --port", field="health-port", rule="conflict")
    web = not args.worker_only
    flows = flows_module.load(args.flows, need_secrets=web)  # a broken flows file stops here: exit 2
    where = _process_name()
    configure_logging(args.log_level, where, args.log_format,
                      secrets=[*flows.secrets(), *environment_secrets(os.environ), os.environ.get(KEY_ENV)])
    processes = None
    settings = Settings(host=args.host, port=args.port, workers=args.workers, concurrency=args.concurrency, web=web,
                        work=not args.web_only and not args.worker_processes,
                        max_body=args.max_body, tolerance=args.replay_window, lease=args.lease,
                        sweep_interval=args.sweep_interval, shutdown_timeout=args.shutdown_timeout,
                        threads=args.threads, store_timeout=args.store_timeout, console=args.console,
                        console_host=args.console_host, console_port=args.console_port, metrics=args.metrics,
                        traces=args.traces,
                        health_host=args.health_host, health_port=args.health_port)
    queue = Queue(queue_url(args.queue), store_timeout=args.store_timeout)
    if queue.kind == "redis":
        try:
            queue.store.ping()
        except Exception as exc:  # one clear line and exit 2, not a consumer logging tracebacks for ever
            queue.close()
            raise ConfigurationError(f"cannot reach Redis at {shown_url(queue.url)}: {type(exc).__name__}: "
                                     f"{str(exc)[:200]}") from None
        try:  # before anything is accepted: a Redis that would lose a 202'd event stops here (exit 2)
            queue.store.check_durable(allow_unsafe=args.allow_unsafe_redis)
        except ConfigurationError:
            queue.close()
            raise

    # Before anything imports prometheus_client, and before the children's environment is made.
    several = bool(args.worker_processes)
    metrics_dir, owns_metrics_dir = (multiprocess_metrics.choose(os.environ, several_processes=several)
                                     if args.metrics else (None, False))
    if args.worker_processes:
        command = child_command(args.flows, workers=args.workers, concurrency=args.concurrency, lease=args.lease,
                                sweep_interval=args.sweep_interval, shutdown_timeout=args.shutdown_timeout,
                                store_timeout=args.store_timeout, log_level=args.log_level,
                                log_format=args.log_format, metrics=args.metrics, traces=args.traces,
                                allow_unsafe_redis=args.allow_unsafe_redis)
        # The queue URL, which may hold a password, goes by the environment: never on a command line.
        processes = WorkerProcesses(command, args.worker_processes, {**os.environ, QUEUE_ENV: queue.url})

    def announce(line: str) -> None:
        # One write per line: worker processes share serve's stderr, and print() writes the line and its
        # newline apart (unbuffered), which lets two processes' lines run together.
        logs.say(f"{where.strip()} {line}" if where and not logs.is_json() else line, logger="jobs_connector.serve")

    try:
        return Service(flows, queue, settings, announce=announce, processes=processes, metrics_dir=metrics_dir).run()
    finally:
        if owns_metrics_dir:  # the children have exited (Service.stop waited for them): nobody writes there now
            multiprocess_metrics.remove(metrics_dir)
