"""Say a recurring failure once per interval, with how often it happened meanwhile.

A lost Redis or a vanished queue file fails every request and every poll of huey's consumer; one line
(with a traceback) each time would bury everything else in the log. The intake's logger carries this
filter itself (so it holds under any WSGI server); `serve` also puts it on its log handler.
"""

from __future__ import annotations

import logging
import threading
import time

# `extra=` of a warning that passes every time: each one is a fact about one event (a late result refused),
# never a flood.
EVERY_TIME = {"every_time": True}


class RepeatFilter(logging.Filter):
    """On a handler: a warning or error repeated by the same logger (same message template) passes at most
    once per interval, with how many were held back; e.g. huey's consumer saying "Error reading from
    queue" with a traceback on every poll while Redis is away."""

    def __init__(self, interval: float = 10.0, clock=time.monotonic):
        super().__init__()
        self.interval, self.clock = interval, clock
        self._seen: dict[tuple[str, str], list] = {}  # (logger, template) -> [next allowed, held back]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or getattr(record, "every_time", False):
            return True
        key = (record.name, str(record.msg))
        with self._lock:
            now = self.clock()
            if len(self._seen) > 1000:
                self._seen.clear()
            state = self._seen.setdefault(key, [0.0, 0])
            if now < state[0]:
                state[1] += 1
                return False
            held, state[0], state[1] = state[1], now + self.interval, 0
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _unreachable(exc):  # a lost connection needs no traceback: one line says it
            reason = f": {type(exc).__name__}: {str(exc)[:200]}"
            record.msg = f"{record.msg}{reason.replace('%', '%%') if record.args else reason}"
            record.exc_info, record.exc_text = None, None
        if held:
            record.msg = f"{record.msg} ({held} more like this held back)"
        return True


def _unreachable(exc: BaseException) -> bool:
    # redis-py's ConnectionError and TimeoutError do not derive from the built-in ones.
    return isinstance(exc, OSError) or type(exc).__name__ in ("ConnectionError", "TimeoutError")
