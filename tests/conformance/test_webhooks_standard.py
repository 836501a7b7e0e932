"""Signing per flow, over real HTTP: Standard Webhooks (sent by the `standardwebhooks` package itself) beside
X-Jobs-Signature, one secret per flow (a request signed for one flow is never accepted by another),
signed delivery ids, and what a refused GitHub signature is told."""

import base64
import datetime
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from jobs_connector.webhooks.flows import FlowFileError, build
from jobs_connector.webhooks.intake.handler import verifiers
from jobs_connector.webhooks.signatures.jobs_hmac import sign
from tests.support.webhooks import HOOK_SECRET, UPDATE_STEP, InProcess, flow

EVENT = {"thing": "sensor-1", "job": "fw-42"}
STANDARD_SECRET = "whsec_" + base64.b64encode(b"test-standard-key-not-real-000001").decode()
STANDARD_ENV = "TEST_STANDARD_SECRET"
OTHER_ENV = "TEST_OTHER_SECRET"


def standard_flow(name="device-standard"):
    return {"name": name, "secret_env": STANDARD_ENV, "signing": "standard-webhooks", "steps": [UPDATE_STEP]}


@pytest.fixture
def web(tmp_path):
    flows = {"flows": [flow("device-status", [UPDATE_STEP]), standard_flow()]}
    with InProcess(tmp_path, flows, work=False, environ={STANDARD_ENV: STANDARD_SECRET}) as server:
        yield server


def standard_headers(body: bytes, msg_id: str, secret: str = STANDARD_SECRET, at: float | None = None) -> dict:
    """What a Standard Webhooks sender puts on the request, made by the reference package."""
    when = datetime.datetime.fromtimestamp(time.time() if at is None else at, tz=datetime.UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": signature}


def test_standard_webhooks_request_from_the_reference_sender_is_accepted_with_webhook_id_as_delivery_id(web):
    body = json.dumps(EVENT).encode()
    status, answer = web.post("device-standard", body, signed=False, headers=standard_headers(body, "msg_2Kx1"))
    assert status == 202, answer
    event = web.store.get(answer["id"])
    assert (event.delivery_id, event.body, event.fingerprint) == ("msg_2Kx1", EVENT, None)
    assert "webhook-signature" not in event.headers


def test_standard_webhooks_redelivery_is_one_event_and_each_id_is_its_own_event(web):
    body = json.dumps(EVENT).encode()
    now = time.time()
    first = web.post("device-standard", body, signed=False, headers=standard_headers(body, "msg_1", at=now))
    again = web.post("device-standard", body, signed=False, headers=standard_headers(body, "msg_1", at=now))
    other = web.post("device-standard", body, signed=False, headers=standard_headers(body, "msg_2", at=now))
    assert first[0] == 202 and again == (200, {"id": first[1]["id"], "duplicate": True})
    assert other[0] == 202 and other[1]["id"] != first[1]["id"]
    assert len(web.store.list()) == 2


@pytest.mark.parametrize("case", ["wrong-secret", "stale", "changed-id", "missing", "jobs-header"])
def test_standard_webhooks_refusals(web, case):
    body = json.dumps(EVENT).encode()
    other = "whsec_" + base64.b64encode(b"another-standard-key-not-real-01").decode()
    headers = {
        "wrong-secret": standard_headers(body, "msg_1", secret=other),
        "stale": standard_headers(body, "msg_1", at=time.time() - 301),
        "changed-id": {**standard_headers(body, "msg_1"), "webhook-id": "msg_2"},
        "missing": {},
        "jobs-header": {"X-Jobs-Signature": sign(STANDARD_SECRET, body)},
    }[case]
    status, answer = web.post("device-standard", body, signed=False, headers=headers)
    assert status == 401, answer
    assert web.store.list() == []


def test_a_request_signed_for_one_flow_is_never_accepted_by_another(web):
    body = json.dumps(EVENT).encode()
    # Signed right for device-standard, sent to device-status, and the other way round.
    assert web.post("device-status", body, signed=False, headers=standard_headers(body, "msg_9"))[0] == 401
    assert web.post("device-standard", body)[0] == 401
    assert web.store.list() == []


def test_two_flows_with_the_same_secret_are_refused_at_start(tmp_path):
    flows = {"flows": [flow("harmless", [UPDATE_STEP]), {**flow("reboot", [UPDATE_STEP]), "secret_env": OTHER_ENV}]}
    with pytest.raises(FlowFileError) as error:
        InProcess(tmp_path, flows, work=False, environ={OTHER_ENV: HOOK_SECRET}).__enter__()
    assert error.value.rule == "secret-shared"
    assert "'harmless' and 'reboot'" in error.value.message and HOOK_SECRET not in error.value.message


def test_the_signing_key_is_checked_when_the_flows_file_is_loaded():
    data = {"flows": [{**standard_flow(), "signing": "hmac-sha1"}]}
    with pytest.raises(FlowFileError) as error:
        build(data, environ={STANDARD_ENV: STANDARD_SECRET})
    assert error.value.field == "flows[0].signing"
    assert "standard-webhooks" in error.value.message and "x-jobs-signature" in error.value.message


@pytest.mark.parametrize("secret, message", [
    ("whsec_not*base64*at*all*********", "base64"),
    ("whsec_" + base64.b64encode(b"too-short-key-16").decode(), "24 bytes"),
])
def test_a_standard_webhooks_flow_needs_a_whsec_secret(secret, message):
    flows = build({"flows": [standard_flow()]}, environ={STANDARD_ENV: secret})
    with pytest.raises(FlowFileError) as error:
        verifiers(flows)
    assert error.value.rule == "secret-format" and message in error.value.message
    assert secret not in error.value.message


def test_a_refused_github_signature_is_told_what_is_accepted(web):
    body = json.dumps(EVENT).encode()
    digest = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    github = {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": "gh-1"}
    status, answer = web.post("device-status", body, signed=False, headers=github)
    assert status == 401 and "X-Hub-Signature-256 is not accepted" in answer["error"]
    assert "X-Jobs-Signature: t=<unix seconds>,v1=" in answer["error"]
    status, answer = web.post("device-standard", body, signed=False, headers=github)
    assert status == 401 and "webhook-signature" in answer["error"]
    assert web.store.list() == []


def test_signed_delivery_ids_same_body_same_second_are_two_events(web):
    body = json.dumps(EVENT).encode()
    now = int(time.time())
    answers = [web.post("device-status", body, signed=False, headers={
        "X-Delivery-Id": d, "X-Jobs-Signature": sign(HOOK_SECRET, body, now, delivery_id=d)}) for d in ("d-1", "d-2")]
    assert [a[0] for a in answers] == [202, 202] and answers[0][1]["id"] != answers[1][1]["id"]
    assert sorted(e.delivery_id for e in web.store.list()) == ["d-1", "d-2"]
    # A signed id cannot be swapped: the signature no longer matches.
    swapped = {"X-Delivery-Id": "d-3", "X-Jobs-Signature": sign(HOOK_SECRET, body, now, delivery_id="d-1")}
    assert web.post("device-status", body, signed=False, headers=swapped)[0] == 401


def test_unsigned_delivery_ids_same_body_same_second_are_never_merged_silently(web):
    body = json.dumps(EVENT).encode()
    now = int(time.time())
    first = web.post("device-status", body, timestamp=now, headers={"X-Delivery-Id": "u-1"})
    second = web.post("device-status", body, timestamp=now, headers={"X-Delivery-Id": "u-2"})
    assert first[0] == 202 and second[0] == 409 and "sign the delivery id" in second[1]["error"]
    assert [e.delivery_id for e in web.store.list()] == ["u-1"]
