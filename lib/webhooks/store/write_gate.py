"""One SQLite writer at a time across the processes sharing a queue file, without SQLite's sleeps.

When another connection holds the write lock, SQLite's busy handler sleeps 1, 2, 5, 10, ... ms before
trying again, whether or not the lock was freed meanwhile. A web process and its worker processes on one
file each wait for the others' commits several times per event, so they slept through a quarter of the
time the lock was free (docs/performance.md, round five). The gate is an flock on `<queue file>-gate`,
taken before BEGIN and given back after COMMIT: a waiter looks again every 50 us to 0.5 ms, so it gets
the lock within half a millisecond of its release, and the kernel frees it when its holder dies.

The gate only saves time: SQLite's own locking still guards every write, so a process without the
gate (an older version, a gate file that cannot be opened) is slower, never wrong.
flock belongs to the open file, not to a thread, so two threads of one process would both "hold" it:
callers hold the storage's thread lock (one writer per process) around the gate.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time

log = logging.getLogger("jobs_connector.webhooks")
FIRST_PAUSE = 0.00005  # seconds between looks, doubling up to LONGEST_PAUSE
LONGEST_PAUSE = 0.0005


class WriteGate:
    def __init__(self, database_path: str):
        self.path = database_path + "-gate"
        self._fd: int | None = None
        self._unusable = False

    def _open(self) -> int | None:
        if self._fd is None and not self._unusable:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                self._unusable = True  # SQLite's lock alone still keeps writes apart
                log.warning("the queue's write gate %s cannot be opened (%s); writers wait on SQLite's "
                            "busy handler instead", self.path, exc.strerror)
        return self._fd

    def acquire(self, timeout: float) -> bool:
        """Take the gate within `timeout` seconds; False if another process held it all that time. True at
        once when the gate cannot be used."""
        fd = self._open()
        if fd is None:
            return True
        deadline = time.monotonic() + timeout
        pause = FIRST_PAUSE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                time.sleep(min(pause, left))
                pause = min(pause * 2, LONGEST_PAUSE)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
