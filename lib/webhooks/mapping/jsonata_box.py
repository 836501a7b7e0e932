"""Bounded JSONata evaluation: every mapping is evaluated in a separate, limited evaluator process.

Why a process: a cooperative deadline inside the evaluator catches loops and recursion, but not a
regular expression backtracking inside `re` or one builtin building a huge value; those hold the
interpreter (and its lock) until they finish, which may be never. So the evaluator runs in a child
process (lib/webhooks/mapping/jsonata_child.py) with an address-space limit, and the caller kills it when it
overruns the time limit plus a grace period. Inside, the child checks a deadline, the nesting depth and
sequence, range and string sizes at every evaluation step, so the common runaway ends with a precise
error and the process is kept. Children are pooled (one per thread evaluating at once) and reused.

Cost: one pipe round trip with the context as JSON per step (benchmarks/mapping_eval.py measures it).
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess  # nosec B404: our own evaluator script, started without a shell
import sys
import threading
import time
from dataclasses import dataclass

from jobs_connector.webhooks.mapping import jsonata_child

TIME_LIMIT = 1.0  # seconds for one step's whole mapping (cooperative: a precise error, the child lives on)
KILL_GRACE = 1.0  # seconds more before the child is killed (stuck where no check runs, e.g. in `re`)
MEMORY_LIMIT = 512 << 20  # the child's address space, bytes
STARTUP_TIMEOUT = 60.0  # seconds for a new evaluator process to be ready (a busy machine is slow to start one)
_CHILD = os.path.abspath(jsonata_child.__file__)


class EvaluationFailed(Exception):
    """One expression failed or passed a limit; `index` is its position in the request."""

    def __init__(self, index: int | None, rule: str, message: str):
        super().__init__(message)
        self.index, self.rule, self.message = index, rule, message


@dataclass
class _Frame:
    kind: bytes
    payload: dict


class _Child:
    """One evaluator process and its pipes."""

    def __init__(self, memory_limit: int):
        jsonata_home = os.path.dirname(os.path.dirname(os.path.abspath(_jsonata_file())))
        self.progress_fd = _progress_page()
        self.process = subprocess.Popen(  # nosec B603: fixed argv, no shell, an empty environment
            [sys.executable, "-I", _CHILD, jsonata_home, str(memory_limit), str(self.progress_fd)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={}, close_fds=True,
            pass_fds=(self.progress_fd,) if self.progress_fd >= 0 else ())
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.buffer = b""
        if self.receive(time.monotonic() + STARTUP_TIMEOUT) is None:
            self.close()
            raise EvaluationFailed(None, "evaluator-start", "the JSONata evaluator process did not start")

    def send(self, payload: dict) -> None:
        data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        self.process.stdin.write(jsonata_child.HEADER.pack(b"q", len(data)) + data)
        self.process.stdin.flush()

    def receive(self, deadline: float) -> _Frame | None:
        """The next frame, or None when the deadline passed or the child died."""
        header_size = jsonata_child.HEADER.size
        while True:
            if len(self.buffer) >= header_size:
                kind, size = jsonata_child.HEADER.unpack(self.buffer[:header_size])
                if len(self.buffer) >= header_size + size:
                    payload = json.loads(self.buffer[header_size:header_size + size])
                    self.buffer = self.buffer[header_size + size:]
                    return _Frame(kind, payload)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.selector.select(remaining):
                return None
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                return None  # the child died (e.g. killed by the kernel for its memory)
            self.buffer += chunk

    def running(self) -> int | None:
        """The index of the source the child was evaluating (read after it stopped answering)."""
        if self.progress_fd < 0:
            return None
        return jsonata_child.PROGRESS.unpack(os.pread(self.progress_fd, jsonata_child.PROGRESS.size, 0))[0]

    def close(self) -> None:
        if self.progress_fd >= 0:
            os.close(self.progress_fd)
            self.progress_fd = -1
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.selector.close()


def _progress_page() -> int:
    """A 4-byte shared memory file the child writes its current source index into (-1: none on this OS)."""
    if not hasattr(os, "memfd_create"):
        return -1
    fd = os.memfd_create("jsonata-progress", os.MFD_CLOEXEC)
    os.ftruncate(fd, jsonata_child.PROGRESS.size)
    return fd


def _jsonata_file() -> str:
    import jsonata  # the evaluator runs in the child; the parent only needs to know where the library is

    return jsonata.__file__


class Evaluator:
    """A pool of evaluator processes; `evaluate` is safe to call from many threads at once."""

    def __init__(self, *, time_limit: float = TIME_LIMIT, kill_grace: float = KILL_GRACE,
                 memory_limit: int = MEMORY_LIMIT):
        self.time_limit, self.kill_grace, self.memory_limit = time_limit, kill_grace, memory_limit
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self.started = 0  # children started, for tests and the benchmark

    def evaluate(self, sources: list[str], context) -> list:
        """The value of each source against `context`; raises EvaluationFailed naming the index."""
        if not sources:
            return []
        child = self._take()
        keep = False
        try:
            child.send({"sources": sources, "context": context, "time_limit": self.time_limit})
            deadline = time.monotonic() + self.time_limit + self.kill_grace
            while True:
                frame = child.receive(deadline)
                if frame is None:
                    at = 0 if len(sources) == 1 else child.running()
                    if child.process.poll() is None:
                        raise EvaluationFailed(at, "time-limit", f"did not finish within the time limit of "
                                                                 f"{self.time_limit:g} s and was stopped")
                    raise EvaluationFailed(at, "memory-limit", "the evaluator stopped (it needed more than the "
                                                               f"memory limit of {self.memory_limit >> 20} MiB?)")
                if "failed" in frame.payload:
                    keep = not frame.payload.get("restart")
                    raise EvaluationFailed(frame.payload["failed"], frame.payload["rule"], frame.payload["message"])
                keep = True
                return frame.payload["results"]
        except (OSError, ValueError) as exc:  # a broken pipe, a context that is not JSON
            raise EvaluationFailed(None, "evaluation", f"could not be evaluated: {exc}") from None
        finally:
            if keep:
                with self._lock:
                    self._idle.append(child)
            else:
                child.close()

    def _take(self) -> _Child:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.started += 1
        return _Child(self.memory_limit)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.close()


_shared: Evaluator | None = None
_shared_lock = threading.Lock()


def shared() -> Evaluator:
    """The process's evaluator pool (load-time checks and workers share it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Evaluator()
            atexit.register(_shared.close)
        return _shared
