"""`serve --worker-processes N`: the workers in N processes of their own, so they can use N cores.

One interpreter runs Python on one core at a time, and a worker's event is mostly Python (signing, the
HTTP client, the store). With N worker processes, serve starts N children `serve --worker-only` on the
same flows file and queue, each with `--workers` threads, and keeps them running:

- each child is a whole worker role (heartbeat, sweeper, graceful stop, handbacks): the scale-out layout
  of docs/webhooks.md, started by one command instead of several;
- the queue URL reaches the children through their environment, never their command line, where a Redis
  password would show in `ps`;
- a child that exits while serve runs is started again; one that fails at start QUICK_FAILURES times in a
  row (each exiting within `start_grace` seconds) stops serve with exit 1: a configuration error in the
  child is reported, not retried for ever;
- on stop, each child gets SIGTERM (it hands its events back as `serve` does) and `timeout` seconds to
  exit; a child still running then is killed, and its leases expire for the next worker's sweeper;
- a child checks that its parent is alive (PARENT_ENV) and stops by itself when serve is gone;
- a child says it is ready (its workers take events) on a pipe of its own (READY_ENV), and serve's
  /healthz counts the children running and ready.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess  # nosec B404: our own `serve --worker-only`, a fixed argv without a shell
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("jobs_connector.webhooks")
PARENT_ENV = "JOBS_CONNECTOR_SERVE_PARENT"  # the pid of the serve that started this worker process
INDEX_ENV = "JOBS_CONNECTOR_WORKER_PROCESS"  # this worker process's number, for its log lines
READY_ENV = "JOBS_CONNECTOR_READY_FD"  # the pipe on which this worker process says it is ready
QUICK_FAILURES = 3
MAX_BACKOFF = 30.0


def child_command(flows_path: str, *, workers: int, lease: float, sweep_interval: float, shutdown_timeout: float,
                  store_timeout: float, log_level: str, log_format: str = "text", metrics: bool = True,
                  traces: bool = False, concurrency: int | None = None, allow_unsafe_redis: bool = False) -> list[str]:
    """`serve --worker-only` with this serve's worker settings; the queue (and the metrics' directory) come
    from the environment."""
    return [sys.executable, "-m", "lib", "serve", "--flows", os.path.abspath(flows_path), "--worker-only",
            "--workers", str(workers), *(["--concurrency", str(concurrency)] if concurrency else []),
            "--lease", repr(lease), "--sweep-interval", repr(sweep_interval),
            "--shutdown-timeout", repr(shutdown_timeout), "--store-timeout", repr(store_timeout),
            "--log-level", log_level, "--log-format", log_format, "--metrics" if metrics else "--no-metrics",
            *(["--traces"] if traces else []), *(["--allow-unsafe-redis"] if allow_unsafe_redis else [])]


def say_ready(environ=os.environ) -> None:
    """In a worker process: tell serve that the workers take events (once; nothing outside serve)."""
    fd = environ.pop(READY_ENV, None)  # once; and no process this one starts sees it
    if fd and fd.isdigit():
        try:
            os.write(int(fd), b"ready\n")
            os.close(int(fd))
        except OSError:  # serve is gone or closed its end: nobody to tell
            pass


def parent_gone(environ=os.environ) -> bool:
    """True in a worker process whose serve has died (the child was handed to another parent)."""
    expected = environ.get(PARENT_ENV)
    return bool(expected) and str(os.getppid()) != expected


@dataclass
class _Slot:
    index: int
    proc: subprocess.Popen | None = None
    started: float = 0.0
    quick_failures: int = 0
    not_before: float = 0.0  # when a failed child may be started again
    ready_pipe: int | None = None  # our end of the child's ready pipe, until it said ready or exited
    ready: bool = False


class WorkerProcesses:
    def __init__(self, command: list[str], count: int, env: dict[str, str], *, start_grace: float = 10.0,
                 popen: Callable[..., subprocess.Popen] = subprocess.Popen,
                 clock: Callable[[], float] = time.monotonic):
        self.command, self.env = command, env
        self.start_grace, self.popen, self.clock = start_grace, popen, clock
        self.slots = [_Slot(i + 1) for i in range(count)]
        self.on_exit: Callable[[int], None] | None = None  # told each child's pid once it has exited (metrics)

    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)

    def pids(self) -> list[int]:
        return [slot.proc.pid for slot in self.slots if slot.proc is not None and slot.proc.poll() is None]

    def status(self) -> dict:
        """For /healthz: how many children there should be, are running, and have said they are ready."""
        running = [slot for slot in self.slots if slot.proc is not None and slot.proc.poll() is None]
        return {"processes": len(self.slots), "running": len(running),
                "ready": sum(1 for slot in running if slot.ready)}

    def _spawn(self, slot: _Slot) -> None:
        self._forget_pipe(slot)
        ours, theirs = os.pipe()
        os.set_blocking(ours, False)
        env = {**self.env, PARENT_ENV: str(os.getpid()), INDEX_ENV: str(slot.index), READY_ENV: str(theirs)}
        # stdin closed; stdout and stderr shared with serve, so one log holds every process's lines. A
        # session of its own: a Ctrl-C at the terminal reaches serve alone, which then stops the children
        # in order (after its intake), and never finds one gone that it would start again.
        try:
            slot.proc = self.popen(self.command, env=env, stdin=subprocess.DEVNULL, start_new_session=True,
                                   pass_fds=(theirs,))
        except BaseException:
            os.close(ours)
            raise
        finally:
            os.close(theirs)
        slot.started, slot.ready_pipe, slot.ready = self.clock(), ours, False

    @staticmethod
    def _forget_pipe(slot: _Slot) -> None:
        if slot.ready_pipe is not None:
            os.close(slot.ready_pipe)
            slot.ready_pipe = None
        slot.ready = False

    @staticmethod
    def _look_ready(slot: _Slot) -> None:
        if slot.ready_pipe is None:
            return
        try:
            said = os.read(slot.ready_pipe, 64)
        except BlockingIOError:
            return  # not yet
        slot.ready = bool(said)  # b"": it closed the pipe without a word (it exited)
        os.close(slot.ready_pipe)
        slot.ready_pipe = None

    def check(self) -> str | None:
        """Start again the children that exited; the reason to stop serve when one keeps failing at start."""
        now = self.clock()
        for slot in self.slots:
            if slot.proc is None:
                if now >= slot.not_before:
                    self._spawn(slot)
                continue
            code = slot.proc.poll()
            if code is None:
                self._look_ready(slot)
                if now - slot.started >= self.start_grace:
                    slot.quick_failures = 0  # it started: earlier failures are forgiven
                continue
            quick = now - slot.started < self.start_grace
            slot.quick_failures = slot.quick_failures + 1 if quick else 0
            if slot.quick_failures >= QUICK_FAILURES:
                return (f"worker process {slot.index} exited within {self.start_grace:g} s of its start "
                        f"{slot.quick_failures} times in a row (last exit status {code}); see its log lines above")
            delay = min(MAX_BACKOFF, 2.0 ** slot.quick_failures) if quick else 0.0
            log.warning("worker process %d (pid %d) exited with status %s; starting it again%s", slot.index,
                        slot.proc.pid, code, f" in {delay:g} s" if delay else "")
            self._exited(slot.proc.pid)
            slot.proc, slot.not_before = None, now + delay
            self._forget_pipe(slot)
            if not delay:
                self._spawn(slot)
        return None

    def stop(self, timeout: float) -> list[int]:
        """SIGTERM to every child, then `timeout` seconds to finish; returns the numbers of those killed."""
        running = [slot for slot in self.slots if slot.proc is not None and slot.proc.poll() is None]
        for slot in running:
            slot.proc.send_signal(signal.SIGTERM)
        deadline = self.clock() + timeout
        killed = []
        for slot in running:
            try:
                slot.proc.wait(timeout=max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                slot.proc.wait()
                killed.append(slot.index)
        for slot in running:
            self._exited(slot.proc.pid)
        for slot in self.slots:
            self._forget_pipe(slot)
        return killed

    def _exited(self, pid: int) -> None:
        if self.on_exit is not None:
            try:
                self.on_exit(pid)
            except OSError as exc:  # bookkeeping only: never a reason to stop serving
                log.warning("could not mark worker process %d as ended for the metrics: %s", pid, exc)
