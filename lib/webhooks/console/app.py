"""The console as a WSGI application (served by waitress on its own port, lib/webhooks/lifecycle.py).

  GET  /                 the flows and the events per status
  GET  /events           events, newest first: ?flow= &status= &since= &limit= (bounded)
  GET  /events/<id>      one event: steps, errors, request ids, history (redacted as `events show`)
  POST /retry            id=... (one or many): dead events back to the queue, as `events retry` does
  POST /login, /logout   a session from the token or user and password (or use an Authorization header)

Every answer without credentials is 401 (with the login form); every POST but /login needs the session's
CSRF token and a same-origin Origin / Sec-Fetch-Site (guard.py).
"""

from __future__ import annotations

import collections
import http.cookies
import logging
import os
import threading
import time
from urllib.parse import parse_qs, urlencode

import jinja2

from jobs_connector.base.errors import BadInput
from jobs_connector.webhooks import retry
from jobs_connector.webhooks.console import pages
from jobs_connector.webhooks.console.credentials import Credentials
from jobs_connector.webhooks.console.guard import Origins, security_headers
from jobs_connector.webhooks.console.sessions import COOKIE, Session, Sessions, cookie_header
from jobs_connector.webhooks.flows import Flows

log = logging.getLogger("jobs_connector.webhooks.console")
HERE = os.path.dirname(os.path.abspath(__file__))
MAX_FORM = 64 * 1024
MAX_FIELDS = 2 * max(pages.LIMITS) + 10
LOGIN_FAILURES = 10  # failed logins per LOGIN_WINDOW seconds, then 429 until the window has passed
LOGIN_WINDOW = 60.0
_REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large", 421: "Misdirected Request",
            429: "Too Many Requests", 503: "Service Unavailable"}


class Answer:
    def __init__(self, status: int, html: str = "", headers: list | None = None):
        self.status, self.html, self.headers = status, html, headers or []


class ConsoleApp:
    def __init__(self, flows: Flows, queue, credentials: Credentials, *, origins: Origins | None = None,
                 secrets=(), clock=time.time):
        self.flows, self.queue, self.credentials, self.origins, self.clock = flows, queue, credentials, origins, clock
        every_secret = [*flows.secrets(), *credentials.secrets(), *pages.environment_secrets(), *secrets]
        self.pages = pages.Pages(flows, queue.store, every_secret)
        self.sessions = Sessions()
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
                                            autoescape=True)
        # The page's one stylesheet, inline (base.html includes it) and allowed by its hash alone.
        self.security = security_headers(self.templates.get_template("console.css").render())
        self.templates.filters["query"] = urlencode
        self._failures: collections.deque[float] = collections.deque()
        self._active = 0
        self._idle = threading.Condition()

    # -- WSGI ----------------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        with self._idle:
            self._active += 1
        try:
            try:
                answer = self._route(environ)
            except Exception as exc:  # a lost store, a bug: a page that says so, never a traceback
                log.warning("console: %s %s failed: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                            type(exc).__name__)
                answer = self._error(503, "the event store could not be read; try again")
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()
        data = answer.html.encode("utf-8")
        start_response(f"{answer.status} {_REASONS.get(answer.status, '')}".rstrip(), [
            ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data))), *self.security,
            *answer.headers])
        return [data]

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    # -- routing -------------------------------------------------------------------------------------------

    def _route(self, environ) -> Answer:
        if self.origins is None or not self.origins.host_ok(environ):
            return self._error(421, "this console answers only to the address it listens on")
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        cookie_id = _cookie(environ)
        session = self.sessions.get(cookie_id)
        if method == "POST" and path == "/login":
            return self._login(environ, session)
        started = None
        if session is None:
            if not self.credentials.header_ok(environ.get("HTTP_AUTHORIZATION", "")):
                return self._unauthorized()
            # Authorized by its header (basic auth, a bearer token): a session carries the CSRF token.
            session = started = self.sessions.new()
        answer = self._authorized(environ, method, path, session)
        if started is not None:
            answer.headers.append(cookie_header(started))
        return answer

    def _authorized(self, environ, method: str, path: str, session: Session) -> Answer:
        if method in ("GET", "HEAD"):
            if path == "/":
                return self._page(200, "overview.html", session, **self.pages.overview())
            if path == "/events":
                query = parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=20)
                try:
                    chosen = pages.filters(query, self.flows)
                except BadInput as exc:
                    return self._error(400, exc.message, session)
                return self._page(200, "events.html", session, **self.pages.events(chosen, self.clock()))
            if path.startswith("/events/"):
                shown = self.pages.event(path[len("/events/"):])
                if shown is None:
                    return self._error(404, "no such event", session)
                return self._page(200, "event.html", session, **shown)
            return self._error(404, "no such page", session)
        if method != "POST":
            return self._error(405, "only GET and POST", session)
        if path not in ("/retry", "/logout"):
            return self._error(404, "no such form", session)
        form, refused = self._form(environ, session)
        if refused is not None:
            return refused
        if path == "/logout":
            self.sessions.end(session.id)
            return Answer(303, headers=[("Location", "/"), cookie_header(None)])
        return self._retry(form, session)

    # -- forms ---------------------------------------------------------------------------------------------

    def _read_form(self, environ) -> tuple[dict | None, Answer | None]:
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isascii() or not length.isdigit():
            return None, self._error(400, "Content-Length is malformed")
        if int(length) > MAX_FORM:
            return None, self._error(413, f"a form is at most {MAX_FORM} bytes")
        body = environ["wsgi.input"].read(int(length)).decode("utf-8", "replace")
        try:
            return parse_qs(body, max_num_fields=MAX_FIELDS), None
        except ValueError:
            return None, self._error(400, f"a form has at most {MAX_FIELDS} fields")

    def _form(self, environ, session: Session) -> tuple[dict, Answer | None]:
        """The posted form of a change, once it is shown to come from this console's own page."""
        why = self.origins.post_refusal(environ)
        if why is not None:
            log.warning("console: refused a cross-site POST %r: %s", environ.get("PATH_INFO"), why)
            return {}, self._error(403, f"refused: {why}", session)
        form, refused = self._read_form(environ)
        if refused is not None:
            return {}, refused
        given = form.get("csrf") or [""]
        if len(given) != 1 or not session.csrf_ok(given[0]):
            log.warning("console: refused a POST %r without this session's CSRF token", environ.get("PATH_INFO"))
            return {}, self._error(403, "refused: the form's CSRF token is missing or not this session's; reload "
                                        "the page and try again", session)
        return form, None

    def _login(self, environ, session: Session | None) -> Answer:
        why = self.origins.post_refusal(environ)
        if why is not None:
            return self._unauthorized(f"refused: {why}", status=403)
        now = time.monotonic()
        while self._failures and now - self._failures[0] > LOGIN_WINDOW:
            self._failures.popleft()
        if len(self._failures) >= LOGIN_FAILURES:
            return self._unauthorized("too many failed logins; wait a minute", status=429)
        form, refused = self._read_form(environ)
        if refused is not None:
            return refused
        field = {name: (form.get(name) or [""])[0] for name in ("token", "user", "password")}
        creds = self.credentials
        ok = (field["token"] and creds.token_ok(field["token"])) or (
            creds.basic and field["user"] and creds.password_ok(field["user"], field["password"]))
        if not ok:
            self._failures.append(now)
            log.warning("console: a login failed")
            return self._unauthorized("wrong credentials")
        if session is not None:  # a fresh id at every login: an id planted before it is worth nothing after
            self.sessions.end(session.id)
        return Answer(303, headers=[("Location", "/"), cookie_header(self.sessions.new())])

    def _retry(self, form: dict, session: Session) -> Answer:
        ids = list(dict.fromkeys(form.get("id") or []))
        if not ids:
            return self._error(400, "id: choose at least one event", session)
        if len(ids) > max(pages.LIMITS):
            return self._error(400, f"id: at most {max(pages.LIMITS)} events at once", session)
        results = []
        for event_id in ids:
            if not pages.EVENT_ID.match(event_id):
                results.append({"id": event_id[:40], "ok": False, "message": "id: not an event id"})
                continue
            try:  # never forced: an unknown outcome is refused, as `events retry` without --force refuses it
                done = retry.requeue(self.queue, event_id)
            except BadInput as exc:
                message = exc.message
                if exc.rule == "outcome-unknown":
                    message += " (the console never forces it: check, then use the command line)"
                results.append({"id": event_id, "ok": False, "message": message})
                continue
            log.info("console: event %s queued again by an operator; it resumes at step %d", event_id, done.resumes_at)
            results.append({"id": event_id, "ok": True,
                            "message": f"queued again; it resumes at step {done.resumes_at}"})
        return self._page(200, "retried.html", session, results=results)

    # -- rendering -----------------------------------------------------------------------------------------

    def _page(self, code: int, template: str, session: Session | None, **context) -> Answer:
        csrf = session.csrf if session else None
        html = self.templates.get_template(template).render(csrf=csrf, **context)
        return Answer(code, self.pages.scrub(html))

    def _error(self, status: int, message: str, session: Session | None = None) -> Answer:
        return self._page(status, "error.html", session, status=status, reason=_REASONS.get(status, ""),
                          message=message)

    def _unauthorized(self, message: str = "", *, status: int = 401) -> Answer:
        challenge = [("WWW-Authenticate", 'Bearer realm="jobs-connector console"')]
        if self.credentials.basic:
            challenge.append(("WWW-Authenticate", 'Basic realm="jobs-connector console", charset="UTF-8"'))
        answer = self._page(status, "login.html", None, message=message, token=self.credentials.token is not None,
                            basic=self.credentials.basic)
        answer.headers = challenge
        return answer


def _cookie(environ) -> str | None:
    try:
        jar = http.cookies.SimpleCookie(environ.get("HTTP_COOKIE", ""))
    except http.cookies.CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None
