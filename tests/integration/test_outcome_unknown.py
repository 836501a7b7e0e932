"""A side effect happens once. For every action that is not safe to repeat and every ambiguous fault (the
request reached the service, and no answer says what it did), the loopback server must see exactly one
request at every layer that could repeat it, and the user is told the outcome is unknown and what to look
with. Here: the CLI (exit 5) and the platform's `process` (an error, never a rebound, with the platform's
rebounds on). The webhook workers and `events retry` are held to the same rule in tests/test_webhooks_*.py,
the real AMQP runner in tests/integration/sailor/.
"""

from __future__ import annotations

import pytest

from jobs_connector.base.errors import EXIT_OUTCOME_UNKNOWN, OutcomeUnknown
from jobs_connector.component.registry import get_action
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime, process
from tests.support.inputs import input_for
from tests.support.rawhttp import Close, Hang, RawServer, Reset, Respond
from tests.support.targets import all_actions, config_for, is_idempotent, run_action

NOT_IDEMPOTENT = [action for action in all_actions() if not is_idempotent(action)]
AMBIGUOUS = {
    "reset after the request is read": (lambda: Reset(), {}),
    "closed without an answer": (lambda: Close(), {}),
    "no answer in time": (lambda: Hang(), {"read_timeout": 0.2}),
    "answer cut off": (lambda: Respond(200, b'{"partial": ', declared_length=400), {}),
    "500 without a code": (lambda: Respond(500, {"message": "internal"}), {}),
    "502 from a proxy": (lambda: Respond(502, "<html>Bad Gateway</html>", {"Content-Type": "text/html"}), {}),
    "504 with a modelled 5xx code": (lambda: Respond(504, {"__type": "InternalServerException", "message": "x"},
                                                     {"x-amzn-ErrorType": "InternalServerException"}), {}),
}


def test_every_action_that_is_not_safe_to_repeat_names_an_action_to_look_with():
    assert NOT_IDEMPOTENT, "the fault rule needs non-idempotent actions to hold to"
    for action in NOT_IDEMPOTENT:
        check_with = action.spec("CHECK_WITH")
        assert check_with, f"{action.key} declares no CHECK_WITH"
        looker = get_action(check_with)
        assert looker.service_name == action.service_name and is_idempotent(looker), action.key


@pytest.mark.parametrize("fault", AMBIGUOUS, ids=str)
@pytest.mark.parametrize("action", NOT_IDEMPOTENT, ids=lambda a: a.key)
def test_sent_once_and_reported_as_outcome_unknown(action, fault, aws_env, no_sleep, monkeypatch):
    reply, options = AMBIGUOUS[fault]
    if options:
        import functools

        monkeypatch.setattr("jobs_connector.runtime.Transport", functools.partial(Transport, **options))

    with RawServer(lambda request: reply()) as server:  # the CLI
        result = run_action(action, input_for(action), config_for(action, server.url))
        assert len(server.requests) == 1
    assert result.code == EXIT_OUTCOME_UNKNOWN, result.stderr
    assert result.stderr.startswith("error: OutcomeUnknown") and "Traceback" not in result.stderr
    assert f"look with {action.spec('CHECK_WITH')}" in result.stderr and result.stdout == ""

    emitted = []
    with RawServer(lambda request: reply()) as server:  # the platform: an error, not a rebound
        runtime = Runtime(transport=Transport(**options))
        process(action.key, {"body": input_for(action)}, config_for(action, server.url),
                lambda kind, data: emitted.append((kind, data)), runtime=runtime)
        assert len(server.requests) == 1
    assert [kind for kind, _ in emitted] == ["error", "end"]
    error = emitted[0][1]
    assert error["type"] == "OutcomeUnknown" and error["outcome"] == "unknown" and error["retryable"] is False
    assert error["check_with"] == action.spec("CHECK_WITH") and error["attempts"] == 1
    assert no_sleep == []


def test_a_throttled_or_unavailable_answer_is_still_retried_for_every_action(aws_env, no_sleep):
    """503 and 429 mean the service did not serve the request: repeating it is safe, and is done."""
    action = get_action("panorama.CreateJobForDevices")
    answers = iter([Respond(503, {"message": "busy"}), Respond(429, {"message": "slow down"})])
    with RawServer(lambda request: next(answers, None) or Respond(200, {"Jobs": []})) as server:
        messages = list(Runtime().run(action.key, input_for(action), config_for(action, server.url)))
        assert len(server.requests) == 3
    assert messages == [{"Jobs": []}] and len(no_sleep) == 2


def test_outcome_unknown_is_not_retryable_and_has_its_own_exit_code():
    error = OutcomeUnknown("x", check_with="panorama.ListDevicesJobs")
    assert error.retryable is False and error.exit_code == 5
    assert {"type": "OutcomeUnknown", "outcome": "unknown", "check_with": "panorama.ListDevicesJobs"}.items() \
        <= error.to_dict().items()
