"""Latency hiding: a worker process runs up to `concurrency` events at once, each on a thread of this pool, so its
throughput is not bounded by how long a service takes to answer (20 to 200 ms for a real one).

huey's consumer threads (`--workers`) only take tasks off the queue. Each first reserves a free slot here
(reserve(), called from the queue's dequeue), so a task is taken only when a thread is free to run it: a busy
process leaves tasks in the queue for other processes and hosts, and never holds more events than it runs. The
task's event then runs on a pool thread (run()), which gives the slot back when the event's attempt ends.
Nothing else changes: the same step loop, the same claim, lease heartbeat (every event in InFlight), handbacks.

The threads are daemons, as huey's are: a step that hangs past the shutdown timeout cannot keep the process
alive (its event is handed back, or ends OutcomeUnknown, by Worker.release_inflight).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("jobs_connector.webhooks")
RESERVE_WAIT = 1.0  # seconds a queue thread waits for a free slot before huey's loop looks round (stop, health)


class StepPool:
    def __init__(self, concurrency: int):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self._slots = threading.Semaphore(concurrency)
        self._held = threading.local()  # this queue thread reserved a slot it has not used yet
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._running = 0
        self._idle = threading.Condition()
        self._threads = [threading.Thread(target=self._serve, name=f"webhooks-step-{i + 1}", daemon=True)
                         for i in range(concurrency)]
        for thread in self._threads:
            thread.start()

    # -- the queue threads' side -----------------------------------------------------------------------

    def reserve(self, timeout: float = RESERVE_WAIT) -> bool:
        """Reserve a slot for the next task this thread takes (kept if it took none, or one it did not run)."""
        if getattr(self._held, "slot", False):
            return True
        if not self._slots.acquire(timeout=timeout):
            return False
        self._held.slot = True
        return True

    def unreserve(self) -> None:
        """This thread took no task after all: the slot is free again."""
        if getattr(self._held, "slot", False):
            self._held.slot = False
            self._slots.release()

    def holds(self) -> bool:
        return bool(getattr(self._held, "slot", False))

    def run(self, job: Callable[[], object]) -> None:
        """Run `job` on a pool thread with this thread's reserved slot, given back when it ends."""
        if not self.holds():
            raise RuntimeError("run() needs a slot reserved by this thread")
        self._held.slot = False
        with self._idle:
            self._running += 1
        self._jobs.put(job)

    # -- the pool threads ------------------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # the step loop records its own failures; this is a bug, never a lost slot
                log.exception("an event's run failed inside the worker pool")
            finally:
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()
                self._slots.release()

    @property
    def running(self) -> int:
        with self._idle:
            return self._running

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no event runs (at most `timeout` seconds); True if none does."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def close(self) -> None:
        """The threads end once idle (one that still runs a step ends with it; daemons never hold the exit)."""
        for _ in self._threads:
            self._jobs.put(None)
