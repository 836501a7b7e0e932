"""The step runner against a real RabbitMQ: a message in, the right messages out, acknowledged or
rejected as the sailors do. The runner runs in-process here; tests/integration/sailor/test_sailor_process.py runs the
real entry point as a subprocess (crash before acknowledgement, SIGTERM)."""

from __future__ import annotations

import threading

import pytest

from jobs_connector.sailor.amqp import AmqpLink
from jobs_connector.sailor.messages import StepData
from jobs_connector.sailor.settings import read_settings
from jobs_connector.sailor.step import StepRunner, check_function, report_startup_error
from tests.conftest import FAKE_SECRET_KEY
from tests.integration.sailor.conftest import FUNCTION, step_config
from tests.support.loopback import Reply

PENDING = {"inProgressJobs": [], "queuedJobs": [{"jobId": "job-1", "versionNumber": 1, "executionNumber": 1}]}


def serve(platform, step: StepData, count: int, process=None, timeout: float = 20.0, **env) -> StepRunner:
    """Run the step until it has handled `count` messages (or the watchdog stops it)."""
    settings = read_settings(platform.env(**env))
    link = AmqpLink(settings).connect()
    runner = StepRunner(settings, step, link, **({"process": process} if process else {}))
    watchdog = threading.Timer(timeout, runner.request_stop)
    watchdog.start()
    try:
        runner.serve(max_messages=count)
    finally:
        watchdog.cancel()
        link.close()
    assert runner.processed == count, "the runner stopped before handling every message"
    return runner


def step_for(loopback, **kw) -> StepData:
    return StepData(id="step_2", config=step_config(loopback.url), **kw)


def test_data_message_out_with_platform_headers_then_ack(platform, loopback):
    loopback.script.append(Reply(200, PENDING))
    message_id = platform.send({"body": {"thingName": "thing-1"}, "headers": {}},
                               headers={"x-EIO-meta-Trace-Id": "trace-9", "threadId": "thread-7"})
    serve(platform, step_for(loopback), 1, ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS="ELASTICIO_TASK_USER_EMAIL",
          ELASTICIO_TASK_USER_EMAIL="someone@example.com")

    [request] = loopback.requests
    assert (request.method, request.path) == ("GET", "/things/thing-1/jobs")
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")
    [out] = platform.take("data")
    assert out.value["body"] == PENDING
    assert out.value["id"] == out.headers["messageId"]
    h = out.headers
    assert h["parentMessageId"] == message_id and h["messageId"] != message_id
    assert (h["threadId"], h["x-eio-meta-trace-id"]) == ("thread-7", "trace-9")
    assert (h["execId"], h["taskId"], h["stepId"], h["compId"], h["function"]) == (
        "exec-1", "flow-1", "step_2", "comp-1", FUNCTION)
    assert (h["userId"], h["workspaceId"], h["containerId"]) == ("user-1", "workspace-1", "container-1")
    assert h["taskUserEmail"] == "someone@example.com"
    assert h["protocolVersion"] == 1 and h["start"] <= h["end"]
    assert out.properties.content_type == "application/json"
    # acknowledged: nothing left in the step's queue, nothing rejected, no error
    assert (platform.ready("input"), platform.ready("dead"), platform.ready("error")) == (0, 0, 0)


def test_protocol_version_2_in_and_out(platform, loopback):
    loopback.script.append(Reply(200, PENDING))
    platform.send({"body": {"thingName": "thing-1"}}, protocol=2)
    serve(platform, step_for(loopback), 1, ELASTICIO_PROTOCOL_VERSION="2")
    [out] = platform.take("data")
    assert out.headers["protocolVersion"] == 2
    assert out.value["body"] == PENDING
    assert platform.cipher.decrypt(out.body)  # raw ciphertext, not base64 text


def test_service_error_goes_to_the_error_route_and_the_message_is_rejected(platform, loopback):
    loopback.script.append(Reply(404, {"message": "no such thing"},
                                 {"x-amzn-ErrorType": "ResourceNotFoundException", "x-amzn-RequestId": "req-42"}))
    platform.send({"body": {"thingName": "thing-1"}})
    serve(platform, step_for(loopback), 1)

    [err] = platform.take("error")
    error = err.value["error"]
    assert (error["name"], error["message"]) == ("NotFound", "no such thing")
    assert "HTTP 404" in error["stack"] and "req-42" in error["stack"]
    assert err.value["errorInput"] == {"body": {"thingName": "thing-1"}}  # the message that failed
    assert err.headers["function"] == FUNCTION and "end" in err.headers
    assert platform.ready("data") == 0
    [dead] = platform.take("dead")  # rejected without requeue: dead-lettered by the queue
    assert dead.value == {"body": {"thingName": "thing-1"}}


def test_bad_input_is_an_error_naming_the_field_and_no_request_is_sent(platform, loopback):
    platform.send({"body": {"thingName": "bad name with spaces"}})
    serve(platform, step_for(loopback), 1)
    [err] = platform.take("error")
    assert err.value["error"]["name"] == "BadInput"
    assert "thingName" in err.value["error"]["message"]
    assert loopback.requests == []


def test_secrets_never_reach_the_error_message(platform, loopback):
    loopback.script.append(Reply(403, {"message": f"signature mismatch for {FAKE_SECRET_KEY}"},
                                 {"x-amzn-ErrorType": "InvalidSignatureException"}))
    platform.send({"body": {"thingName": "thing-1"}})
    serve(platform, step_for(loopback), 1)
    [err] = platform.take("error")
    assert FAKE_SECRET_KEY not in err.body.decode() and FAKE_SECRET_KEY not in str(err.value)
    assert err.value["error"]["name"] == "AuthError"


def test_retryable_failure_is_rebounded_with_the_platform_headers(platform, loopback):
    loopback.script.append(Reply(429, {"message": "slow down"},
                                 {"x-amzn-ErrorType": "ThrottlingException", "Retry-After": "120"}))
    message_id = platform.send({"body": {"thingName": "thing-1"}})
    serve(platform, step_for(loopback), 1, ELASTICIO_REBOUND_INITIAL_EXPIRATION="60000")

    [rebound] = platform.take("rebound")
    assert rebound.value == {"body": {"thingName": "thing-1"}}  # the original message, unchanged
    assert rebound.headers["reboundIteration"] == 1
    assert rebound.headers["reboundReason"] == "slow down"
    assert rebound.headers["messageId"] == message_id  # the original's headers, kept
    assert rebound.properties.expiration == "60000"
    assert (platform.ready("error"), platform.ready("data"), platform.ready("dead"), platform.ready("input")) == (
        0, 0, 0, 0)  # acknowledged: the rebound carries it now


def test_rebound_expiration_doubles_with_the_iteration(platform, loopback):
    loopback.script.append(Reply(503, {"message": "down"}, {"Retry-After": "120"}))
    platform.send({"body": {"thingName": "thing-1"}}, headers={"reboundIteration": 3})
    serve(platform, step_for(loopback), 1, ELASTICIO_REBOUND_INITIAL_EXPIRATION="1000")
    [rebound] = platform.take("rebound")
    assert rebound.headers["reboundIteration"] == 4
    assert rebound.properties.expiration == "8000"  # 2^(4-1) x 1000 ms


def test_rebounds_come_back_until_the_limit_then_an_error(looping_platform, loopback):
    """The whole cycle on the broker: the rebound queue dead-letters expired messages back to the step."""
    platform = looping_platform
    for _ in range(3):
        loopback.script.append(Reply(503, {"message": "service busy"}, {"Retry-After": "120"}))
    platform.send({"body": {"thingName": "thing-1"}})
    serve(platform, step_for(loopback), 3, ELASTICIO_REBOUND_LIMIT="2", ELASTICIO_REBOUND_INITIAL_EXPIRATION="50")

    assert len(loopback.requests) == 3  # first delivery, then rebounds 1 and 2 came back
    [err] = platform.take("error")
    assert err.value["error"]["message"] == "Rebound limit exceeded"
    assert err.value["errorInput"] == {"body": {"thingName": "thing-1"}}
    # As Node's sendRebound: the step's headers as they were, without an `end`; and the input acknowledged
    # (a rebound never counts as an error of the message), so nothing is dead-lettered on top of the error.
    assert "end" not in err.headers and "start" in err.headers
    assert (platform.ready("dead"), platform.ready("rebound"), platform.ready("input"), platform.ready("data")) == (
        0, 0, 0, 0)


def test_undecryptable_message_is_rejected_without_running_the_step(platform, loopback):
    platform.send({}, raw=b"bm90IGVuY3J5cHRlZA==")  # base64, but not our ciphertext
    serve(platform, step_for(loopback), 1)
    assert loopback.requests == []
    assert (platform.ready("dead"), platform.ready("error"), platform.ready("data")) == (1, 0, 0)


def test_each_emitted_item_is_one_data_message_and_snapshots_are_published(platform, loopback):
    """The runner publishes whatever the step emits, in order: here a step that emits two data messages
    and a snapshot (none of our actions keeps a snapshot; the mechanism is the platform's)."""

    def process(key, msg, cfg, emit):
        assert key == FUNCTION and cfg["region"]
        emit("data", {"body": {"n": 1}})
        emit("snapshot", {"cursor": "abc"})
        emit("data", {"body": {"n": 2}})
        emit("end", {})

    platform.send({"body": {}})
    runner = serve(platform, step_for(loopback), 1, process=process)
    outs = platform.take("data", 2)
    assert [o.value["body"] for o in outs] == [{"n": 1}, {"n": 2}]
    assert outs[0].headers["messageId"] != outs[1].headers["messageId"]
    [snap] = platform.take("snapshot")
    assert snap.value == {"cursor": "abc"} and snap.headers["snapshotEvent"] == "snapshot"
    assert runner.snapshot == {"cursor": "abc"}
    assert platform.ready("input") == 0


def test_a_crashing_step_is_reported_as_an_error_not_a_traceback(platform, loopback):
    def process(key, msg, cfg, emit):
        raise RuntimeError("bug with secret " + FAKE_SECRET_KEY)

    platform.send({"body": {}})
    serve(platform, step_for(loopback), 1, process=process)
    [err] = platform.take("error")
    assert err.value["error"]["name"] == "InternalError"
    assert FAKE_SECRET_KEY not in str(err.value)
    assert platform.ready("dead") == 1


def test_pass_through_keeps_earlier_steps_and_adds_this_one(platform, loopback):
    loopback.script.append(Reply(200, PENDING))
    platform.send({"body": {"thingName": "thing-1"}, "passthrough": {"step_1": {"body": {"from": "trigger"}}}})
    serve(platform, step_for(loopback, is_passthrough=True), 1)
    [out] = platform.take("data")
    assert out.value["passthrough"]["step_1"] == {"body": {"from": "trigger"}}
    assert out.value["passthrough"]["step_2"]["body"] == PENDING


def test_an_unknown_function_is_reported_on_the_error_route(platform):
    settings = read_settings(platform.env(ELASTICIO_FUNCTION="iot-jobs-data.NoSuchThing"))
    link = AmqpLink(settings).connect()
    try:
        with pytest.raises(Exception) as caught:
            check_function(settings)
        report_startup_error(settings, link, caught.value.to_dict())
    finally:
        link.close()
    [err] = platform.take("error")
    assert "iot-jobs-data.NoSuchThing" in err.value["error"]["message"]
    assert err.headers["stepId"] == "step_2" and "errorInput" not in err.value


def test_a_step_that_outlives_the_stop_grace_is_left_for_redelivery(platform, loopback):
    started, release = threading.Event(), threading.Event()

    def process(key, msg, cfg, emit):
        started.set()
        release.wait(10)
        emit("data", {"body": {"late": True}})
        emit("end", {})

    platform.send({"body": {}})
    settings = read_settings(platform.env())
    link = AmqpLink(settings).connect()
    runner = StepRunner(settings, step_for(loopback), link, process=process, grace_seconds=0.3)
    threading.Thread(target=lambda: started.wait(10) and runner.request_stop(), daemon=True).start()
    try:
        assert runner.serve() == 0  # stopped with the message in hand, not acknowledged
    finally:
        link.close()
        release.set()
    assert platform.ready("data") == 0
    [again] = platform.take("input")  # back in the queue for the next runner
    assert again.redelivered and again.value == {"body": {}}
