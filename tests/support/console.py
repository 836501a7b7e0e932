"""Helpers for the console's tests: its credentials, a logged-in HTTP client that posts forms as the console's
own page does (Origin, CSRF token), and a stored dead event made without a worker."""

from __future__ import annotations

import contextlib
import re
import time

import requests

from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from jobs_connector.webhooks.events import DEAD, Event, new_id
from tests.support.loopback import Reply
from tests.support.webhooks import DESCRIBE, STEP_INPUTS, UPDATE, InProcess, flow

TOKEN = "console-test-token-not-real-00001"
USER, PASSWORD = "operator", "console-test-password-0001"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# The console tests' two flows: a device's two-step report (step 2 refused once, so an event is dead there)
# and a second flow under its own secret, for the filters.
EXECUTION = {"execution": {"jobId": "fw-42", "thingName": "sensor-1", "status": "IN_PROGRESS", "versionNumber": 4}}
UPDATED = {"executionState": {"status": "SUCCEEDED", "versionNumber": 5}}
OTHER_SECRET = "other-hook-secret-not-real-00002"


def console_flows(second: str, **described) -> dict:
    return {"flows": [
        flow("device-status", [{"action": DESCRIBE, "input": STEP_INPUTS[DESCRIBE]},
                               {"action": UPDATE, "input": STEP_INPUTS[UPDATE]}],
             description="a device reports the outcome of a job", retry={"max_attempts": 1, "delay": 0.05}),
        {**flow(second, [{"action": DESCRIBE, "input": STEP_INPUTS[DESCRIBE]}], **described),
         "secret_env": "OTHER_SECRET"}]}


@contextlib.contextmanager
def serving_a_dead_event(tmp_path, loopback, monkeypatch, flows: dict, refused: Reply, *queue, basic: bool = False):
    """serve with the console, the loopback standing in for IoT Jobs: one device-status event dead at step 2
    (`serve.dead_id`), the service refusing its update once."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", loopback.url)
    console_env(monkeypatch, basic=basic)
    loopback.script += [Reply(200, EXECUTION), refused]
    loopback.default = Reply(200, UPDATED)
    runtime = Runtime(Transport(policy=RetryPolicy(max_attempts=1)))
    with InProcess(tmp_path, flows, *queue, runtime=runtime, console=True,
                   environ={"OTHER_SECRET": OTHER_SECRET}) as serve:
        status, answer = serve.post("device-status", {"thing": "sensor-1", "job": "fw-42"})
        assert status == 202
        serve.dead_id = answer["id"]
        serve.wait_status(serve.dead_id, "dead")
        yield serve


def console_env(monkeypatch, *, basic: bool = False) -> None:
    monkeypatch.setenv("JOBS_CONNECTOR_CONSOLE_TOKEN", TOKEN)
    if basic:
        monkeypatch.setenv("JOBS_CONNECTOR_CONSOLE_USER", USER)
        monkeypatch.setenv("JOBS_CONNECTOR_CONSOLE_PASSWORD", PASSWORD)


class ConsoleClient:
    """A browser's requests, without the browser: a session cookie after logging in with the token."""

    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()
        self.http.headers["Origin"] = url

    def login(self, token: str = TOKEN) -> requests.Response:
        answer = self.http.post(f"{self.url}/login", data={"token": token}, allow_redirects=False, timeout=10)
        assert answer.status_code == 303, answer.text
        return answer

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(f"{self.url}{path}", allow_redirects=False, timeout=10, **kw)

    def post(self, path: str, data, **kw) -> requests.Response:
        return self.http.post(f"{self.url}{path}", data=data, allow_redirects=False, timeout=10, **kw)

    def csrf(self) -> str:
        return CSRF.search(self.get("/events").text).group(1)

    def retry(self, *ids: str, csrf: str | None = None, **kw) -> requests.Response:
        return self.post("/retry", {"csrf": self.csrf() if csrf is None else csrf, "id": list(ids)}, **kw)


def stored_dead_event(store, flow: str, error: dict, *, steps: list | None = None, body: dict | None = None,
                      secret_fields: list | None = None) -> str:
    """A dead event written straight into the store, as a worker would have left it."""
    now = time.time()
    event = Event(id=new_id(), flow=flow, body=body or {"thing": "sensor-9", "job": "fw-9"}, received_at=now,
                  due_at=now, updated_at=now, secret_fields=secret_fields or [])
    event_id, created = store.add(event)
    assert created
    event = store.get(event_id)
    event.status, event.attempts, event.error, event.steps = DEAD, 1, error, steps or []
    event.history = [{"attempt": 1, "at": now, "error": error}]
    assert store.save(event)
    return event_id
