"""The envelope and headers, as pure functions (the broker tests check them on the wire)."""

from __future__ import annotations

import json

from jobs_connector.sailor import messages as m
from jobs_connector.sailor.crypto import MessageCipher
from jobs_connector.sailor.settings import REQUIRED_ALWAYS, REQUIRED_FOR_MESSAGES, read_settings

ENV = {f"ELASTICIO_{name}": name.lower() for name in REQUIRED_ALWAYS + REQUIRED_FOR_MESSAGES}
ENV["ELASTICIO_MESSAGE_CRYPTO_IV"] = "0123456789abcdef"
SETTINGS = read_settings(ENV)
CIPHER = MessageCipher("pw", "0123456789abcdef")


def test_incoming_headers_keep_meta_thread_and_ids():
    kept = m.incoming_headers({"messageId": "m1", "parentMessageId": "p0", "X-EIO-META-Tenant": "t",
                               "x-eio-meta-trace-id": "trace", "reply_to": "reply.q", "stepId": "step_1",
                               "execId": "other", "unrelated": "dropped"})
    assert kept == {"stepId": "step_1", "x-eio-meta-tenant": "t", "x-eio-meta-trace-id": "trace",
                    "threadId": "trace", "messageId": "m1", "parentMessageId": "p0", "reply_to": "reply.q"}


def test_a_new_thread_is_started_when_none_is_given():
    assert m.incoming_headers({}, new_id=lambda: "fresh")["threadId"] == "fresh"


def test_outgoing_headers_name_this_step_and_chain_the_ids():
    base = m.outgoing_headers(SETTINGS, {"messageId": "m1", "threadId": "t1", "stepId": "step_1"}, start=5)
    assert base["parentMessageId"] == "m1" and base["messageId"] != "m1" and base["threadId"] == "t1"
    assert (base["stepId"], base["taskId"], base["execId"], base["function"], base["start"]) == (
        "step_id", "flow_id", "exec_id", "function", 5)


def test_data_message_envelope_and_passthrough_of_the_previous_step():
    from dataclasses import replace

    settings = replace(SETTINGS, no_self_passthrough=True)
    step = m.StepData(id="step_id", config={}, is_passthrough=True)
    payload = {"body": {"in": 1}, "headers": {}, "passthrough": {"step_0": {"body": {}}}}
    out = m.data_message(settings, step, CIPHER, {"body": {"out": 2}}, payload, {"stepId": "step_1"},
                         {"messageId": "x"})
    value = CIPHER.decode(out.body, 1)
    assert value["body"] == {"out": 2} and value["id"] == out.headers["messageId"] != "x"
    assert value["passthrough"] == {"step_0": {"body": {}}, "step_1": {"body": {"in": 1}, "headers": {}}}


def test_error_payload_carries_error_and_input_as_base64_whatever_the_version():
    original_v2 = CIPHER.encode({"body": {"a": 1}}, 2)
    [err, reply] = m.error_messages(SETTINGS, CIPHER, {"type": "Conflict", "message": "nope", "status": 409,
                                                       "code": "InvalidStateTransitionException"},
                                    {"messageId": "x", "reply_to": "reply.q"}, original_v2, 2)
    payload = json.loads(err.body)
    assert CIPHER.decode(payload["errorInput"].encode(), 1) == {"body": {"a": 1}}
    error = CIPHER.decode(payload["error"].encode(), 1)
    assert error["name"] == "Conflict" and "HTTP 409" in error["stack"]
    assert err.routing_key == "error_routing_key"
    assert reply.routing_key == "reply.q" and reply.headers[m.ERROR_RESPONSE_HEADER] is True
    assert reply.body.decode() == payload["error"]


def test_error_input_of_protocol_1_is_the_original_text():
    original = CIPHER.encode({"body": {}}, 1)
    [err] = m.error_messages(SETTINGS, CIPHER, {"type": "X", "message": "y"}, {}, original, 1)
    assert json.loads(err.body)["errorInput"] == original.decode()


def test_rebound_iteration_and_expiration():
    assert m.rebound_iteration({}) == 1
    assert m.rebound_iteration({"reboundIteration": 4}) == 5
    assert m.rebound_iteration({"reboundIteration": "2"}) == 3
    assert m.rebound_iteration({"reboundIteration": "x"}) == 1
    out = m.rebound_message(SETTINGS, "busy", b"content", {"messageId": "m1"}, {"priority": None}, 3)
    assert out.expiration == str(4 * 15000)
    assert out.headers["reboundIteration"] == 3 and out.headers["reboundReason"] == "busy"
    assert out.body == b"content" and out.routing_key == "rebound_routing_key"
