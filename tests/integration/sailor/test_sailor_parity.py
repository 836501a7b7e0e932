"""Where the runner follows the official Node sailor (elasticio-sailor-nodejs 2.7.8): a failed publish of the
error about a failed publish, lightweight messages fetched from a loopback object store over real HTTP, and
the side-effect rules through the platform (a non-idempotent call whose outcome is unknown is an error, never
a rebound; a drifted 2xx answer is data). tests/integration/sailor/test_sailor_node_reference.py runs the Node sailor
itself on the same scenarios."""

from __future__ import annotations

import json
import threading
import time

import pytest

from jobs_connector.component.registry import get_action
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime, process
from jobs_connector.sailor.crypto import MessageCipher
from jobs_connector.sailor.messages import StepData
from jobs_connector.sailor.object_storage import OBJECT_ID_HEADER, ObjectStorage, ObjectStorageError
from tests.integration.sailor.conftest import CRYPTO_IV
from tests.integration.sailor.test_sailor_broker import PENDING, serve, step_for
from tests.integration.test_outcome_unknown import AMBIGUOUS, NOT_IDEMPOTENT
from tests.support.inputs import input_for
from tests.support.loopback import Reply
from tests.support.object_store import STORE_TOKEN, FakeObjectStore, store_env
from tests.support.rawhttp import RawServer
from tests.support.targets import config_for

# -- a failure while publishing the error about a failed publish ------------------------------------------


def test_a_failed_error_publish_after_a_failed_publish_is_logged_and_the_runner_goes_on(platform, loopback, caplog):
    """The data message is over the size limit (the broker never sees it), and the error about it is
    unroutable: Node only logs the second failure, rejects the input and takes the next message."""
    loopback.default = Reply(200, PENDING)
    first = platform.send({"body": {"thingName": "thing-1"}})
    second = platform.send({"body": {"thingName": "thing-2"}})
    serve(platform, step_for(loopback), 2, ELASTICIO_OUTGOING_MESSAGE_SIZE_LIMIT="10",
          ELASTICIO_ERROR_ROUTING_KEY="no-queue-is-bound-to-this-key")

    dead = platform.take("dead", 2)  # both inputs rejected, not requeued: dead-lettered by the queue
    assert {d.headers["messageId"] for d in dead} == {first, second}
    assert len(loopback.requests) == 2  # the runner survived the first message and served the second
    assert (platform.ready("data"), platform.ready("error"), platform.ready("input")) == (0, 0, 0)
    assert "publishing the error about it failed too" in caplog.text


# -- lightweight messages ---------------------------------------------------------------------------------


def test_a_lightweight_body_is_fetched_before_the_action_runs(platform, loopback, store):
    loopback.script.append(Reply(200, PENDING))
    store.put("obj-1", {"thingName": "thing-1"})
    platform.send({"body": {}, "headers": {OBJECT_ID_HEADER: "obj-1"}})
    serve(platform, step_for(loopback), 1, **store_env(store))

    [got] = store.requests
    assert (got.method, got.path) == ("GET", "/objects/obj-1")
    assert got.headers["Authorization"] == f"Bearer {STORE_TOKEN}"
    assert got.headers["x-request-id"] == "f:flow-1;s:step_2;m:"  # as maester-client builds it
    [request] = loopback.requests
    assert request.path == "/things/thing-1/jobs"  # the action ran with the fetched body
    [out] = platform.take("data")
    assert out.value["body"] == PENDING
    assert (platform.ready("error"), platform.ready("dead")) == (0, 0)


def test_pass_through_bodies_are_fetched_too(platform, loopback, store):
    seen = []

    def process(key, msg, cfg, emit):
        seen.append(msg)
        emit("data", {"body": {"ok": True}})
        emit("end", {})

    store.put("obj-body", {"thingName": "thing-1"})
    store.put("obj-step-1", {"from": "trigger"})
    platform.send({"body": {}, "headers": {OBJECT_ID_HEADER: "obj-body"},
                   "passthrough": {"step_1": {"body": {}, "headers": {OBJECT_ID_HEADER: "obj-step-1"}},
                                   "step_0": {"body": {"kept": 1}, "headers": {}}}})
    serve(platform, step_for(loopback, is_passthrough=True), 1, process=process, **store_env(store))

    [msg] = seen
    assert msg["body"] == {"thingName": "thing-1"}
    assert msg["passthrough"]["step_1"]["body"] == {"from": "trigger"}
    assert msg["passthrough"]["step_0"]["body"] == {"kept": 1}
    assert sorted(r.path for r in store.requests) == ["/objects/obj-body", "/objects/obj-step-1"]
    [out] = platform.take("data")
    assert out.value["passthrough"]["step_1"]["body"] == {"from": "trigger"}


def test_a_message_without_the_header_never_calls_the_object_store(platform, loopback, store):
    loopback.script.append(Reply(200, PENDING))
    platform.send({"body": {"thingName": "thing-1"}, "headers": {}})
    serve(platform, step_for(loopback), 1, **store_env(store))
    assert store.requests == []
    platform.take("data")


@pytest.mark.parametrize("fault, tries, said", [
    (Reply(404, {"message": "object not found"}), 1, "HTTP 404"),  # a 4xx is not tried again
    (Reply(302, b"", {"Location": "http://127.0.0.1:9/elsewhere"}), 1, "HTTP 302"),  # redirects not followed
    (Reply(503, {"message": "busy"}), 3, "HTTP 503 after 3 attempt(s)"),  # maester-client: 2 retries on 5xx
    (None, 3, "ConnectionError"),  # closed without an answer, every time
])
def test_a_failed_fetch_is_an_error_and_nothing_reaches_the_service(platform, loopback, store, caplog, fault, tries,
                                                                     said):
    store.put("obj-1", {"thingName": "thing-1"})
    store.faults.extend([fault] * 3)
    platform.send({"body": {}, "headers": {OBJECT_ID_HEADER: "obj-1"}})
    serve(platform, step_for(loopback), 1, **store_env(store))

    assert len(store.requests) == tries
    assert loopback.requests == []  # the action never ran
    [err] = platform.take("error")
    message = err.value["error"]["message"]
    assert message.startswith("Failed to get message body with id=obj-1: ")  # Node's wording, then why
    assert said in message
    assert err.value["errorInput"]["headers"] == {OBJECT_ID_HEADER: "obj-1"}
    assert "end" in err.headers
    [dead] = platform.take("dead")  # rejected after the error, as Node does
    assert dead.value["headers"] == {OBJECT_ID_HEADER: "obj-1"}
    assert platform.ready("data") == platform.ready("rebound") == 0
    assert STORE_TOKEN not in caplog.text and STORE_TOKEN not in json.dumps(err.value)


@pytest.mark.parametrize("object_id, env_drop, said", [
    ("../../v1/tasks", None, "is not an object id"),
    ("..", None, "is not an object id"),
    ("obj-1", "ELASTICIO_OBJECT_STORAGE_URI", "ELASTICIO_OBJECT_STORAGE_URI is not set"),
    ("obj-1", "ELASTICIO_OBJECT_STORAGE_TOKEN", "ELASTICIO_OBJECT_STORAGE_TOKEN is not set"),
])
def test_a_bad_reference_or_missing_settings_fail_before_any_request(platform, loopback, store, object_id, env_drop,
                                                                    said):
    platform.send({"body": {}, "headers": {OBJECT_ID_HEADER: object_id}})
    env = store_env(store)
    if env_drop:
        env[env_drop] = ""
    serve(platform, step_for(loopback), 1, **env)
    assert store.requests == [] and loopback.requests == []
    [err] = platform.take("error")
    assert said in err.value["error"]["message"]
    assert platform.ready("dead") == 1


def test_an_object_sealed_with_another_key_is_refused(platform, loopback, store):
    store.objects["obj-1"] = MessageCipher("another-password-not-real", CRYPTO_IV).encode({"thingName": "x"}, 2)
    platform.send({"body": {}, "headers": {OBJECT_ID_HEADER: "obj-1"}})
    serve(platform, step_for(loopback), 1, **store_env(store))
    [err] = platform.take("error")
    assert "not a message body encrypted for this step" in err.value["error"]["message"]
    assert loopback.requests == []


# -- the fetch's bounds, over real HTTP -------------------------------------------------------------------


def _storage(store: FakeObjectStore, **kw) -> ObjectStorage:
    return ObjectStorage(store.server.url, STORE_TOKEN, store.cipher, sleep=lambda _s: None, **kw)


def test_an_object_over_the_size_bound_is_refused_while_reading(store):
    store.put("big", {"blob": "x" * 5000})
    with pytest.raises(ObjectStorageError, match="larger than 1024 bytes"):
        _storage(store, max_bytes=1024).get("big")
    assert _storage(store, max_bytes=8192).get("big") == {"blob": "x" * 5000}


def test_a_store_that_does_not_answer_in_time_gives_up_within_the_bound(store):
    release = threading.Event()

    def slow(_request):
        release.wait(5)
        return Reply(200, b"")

    store.faults.extend([slow] * 2)
    started = time.monotonic()
    try:
        with pytest.raises(ObjectStorageError, match=r"no answer within 0.3 s after 2 attempt"):
            _storage(store, timeout=0.3, retries=1).get("obj-1")
    finally:
        release.set()
    assert len(store.requests) == 2
    assert time.monotonic() - started < 4  # two bounded attempts, not the server's 5 s


def test_5xx_is_tried_twice_more_with_maester_clients_backoff(store):
    waits = []
    store.faults.extend([Reply(503, {"message": "busy"})] * 2)
    store.put("obj-1", {"ok": True})
    storage = ObjectStorage(store.server.url, STORE_TOKEN, store.cipher, sleep=waits.append, rng=lambda: 1.0)
    assert storage.get("obj-1") == {"ok": True}
    assert len(store.requests) == 3
    assert waits == pytest.approx([0.12, 0.24])  # 100 ms, 200 ms, each plus (at most) 20 %


def test_the_repr_keeps_the_token_out(store):
    assert STORE_TOKEN not in repr(_storage(store))


# -- side effects through the platform --------------------------------------------------------------------

def test_an_unknown_outcome_is_an_error_not_a_rebound_and_the_call_is_sent_once(looping_platform, loopback):
    """CreateJobForDevices (a reboot here) is not idempotent: the server reads it, then closes without
    answering. Rebounds are on (the rebound queue feeds the step's queue again after 50 ms), yet the service
    sees exactly one request and the platform gets an error."""
    platform = looping_platform
    loopback.default = lambda _request: None
    platform.send({"body": {"DeviceIds": ["device-1"], "JobType": "REBOOT"}})
    serve(platform, step_for(loopback), 1, ELASTICIO_FUNCTION="panorama.CreateJobForDevices",
          ELASTICIO_REBOUND_INITIAL_EXPIRATION="50")
    time.sleep(0.5)  # a rebound, had there been one, would be back in the input queue by now

    assert len(loopback.requests) == 1
    assert (platform.ready("rebound"), platform.ready("input"), platform.ready("data")) == (0, 0, 0)
    [err] = platform.take("error")
    assert err.value["error"]["name"] == "OutcomeUnknown"
    assert "panorama.ListDevicesJobs" in err.value["error"]["message"]


def test_a_drifted_answer_is_a_data_message_as_sent_and_a_warning_in_the_log(platform, loopback, caplog):
    execution = {"jobId": "job-1", "thingName": "thing-1", "status": "PAUSED", "versionNumber": 1,
                 "executionNumber": 1}  # PAUSED: a status the output schema does not know
    loopback.script.append(Reply(200, {"execution": execution}))
    platform.send({"body": {"thingName": "thing-1", "jobId": "job-1"}})
    serve(platform, step_for(loopback), 1, ELASTICIO_FUNCTION="iot-jobs-data.DescribeJobExecution")
    [out] = platform.take("data")
    assert out.value["body"] == {"execution": execution}
    assert (platform.ready("error"), platform.ready("dead")) == (0, 0)
    assert "PAUSED" in caplog.text  # the drift, said in the platform log


UNKNOWN_OUTCOME_CASES = ([(action, "closed without an answer") for action in NOT_IDEMPOTENT]
                         + [(get_action("panorama.CreateJobForDevices"), fault) for fault in AMBIGUOUS
                            if fault != "closed without an answer"])


@pytest.mark.parametrize("action, fault", UNKNOWN_OUTCOME_CASES, ids=lambda v: getattr(v, "key", v))
def test_every_unsafe_action_and_ambiguous_fault_is_sent_once_through_the_runner(platform, aws_env, action, fault):
    """The fault matrix of tests/integration/test_outcome_unknown.py through the AMQP runner: every action that is not
    safe to repeat under one fault, every ambiguous fault under one action. A rebound would wait in the
    rebound queue (60 s), so an empty one right after the message is settled proves there was none."""
    reply, options = AMBIGUOUS[fault]

    def process_with(key, msg, cfg, emit):
        process(key, msg, cfg, emit, runtime=Runtime(transport=Transport(**options)))

    with RawServer(lambda request: reply()) as server:
        platform.send({"body": input_for(action)})
        serve(platform, StepData(id="step_2", config=config_for(action, server.url)), 1, process=process_with,
              ELASTICIO_FUNCTION=action.key, ELASTICIO_REBOUND_INITIAL_EXPIRATION="60000")
        assert len(server.requests) == 1
    assert (platform.ready("rebound"), platform.ready("data"), platform.ready("input")) == (0, 0, 0)
    [err] = platform.take("error")
    assert err.value["error"]["name"] == "OutcomeUnknown"
    assert action.spec("CHECK_WITH") in err.value["error"]["message"]
    platform.take("dead")  # an error of the message: rejected, as Node does after an error
