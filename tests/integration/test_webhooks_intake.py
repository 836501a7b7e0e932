"""POST /hooks/<flow> over real HTTP: signature, replay, size, JSON, unknown flow, idempotent redelivery.
Refusals store nothing; acceptance is answered only after the event is stored."""

import http.client
import json
import time

import pytest

from jobs_connector.webhooks.signatures.jobs_hmac import sign
from tests.support.loopback import Reply
from tests.support.webhooks import HOOK_SECRET, UPDATE_STEP, InProcess, flow, get

EVENT = {"thing": "sensor-1", "job": "fw-42"}
DONE = {"executionState": {"status": "SUCCEEDED", "versionNumber": 2}}


@pytest.fixture
def api(aws_env, loopback, monkeypatch):
    """The loopback server stands in for the IoT Jobs data plane."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", loopback.url)
    loopback.default = Reply(200, DONE)
    return loopback


@pytest.fixture
def web(tmp_path):
    """The intake only (no workers): what is stored is exactly what was accepted."""
    with InProcess(tmp_path, {"flows": [flow("device-status", [UPDATE_STEP])]}, work=False, max_body=4096) as server:
        yield server


def stored(server) -> list:
    return server.store.list(limit=100)


def test_signed_event_is_accepted_stored_and_queued(web):
    status, answer = web.post("device-status", EVENT, headers={"X-Delivery-Id": "d-1", "User-Agent": "probe/1"})
    assert status == 202 and set(answer) == {"id"}
    [event] = stored(web)
    assert (event.id, event.status, event.body, event.delivery_id) == (answer["id"], "queued", EVENT, "d-1")
    assert event.headers["user-agent"] == "probe/1"
    assert "x-jobs-signature" not in event.headers  # the signature is never kept
    assert web.queue.waiting_ids() == {answer["id"]}


@pytest.mark.parametrize("case", ["bad", "missing", "stale", "future", "other-secret", "malformed"])
def test_bad_signatures_are_refused_with_401_and_nothing_is_stored(web, case):
    body = json.dumps(EVENT).encode()
    now = int(time.time())
    kwargs = {
        "bad": {"headers": {"X-Jobs-Signature": f"t={now},v1={'0' * 64}"}},
        "missing": {"signed": False},
        "stale": {"timestamp": now - 301},
        "future": {"timestamp": now + 301},
        "other-secret": {"secret": "another-secret-not-real-000000"},
        "malformed": {"headers": {"X-Jobs-Signature": "sha256=abc"}},
    }[case]
    status, answer = web.post("device-status", body, **kwargs)
    assert status == 401, answer
    assert "error" in answer and HOOK_SECRET not in json.dumps(answer)
    assert stored(web) == [] and web.queue.waiting_ids() == set()


def test_github_signature_header_alone_is_not_accepted(web):
    import hashlib
    import hmac

    body = json.dumps(EVENT).encode()
    digest = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    status, _ = web.post("device-status", body, signed=False, headers={"X-Hub-Signature-256": f"sha256={digest}"})
    assert status == 401 and stored(web) == []


def test_a_replayed_request_returns_the_same_event_and_is_not_queued_twice(web):
    body = json.dumps(EVENT).encode()
    now = int(time.time())
    first = web.post("device-status", body, timestamp=now)
    again = web.post("device-status", body, timestamp=now)
    assert first[0] == 202 and again == (200, {"id": first[1]["id"], "duplicate": True})
    # The identical request with an (unsigned) delivery id added by whoever replays it: refused, not run.
    forged = web.post("device-status", body, timestamp=now, headers={"X-Delivery-Id": "forged-1"})
    assert forged[0] == 409 and "sign the delivery id" in forged[1]["error"]
    assert len(stored(web)) == 1 and len(web.queue.huey.pending()) == 1


@pytest.mark.parametrize("header", ["X-Delivery-Id", "X-GitHub-Delivery"])
def test_redelivery_with_the_same_delivery_id_is_idempotent(web, header):
    first = web.post("device-status", EVENT, timestamp=int(time.time()) - 5, headers={header: "delivery-77"})
    # The sender redelivers later: new timestamp, new signature, same delivery id.
    second = web.post("device-status", EVENT, headers={header: "delivery-77"})
    assert first[0] == 202 and second == (200, {"id": first[1]["id"], "duplicate": True})
    other = web.post("device-status", EVENT, headers={header: "delivery-78"})
    assert other[0] == 202 and other[1]["id"] != first[1]["id"]
    assert len(stored(web)) == 2 and len(web.queue.huey.pending()) == 2


def test_concurrent_redeliveries_store_one_event(web):
    import concurrent.futures

    def send(_):
        return web.post("device-status", EVENT, headers={"X-Delivery-Id": "storm-1"})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    assert {a[1]["id"] for a in answers} == {answers[0][1]["id"]}
    assert sorted(a[0] for a in answers) == [200] * 15 + [202]
    assert len(stored(web)) == 1 and len(web.queue.huey.pending()) == 1


def test_oversized_body_gets_413_before_anything_is_read(web):
    body = json.dumps({**EVENT, "pad": "x" * 5000}).encode()
    host, port = web.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("POST", "/hooks/device-status", body=body, headers={"X-Jobs-Signature": sign(HOOK_SECRET, body)})
    assert conn.getresponse().status == 413  # waitress refuses it from the declared length
    conn.close()
    assert stored(web) == []


@pytest.mark.parametrize("body, message", [
    (b"not json", "not valid JSON"),
    (b'["a", "list"]', "JSON object"),
    (b'{"n": NaN}', "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_a_body_that_is_not_a_json_object_gets_400(web, body, message):
    status, answer = web.post("device-status", body)
    assert status == 400 and message in answer["error"]
    assert stored(web) == []


def test_unknown_flow_or_path_gets_404(web):
    assert web.post("no-such-flow", EVENT)[0] == 404
    assert web.post("../events", EVENT)[0] == 404
    assert get(web.url, "/events/" + "0" * 32)[0] == 404
    assert get(web.url, "/nothing")[0] == 404
    assert stored(web) == []


def test_malformed_delivery_id_gets_400(web):
    status, answer = web.post("device-status", EVENT, headers={"X-Delivery-Id": "has space"})
    assert status == 400 and "delivery id" in answer["error"]
    assert stored(web) == []


def chunked_post(web, body: bytes, chunk: int = 1000) -> int:
    host, port = web.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.putrequest("POST", "/hooks/device-status")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("X-Jobs-Signature", sign(HOOK_SECRET, body))
    # The chunks in one write: a server that answers 413 once the bound is passed and closes may otherwise
    # reset the connection under a sender still writing, before the answer is read (seen under load).
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + chunk]), body[i:i + chunk])
                      for i in range(0, len(body), chunk))
    conn.endheaders(chunks + b"0\r\n\r\n")
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_chunked_body_is_buffered_by_the_server_and_bounded(web):
    assert chunked_post(web, json.dumps(EVENT).encode()) == 202
    assert chunked_post(web, json.dumps({**EVENT, "pad": "x" * 5000}).encode()) == 413
    assert len(stored(web)) == 1


def test_body_without_content_length_gets_411(web):
    host, port = web.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.putrequest("POST", "/hooks/device-status")
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())["error"]
    conn.close()
    assert stored(web) == []


def test_keep_alive_connection_serves_many_requests(web):
    host, port = web.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    for i in range(5):
        body = json.dumps({**EVENT, "n": i}).encode()
        conn.request("POST", "/hooks/device-status", body=body, headers={"X-Jobs-Signature": sign(HOOK_SECRET, body)})
        response = conn.getresponse()
        response.read()
        assert response.status == 202
    conn.close()
    assert len(stored(web)) == 5


def test_healthz(web):
    assert get(web.url, "/healthz") == (200, {"status": "ok", "queue": "sqlite", "flows": ["device-status"]})


def test_store_failure_answers_503_and_promises_nothing(web, monkeypatch):
    def broken(event):
        raise OSError("disk full")

    monkeypatch.setattr(web.queue, "accept", broken)
    status, answer = web.post("device-status", EVENT)
    assert status == 503 and "again" in answer["error"]


def test_post_to_a_flow_with_a_query_string_and_other_methods(web):
    assert web.post("device-status", EVENT)[0] == 202
    host, port = web.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("PUT", "/hooks/device-status", body=b"{}")
    assert conn.getresponse().status == 405
    conn.close()
