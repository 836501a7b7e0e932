"""A log line that says a recurring failure once per interval, with how often it happened meanwhile.

A lost Redis or a vanished queue file fails every request; one line per request (with a traceback)
would bury everything else in the log.
"""

from __future__ import annotations

import logging
import threading
import time


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float = 10.0, clock=time.monotonic):
        self.logger, self.interval, self.clock = logger, interval, clock
        self._lock = threading.Lock()
        self._next = 0.0
        self._suppressed = 0

    def warning(self, message: str, *args) -> bool:
        """Log now if the interval has passed since the last line, else count it; True when logged."""
        with self._lock:
            now = self.clock()
            if now < self._next:
                self._suppressed += 1
                return False
            suppressed, self._suppressed, self._next = self._suppressed, 0, now + self.interval
        if suppressed:
            message += f" ({suppressed} more since the last such line)"
        self.logger.warning(message, *args)
        return True
