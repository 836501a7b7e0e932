"""Console sessions, in this process's memory: a random id in an HttpOnly, SameSite=Strict cookie, and a
CSRF token per session that every form posting a change carries (compared in constant time). Bounded: idle
sessions end after IDLE seconds and at most MAX_SESSIONS are kept (the oldest go first); a restart ends all.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

COOKIE = "jobs_console"
IDLE = 8 * 3600.0
MAX_SESSIONS = 1000


@dataclass
class Session:
    id: str
    csrf: str
    seen: float

    def csrf_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self.csrf.encode("ascii"))


class Sessions:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._by_id: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def new(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock())
        with self._lock:
            self._by_id[session.id] = session
            while len(self._by_id) > MAX_SESSIONS:
                self._by_id.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            # A dict lookup by a random 256-bit id: its timing says nothing useful about other ids.
            session = self._by_id.get(session_id)
            if session is None:
                return None
            if now - session.seen > IDLE:
                del self._by_id[session_id]
                return None
            session.seen = now
            self._by_id.move_to_end(session_id)
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._by_id.pop(session_id, None)


def cookie_header(session: Session | None) -> tuple[str, str]:
    """The Set-Cookie header that starts (or, for None, ends) a session."""
    if session is None:
        return "Set-Cookie", f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    return "Set-Cookie", f"{COOKIE}={session.id}; Path=/; HttpOnly; SameSite=Strict"
