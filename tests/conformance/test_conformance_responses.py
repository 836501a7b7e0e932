"""Answers shaped by the model: for every AWS action, a generated answer (drawn from the botocore output
shape, not from our schemas) passes our out-schema and comes out as the emitted message, carrying what
botocore's own parser reads from it; and every modelled error of every operation becomes the right error
type, whether the service names it in the x-amzn-ErrorType header or in the body's __type.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
from functools import cache

import pytest
import responses
from botocore.parsers import create_parser
from botocore.retries.standard import ThrottledRetryableChecker
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from jobs_connector.base import errors
from jobs_connector.component.registry import get_action
from jobs_connector.runtime import Runtime
from jobs_connector.validation import validate_output
from tests.support.aws_model import aws_action_keys, error_code, error_status, operation_model, service_model
from tests.support.hypothesis_profiles import GENERATED_CASES, conformance_settings
from tests.support.loopback import Reply
from tests.support.strategies import input_strategy, shape_strategy
from tests.support.targets import is_idempotent

KEYS = aws_action_keys()
ENDPOINT = "http://127.0.0.1:9"
CFG = {"endpoint": ENDPOINT, "emitBehaviour": "fetchPage"}  # one answer, one message, as the service sent it


@cache
def _simplest_input(key: str) -> str:
    found = find(input_strategy(get_action(key).in_schema), lambda _: True,
                 settings=settings(database=None, phases=[Phase.generate, Phase.shrink]))
    return json.dumps(found)


def any_input(key: str) -> dict:
    """The simplest valid input of an action (deterministic)."""
    return json.loads(_simplest_input(key))


def answer_strategy(key: str):
    shape = operation_model(key).output_shape
    return shape_strategy(shape) if shape is not None else st.just({})


def _method(key: str) -> str:
    return get_action(key).spec("METHOD") or "POST"


def serve(mock: responses.RequestsMock, key: str, status: int, body, headers: dict | None = None):
    mock.add(responses.Response(_method(key), re.compile(re.escape(ENDPOINT) + r"/.*"), status=status,
                                body=json.dumps(body), headers=headers or {}, content_type="application/json"))


# --- successful answers ----------------------------------------------------------------------------

def botocore_reading(key: str, content: bytes):
    """What botocore's parser makes of an answer, back in our JSON terms (epoch seconds, base64)."""
    op = operation_model(key)
    if op.output_shape is None:
        return {}
    parsed = create_parser(service_model(get_action(key).service_name).protocol).parse(
        {"status_code": 200, "headers": {}, "body": content}, op.output_shape)
    parsed.pop("ResponseMetadata", None)
    return _as_json(parsed)


def _as_json(value):
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def same_json(a, b) -> bool:
    """Equal, floats within a microsecond's worth (botocore turns epoch seconds into datetimes)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, abs_tol=1e-5)
    return a == b


@pytest.mark.parametrize("key", KEYS)
def test_output_has_no_member_outside_the_body(key):
    """Our runtime reads the JSON body; a member the model binds to a header or the status would be lost."""
    shape = operation_model(key).output_shape
    bound = [name for name, member in (shape.members.items() if shape else ())
             if member.serialization.get("location")]
    assert bound == []


@pytest.mark.parametrize("key", KEYS)
def test_generated_answers_are_emitted_as_sent(key, aws_env):
    action = get_action(key)
    body = any_input(key)

    @conformance_settings()
    @given(answer=answer_strategy(key))
    def check(answer):
        GENERATED_CASES[f"answer parsing ({action.service_name})"] += 1
        validate_output(action.out_schema, answer)  # what the model allows, our out-schema allows
        with responses.RequestsMock() as mock:
            serve(mock, key, 200, answer)
            messages = list(Runtime().run(key, body, CFG))
        assert messages == [answer]
        assert same_json(messages[0], botocore_reading(key, json.dumps(answer).encode()))

    check()


def test_generated_answers_over_real_http(aws_env, loopback):
    key = KEYS[0]
    body = any_input(key)

    @settings(conformance_settings(), max_examples=5)
    @given(answer=answer_strategy(key))
    def check(answer):
        GENERATED_CASES["answer parsing over loopback HTTP"] += 1
        loopback.script.append(Reply(200, json.dumps(answer), {"Content-Type": "application/json"}))
        assert list(Runtime().run(key, body, {**CFG, "endpoint": loopback.url})) == [answer]

    check()
    assert loopback.requests and all(r.headers["Authorization"].startswith("AWS4-HMAC-SHA256 ")
                                     for r in loopback.requests)


def test_an_answer_outside_the_model_is_emitted_with_a_warning(aws_env):
    """The check above can fail: a member of the wrong type is drift, named in a warning; the answer is
    the service's word and is emitted as sent."""
    key = next(k for k in KEYS if operation_model(k).output_shape is not None
               and operation_model(k).output_shape.members)
    shape = operation_model(key).output_shape
    name, member = next(iter(shape.members.items()))
    wrong = 12345 if member.type_name in ("string", "structure", "list", "map", "blob", "boolean") else "text"
    with responses.RequestsMock() as mock:
        serve(mock, key, 200, {name: wrong})
        warnings = []
        assert list(Runtime().run(key, any_input(key), CFG, warn=warnings.append)) == [{name: wrong}]
    assert len(warnings) == 1 and name in warnings[0]


# --- modelled errors -------------------------------------------------------------------------------

AUTH_CODES = frozenset({"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
                        "SignatureDoesNotMatch", "IncompleteSignature", "ExpiredTokenException",
                        "MissingAuthenticationTokenException", "InvalidClientTokenId",
                        "CertificateValidationException",
                        "InvalidClientTokenException"})  # CodePipeline: the job worker's secret was refused


# botocore's own list (LimitExceededException among them): the codes it backs off and retries.
BOTOCORE_THROTTLING_CODES = frozenset(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)


def expected_error(status: int, code: str) -> type[errors.ConnectorError]:
    """The error type a code and status mean, read from their names and HTTP semantics."""
    if status == 429 or "Throttl" in code or code in BOTOCORE_THROTTLING_CODES:
        return errors.Throttled
    if status in (401, 403) or code in AUTH_CODES:
        return errors.AuthError
    if status == 404 or code.endswith(("NotFoundException", "NotFound")):
        return errors.NotFound
    if status in (409, 410, 412) or code in ("ConflictException", "InvalidNonceException") or code.endswith(
            ("StateException", "StateTransitionException")):  # a stale nonce: another worker holds the job
        return errors.Conflict
    if status >= 500:
        return errors.ServiceUnavailable
    return errors.RequestRejected


def _modelled_errors():
    cases = []
    for key in KEYS:
        for shape in operation_model(key).error_shapes:
            cases.append(pytest.param(key, error_code(shape), error_status(shape), id=f"{key}-{shape.name}"))
    return cases


ERRORS = _modelled_errors()


def test_errors_are_modelled():
    """Every AWS action has its modelled errors in the table below (no operation silently left out)."""
    assert {case.values[0] for case in ERRORS} == set(KEYS)


@pytest.mark.parametrize(("key", "code", "status"), ERRORS)
@pytest.mark.parametrize("carrier", ["header", "body"])
def test_modelled_error_maps_to_its_type(key, code, status, carrier, aws_env, no_sleep):
    namespace = f"com.amazonaws.{get_action(key).service.signing_name}"
    if carrier == "header":
        headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/{namespace}/",
                   "x-amzn-RequestId": "req-0001"}
        body = {"message": f"{code} happened"}
    else:
        headers = {"x-amzn-RequestId": "req-0001"}
        body = {"__type": f"{namespace}#{code}", "message": f"{code} happened"}
    GENERATED_CASES["modelled error mapping"] += 1
    with responses.RequestsMock() as mock:
        serve(mock, key, status, body, headers)
        with pytest.raises(errors.ConnectorError) as caught:
            list(Runtime().run(key, any_input(key), CFG))
    error = caught.value
    expected = expected_error(status, code)
    if status in (500, 502, 504) and expected is not errors.Throttled and not is_idempotent(get_action(key)):
        expected = errors.OutcomeUnknown  # the service failed mid-way: it may have acted, so it is not repeated
    assert type(error) is expected, f"{code} ({status}) -> {type(error).__name__}"
    assert (error.status, error.code, error.request_id) == (status, code, "req-0001")
    assert f"{code} happened" in error.message


@pytest.mark.parametrize(("status", "code", "expected"), [
    (400, "ActionTypeNotFoundException", errors.NotFound),  # codepipeline: json-1.1 answers 400 for all
    (400, "InvalidJobStateException", errors.Conflict),
    (400, "InvalidClientTokenException", errors.AuthError),  # the job worker's secret, refused
    (402, "ServiceQuotaExceededException", errors.RequestRejected),
    (410, "TerminalStateException", errors.Conflict),
    (400, "CertificateValidationException", errors.AuthError),
    (503, "ServiceUnavailableException", errors.ServiceUnavailable),
])
def test_expected_error_table(status, code, expected):
    assert expected_error(status, code) is expected


@pytest.mark.parametrize("carrier", ["header", "body"])
def test_a_not_found_code_answered_with_400_is_not_found(carrier):
    """json-1.1 services (CodePipeline) answer 400 to every client error; the code says what happened."""
    from jobs_connector.http.protocols import error_from_response

    code = "ActionTypeNotFoundException"
    if carrier == "header":
        headers, body = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.cp/"}, {}
    else:
        headers, body = {}, {"__type": f"com.amazonaws.codepipeline#{code}", "message": "no such action type"}
    error = error_from_response("json-1.1", 400, headers, json.dumps(body).encode())
    assert type(error) is errors.NotFound and error.code == code
