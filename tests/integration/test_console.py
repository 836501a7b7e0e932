"""The operator's console over real HTTP (serve's console on waitress, a free loopback port): every page is
401 without credentials, the security headers are on every answer, the lists filter, one event shows its steps,
and a retry resumes a dead event at its failed step; a cross-site or tokenless POST retries nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
import requests

from tests.support.console import (
    OTHER_SECRET,
    PASSWORD,
    TOKEN,
    USER,
    ConsoleClient,
    console_flows,
    serving_a_dead_event,
    stored_dead_event,
)
from tests.support.loopback import Reply
from tests.support.webhooks import DESCRIBE, STEP_INPUTS, UPDATE, InProcess, flow, redis_server, redis_url  # noqa: F401 - fixtures

REFUSED = Reply(400, {"message": "bad version"}, {"x-amzn-RequestId": "req-refused-0001",
                                                  "x-amzn-ErrorType": "InvalidRequestException"})
FLOWS = console_flows("other")


@pytest.fixture
def served(tmp_path, aws_env, loopback, monkeypatch):
    """serve with the console, the loopback standing in for IoT Jobs; one event dead at step 2."""
    with serving_a_dead_event(tmp_path, loopback, monkeypatch, FLOWS, REFUSED, basic=True) as serve:
        yield serve


def _pages(serve) -> list[str]:
    return ["/", "/events", "/events?status=dead", f"/events/{serve.dead_id}", "/nothing-here", "/retry"]


def test_every_page_answers_401_without_credentials(served):
    url = served.console_url
    for path in _pages(served):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0000000000000000"},
                        {"Authorization": "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode()},
                        {"Cookie": "jobs_console=made-up-session"}):
            answer = requests.get(url + path, headers=headers, allow_redirects=False, timeout=10)
            assert answer.status_code == 401, (path, headers)
            assert 'name="token"' in answer.text and 'action="/login"' in answer.text
            assert served.dead_id not in answer.text
    challenges = requests.get(url + "/", timeout=10).headers["WWW-Authenticate"]
    assert "Bearer" in challenges and "Basic" in challenges
    refused = requests.post(url + "/retry", data={"id": served.dead_id}, headers={"Origin": url}, timeout=10)
    assert refused.status_code == 401
    assert served.event(served.dead_id)["status"] == "dead"


def test_a_wrong_login_is_401_and_a_right_one_starts_a_session(served):
    client = ConsoleClient(served.console_url)
    wrong = client.post("/login", {"token": TOKEN[:-1] + "x"})
    assert wrong.status_code == 401 and "wrong credentials" in wrong.text and "Set-Cookie" not in wrong.headers
    cookie = client.login().headers["Set-Cookie"]
    assert re.match(r"jobs_console=[\w-]{40,}; Path=/; HttpOnly; SameSite=Strict\Z", cookie), cookie
    assert client.get("/").status_code == 200
    basic = ConsoleClient(served.console_url)
    assert basic.post("/login", {"user": USER, "password": PASSWORD}).status_code == 303
    assert basic.get("/events").status_code == 200


def test_authorization_headers_work_without_a_login(served):
    url = served.console_url
    bearer = requests.get(url + "/events", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert bearer.status_code == 200 and served.dead_id in bearer.text
    basic = requests.get(url + "/", auth=(USER, PASSWORD), timeout=10)
    assert basic.status_code == 200 and "device-status" in basic.text


def test_the_security_headers_are_on_every_answer(served):
    client = ConsoleClient(served.console_url)
    answers = [requests.get(served.console_url + "/", timeout=10), client.post("/login", {"token": "nope"}),
               client.login()]
    answers += [client.get(path) for path in _pages(served)]
    answers.append(client.http.put(served.console_url + "/events", timeout=10))  # 405
    answers.append(client.post("/retry", {"id": served.dead_id}))  # 403: no CSRF token
    assert {a.status_code for a in answers} >= {200, 303, 401, 403, 404, 405}
    for answer in answers:
        h = answer.headers
        policy = h["Content-Security-Policy"]
        assert policy.startswith("default-src 'none';"), policy
        assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy and "script-src" not in policy
        assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin" and h["Cache-Control"] == "no-store"
        assert h["Content-Type"] == "text/html; charset=utf-8"
        assert "<script" not in answer.text
    # The one inline style is allowed by its hash, and no other.
    page = client.get("/").text
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}';" in answers[-1].headers["Content-Security-Policy"]


def test_only_the_console_s_own_host_names_are_answered(served):
    answer = requests.get(served.console_url + "/", headers={"Host": "rebound.example:80",
                                                             "Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 421
    port = served.console_url.rsplit(":", 1)[1]
    assert requests.get(f"http://localhost:{port}/", auth=(USER, PASSWORD), timeout=10).status_code == 200


def test_the_lists_show_flows_and_filter_events(served):
    client = ConsoleClient(served.console_url)
    client.login()
    overview = client.get("/").text
    assert "device-status" in overview and "a device reports the outcome of a job" in overview
    assert f"<code>{DESCRIBE}</code> → <code>{UPDATE}</code>" in overview and "1 dead" in overview
    ok_status, ok = served.post("other", {"thing": "sensor-2", "job": "fw-43"}, secret=OTHER_SECRET)
    assert ok_status == 202
    served.wait_status(ok["id"], "succeeded")
    every = client.get("/events").text
    assert served.dead_id in every and ok["id"] in every
    dead = client.get("/events?flow=device-status&status=dead&since=15m&limit=25").text
    assert served.dead_id in dead and ok["id"] not in dead
    assert "InvalidRequestException" in dead and "req-refused-0001" in dead
    assert served.dead_id not in client.get("/events?flow=other").text
    assert served.dead_id not in client.get("/events?status=succeeded").text
    for query, field in (("limit=1000", "limit"), ("status=lost", "status"), ("since=1y", "since"),
                         ("flow=nope", "flow"), ("limit=25&limit=50", "limit")):
        refused = client.get(f"/events?{query}")
        assert refused.status_code == 400 and f"{field}:" in refused.text, query


def test_one_event_shows_its_steps_error_and_request_id(served):
    client = ConsoleClient(served.console_url)
    client.login()
    page = client.get(f"/events/{served.dead_id}").text
    assert 'id="status">dead<' in page
    steps = re.search(r'<table id="steps">(.*?)</table>', page, re.S).group(1)
    assert steps.count("<tr>") == 3 and ">done<" in steps and ">failed<" in steps
    assert "IN_PROGRESS" in steps  # step 1's output, as `events show` gives it
    assert "req-refused-0001" in page and "Retry from step 2" in page
    assert client.get("/events/" + "0" * 32).status_code == 404
    assert client.get("/events/not-an-id").status_code == 404


def test_a_retry_resumes_at_the_failed_step_and_succeeds(served, loopback):
    client = ConsoleClient(served.console_url)
    client.login()
    before = len(loopback.requests)
    answer = client.retry(served.dead_id)
    assert answer.status_code == 200 and "queued again; it resumes at step 2" in answer.text
    view = served.wait_status(served.dead_id, "succeeded")
    assert [r.method for r in loopback.requests[before:]] == ["POST"]  # only step 2: step 1 is not repeated
    assert view["history"][-1]["attempts_before"] == 1
    again = client.retry(served.dead_id)
    assert "is succeeded; only dead or retrying events can be retried" in again.text


def test_a_bulk_retry_takes_each_dead_event_and_reports_the_rest(served, loopback):
    client = ConsoleClient(served.console_url)
    client.login()
    loopback.script += [REFUSED]  # the second event fails at step 1
    status, second = served.post("device-status", {"thing": "sensor-3", "job": "fw-44"})
    served.wait_status(second["id"], "dead")
    page = client.get("/events?status=dead").text
    assert page.count('type="checkbox" form="retry" name="id"') == 2 and "Retry every dead event shown (2)" in page
    answer = client.retry(served.dead_id, second["id"], "f" * 32)
    assert answer.text.count("queued again") == 2 and "no event with id " + "f" * 32 in answer.text
    for event_id in (served.dead_id, second["id"]):
        served.wait_status(event_id, "succeeded")


@pytest.mark.parametrize("attack", ["no-token", "wrong-token", "other-session-token", "foreign-origin",
                                    "null-origin", "cross-site", "same-site", "no-origin-at-all"])
def test_a_cross_site_post_is_refused_and_retries_nothing(served, loopback, attack):
    client = ConsoleClient(served.console_url)
    client.login()
    other = ConsoleClient(served.console_url)
    other.login()
    data = {"id": served.dead_id, "csrf": client.csrf()}
    headers = {}
    if attack == "no-token":
        del data["csrf"]
    elif attack == "wrong-token":
        data["csrf"] = data["csrf"][:-2] + "xx"
    elif attack == "other-session-token":
        data["csrf"] = other.csrf()
    elif attack == "foreign-origin":
        headers["Origin"] = "http://evil.example"
    elif attack == "null-origin":
        headers["Origin"] = "null"
    elif attack in ("cross-site", "same-site"):
        headers["Sec-Fetch-Site"] = attack
    else:
        client.http.headers.pop("Origin")
    before = len(loopback.requests)
    answer = client.post("/retry", data, headers=headers)
    assert answer.status_code == 403 and "refused" in answer.text
    assert served.event(served.dead_id)["status"] == "dead" and len(loopback.requests) == before
    assert client.get("/").status_code == 200  # the session itself still works


def test_a_login_from_another_origin_is_refused(served):
    answer = requests.post(served.console_url + "/login", data={"token": TOKEN},
                           headers={"Origin": "http://evil.example"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 403 and "Set-Cookie" not in answer.headers


def test_an_unknown_outcome_stays_visible_and_is_never_retried(served, loopback):
    error = {"type": "OutcomeUnknown", "message": "step 1 (iot-jobs-data.UpdateJobExecution) timed out after "
             "sending", "outcome": "unknown", "step": 1, "action": UPDATE, "check_with": DESCRIBE,
             "retryable": False}
    event_id = stored_dead_event(served.store, "device-status", error)
    client = ConsoleClient(served.console_url)
    client.login()
    page = client.get(f"/events/{event_id}").text
    assert "Outcome unknown." in page and f"Check with {DESCRIBE} whether it was." in page
    assert "Retry from step" not in page and f"events retry {event_id} --force" in page
    listed = client.get("/events?status=dead").text
    assert f'value="{event_id}"' not in listed and "outcome unknown" in listed
    before = len(loopback.requests)
    answer = client.retry(event_id)
    assert "ended with an unknown outcome" in answer.text and "the console never forces it" in answer.text
    assert served.store.get(event_id).status == "dead" and len(loopback.requests) == before


def test_logout_ends_the_session(served):
    client = ConsoleClient(served.console_url)
    client.login()
    assert client.post("/logout", {"csrf": client.csrf()}).status_code == 303
    assert client.get("/").status_code == 401


@pytest.mark.parametrize(("env", "args", "says"), [
    ({}, [], "the console needs credentials: set JOBS_CONNECTOR_CONSOLE_TOKEN"),
    ({"JOBS_CONNECTOR_CONSOLE_TOKEN": "short"}, [], "JOBS_CONNECTOR_CONSOLE_TOKEN must be at least 24 characters"),
    ({"JOBS_CONNECTOR_CONSOLE_USER": USER}, [], "set JOBS_CONNECTOR_CONSOLE_PASSWORD"),
    ({"JOBS_CONNECTOR_CONSOLE_TOKEN": TOKEN}, ["--console-host", "0.0.0.0"],  # noqa: S104 - refused before it binds
     "set JOBS_CONNECTOR_CONSOLE_ORIGIN to the origin it is reached at"),
])
def test_serve_refuses_to_start_the_console_without_credentials(tmp_path, monkeypatch, env, args, says):
    from tests.support.cli import run_cli
    from tests.support.webhooks import HOOK_SECRET, SECRET_ENV

    monkeypatch.setenv(SECRET_ENV, HOOK_SECRET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    flows = tmp_path / "flows.json"
    flows.write_text(json.dumps({"flows": [FLOWS["flows"][0]]}))
    result = run_cli("serve", "--flows", str(flows), "--queue", f"sqlite:///{tmp_path / 'q.db'}", "--port", "0",
                     "--console", "--console-port", "0", *args)
    assert result.code == 2 and says in result.stderr, result.stderr
    assert "listening on" not in result.stderr


def test_failed_logins_are_throttled(served):
    from jobs_connector.webhooks.console.app import LOGIN_FAILURES

    client = ConsoleClient(served.console_url)
    for _ in range(LOGIN_FAILURES):
        assert client.post("/login", {"token": "wrong-token-000000000000000"}).status_code == 401
    throttled = client.post("/login", {"token": TOKEN})
    assert throttled.status_code == 429 and "Set-Cookie" not in throttled.headers
    # A session or header already authorized is not locked out.
    assert requests.get(served.console_url + "/", auth=(USER, PASSWORD), timeout=10).status_code == 200


def test_the_docs_say_what_the_console_does():
    import os

    from jobs_connector.webhooks.console import app, credentials, guard, pages, sessions
    from tests.support.webhooks import ROOT

    text = open(os.path.join(ROOT, "docs", "webhooks.md"), encoding="utf-8").read()
    doc = " ".join(text[text.index("## Console"):text.index("## Durability")].split())
    for name in (credentials.TOKEN_ENV, credentials.USER_ENV, credentials.PASSWORD_ENV, guard.ORIGIN_ENV):
        assert name in doc, name
    assert f"at least {credentials.MIN_TOKEN} characters" in doc and f"(at least {credentials.MIN_PASSWORD})" in doc
    assert f"after {app.LOGIN_FAILURES} failed logins in a minute" in doc and app.LOGIN_WINDOW == 60
    assert f"after {sessions.IDLE / 3600:.0f} hours" in doc
    assert f"showing {min(pages.LIMITS)} to {max(pages.LIMITS)} events" in doc and f"newest {pages.SCAN} " in doc
    assert "![" in doc and "(console.png)" in doc
    assert os.path.getsize(os.path.join(ROOT, "docs", "console.png")) < 200_000


def test_the_console_lists_and_retries_over_redis_too(tmp_path, aws_env, loopback, monkeypatch, request):
    """The same store contract on Redis: the list's filters, one event, and a retry from the failed step."""
    redis_queue = request.getfixturevalue("redis_url")
    with serving_a_dead_event(tmp_path, loopback, monkeypatch, FLOWS, REFUSED, redis_queue) as serve:
        client = ConsoleClient(serve.console_url)
        client.login()
        assert serve.dead_id in client.get("/events?flow=device-status&status=dead&since=1h").text
        assert serve.dead_id not in client.get("/events?flow=other").text
        assert "Retry from step 2" in client.get(f"/events/{serve.dead_id}").text
        before = len(loopback.requests)
        assert "it resumes at step 2" in client.retry(serve.dead_id).text
        serve.wait_status(serve.dead_id, "succeeded")
        assert len(loopback.requests) == before + 1
