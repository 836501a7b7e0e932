"""Flows run by real huey worker threads, over real HTTP against the loopback API: step mapping, retries,
dead-lettering, `events retry`, resuming at the failed step, redaction, and the sweeper."""

import json
import time

import pytest

from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from jobs_connector.webhooks.events import Event, new_id
from jobs_connector.webhooks.worker import step_token
from tests.support.cli import run_cli
from tests.support.loopback import Reply
from tests.support.webhooks import HOOK_SECRET, SECRET_ENV, InProcess, flow, redis_server, redis_url  # noqa: F401 - fixtures

UPDATE = "iot-jobs-data.UpdateJobExecution"
DESCRIBE = "iot-jobs-data.DescribeJobExecution"
START_COMMAND = "iot-jobs-data.StartCommandExecution"
EVENT = {"thing": "sensor-1", "job": "fw-42", "ok": True}
FAST_RETRY = {"max_attempts": 3, "delay": 0.05, "max_delay": 0.1}
UPDATE_STEP = {"action": UPDATE, "input": {"thingName": "event.thing", "jobId": "event.job",
                                           "status": "event.ok ? 'SUCCEEDED' : 'FAILED'"}}
EXECUTION = {"execution": {"jobId": "fw-42", "thingName": "sensor-1", "status": "IN_PROGRESS", "versionNumber": 4}}
UPDATED = {"executionState": {"status": "SUCCEEDED", "versionNumber": 5}}


@pytest.fixture
def api(aws_env, loopback, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", loopback.url)
    loopback.default = Reply(200, UPDATED)
    return loopback


@pytest.fixture
def one_try_runtime():
    """One HTTP attempt per step run, so each event attempt is one request (the flow retries, not the transport)."""
    return Runtime(Transport(policy=RetryPolicy(max_attempts=1)))


def serve(tmp_path, flows, runtime, **kw):
    return InProcess(tmp_path, {"flows": flows}, runtime=runtime, **kw)


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    """Both queues, for the tests of retry scheduling and `events retry`."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    return request.getfixturevalue("redis_url")


def test_two_step_flow_maps_the_second_input_from_the_first_output(tmp_path, api, one_try_runtime):
    api.script += [Reply(200, EXECUTION), Reply(200, UPDATED)]
    steps = [{"action": DESCRIBE, "input": {"thingName": "event.thing", "jobId": "event.job"}},
             {"action": UPDATE, "input": {"thingName": "steps[0].execution.thingName",
                                          "jobId": "steps[0].execution.jobId", "status": "'SUCCEEDED'",
                                          "expectedVersion": "steps[0].execution.versionNumber",
                                          "statusDetails": {"deliveredBy": "headers.`user-agent`"}}}]
    with serve(tmp_path, [flow("finish-job", steps)], one_try_runtime) as server:
        status, answer = server.post("finish-job", EVENT, headers={"User-Agent": "device-gw/2"})
        assert status == 202
        view = server.wait_status(answer["id"], "succeeded", "dead")
    assert view["status"] == "succeeded", view
    assert [s["output"] for s in view["steps"]] == [EXECUTION, UPDATED]
    first, second = api.requests
    assert (first.method, first.path) == ("GET", "/things/sensor-1/jobs/fw-42")
    assert (second.method, second.path) == ("POST", "/things/sensor-1/jobs/fw-42")
    assert second.json() == {"status": "SUCCEEDED", "expectedVersion": 4,
                             "statusDetails": {"deliveredBy": "device-gw/2"}}


def test_a_rebound_retries_with_backoff_then_succeeds(tmp_path, api, one_try_runtime, queue_url):
    api.script += [Reply(503, {"message": "busy"}), Reply(429, {"message": "slow down"}), Reply(200, UPDATED)]
    flows = [flow("device-status", [UPDATE_STEP], retry=FAST_RETRY)]
    with serve(tmp_path, flows, one_try_runtime, queue_url=queue_url) as server:
        _, answer = server.post("device-status", EVENT)
        view = server.wait_status(answer["id"], "succeeded", "dead")
    assert view["status"] == "succeeded" and view["attempts"] == 3
    assert [line["error"]["type"] for line in view["history"]] == ["ServiceUnavailable", "Throttled"]
    assert len(api.requests) == 3


def test_retries_are_bounded_then_the_event_is_dead_lettered(tmp_path, api, one_try_runtime):
    api.default = Reply(503, {"message": "down"})
    retry = {**FAST_RETRY, "max_attempts": 2}
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP], retry=retry)], one_try_runtime) as server:
        _, answer = server.post("device-status", EVENT)
        view = server.wait_status(answer["id"], "dead")
    assert view["attempts"] == 2 and len(api.requests) == 2
    assert view["error"]["type"] == "ServiceUnavailable" and "gave up after 2 attempts" in view["error"]["message"]
    assert view["error"]["step"] == 1 and view["error"]["action"] == UPDATE


def test_a_non_retryable_error_dead_letters_at_once_and_events_retry_resumes_at_the_failed_step(
        tmp_path, api, one_try_runtime, queue_url):
    steps = [{"action": DESCRIBE, "input": {"thingName": "event.thing", "jobId": "event.job"}},
             {"action": UPDATE, "input": {"thingName": "event.thing", "jobId": "event.job", "status": "'SUCCEEDED'",
                                          "expectedVersion": "steps[0].execution.versionNumber"}}]
    api.script += [Reply(200, EXECUTION),
                   Reply(409, {"__type": "VersionConflictException", "message": "expected version 4, found 5"})]
    with serve(tmp_path, [flow("finish-job", steps, retry=FAST_RETRY)], one_try_runtime,
               queue_url=queue_url) as server:
        _, answer = server.post("finish-job", EVENT)
        event_id = answer["id"]
        view = server.wait_status(event_id, "dead")
        assert view["attempts"] == 1 and view["error"]["type"] == "Conflict" and view["error"]["status"] == 409
        assert [s["action"] for s in view["steps"]] == [DESCRIBE]  # step 1 is recorded

        queue = queue_url
        listed = run_cli("events", "--queue", queue, "list", "--status", "dead", "--json")
        assert [row["id"] for row in listed.messages] == [event_id]

        api.default = Reply(200, UPDATED)
        retried = run_cli("events", "--queue", queue, "retry", event_id)
        assert retried.code == 0 and "resumes at step 2" in retried.stderr
        view = server.wait_status(event_id, "succeeded")
    # Step 1 ran once: the retry resumed at step 2.
    assert [(r.method, r.path) for r in api.requests] == [("GET", "/things/sensor-1/jobs/fw-42")] + \
        [("POST", "/things/sensor-1/jobs/fw-42")] * 2
    assert [s["output"] for s in view["steps"]] == [EXECUTION, UPDATED]
    assert [line["error"]["type"] for line in view["history"]] == ["Conflict"]


def test_events_retry_refuses_an_event_that_is_not_dead(tmp_path, api, one_try_runtime):
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime) as server:
        _, answer = server.post("device-status", EVENT)
        server.wait_status(answer["id"], "succeeded")
        result = run_cli("events", "--queue", f"sqlite:///{tmp_path / 'queue.db'}", "retry", answer["id"])
        missing = run_cli("events", "--queue", f"sqlite:///{tmp_path / 'queue.db'}", "show", "0" * 32)
    assert result.code == 2 and "only dead or retrying" in result.stderr
    assert missing.code == 2 and "no event" in missing.stderr


def test_a_mapped_input_that_breaks_the_schema_at_run_time_is_dead_lettered_naming_the_field(
        tmp_path, api, one_try_runtime):
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime) as server:
        _, answer = server.post("device-status", {**EVENT, "thing": "not a thing name"})
        view = server.wait_status(answer["id"], "dead")
    assert view["error"]["type"] == "BadInput" and view["error"]["field"] == "thingName"
    assert view["error"]["rule"] == "pattern" and view["attempts"] == 1
    assert api.requests == []  # nothing was sent


def test_a_failing_expression_is_dead_lettered_naming_the_field(tmp_path, api, one_try_runtime):
    step = {"action": UPDATE, "input": {"thingName": "event.thing", "jobId": "event.job", "status": "'QUEUED'",
                                        "expectedVersion": "$number(event.version)"}}
    with serve(tmp_path, [flow("device-status", [step])], one_try_runtime) as server:
        _, answer = server.post("device-status", {**EVENT, "version": "four"})
        view = server.wait_status(answer["id"], "dead")
    assert view["error"]["type"] == "MappingError" and "input.expectedVersion" in view["error"]["message"]
    assert api.requests == []


def test_idempotency_token_is_derived_from_event_and_step_and_stable_across_retries(tmp_path, api, one_try_runtime):
    step = {"action": START_COMMAND, "input": {"targetArn": "event.target", "commandArn": "event.command"}}
    api.script += [Reply(503, {"message": "busy"}), Reply(200, {"executionId": "exec-1"})]
    body = {"target": "arn:aws:iot:eu-west-1:123456789012:thing/sensor-1",
            "command": "arn:aws:iot:eu-west-1:123456789012:command/reboot"}
    with serve(tmp_path, [flow("reboot", [step], retry=FAST_RETRY)], one_try_runtime) as server:
        _, answer = server.post("reboot", body)
        view = server.wait_status(answer["id"], "succeeded")
    tokens = [r.json()["clientToken"] for r in api.requests]
    assert tokens == [step_token(answer["id"], 0)] * 2
    assert view["steps"][0]["output"] == {"executionId": "exec-1"}


def test_event_view_redacts_secret_fields_and_known_secrets(tmp_path, api, one_try_runtime, monkeypatch):
    from jobs_connector.component.registry import get_action
    from jobs_connector.webhooks.sealing import is_sealed

    action = get_action(UPDATE)
    schema = json.loads(json.dumps(action.out_schema))
    schema["properties"]["jobDocument"]["x-secret"] = True  # as if the service returned a secret there
    monkeypatch.setitem(action.__dict__, "out_schema", schema)
    api.default = Reply(200, {**UPDATED, "jobDocument": "password=hunter2-not-real"})
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime) as server:
        _, answer = server.post("device-status", EVENT)
        view = server.wait_status(answer["id"], "succeeded")
        shown = run_cli("events", "--queue", f"sqlite:///{tmp_path / 'queue.db'}", "show", answer["id"])
        # The store keeps the value sealed (a later step, or a resumed run, opens it); views never show it.
        kept = server.store.get(answer["id"])
    assert is_sealed(kept.steps[0]["output"]["jobDocument"])
    assert kept.step_outputs()[0]["jobDocument"] == "password=hunter2-not-real"
    assert view["steps"][0]["output"]["jobDocument"] == "***"
    assert json.loads(shown.stdout)["steps"][0]["output"]["jobDocument"] == "***"
    assert "hunter2" not in json.dumps(view) and "hunter2" not in shown.stdout
    assert "event" not in view  # the body is not served over HTTP


def test_event_view_scrubs_the_webhook_secret_if_it_ever_appears(tmp_path, api, one_try_runtime):
    api.default = Reply(404, {"message": f"no job for token {HOOK_SECRET}"})
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime) as server:
        _, answer = server.post("device-status", EVENT)
        view = server.wait_status(answer["id"], "dead")
    assert HOOK_SECRET not in json.dumps(view) and "***" in view["error"]["message"]


def test_events_list_show_and_purge(tmp_path, api, one_try_runtime):
    queue = f"sqlite:///{tmp_path / 'queue.db'}"
    api.script += [Reply(200, UPDATED), Reply(404, {"message": "no such job"})]
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime) as server:
        ok = server.post("device-status", {**EVENT, "n": 1})[1]["id"]
        server.wait_status(ok, "succeeded")
        dead = server.post("device-status", {**EVENT, "n": 2})[1]["id"]
        server.wait_status(dead, "dead")
    listed = run_cli("events", "--queue", queue, "list")
    assert listed.code == 0 and ok in listed.stdout and dead in listed.stdout
    assert "1 succeeded, 1 dead" in listed.stderr
    shown = run_cli("events", "--queue", queue, "show", dead, "--body")
    assert json.loads(shown.stdout)["event"] == {**EVENT, "n": 2}
    assert run_cli("events", "--queue", queue, "purge", "--dead").stderr.strip() == "purged 1 event(s)"
    assert [row["id"] for row in run_cli("events", "--queue", queue, "list", "--json").messages] == [ok]
    assert run_cli("events", "--queue", queue, "purge").stderr.strip() == "purged 1 event(s)"
    assert run_cli("events", "--queue", queue, "list", "--json").messages == []


# -- the sweeper: events a dead worker left running, and queue tasks lost in a crash ----------------------


def stored_event(store, status="queued", **fields) -> Event:
    now = time.time()
    event = Event(id=new_id(), flow="device-status", body=EVENT, received_at=now - 60, due_at=now - 60,
                  updated_at=now - 60)
    store.add(event)  # no queue task: as if it was lost
    for key, value in {"status": status, **fields}.items():
        setattr(event, key, value)
    assert store.save(event)
    return event


def test_sweeper_takes_over_an_event_whose_worker_died_and_it_resumes(tmp_path, api, one_try_runtime):
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime, work=False) as server:
        store = server.store
        orphan = stored_event(store, "running", attempts=1, claim="dead-worker", lease_until=time.time() - 1)
        alive = stored_event(store, "running", attempts=1, claim="live-worker", lease_until=time.time() + 60)
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime, web=False) as server:
        # The first sweep runs when the worker starts.
        event = wait_for_status(server.store, orphan.id, "succeeded")
        assert server.store.get(alive.id).status == "running"  # its lease is still valid
    assert event.attempts == 2 and event.history[0]["error"]["type"] == "WorkerStopped"
    assert len(api.requests) == 1


def test_sweeper_dispatches_a_stored_event_whose_task_was_lost(tmp_path, api, one_try_runtime):
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime, work=False) as server:
        lost = stored_event(server.store)
        assert server.queue.waiting_ids() == set()
    with serve(tmp_path, [flow("device-status", [UPDATE_STEP])], one_try_runtime, web=False) as server:
        assert wait_for_status(server.store, lost.id, "succeeded").attempts == 1


def test_a_dead_worker_s_event_is_dead_lettered_once_its_attempts_are_used(tmp_path, api, one_try_runtime):
    flows = [flow("device-status", [UPDATE_STEP], retry={"max_attempts": 2})]
    with serve(tmp_path, flows, one_try_runtime, work=False) as server:
        poison = stored_event(server.store, "running", attempts=2, claim="x", lease_until=time.time() - 1)
    with serve(tmp_path, flows, one_try_runtime, web=False) as server:
        event = wait_for_status(server.store, poison.id, "dead")
    assert event.error["type"] == "WorkerStopped" and api.requests == []


def wait_for_status(store, event_id, status, timeout=10):
    from tests.support.webhooks import wait_for

    return wait_for(lambda: (e := store.get(event_id)) and e.status == status and e, timeout=timeout,
                    what=f"event {event_id} to become {status}")


def test_events_refuses_a_queue_file_that_does_not_exist(tmp_path):
    result = run_cli("events", "--queue", f"sqlite:///{tmp_path / 'nothing.db'}", "list")
    assert result.code == 2 and "no queue file" in result.stderr
    assert not (tmp_path / "nothing.db").exists()


# -- fields of the webhook body that a flow marks secret --------------------------------------------------

BODY_SECRET = "planted-body-secret-Zr4Q-not-real"


def test_body_fields_a_flow_marks_secret_are_sealed_at_rest_masked_in_views_and_still_mapped(
        tmp_path, api, one_try_runtime):
    """The step receives the value; the queue database (and its WAL), `events show` and GET /events/<id> never
    hold it in plain text, nor does an error that echoes it."""
    api.script += [Reply(200, UPDATED), Reply(409, {"message": f"conflict for {BODY_SECRET}"},
                                               {"x-amzn-ErrorType": "ConflictException"})]
    step = {**UPDATE_STEP, "input": {**UPDATE_STEP["input"], "statusDetails": {"auth": "event.auth.token"}}}
    hook = flow("secret-body", [step], secret_event_fields=["auth.token"], retry=FAST_RETRY)
    with serve(tmp_path, [hook], one_try_runtime) as server:
        ids = []
        for n in range(2):  # the first succeeds, the second is refused with an error echoing the secret
            status, answer = server.post("secret-body", {**EVENT, "auth": {"token": BODY_SECRET}, "n": n})
            assert status == 202
            ids.append(answer["id"])
            server.wait_status(answer["id"], "succeeded", "dead")
        views = [server.event(event_id) for event_id in ids]
        shown = run_cli("events", "show", ids[1], "--queue", server.queue.url)
    assert [v["status"] for v in views] == ["succeeded", "dead"]
    assert [r.json()["statusDetails"]["auth"] for r in api.requests] == [BODY_SECRET, BODY_SECRET]
    assert BODY_SECRET not in json.dumps(views) + shown.stdout + shown.stderr
    assert "conflict for ***" in json.dumps(views[1]["error"])
    raw = b"".join(open(path, "rb").read() for path in tmp_path.glob("queue.db*"))
    assert raw and BODY_SECRET.encode() not in raw
    assert b"$sealed" in raw  # the value is there, sealed


def test_secret_event_fields_must_be_dotted_field_names(tmp_path):
    from jobs_connector.webhooks.flows import FlowFileError, build

    with pytest.raises(FlowFileError) as caught:
        build({"flows": [flow("x", [UPDATE_STEP], secret_event_fields=["auth[0]"])]},
              environ={SECRET_ENV: HOOK_SECRET})
    assert "secret_event_fields" in str(caught.value)
