"""A 2xx answer is the service's word: whatever it says is emitted as sent. Drift from the output schema (a
new enum value, a string longer than documented, a missing required member, an unknown member) is a
warning on stderr, never a failure; AWS adds enum values routinely, and boto3 hands all of these over.

Every action, every kind of drift its schema can show, over real HTTP (a raw-socket server on 127.0.0.1):
through the CLI (exit 0, the answer unchanged on stdout, the warning on stderr) and through the platform's
`process` (a data message, no error, no rebound). Only what the runtime relies on can fail an answer: a JSON
object, and a list action's items list and cursor.
"""

from __future__ import annotations

import copy
import json

import pytest

from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime, process
from tests.support.inputs import accepts, input_for, last_page, sample_output
from tests.support.rawhttp import RawServer, Respond
from tests.support.targets import all_actions, config_for, run_action

NEW_MEMBER = "aMemberAddedByTheServiceLater"


def _walk(schema: dict, value, path=()):
    """(path, schema, value) for every value in a sample answer, depth first."""
    yield path, schema, value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
        for key, item in value.items():
            yield from _walk(props.get(key, extra), item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(schema.get("items") or {}, item, path + (index,))


def _set(answer: dict, path: tuple, new):
    node = answer
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = new


def drifts(action) -> dict[str, dict]:
    """Each kind of drift this action's answer can show, as a whole answer (paging cursor left out)."""
    schema = action.out_schema
    sample = last_page(action, sample_output(schema))
    found: dict[str, dict] = {}
    paging = action.spec("PAGING")
    relied_on = {paging.items.split(".")[0]} if paging else set()
    for path, node, value in _walk(schema, sample):
        if not path or path[0] in relied_on and len(path) == 1:
            continue
        if "enum" in node and isinstance(value, str) and "new enum value" not in found:
            found["new enum value"] = (path, "A_VALUE_ADDED_LATER")
        if isinstance(node.get("maxLength"), int) and isinstance(value, str) and "too long" not in found:
            found["too long"] = (path, "x" * (node["maxLength"] + 1))
    out = {}
    for kind, (path, new) in found.items():
        answer = copy.deepcopy(sample)
        _set(answer, path, new)
        out[kind] = answer
    required = [name for name in schema.get("required", []) if name in sample and name not in relied_on]
    if required:
        out["missing required"] = {k: v for k, v in sample.items() if k != required[0]}
    out["extra member"] = {**sample, NEW_MEMBER: {"nested": [1, "two"]}}
    return out


# Actions that bind their own request (lib/http/binding.py) emit their own reading of the answer (http.Request
# wraps it in {status, headers, body}; iot.WatchJobProgress compares it with a snapshot): "as sent" is
# theirs to prove (tests/integration/test_http_request.py, tests/integration/test_sandbox_iot_fleet.py).
AS_SENT = [action for action in all_actions() if not action.spec("BINDING")]
CASES = [(action, kind, answer) for action in AS_SENT for kind, answer in drifts(action).items()]


def test_every_kind_of_drift_is_exercised_somewhere():
    kinds = {kind for _, kind, _ in CASES}
    assert kinds == {"new enum value", "too long", "missing required", "extra member"}
    assert len({action.key for action, _, _ in CASES}) == len(AS_SENT)


@pytest.mark.parametrize("action,kind,answer", CASES, ids=[f"{a.key}-{k}" for a, k, _ in CASES])
def test_a_drifted_answer_is_emitted_as_sent(action, kind, answer, aws_env):
    refused_by_schema = not accepts(action.out_schema, answer)
    with RawServer(lambda request: Respond(200, answer)) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
        assert len(server.requests) == 1
    assert result.code == 0, result.stderr
    assert result.messages == [answer]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert bool(warnings) == refused_by_schema, result.stderr
    if warnings:
        assert action.key in warnings[0] and "emitted as sent" in warnings[0]

    emitted = []
    with RawServer(lambda request: Respond(200, answer)) as server:
        process(action.key, {"body": input_for(action)}, config_for(action, server.url),
                lambda kind_, data: emitted.append((kind_, data)), runtime=Runtime(transport=Transport()))
    assert emitted == [("data", {"body": answer}), ("end", {})]


@pytest.mark.parametrize("action", [a for a in all_actions() if a.spec("PAGING")], ids=lambda a: a.key)
@pytest.mark.parametrize("broken", ["items not a list", "cursor not a string"])
def test_what_paging_relies_on_can_still_fail_an_answer(action, broken, aws_env):
    paging = action.spec("PAGING")
    answer = last_page(action, sample_output(action.out_schema))
    if broken == "items not a list":
        answer[paging.items] = {"not": "a list"}
    else:
        name = getattr(paging, "output_token", None) or paging.total
        answer[name] = 12.5
    with RawServer(lambda request: Respond(200, answer)) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
    assert result.code == 3 and result.stderr.startswith("error: UnexpectedResponse"), result.stderr
    assert result.stdout == ""


def test_drift_warnings_never_quote_a_secret(aws_env):
    """GetThirdPartyJobDetails' artifact credentials are secret: drift around them is named, not shown."""
    from jobs_connector.component.registry import get_action

    action = get_action("codepipeline.GetThirdPartyJobDetails")
    planted = "PLANTEDSECRETVALUE0123456789abcdef"
    answer = sample_output(action.out_schema, secret=lambda path: planted)
    data = answer["jobDetails"]["data"]
    data["artifactCredentials"]["sessionToken"] = 42  # drift on a secret field: named, its value never shown
    data["actionTypeId"]["category"] = planted  # drift elsewhere quoting the secret: scrubbed
    with RawServer(lambda request: Respond(200, answer)) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
    assert result.code == 0, result.stderr
    assert "sessionToken" in result.stderr and "category" in result.stderr
    assert planted[:8] not in result.stderr
    assert json.loads(result.stdout) == answer


PENDING = "iot-jobs-data.GetPendingJobExecutions"


@pytest.mark.parametrize("version, warned", [(4, False), (4.0, True), (4.5, True)])
def test_an_integer_written_as_a_float_is_drift_even_among_floats_with_a_fraction(version, warned, aws_env):
    """JSON Schema counts 4.0 as an integer and our rule does not (boto3 refuses it for a long). The check
    leaves that rule out when the parser saw no float with an integral value; a fraction elsewhere in the
    answer (an undocumented member here) must not hide a 4.0, nor make a plain answer drift."""
    from jobs_connector.component.registry import get_action

    action = get_action(PENDING)
    job = {"jobId": "job-1", "queuedAt": 1700000000, "versionNumber": version, "executionNumber": 1,
           "aMeasureAddedLater": 0.25}
    answer = {"inProgressJobs": [], "queuedJobs": [job]}
    with RawServer(lambda request: Respond(200, answer)) as server:
        result = run_action(action, {"thingName": "thing-1"}, config_for(action, server.url))
    assert result.code == 0, result.stderr
    assert result.messages == [answer]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert any("versionNumber" in line for line in warnings) == warned, result.stderr
