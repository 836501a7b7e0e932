"""Issue 15: the replay window survives purges. A captured signed request replayed after `events purge`
(within its window) is recognised as the event it was and not run again; once the window has passed,
its delivery id is forgotten. Over real HTTP, with SQLite and with a real redis-server."""

import json
import time

import pytest

from jobs_connector.cli.main import main as cli_main
from jobs_connector.webhooks.signatures.jobs_hmac import sign
from tests.support.webhooks import HOOK_SECRET, UPDATE_STEP, InProcess, flow, redis_server, redis_url  # noqa: F401 - fixtures

BODY = json.dumps({"thing": "sensor-1", "job": "fw-42"}).encode()


@pytest.fixture(params=["sqlite", "redis"])
def web(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'queue.db'}" if request.param == "sqlite" else request.getfixturevalue("redis_url")
    with InProcess(tmp_path, {"flows": [flow("reboot", [UPDATE_STEP])]}, url, work=False, tolerance=300) as server:
        yield server


def finish_and_purge(web, event_id: str) -> None:
    event = web.store.get(event_id)
    event.status = "succeeded"
    assert web.store.save(event)
    assert cli_main(["events", "--queue", web.queue.url, "purge"]) == 0
    assert web.store.get(event_id) is None and web.store.counts() == {}


@pytest.mark.parametrize("headers", [{}, {"X-Delivery-Id": "dev-0001"}], ids=["fingerprint", "delivery-id"])
def test_a_captured_request_replayed_after_a_purge_is_not_run_again(web, headers):
    captured = {**headers, "X-Jobs-Signature": sign(HOOK_SECRET, BODY)}
    status, answer = web.post("reboot", BODY, signed=False, headers=captured)
    assert status == 202
    while web.queue.huey.dequeue() is not None:  # what a worker would take
        pass
    finish_and_purge(web, answer["id"])
    replay = web.post("reboot", BODY, signed=False, headers=captured)
    assert replay == (200, {"id": answer["id"], "duplicate": True})
    assert web.store.counts() == {} and web.queue.huey.dequeue() is None  # nothing stored, nothing queued


def test_once_the_window_has_passed_a_purged_delivery_id_is_forgotten(web):
    old = int(time.time()) - 290  # signed 290 s ago: its 300 s window ends in 10 s
    status, answer = web.post("reboot", BODY, timestamp=old, headers={"X-Delivery-Id": "dev-0002"})
    assert status == 202
    event = web.store.get(answer["id"])
    assert event.replay_until == old + 300
    event.replay_until = time.time() - 1  # as if the window had passed before the purge
    event.status = "succeeded"
    assert web.store.save(event)
    assert cli_main(["events", "--queue", web.queue.url, "purge"]) == 0
    again = web.post("reboot", BODY, headers={"X-Delivery-Id": "dev-0002"})  # a fresh signature, same id
    assert again[0] == 202 and again[1]["id"] != answer["id"]
