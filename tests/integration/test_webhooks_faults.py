"""Faults above the transport, through `serve` (intake, queue, worker threads, flow retries on): a loopback
raw-socket service counts the requests. A non-idempotent step whose outcome is unknown is sent once and
its event ends dead with OutcomeUnknown; an idempotent one keeps retrying. A 2xx answer that drifts from
the output schema is the step's output as sent, with the warning in the event's record."""

from __future__ import annotations

import pytest

from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from tests.support.rawhttp import Close, Hang, RawServer, Reset, Respond
from tests.support.webhooks import InProcess, flow

CREATE = "panorama.CreateJobForDevices"
DESCRIBE_JOB = "panorama.DescribeDeviceJob"
DESCRIBE_EXECUTION = "iot-jobs-data.DescribeJobExecution"
FLOW_RETRY = {"max_attempts": 3, "delay": 0.05, "max_delay": 0.1}
REBOOT = {"action": CREATE, "input": {"DeviceIds": "[event.device]", "JobType": "'REBOOT'"}}
DESCRIBE = {"action": DESCRIBE_JOB, "input": {"JobId": "event.job"}}
EVENT = {"device": "device-4tafxulb5ywrwo6yqpwjqx4kwm", "job": "job-1", "thing": "sensor-1"}

AMBIGUOUS = {
    "reset after the request is read": Reset,
    "no answer (read timeout)": Hang,
    "closed without an answer": Close,
    "answer cut off": lambda: Respond(200, b'{"Jobs": [', declared_length=400),
    "500 without an error code": lambda: Respond(500, {"message": "internal"}),
}


@pytest.fixture
def runtime():
    """The transport retries too (3 attempts): no layer may repeat a call whose outcome is unknown."""
    return Runtime(Transport(policy=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
                             read_timeout=0.5))


def serve_against(server, tmp_path, steps, runtime, monkeypatch, retry=FLOW_RETRY):
    monkeypatch.setenv("AWS_ENDPOINT_URL_PANORAMA", server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", server.url)
    monkeypatch.setenv("SPACEONE_ENDPOINT", server.url)
    monkeypatch.setenv("SPACEONE_API_KEY", "fake-spaceone-key-0000")
    return InProcess(tmp_path, {"flows": [flow("hook", steps, retry=retry)]}, runtime=runtime)


@pytest.mark.parametrize("fault", sorted(AMBIGUOUS))
def test_a_non_idempotent_step_with_an_unknown_outcome_is_sent_once_and_ends_dead(
        fault, tmp_path, aws_env, runtime, monkeypatch):
    with RawServer(lambda request: AMBIGUOUS[fault]()) as server, \
            serve_against(server, tmp_path, [REBOOT], runtime, monkeypatch) as serve:
        _, answer = serve.post("hook", EVENT)
        view = serve.wait_status(answer["id"], "succeeded", "dead")
        requests = len(server.requests)
    assert requests == 1, f"{fault}: the service saw {requests} requests"
    assert view["status"] == "dead"
    error = view["error"]
    assert error["type"] == "OutcomeUnknown" and error["outcome"] == "unknown" and error["retryable"] is False
    assert error["step"] == 1 and error["action"] == CREATE
    assert error.get("check_with", "").startswith("panorama.")


@pytest.mark.parametrize("fault", ["reset after the request is read", "500 without an error code"])
def test_an_idempotent_step_keeps_retrying(fault, tmp_path, aws_env, runtime, monkeypatch):
    with RawServer(lambda request: AMBIGUOUS[fault]()) as server, \
            serve_against(server, tmp_path, [DESCRIBE], runtime, monkeypatch) as serve:
        _, answer = serve.post("hook", EVENT)
        view = serve.wait_status(answer["id"], "succeeded", "dead")
        requests = len(server.requests)
    assert view["status"] == "dead" and view["attempts"] == 3
    assert requests == 9  # 3 flow attempts of 3 transport attempts each


def test_a_retry_after_longer_than_max_delay_ends_the_event_dead_saying_so(tmp_path, aws_env, runtime,
                                                                            monkeypatch):
    throttled = Respond(429, {"message": "slow down"}, {"Retry-After": "99999999999"})
    with RawServer(lambda request: throttled) as server, \
            serve_against(server, tmp_path, [DESCRIBE], runtime, monkeypatch) as serve:
        _, answer = serve.post("hook", EVENT)
        view = serve.wait_status(answer["id"], "succeeded", "dead", "retrying")
        requests = len(server.requests)
    assert view["status"] == "dead" and view["attempts"] == 1 and requests == 1
    assert view["error"]["rule"] == "retry-after-over-max-delay"
    assert "longer than this flow's retry.max_delay of 0.1 s" in view["error"]["message"]


def _execution(**changes) -> dict:
    execution = {"jobId": "fw-42", "thingName": "sensor-1", "status": "IN_PROGRESS", "versionNumber": 4}
    return {"execution": {**execution, **changes}}


DRIFTS = {
    "new enum value": (DESCRIBE_EXECUTION, _execution(status="PAUSED")),
    "string over maxLength": (DESCRIBE_EXECUTION, _execution(jobId="j" * 80)),
    "required member missing": (CREATE, {"Note": "no Jobs today"}),
    "extra member": ("spaceone.DeleteJob", {"surprise": "a member the schema does not allow"}),
}
DRIFT_INPUTS = {
    DESCRIBE_EXECUTION: {"thingName": "event.thing", "jobId": "event.job"},
    CREATE: REBOOT["input"],
    "spaceone.DeleteJob": {"job_id": "event.job"},
}


@pytest.mark.parametrize("drift", sorted(DRIFTS))
def test_a_drifted_answer_is_the_step_output_as_sent_with_a_warning(drift, tmp_path, aws_env, runtime,
                                                                     monkeypatch, caplog):
    action, answer_body = DRIFTS[drift]
    with RawServer(lambda request: Respond(200, answer_body)) as server, \
            serve_against(server, tmp_path, [{"action": action, "input": DRIFT_INPUTS[action]}], runtime,
                          monkeypatch) as serve:
        caplog.set_level("WARNING", logger="jobs_connector.webhooks")
        _, answer = serve.post("hook", EVENT)
        view = serve.wait_status(answer["id"], "succeeded", "dead")
        requests = len(server.requests)
    assert view["status"] == "succeeded", view
    assert requests == 1
    assert view["steps"][0]["output"] == answer_body
    assert view["warnings"] and all(w["step"] == 1 and w["action"] == action for w in view["warnings"])
    assert any("differs from the documented shape" in r.getMessage() for r in caplog.records)


def _not_safe_to_repeat():
    from tests.support.targets import all_actions

    return [a for a in all_actions() if not a.safe_to_repeat and a.service.auth != "per-call"]


@pytest.mark.parametrize("action", _not_safe_to_repeat(), ids=lambda a: a.key)
def test_every_step_not_safe_to_repeat_is_sent_once_when_its_outcome_is_unknown(
        action, tmp_path, aws_env, runtime, monkeypatch):
    """Every action of every service that is not safe to repeat, as a flow step with event retries on: the
    connection is reset once the request is read; the service sees one request, the event ends dead."""
    import json

    from tests.support.inputs import input_for

    with RawServer(lambda request: Reset()) as server:
        for name in ("AWS_ENDPOINT_URL", "EMBEDTHIS_ENDPOINT"):
            monkeypatch.setenv(name, server.url)
        monkeypatch.setenv("EMBEDTHIS_TOKEN", "fake-embedthis-token-0000")
        step = {"action": action.key, "input": json.dumps(input_for(action))}  # a JSONata object literal
        with serve_against(server, tmp_path, [step], runtime, monkeypatch) as serve:
            _, answer = serve.post("hook", EVENT)
            view = serve.wait_status(answer["id"], "succeeded", "dead")
        requests = len(server.requests)
    assert requests == 1, f"{action.key}: the service saw {requests} requests"
    assert view["status"] == "dead" and view["error"]["type"] == "OutcomeUnknown", view
    assert view["error"]["check_with"] == action.spec("CHECK_WITH")
