"""Which ELASTICIO_* variables the runner needs, their defaults, and how it refuses a bad environment."""

from __future__ import annotations

import pytest

from jobs_connector.sailor.settings import (
    REQUIRED_ALWAYS,
    REQUIRED_FOR_MESSAGES,
    SettingsError,
    camel_case,
    read_service_settings,
    read_settings,
)

BASE = {f"ELASTICIO_{name}": f"value-{name.lower()}" for name in REQUIRED_ALWAYS + REQUIRED_FOR_MESSAGES}
BASE["ELASTICIO_MESSAGE_CRYPTO_IV"] = "0123456789abcdef"


def test_complete_environment_with_the_sailors_defaults():
    s = read_settings(BASE)
    assert (s.flow_id, s.step_id, s.function) == ("value-flow_id", "value-step_id", "value-function")
    assert (s.data_routing_key, s.rebound_routing_key) == ("value-data_routing_key", "value-rebound_routing_key")
    assert (s.rebound_limit, s.rebound_initial_expiration, s.prefetch, s.protocol_version) == (20, 15000, 1, 1)
    assert s.publish_retry_attempts is None and s.persistent_messages is False
    assert s.outgoing_message_size_limit == 10485760


@pytest.mark.parametrize("name", REQUIRED_ALWAYS + REQUIRED_FOR_MESSAGES)
def test_each_required_variable_is_required(name):
    env = {k: v for k, v in BASE.items() if k != f"ELASTICIO_{name}"}
    with pytest.raises(SettingsError) as caught:
        read_settings(env)
    assert f"ELASTICIO_{name}" in caught.value.message
    assert caught.value.exit_code == 2


def test_all_missing_are_named_at_once_and_no_secret_is_shown():
    env = dict(BASE)
    del env["ELASTICIO_AMQP_URI"], env["ELASTICIO_STEP_ID"]
    env["ELASTICIO_MESSAGE_CRYPTO_PASSWORD"] = "super-secret-crypto-pass"
    with pytest.raises(SettingsError) as caught:
        read_settings(env)
    assert "ELASTICIO_AMQP_URI" in caught.value.message and "ELASTICIO_STEP_ID" in caught.value.message
    assert "super-secret-crypto-pass" not in caught.value.message


def test_the_shutdown_hook_needs_no_broker_settings():
    env = {k: v for k, v in BASE.items() if k[len("ELASTICIO_"):] in REQUIRED_ALWAYS}
    env["ELASTICIO_HOOK_SHUTDOWN"] = "1"
    assert read_settings(env).hook_shutdown is True


@pytest.mark.parametrize(("extra", "fragment"), [
    ({"ELASTICIO_MESSAGE_CRYPTO_IV": "short"}, "MESSAGE_CRYPTO_IV must be 16 bytes"),
    ({"ELASTICIO_REBOUND_LIMIT": "many"}, "REBOUND_LIMIT must be a whole number"),
    ({"ELASTICIO_RABBITMQ_PREFETCH_SAILOR": "0"}, "RABBITMQ_PREFETCH_SAILOR must be at least 1"),
    ({"ELASTICIO_PROTOCOL_VERSION": "3"}, "PROTOCOL_VERSION must be 1 or 2"),
    ({"ELASTICIO_INPUT_FORMAT": "error"}, "not an error-handling step"),
])
def test_malformed_values_are_refused(extra, fragment):
    with pytest.raises(SettingsError) as caught:
        read_settings({**BASE, **extra})
    assert fragment in caught.value.message


def test_flags_follow_the_sailor_rules():
    assert read_settings({**BASE, "ELASTICIO_AMQP_PERSISTENT_MESSAGES": "true"}).persistent_messages is True
    assert read_settings({**BASE, "ELASTICIO_AMQP_PERSISTENT_MESSAGES": "false"}).persistent_messages is False
    assert read_settings({**BASE, "ELASTICIO_NO_ERROR_REPLIES": ""}).no_error_replies is False
    assert read_settings({**BASE, "ELASTICIO_NO_SELF_PASSTRHOUGH": "1"}).no_self_passthrough is True


def test_numbers_and_unlimited_publish_retries():
    s = read_settings({**BASE, "ELASTICIO_REBOUND_LIMIT": "3", "ELASTICIO_RABBITMQ_PREFETCH_SAILOR": "5",
                       "ELASTICIO_AMQP_PUBLISH_RETRY_ATTEMPTS": "Infinity", "ELASTICIO_PROTOCOL_VERSION": "2"})
    assert (s.rebound_limit, s.prefetch, s.publish_retry_attempts, s.protocol_version) == (3, 5, None, 2)
    assert read_settings({**BASE, "ELASTICIO_AMQP_PUBLISH_RETRY_ATTEMPTS": "7"}).publish_retry_attempts == 7


def test_additional_header_variables_are_camel_cased():
    s = read_settings({**BASE, "ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS": " ELASTICIO_TASK_USER_EMAIL, TENANT ",
                       "ELASTICIO_TASK_USER_EMAIL": "a@example.com", "TENANT": "t-1"})
    assert s.additional_headers == {"taskUserEmail": "a@example.com", "tenant": "t-1"}
    assert camel_case("EXECUTION_RESULT_ID") == "executionResultId"


def test_repr_keeps_secrets_out():
    s = read_settings({**BASE, "ELASTICIO_API_KEY": "api-key-very-secret",
                       "ELASTICIO_AMQP_URI": "amqp://user:amqp-pass-secret@host/"})
    assert "api-key-very-secret" not in repr(s) and "amqp-pass-secret" not in repr(s)


def test_service_settings():
    env = {"ELASTICIO_POST_RESULT_URL": "http://127.0.0.1:1/result", "ELASTICIO_CFG": '{"region": "eu-west-1"}'}
    s = read_service_settings(env, "verifyCredentials")
    assert s.cfg == {"region": "eu-west-1"}
    with pytest.raises(SettingsError, match="ELASTICIO_ACTION_OR_TRIGGER"):
        read_service_settings(env, "getMetaModel")
    with pytest.raises(SettingsError, match="ELASTICIO_GET_MODEL_METHOD"):
        read_service_settings({**env, "ELASTICIO_ACTION_OR_TRIGGER": "a"}, "selectModel")
    with pytest.raises(SettingsError, match="not valid JSON"):
        read_service_settings({**env, "ELASTICIO_CFG": "{"}, "verifyCredentials")
    with pytest.raises(SettingsError, match="ELASTICIO_POST_RESULT_URL"):
        read_service_settings({"ELASTICIO_CFG": "{}"}, "verifyCredentials")
