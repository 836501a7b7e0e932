"""Running `serve`: the intake server, the huey consumer with its workers, or both, and a graceful stop.

On SIGTERM or SIGINT: the server stops accepting and answers the requests it is handling; the workers
take no new event, finish the step they are running and hand their event back to the queue (the
completed steps are recorded, so it resumes there), waiting at most the shutdown timeout; an event
whose step is still running then is handed back too. Nothing is lost: an event is in the store before
it is acknowledged, and a worker killed outright (`kill -9`) leaves a lease that expires, after which
another worker's sweeper takes the event over. With worker processes (lib/webhooks/processes.py) the
children stop the same way, after the intake.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.base.extras import missing_extra
from jobs_connector.webhooks import metrics as metrics_module
from jobs_connector.webhooks import tracing as tracing_module
from jobs_connector.webhooks.flows import Flows
from jobs_connector.webhooks.intake.handler import Intake
from jobs_connector.webhooks.intake.health import HealthApp
from jobs_connector.webhooks.intake.waitress_server import IntakeServer
from jobs_connector.webhooks.intake.wsgi import IntakeApp
from jobs_connector.webhooks.poll import Poller
from jobs_connector.webhooks.processes import WorkerProcesses, parent_gone, say_ready
from jobs_connector.webhooks.store.queue import Queue, shown_url
from jobs_connector.webhooks.worker import Worker

log = logging.getLogger("jobs_connector.webhooks")


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2  # huey's threads taking tasks off the queue
    concurrency: int | None = 32  # events run at once per worker process (lib/webhooks/worker/pool.py)
    web: bool = True
    work: bool = True
    max_body: int = 1024 * 1024
    tolerance: float = 300.0
    lease: float = 30.0
    sweep_interval: float = 5.0
    shutdown_timeout: float = 30.0
    threads: int = 8  # the intake's request threads (waitress)
    store_timeout: float = 5.0  # how long accepting an event may wait for a busy store before a 503
    console: bool = False  # the operator's console (lib/webhooks/console/), on its own port
    console_host: str = "127.0.0.1"
    console_port: int = 8081
    metrics: bool = True  # Prometheus metrics, GET /metrics on the intake (lib/webhooks/metrics/)
    traces: bool = False  # OpenTelemetry spans of the workers (lib/webhooks/tracing.py)
    health_host: str = "127.0.0.1"  # a worker-only process's /healthz and /readyz listener (none without a port)
    health_port: int | None = None


class Service:
    def __init__(self, flows: Flows, queue: Queue, settings: Settings, *, announce=print, runtime=None,
                 install_signals: bool = True, processes: WorkerProcesses | None = None,
                 metrics_dir: str | None = None):
        """`processes`: worker processes to start and keep running (then settings.work is usually False).
        `metrics_dir`: multi-process metrics through that directory (lib/webhooks/metrics/multiprocess.py)."""
        self.flows, self.queue, self.settings = flows, queue, settings
        self.processes = processes
        self.metrics_dir = metrics_dir
        self.metrics = metrics_module.OFF
        self.exit_code = 0
        self.announce, self.runtime, self.install_signals = announce, runtime, install_signals
        self._previous_handlers: dict = {}
        self.stop_requested = threading.Event()
        self.server: IntakeServer | None = None
        self.health_server: IntakeServer | None = None  # worker-only: /healthz and /readyz
        self.worker: Worker | None = None
        self.consumer = None
        self.poller = None
        self.console: IntakeServer | None = None

    def start(self) -> None:
        s = self.settings
        if s.console:  # first: missing credentials or a port in use stop serve before anything runs
            # Imported here: the console and Jinja2 are loaded only when it is enabled.
            from jobs_connector.webhooks.console.server import console_server

            self.console = console_server(self.flows, self.queue, s.console_host, s.console_port)
        # Built first: a flows file the intake refuses (a shared secret) stops the service before workers start.
        intake = Intake(self.flows, self.queue, max_body=s.max_body, tolerance=s.tolerance) if s.web else None
        # Counted where someone can read them: the intake's /metrics, a worker-only process's health listener,
        # or the files a worker process shares with the intake. A worker-only process with no listener and no
        # shared files counts nothing.
        listens = s.web or (s.work and s.health_port is not None)
        if s.metrics and (listens or self.metrics_dir):
            self.metrics = metrics_module.start(self.queue.store, [f.name for f in self.flows],
                                                multiprocess_dir=self.metrics_dir, expose=listens)
        if intake is not None:
            intake.metrics = self.metrics
        if intake is not None and self.processes:
            intake.worker_processes = self.processes.status  # /healthz counts them
            self.processes.on_exit = self.metrics.process_exited
        if s.work:
            tracing = tracing_module.OFF
            if s.traces:
                try:
                    tracing = tracing_module.OtelTracing()
                except ModuleNotFoundError as exc:
                    raise ConfigurationError(missing_extra(exc, "serve --traces") or str(exc), field="traces",
                                             rule="extra") from None
            self.worker = Worker(self.flows, self.queue, runtime=self.runtime, lease=s.lease,
                                 sweep_interval=s.sweep_interval, grace=max(2.0, s.sweep_interval * 2),
                                 metrics=self.metrics, tracing=tracing,
                                 concurrency=s.concurrency)
            # Polling for SQLite (no blocking pop); Redis blocks on the list, so polling settings matter less.
            self.consumer = self.queue.huey.create_consumer(
                workers=s.workers, worker_type="thread", periodic=False, initial_delay=0.05, backoff=1.5,
                max_delay=0.5, scheduler_interval=1, check_worker_health=True, shutdown_timeout=s.shutdown_timeout)
            self._previous_handlers = {n: signal.getsignal(n) for n in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
            self.consumer.start()  # installs huey's signal handlers; ours replace them below
            self.worker.start_background()
            running = f" ({s.concurrency} events at once)" if s.concurrency else ""
            self.announce(f"workers: {s.workers} on {shown_url(self.queue.url)}{running}")
            say_ready()  # a worker process tells the serve that started it (nothing otherwise)
        if intake is not None:
            self._start_poller()
            try:
                self.server = IntakeServer((s.host, s.port), IntakeApp(intake), threads=s.threads,
                                           max_body=s.max_body)
            except OSError as exc:  # a port in use, an address not on this machine: one clear line, exit 2
                raise ConfigurationError(f"cannot listen on {s.host}:{s.port}: {exc.strerror or exc}",
                                         field="port", rule="listen") from None
            threading.Thread(target=self.server.serve_forever, name="webhooks-http", daemon=True).start()
            self.announce(f"listening on {self.server.url} (flows: {', '.join(f.name for f in self.flows)})")
        if self.console is not None:
            threading.Thread(target=self.console.serve_forever, name="webhooks-console", daemon=True).start()
            self.announce(f"console on {self.console.url}")
        if intake is None and s.health_port is not None:
            self._start_health_server()
        if self.processes:  # once the intake has its port: a port in use starts no children
            self.processes.start()
            self.announce(f"worker processes: {len(self.processes.slots)} of {s.workers} workers each "
                          f"(pids {', '.join(map(str, self.processes.pids()))}) on {shown_url(self.queue.url)}")
        if self.install_signals:
            # Our handlers replace the ones huey's consumer installed: one graceful path for both signals.
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        else:  # embedded (tests): leave the host's handlers as they were
            for signum, handler in self._previous_handlers.items():
                signal.signal(signum, handler)

    def _start_health_server(self) -> None:
        """A worker-only process's small listener for a load balancer or an orchestrator: two threads, tiny
        requests, waitress as for the intake."""
        s = self.settings
        app = HealthApp(self.queue, extra=self.processes.status if self.processes else None,
                        stopping=self._stopping, metrics_page=self.metrics.page)
        try:
            self.health_server = IntakeServer((s.health_host, s.health_port), app, threads=2, max_body=1024)
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {s.health_host}:{s.health_port}: {exc.strerror or exc}",
                                     field="health-port", rule="listen") from None
        threading.Thread(target=self.health_server.serve_forever, name="webhooks-health", daemon=True).start()
        paths = "/healthz, /readyz, /metrics" if self.metrics.page else "/healthz, /readyz"
        self.announce(f"health on {self.health_server.url} ({paths})")

    def _stopping(self) -> bool:
        return self.stop_requested.is_set() or bool(self.worker and self.worker.stopping.is_set())

    def _start_poller(self) -> None:
        """Flows that start from a polling trigger (lib/webhooks/poll.py): their items join the queue."""
        poller = Poller(self.flows, self.queue, runtime=self.runtime, metrics=self.metrics)
        if poller:
            self.poller = poller
            poller.start()
            self.announce(f"polling: {', '.join(f'{f.name} every {f.trigger.every:g}s' for f in poller.flows)}")

    def _on_signal(self, signum, frame) -> None:
        self.stop_requested.set()

    def wait(self) -> None:
        next_check = time.monotonic() + 10
        while not self.stop_requested.wait(0.2):
            if self.consumer and time.monotonic() >= next_check:
                self.consumer.check_worker_health()
                next_check = time.monotonic() + 10
            if self.processes:
                problem = self.processes.check()
                if problem:
                    log.error("stopping: %s", problem)
                    self.exit_code = 1
                    return
            if parent_gone():  # a worker process whose serve died: stop as on SIGTERM
                log.warning("the serve process that started this worker process is gone; stopping")
                return

    def stop(self) -> None:
        s = self.settings
        if self.poller:  # first: no new events while the rest shuts down
            self.poller.stop(timeout=s.shutdown_timeout)
        if self.server:
            if not self.server.drain(timeout=10):
                log.warning("stopped with requests still unanswered (their senders will retry)")
            self.server.server_close()
        if self.console:
            self.console.drain(timeout=5)
            self.console.server_close()
        if self.processes:  # after the intake: no new events; each child hands its events back
            grace = s.shutdown_timeout + 10  # their own shutdown timeout, and a margin to exit
            killed = self.processes.stop(timeout=grace)
            if killed:
                log.warning("killed worker process(es) %s, still running %.0fs after SIGTERM (their events are "
                            "taken over when their leases end)", ", ".join(map(str, killed)), grace)
        if self.worker and self.consumer:
            self.worker.stopping.set()
            began = time.monotonic()
            self.consumer.stop(graceful=True)
            # The pool's events finish the step they are in and hand back, within the same timeout.
            self.worker.wait_idle(max(0.0, s.shutdown_timeout - (time.monotonic() - began)))
            released = self.worker.release_inflight()
            if released:
                log.warning("handed %d running event(s) back to the queue after %.0fs", released, s.shutdown_timeout)
            self.worker.stop_background()
            self.worker.close()
        if self.health_server:  # last: /readyz says "stopping" while the rest shuts down
            self.health_server.drain(timeout=1)
            self.health_server.server_close()
        self.queue.close()
        self.announce("stopped")

    def run(self) -> int:
        try:
            self.start()
        except BaseException:
            self.stop()  # whatever had started (workers, the poller) stops before the error is shown
            raise
        try:
            self.wait()
        finally:
            self.stop()
        return self.exit_code
