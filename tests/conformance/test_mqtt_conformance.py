"""Conformance of IoT Jobs over MQTT with the AWS IoT Device SDK's jobs client (`awsiotsdk`, tests only):
the SDK talks to the sandbox's broker and parses its answers and notifications with its own models, and the
requests our client publishes are the ones the SDK publishes for the same call (topic and payload)."""

from __future__ import annotations

import concurrent.futures

import pytest

from jobs_connector.runtime import Runtime
from tests.support.mqtt import Tap, mqtt_sandbox, needs_mosquitto, wait_for

iotjobs = pytest.importorskip("awsiot.iotjobs")
from awscrt import io, mqtt  # noqa: E402 - awsiotsdk's runtime, present when it is

pytestmark = [needs_mosquitto, pytest.mark.slow]
THING = "demo-thing"
QOS = mqtt.QoS.AT_LEAST_ONCE
WAIT = 5


@pytest.fixture
def sandbox(monkeypatch):
    with mqtt_sandbox(monkeypatch) as sb:
        yield sb


@pytest.fixture
def sdk(sandbox):
    group = io.EventLoopGroup(1)
    bootstrap = io.ClientBootstrap(group, io.DefaultHostResolver(group))
    connection = mqtt.Connection(client=mqtt.Client(bootstrap), host_name="127.0.0.1",
                                 port=sandbox.mqtt.broker.port, client_id="sdk-device", clean_session=True,
                                 keep_alive_secs=30)
    connection.connect().result(WAIT)
    yield iotjobs.IotJobsClient(connection)
    connection.disconnect().result(WAIT)


def answered(subscribe_accepted, subscribe_rejected, subscription, publish, request):
    """Publish one SDK request; the SDK's parsed answer: ("accepted" | "rejected", model)."""
    outcome: concurrent.futures.Future = concurrent.futures.Future()
    for kind, subscribe in (("accepted", subscribe_accepted), ("rejected", subscribe_rejected)):
        future, _ = subscribe(subscription, QOS, lambda answer, kind=kind: outcome.done() or outcome.set_result(
            (kind, answer)))
        future.result(WAIT)
    publish(request, QOS).result(WAIT)
    return outcome.result(WAIT)


def test_the_sdk_jobs_client_drives_the_sandbox_and_parses_its_answers(sdk):
    kind, pending = answered(sdk.subscribe_to_get_pending_job_executions_accepted,
                             sdk.subscribe_to_get_pending_job_executions_rejected,
                             iotjobs.GetPendingJobExecutionsSubscriptionRequest(thing_name=THING),
                             sdk.publish_get_pending_job_executions,
                             iotjobs.GetPendingJobExecutionsRequest(thing_name=THING, client_token="t-1"))
    assert kind == "accepted" and pending.client_token == "t-1"
    assert [job.job_id for job in pending.queued_jobs] == ["demo-job-1", "demo-job-2"]
    assert pending.queued_jobs[0].version_number == 1 and pending.timestamp is not None

    kind, started = answered(sdk.subscribe_to_start_next_pending_job_execution_accepted,
                             sdk.subscribe_to_start_next_pending_job_execution_rejected,
                             iotjobs.StartNextPendingJobExecutionSubscriptionRequest(thing_name=THING),
                             sdk.publish_start_next_pending_job_execution,
                             iotjobs.StartNextPendingJobExecutionRequest(thing_name=THING, client_token="t-2",
                                                                         status_details={"step": "1"}))
    assert kind == "accepted" and started.execution.job_id == "demo-job-1"
    assert started.execution.status == "IN_PROGRESS" and started.execution.job_document["version"] == "1.2.3"

    update = dict(thing_name=THING, job_id="demo-job-1")
    kind, refused = answered(sdk.subscribe_to_update_job_execution_accepted,
                             sdk.subscribe_to_update_job_execution_rejected,
                             iotjobs.UpdateJobExecutionSubscriptionRequest(**update),
                             sdk.publish_update_job_execution,
                             iotjobs.UpdateJobExecutionRequest(**update, status="SUCCEEDED", expected_version=1,
                                                               client_token="t-3"))
    assert kind == "rejected" and refused.code == "VersionMismatch" and refused.client_token == "t-3"
    assert refused.execution_state.version_number == 2

    kind, done = answered(sdk.subscribe_to_update_job_execution_accepted,
                          sdk.subscribe_to_update_job_execution_rejected,
                          iotjobs.UpdateJobExecutionSubscriptionRequest(**update),
                          sdk.publish_update_job_execution,
                          iotjobs.UpdateJobExecutionRequest(**update, status="SUCCEEDED", expected_version=2,
                                                            include_job_execution_state=True, client_token="t-4"))
    assert kind == "accepted" and done.execution_state.status == "SUCCEEDED"

    kind, described = answered(sdk.subscribe_to_describe_job_execution_accepted,
                               sdk.subscribe_to_describe_job_execution_rejected,
                               iotjobs.DescribeJobExecutionSubscriptionRequest(thing_name=THING, job_id="no-such"),
                               sdk.publish_describe_job_execution,
                               iotjobs.DescribeJobExecutionRequest(thing_name=THING, job_id="no-such",
                                                                   client_token="t-5"))
    assert kind == "rejected" and described.code == "ResourceNotFound"


def test_the_sdk_parses_the_notifications_of_a_control_plane_change(sandbox, sdk):
    events: list = []
    future, _ = sdk.subscribe_to_next_job_execution_changed_events(
        iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name="dev-sdk"), QOS, events.append)
    future.result(WAIT)
    lists: list = []
    future, _ = sdk.subscribe_to_job_executions_changed_events(
        iotjobs.JobExecutionsChangedSubscriptionRequest(thing_name="dev-sdk"), QOS, lists.append)
    future.result(WAIT)
    runtime = Runtime()
    next(iter(runtime.run("iot.CreateJob", {"jobId": "fw-sdk", "document": '{"op": "reboot"}',
                                            "targets": ["arn:aws:iot:us-east-1:123456789012:thing/dev-sdk"]}, {})))
    assert wait_for(lambda: events and lists, WAIT)
    assert events[0].execution.job_id == "fw-sdk" and events[0].execution.job_document == {"op": "reboot"}
    assert [job.job_id for job in lists[0].jobs["QUEUED"]] == ["fw-sdk"]


CALLS = [
    ("iot-jobs-data.GetPendingJobExecutions", {"thingName": THING},
     "publish_get_pending_job_executions", iotjobs.GetPendingJobExecutionsRequest(thing_name=THING)),
    ("iot-jobs-data.DescribeJobExecution", {"thingName": THING, "jobId": "demo-job-2", "includeJobDocument": False,
                                            "executionNumber": 1},
     "publish_describe_job_execution", iotjobs.DescribeJobExecutionRequest(
         thing_name=THING, job_id="demo-job-2", include_job_document=False, execution_number=1)),
    ("iot-jobs-data.StartNextPendingJobExecution", {"thingName": THING, "statusDetails": {"a": "b"},
                                                    "stepTimeoutInMinutes": 5},
     "publish_start_next_pending_job_execution", iotjobs.StartNextPendingJobExecutionRequest(
         thing_name=THING, status_details={"a": "b"}, step_timeout_in_minutes=5)),
    ("iot-jobs-data.UpdateJobExecution", {"thingName": THING, "jobId": "demo-job-1", "status": "IN_PROGRESS",
                                          "statusDetails": {"a": "b"}, "expectedVersion": 2, "executionNumber": 1,
                                          "includeJobExecutionState": True, "includeJobDocument": True,
                                          "stepTimeoutInMinutes": 5},
     "publish_update_job_execution", iotjobs.UpdateJobExecutionRequest(
         thing_name=THING, job_id="demo-job-1", status="IN_PROGRESS", status_details={"a": "b"},
         expected_version=2, execution_number=1, include_job_execution_state=True, include_job_document=True,
         step_timeout_in_minutes=5)),
]


def requests_seen(tap: Tap) -> list[tuple[str, dict]]:
    """The requests that crossed the broker (not the answers, not the notifications)."""
    return [(t, p) for t, p in tap.messages if t.rsplit("/", 1)[-1] not in ("accepted", "rejected", "notify",
                                                                           "notify-next")]


@pytest.mark.parametrize("key, body, method, request_model", CALLS, ids=[c[0] for c in CALLS])
def test_our_requests_are_the_sdks_requests(sandbox, sdk, key, body, method, request_model):
    from jobs_connector.base.errors import ConnectorError

    tap = Tap(sandbox.mqtt.broker.port, "$aws/things/+/jobs/#")
    runtime = Runtime()
    try:
        request_model.client_token = "sdk-token"
        getattr(sdk, method)(request_model, QOS).result(WAIT)
        assert wait_for(lambda: len(requests_seen(tap)) == 1, WAIT)
        try:
            next(iter(runtime.run(key, body, {"transport": "mqtt", "mqttTimeout": 5})))
        except ConnectorError:
            pass  # the state the SDK's request left may refuse ours: the requests are what is compared
        assert wait_for(lambda: len(requests_seen(tap)) == 2, WAIT)
        (sdk_topic, sdk_payload), (our_topic, our_payload) = requests_seen(tap)
        assert our_topic == sdk_topic
        assert sdk_payload.pop("clientToken") == "sdk-token" and our_payload.pop("clientToken")
        assert our_payload == sdk_payload and len(our_payload) == len(body) - 1 - ("jobId" in body)
    finally:
        tap.close()
        if getattr(runtime, "mqtt_pool", None):
            runtime.mqtt_pool.close()
