"""The MQTT transport's parts without a broker: the presigned WebSocket URL against botocore's SigV4 query
signer, the settings' refusals (named field, nothing connected), the topic table and the rejected codes."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit

import pytest

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.base.errors import (
    ConfigurationError,
    Conflict,
    NotFound,
    OutcomeUnknown,
    RequestRejected,
    Throttled,
)
from jobs_connector.mqtt import topics
from jobs_connector.mqtt.presign import presigned_path
from jobs_connector.mqtt.settings import mqtt_settings, wants_mqtt

HOST = "a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com"
WHEN = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE+/session=="])
def test_the_presigned_websocket_url_is_botocores(token):
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    ours = presigned_path(AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token), HOST, "eu-central-1",
                          now=WHEN, expires=300)
    request = AWSRequest(method="GET", url=f"https://{HOST}/mqtt")
    signer = SigV4QueryAuth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG"), "iotdevicegateway", "eu-central-1",
                            expires=300)
    import unittest.mock

    with unittest.mock.patch("botocore.auth.get_current_datetime", lambda: WHEN.replace(tzinfo=None)):
        signer.add_auth(request)  # botocore's clock, pinned
    theirs = dict(parse_qsl(urlsplit(request.url).query))
    mine = dict(parse_qsl(urlsplit(ours).query))
    assert mine.pop("X-Amz-Security-Token", None) == token  # appended after signing, as AWS IoT wants
    assert mine == theirs
    assert mine["X-Amz-Credential"].endswith("/20261206/eu-central-1/iotdevicegateway/aws4_request")


@pytest.mark.parametrize("cfg, field", [
    ({}, "mqttEndpoint"),
    ({"mqttEndpoint": "mqtt://broker.example.com"}, "mqttEndpoint"),  # no TLS off loopback
    ({"mqttEndpoint": "http://broker.example.com"}, "mqttEndpoint"),
    ({"mqttEndpoint": "mqtts://user:pw@broker.example.com"}, "mqttEndpoint"),
    ({"mqttEndpoint": HOST}, "certificateFile"),  # mutual TLS without the certificate
    ({"mqttEndpoint": HOST, "certificateFile": __file__}, "privateKeyFile"),
    ({"mqttEndpoint": HOST, "certificateFile": "/no/such/file"}, "certificateFile"),
    ({"mqttEndpoint": "mqtt://127.0.0.1:1883", "mqttTimeout": 0}, "mqttTimeout"),
])
def test_bad_settings_name_their_field(cfg, field):
    with pytest.raises(ConfigurationError) as refused:
        mqtt_settings(cfg, {})
    assert refused.value.field == field


def test_settings_read_the_three_ways_to_connect():
    tls = mqtt_settings({"mqttEndpoint": HOST, "certificateFile": __file__, "privateKeyFile": __file__}, {})
    assert (tls.host, tls.port, tls.auth, tls.websockets) == (HOST, 8883, "certificate", False)
    sigv4 = mqtt_settings({}, {"AWS_IOT_MQTT_ENDPOINT": f"wss://{HOST}/mqtt"})
    assert (sigv4.port, sigv4.auth, sigv4.websockets) == (443, "sigv4", True)
    loop = mqtt_settings({"mqttEndpoint": "mqtt://127.0.0.1:18830", "mqttClientId": "dev-1"}, {})
    assert (loop.port, loop.auth, loop.client_id) == (18830, "none", "dev-1")
    assert wants_mqtt({"transport": "mqtt"}) and not wants_mqtt({})
    with pytest.raises(ConfigurationError):
        wants_mqtt({"transport": "carrier-pigeon"})


def test_the_topics_are_the_documented_ones():
    body = {"thingName": "dev-1", "jobId": "job-7", "status": "SUCCEEDED", "expectedVersion": 3}
    assert topics.OPERATIONS["UpdateJobExecution"].request_topic(body) == "$aws/things/dev-1/jobs/job-7/update"
    assert topics.OPERATIONS["DescribeJobExecution"].request_topic({"thingName": "d", "jobId": "$next"}) == \
        "$aws/things/d/jobs/$next/get"
    assert topics.OPERATIONS["GetPendingJobExecutions"].request_topic(body) == "$aws/things/dev-1/jobs/get"
    assert topics.OPERATIONS["StartNextPendingJobExecution"].request_topic(body) == "$aws/things/dev-1/jobs/start-next"
    assert topics.OPERATIONS["UpdateJobExecution"].request_payload(body, "tok") == {
        "status": "SUCCEEDED", "expectedVersion": 3, "clientToken": "tok"}
    assert topics.parse_jobs_topic("$aws/things/dev-1/jobs/job-7/update") == ("dev-1", "job-7/update")
    assert topics.parse_jobs_topic("other/topic") is None


@pytest.mark.parametrize("code, kind, retryable", [
    ("ResourceNotFound", NotFound, False), ("VersionMismatch", Conflict, False),
    ("InvalidStateTransition", Conflict, False), ("TerminalStateReached", Conflict, False),
    ("InvalidRequest", RequestRejected, False), ("InvalidJson", RequestRejected, False),
    ("RequestThrottled", Throttled, True),
])
def test_rejected_codes_are_typed_errors(code, kind, retryable):
    error = topics.rejected_error(topics.OPERATIONS["DescribeJobExecution"], {"code": code, "message": "m"})
    assert isinstance(error, kind) and error.code == code and error.retryable is retryable


def test_an_internal_error_of_an_update_is_an_unknown_outcome():
    update = topics.OPERATIONS["UpdateJobExecution"]
    assert isinstance(topics.rejected_error(update, {"code": "InternalError", "message": "m"}), OutcomeUnknown)
    describe = topics.OPERATIONS["DescribeJobExecution"]
    assert topics.rejected_error(describe, {"code": "InternalError", "message": "m"}).retryable is True


def test_answers_read_as_the_https_api_gives_them():
    accepted = {"clientToken": "t", "timestamp": 1, "execution": {"jobId": "j", "jobDocument": {"a": 1}}}
    assert topics.answer_body(accepted) == {"execution": {"jobId": "j", "jobDocument": '{"a": 1}'}}
