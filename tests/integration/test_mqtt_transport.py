"""IoT Jobs over MQTT against the sandbox's real broker (mosquitto): the four data-plane actions with
`transport: mqtt` change and read the same executions as over HTTPS, `rejected` answers are the HTTPS typed
errors, bad input publishes nothing, an unanswered update is an unknown outcome published once, and the push
trigger gets control-plane changes, over a broker restart too."""

from __future__ import annotations

import threading
import time

import pytest

from jobs_connector.base.errors import BadInput, ConfigurationError, Conflict, NetworkError, NotFound, OutcomeUnknown
from jobs_connector.runtime import Runtime
from jobs_connector.triggers.engine import Poll
from tests.support.mqtt import Tap, mqtt_sandbox, needs_mosquitto, wait_for

pytestmark = [needs_mosquitto, pytest.mark.slow]
MQTT = {"transport": "mqtt", "mqttTimeout": 5}
THING = "demo-thing"


@pytest.fixture
def sandbox(monkeypatch):
    with mqtt_sandbox(monkeypatch) as sb:
        yield sb


@pytest.fixture
def runtime():
    rt = Runtime()
    yield rt
    if getattr(rt, "mqtt_pool", None):
        rt.mqtt_pool.close()


def one(runtime, key, body, cfg=None):
    return next(iter(runtime.run(key, body, cfg or {})))


def test_start_next_and_update_over_mqtt_change_what_https_reads(sandbox, runtime):
    pending_https = one(runtime, "iot-jobs-data.GetPendingJobExecutions", {"thingName": THING})
    pending_mqtt = one(runtime, "iot-jobs-data.GetPendingJobExecutions", {"thingName": THING}, MQTT)
    assert pending_mqtt == pending_https and [j["jobId"] for j in pending_mqtt["queuedJobs"]] == ["demo-job-1",
                                                                                                 "demo-job-2"]
    started = one(runtime, "iot-jobs-data.StartNextPendingJobExecution",
                  {"thingName": THING, "statusDetails": {"step": "download"}}, MQTT)["execution"]
    assert (started["jobId"], started["status"], started["versionNumber"]) == ("demo-job-1", "IN_PROGRESS", 2)
    assert isinstance(started["jobDocument"], str)  # text, as the HTTPS API answers
    seen = one(runtime, "iot-jobs-data.DescribeJobExecution", {"thingName": THING, "jobId": "demo-job-1"})["execution"]
    assert seen == started  # HTTPS reads what MQTT changed, the document too
    updated = one(runtime, "iot-jobs-data.UpdateJobExecution",
                  {"thingName": THING, "jobId": "demo-job-1", "status": "SUCCEEDED", "expectedVersion": 2,
                   "includeJobExecutionState": True}, MQTT)
    assert updated == {"executionState": {"status": "SUCCEEDED", "statusDetails": {"step": "download"},
                                          "versionNumber": 3}}
    https = one(runtime, "iot-jobs-data.DescribeJobExecution", {"thingName": THING, "jobId": "demo-job-1"})
    assert https["execution"]["status"] == "SUCCEEDED"
    assert one(runtime, "iot-jobs-data.DescribeJobExecution", {"thingName": THING, "jobId": "demo-job-1"},
               MQTT) == https


def test_requests_leave_at_once_without_nagles_delay(sandbox, runtime):
    """Each request/answer round trip cost 44 to 89 ms (Nagle's algorithm against delayed ACKs) until both
    our client's socket and the sandbox's broker sent small packets at once."""
    import socket

    one(runtime, "iot-jobs-data.GetPendingJobExecutions", {"thingName": THING}, MQTT)
    (connection,) = runtime.mqtt_pool._connections.values()
    assert connection._client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    service = sandbox.mqtt.service.client.socket()
    assert service.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    with open(sandbox.mqtt.broker._config(), encoding="utf-8") as config:
        assert "set_tcp_nodelay true" in config.read().splitlines()


@pytest.mark.parametrize("body, mqtt_code", [
    ({"jobId": "no-such-job", "status": "SUCCEEDED"}, "ResourceNotFound"),
    ({"jobId": "demo-job-1", "status": "SUCCEEDED", "expectedVersion": 7}, "VersionMismatch"),
    ({"jobId": "demo-job-1", "status": "QUEUED"}, "InvalidStateTransition"),
])
def test_rejected_codes_are_the_typed_errors_of_the_https_api(sandbox, runtime, body, mqtt_code):
    body = {"thingName": THING, **body}
    with pytest.raises(Exception) as over_https:
        one(runtime, "iot-jobs-data.UpdateJobExecution", body)
    with pytest.raises(Exception) as over_mqtt:
        one(runtime, "iot-jobs-data.UpdateJobExecution", body, MQTT)
    assert type(over_mqtt.value) is type(over_https.value)
    assert isinstance(over_mqtt.value, (NotFound, Conflict))
    assert over_mqtt.value.status == over_https.value.status
    assert over_mqtt.value.code == mqtt_code and over_mqtt.value.retryable is False
    if mqtt_code != "ResourceNotFound":  # the execution's state comes with a refused change, as the API says
        assert over_mqtt.value.execution_state["versionNumber"] == 1


def test_bad_input_and_bad_settings_publish_nothing(sandbox, runtime):
    tap = Tap(sandbox.mqtt.broker.port, "$aws/things/#")
    try:
        with pytest.raises(BadInput) as missing:
            one(runtime, "iot-jobs-data.UpdateJobExecution", {"thingName": THING, "jobId": "demo-job-1"}, MQTT)
        assert missing.value.field == "status"
        with pytest.raises(ConfigurationError) as plain:
            one(runtime, "iot-jobs-data.GetPendingJobExecutions", {"thingName": THING},
                {**MQTT, "mqttEndpoint": "mqtt://broker.example.com:1883"})
        assert plain.value.field == "mqttEndpoint"
        with pytest.raises(ConfigurationError):
            one(runtime, "iot-jobs-data.StartCommandExecution", {
                "targetArn": "arn:aws:iot:us-east-1:123456789012:thing/demo-thing",
                "commandArn": "arn:aws:iot:us-east-1:123456789012:command/demo-reboot"}, MQTT)
        time.sleep(0.3)
        assert tap.messages == [] and sandbox.mqtt.service.requests == 0
    finally:
        tap.close()


def test_an_unanswered_update_is_an_unknown_outcome_published_once(sandbox, runtime):
    sandbox.mqtt.service.close()  # the broker stays, the service no longer answers
    topic = f"$aws/things/{THING}/jobs/demo-job-1/update"
    tap = Tap(sandbox.mqtt.broker.port, topic)
    cfg = {**MQTT, "mqttTimeout": 1}
    try:
        with pytest.raises(OutcomeUnknown) as unknown:
            one(runtime, "iot-jobs-data.UpdateJobExecution",
                {"thingName": THING, "jobId": "demo-job-1", "status": "SUCCEEDED"}, cfg)
        assert unknown.value.retryable is False
        assert unknown.value.check_with == "iot-jobs-data.DescribeJobExecution"
        with pytest.raises(NetworkError) as read:  # a read that got no answer may simply be asked again
            one(runtime, "iot-jobs-data.GetPendingJobExecutions", {"thingName": THING}, cfg)
        assert read.value.retryable is True
        time.sleep(1.0)
        assert len(tap.on(topic)) == 1
    finally:
        tap.close()


def test_websocket_transport_reaches_the_same_service(monkeypatch, runtime):
    with mqtt_sandbox(monkeypatch, websocket=True) as sandbox:
        cfg = {**MQTT, "mqttEndpoint": sandbox.mqtt.broker.websocket_url}
        answer = one(runtime, "iot-jobs-data.GetPendingJobExecutions", {"thingName": THING}, cfg)
        assert [j["jobId"] for j in answer["queuedJobs"]] == ["demo-job-1", "demo-job-2"]
        runtime.mqtt_pool.close()


def run_in_thread(poll: Poll) -> tuple[threading.Thread, list]:
    got: list = []

    def consume():
        for body in poll.items():
            got.append((time.monotonic(), body))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    return thread, got


def create_job(runtime, job_id: str, things: list[str]) -> float:
    started = time.monotonic()
    one(runtime, "iot.CreateJob", {"jobId": job_id, "document": '{"op": "reboot"}',
                                   "targets": [f"arn:aws:iot:us-east-1:123456789012:thing/{t}" for t in things]})
    return started


def test_a_control_plane_job_reaches_the_push_trigger_once(sandbox, runtime):
    stop = threading.Event()
    poll = Poll("iot-jobs-data.jobNotification", {"thingNames": ["dev-a", "dev-b"], "listenSeconds": 10}, {},
                runtime=runtime, stop=stop)
    thread, got = run_in_thread(poll)
    try:
        assert wait_for(lambda: getattr(runtime, "mqtt_listeners", None), 5)
        time.sleep(0.2)  # the catch-up of the empty queues has been answered
        assert got == []
        assert len(runtime.mqtt_pool) == 1  # the catch-up asks through the trigger's connection, not one a thing
        create_job(runtime, "fw-push", ["dev-a", "dev-b"])
        assert wait_for(lambda: len(got) == 2, 5), got
        assert sorted(body["thingName"] for _, body in got) == ["dev-a", "dev-b"]
        assert {body["jobId"] for _, body in got} == {"fw-push"}
        assert got[0][1]["notification"] == "notify-next" and got[0][1]["jobDocument"] == '{"op": "reboot"}'
        # a cancelled job changes the next execution to none: nothing more to emit
        one(runtime, "iot.CancelJob", {"jobId": "fw-push"})
        time.sleep(0.3)
        assert len(got) == 2
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert set(poll.snapshot()["seen"]) == {"dev-a/fw-push#1", "dev-b/fw-push#1"}


def test_notify_lists_every_pending_execution_and_emits_a_move_in_progress(sandbox, runtime):
    stop = threading.Event()
    poll = Poll("iot-jobs-data.jobNotification", {"thingName": THING, "notification": "notify",
                                                  "listenSeconds": 10}, {}, runtime=runtime, stop=stop)
    thread, got = run_in_thread(poll)
    try:
        assert wait_for(lambda: len(got) == 2, 5), got  # the catch-up: both queued jobs
        one(runtime, "iot-jobs-data.StartNextPendingJobExecution", {"thingName": THING}, MQTT)
        assert wait_for(lambda: len(got) == 3, 5), got
        assert (got[2][1]["jobId"], got[2][1]["status"]) == ("demo-job-1", "IN_PROGRESS")
    finally:
        stop.set()
        thread.join(5)


def test_a_broker_restart_loses_no_notification(sandbox, runtime):
    stop = threading.Event()
    poll = Poll("iot-jobs-data.jobNotification", {"thingNames": ["dev-r"], "listenSeconds": 20}, {},
                runtime=runtime, stop=stop)
    thread, got = run_in_thread(poll)
    try:
        assert wait_for(lambda: getattr(runtime, "mqtt_listeners", None), 5)
        connection = next(iter(runtime.mqtt_listeners.values())).connection
        sandbox.mqtt.broker.stop()
        create_job(runtime, "fw-while-down", ["dev-r"])  # its notification has no broker to go through
        before = sandbox.mqtt.service.requests
        sandbox.mqtt.restart_broker()
        assert wait_for(lambda: connection.connects >= 2, 10), "the trigger's connection did not come back"
        assert wait_for(lambda: len(got) == 1, 5), got
        assert got[0][1]["jobId"] == "fw-while-down"
        assert sandbox.mqtt.service.requests > before  # the catch-up asked after the reconnect
        create_job(runtime, "fw-after", ["dev-s", "dev-r"])  # not next on dev-r: fw-while-down still is
        time.sleep(0.3)
        assert [body["jobId"] for _, body in got] == ["fw-while-down"]  # and nothing twice
    finally:
        stop.set()
        thread.join(5)


@pytest.fixture
def device_pki(tmp_path):
    """The broker's certificate (the client's caFile), a device certificate the broker trusts, and one it does
    not: made in the test run, nothing committed."""
    from tests.support.tls import make_self_signed

    return {name: make_self_signed(tmp_path, name) for name in ("broker", "device", "stranger")}


def test_mutual_tls_with_a_device_certificate(monkeypatch, runtime, device_pki):
    from jobs_connector.sandbox.mqtt_broker import MutualTls, free_port

    broker, device, stranger = device_pki["broker"], device_pki["device"], device_pki["stranger"]
    tls = MutualTls(free_port(), str(broker.cert_file), str(broker.key_file), str(device.cert_file))
    with mqtt_sandbox(monkeypatch, mutual_tls=tls) as sandbox:
        cfg = {**MQTT, "mqttEndpoint": f"mqtts://127.0.0.1:{tls.port}", "caFile": str(broker.cert_file),
               "certificateFile": str(device.cert_file), "privateKeyFile": str(device.key_file)}
        answer = one(runtime, "iot-jobs-data.GetPendingJobExecutions", {"thingName": THING}, cfg)
        assert [j["jobId"] for j in answer["queuedJobs"]] == ["demo-job-1", "demo-job-2"]
        asked = sandbox.mqtt.service.requests
        # a certificate the broker does not trust, and a broker the client does not trust: refused, nothing sent
        for wrong, said in (
                ({"certificateFile": str(stranger.cert_file), "privateKeyFile": str(stranger.key_file)},
                 "did not accept the device certificate"),
                ({"caFile": str(stranger.cert_file)}, "CERTIFICATE_VERIFY_FAILED")):
            with pytest.raises(NetworkError) as refused:
                one(Runtime(), "iot-jobs-data.GetPendingJobExecutions", {"thingName": THING},
                    {**cfg, **wrong, "mqttTimeout": 5})
            assert refused.value.code == "tls" and said in str(refused.value), refused.value
            assert not refused.value.retryable
        assert sandbox.mqtt.service.requests == asked


def test_the_broker_persists_its_sessions_even_when_started_as_root():
    """As root, mosquitto drops to its own user after reading its config; its folder was root's, so the
    persistence file was silently never written (found with the mutual-TLS files it could not read either)."""
    import os

    from jobs_connector.sandbox.mqtt_broker import MosquittoBroker

    broker = MosquittoBroker().start()
    try:
        broker.stop()  # mosquitto writes its persistence file on SIGTERM
        assert os.path.exists(os.path.join(broker.folder, "mosquitto.db"))
        with open(os.path.join(broker.folder, "mosquitto.log"), encoding="utf-8") as log:
            assert "Permission denied" not in log.read()
    finally:
        broker.close()
