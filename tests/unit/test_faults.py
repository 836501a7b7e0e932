"""The fault matrix, over real HTTP against a raw-socket server on 127.0.0.1.

For every fault and for one idempotent and one non-idempotent action of each service (found in
component.json), the same call is made twice: through the CLI (exit code, one clean error line, no
traceback) and through Runtime.run (the typed error, its code and its attempt count). The server counts
what reached it, so the attempts are checked from both ends, and the `no_sleep` fixture records every
wait, so retries are bounded in count and in time.

The rule under test (lib/http/transport.py): 429, throttling codes, 503 and failures before the request left
(refused, connect timeout) are retried for every action; 500/502/504, read timeouts, resets and answers
cut short only for idempotent ones, because the service may have acted on the request already: for the
others those are OutcomeUnknown (exit 5, not retryable, naming the action to look with).
"""

from __future__ import annotations

import email.utils
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import botocore.retries.standard
import pytest

from jobs_connector.base.errors import (
    ConnectorError,
    NetworkError,
    NotFound,
    OutcomeUnknown,
    ServiceRetired,
    ServiceUnavailable,
    Throttled,
    UnexpectedResponse,
)
from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from tests.support.inputs import accepts, input_for, last_page, sample_output
from tests.support.rawhttp import Close, FullBacklog, Hang, Raw, RawServer, Reset, Respond, free_port
from tests.support.targets import config_for, is_idempotent, representatives, run_action

POLICY = RetryPolicy()
MAX = POLICY.max_attempts
ACTIONS = representatives()
SMALL_BOUND = 2048


def ok(action) -> Respond:
    return Respond(200, last_page(action, sample_output(action.out_schema)))


def forever(reply: Callable) -> Callable:
    return lambda action: (lambda request: reply())


def first_then_ok(reply: Callable) -> Callable:
    def handler_for(action):
        answers = iter([reply()])
        return lambda request: next(answers, None) or ok(action)
    return handler_for


def json_error(status: int, code: str | None = None, headers: dict | None = None) -> Callable:
    body = {"message": f"status {status}"} | ({"__type": code, "code": code} if code else {})
    return lambda: Respond(status, body, dict(headers or {}))


@dataclass(frozen=True)
class Fault:
    name: str
    handler: Callable | None  # action -> (request -> behaviour); None: nothing listens (refused)
    error: type[ConnectorError] | None  # None: the call succeeds in the end
    exit_code: int
    retried: str  # "always", "idempotent" or "never": is an attempt that fails this way tried again?
    code: str | None = None  # NetworkError.code
    attempts: int | None = None  # when the call succeeds: how many attempts it takes
    counted: str = "requests"  # the server counts attempts as requests read, or TCP connections accepted
    transport: dict = field(default_factory=dict)  # Transport options the fault needs (short timeout, bound)
    reset_on_connect: bool = False
    message: str | None = None  # a phrase the error message must hold

    @property
    def ambiguous(self) -> bool:
        """The request reached the service and no answer says what it did (retried only when idempotent)."""
        return self.retried == "idempotent" and self.error is not None


FAULTS = [
    Fault("500 forever", forever(json_error(500)), ServiceUnavailable, 4, "idempotent"),
    Fault("502 forever", forever(json_error(502)), ServiceUnavailable, 4, "idempotent"),
    Fault("504 forever", forever(json_error(504)), ServiceUnavailable, 4, "idempotent"),
    Fault("503 forever", forever(json_error(503)), ServiceUnavailable, 4, "always"),
    Fault("503 then success", first_then_ok(json_error(503)), None, 0, "always", attempts=2),
    Fault("429 forever", forever(json_error(429)), Throttled, 4, "always"),
    Fault("throttling code with 400 forever", forever(json_error(400, "ThrottlingException")), Throttled, 4,
          "always"),
    Fault("HTML error page 500", forever(lambda: Respond(500, "<!DOCTYPE html><html><body>oops</body></html>",
                                                         {"Content-Type": "text/html"})),
          ServiceUnavailable, 4, "idempotent", message="HTML error page"),
    Fault("HTML error page 404", forever(lambda: Respond(404, "<html><body>Not Found</body></html>",
                                                         {"Content-Type": "text/html"})),
          NotFound, 3, "never", message="HTML error page"),
    Fault("connection refused", None, NetworkError, 4, "always", code="refused", counted="none"),
    Fault("reset before the request is read", forever(lambda: Respond(200, {})), NetworkError, 4, "idempotent",
          code="reset", counted="connections", reset_on_connect=True),
    Fault("reset after the request is read", forever(Reset), NetworkError, 4, "idempotent", code="reset"),
    Fault("closed without an answer", forever(Close), NetworkError, 4, "idempotent", code="reset"),
    Fault("accepts and never answers", forever(Hang), NetworkError, 4, "idempotent", code="read-timeout",
          transport={"read_timeout": 0.1}),
    Fault("answer stops half-way", forever(lambda: Respond(200, b'{"partial": ', declared_length=400)),
          NetworkError, 4, "idempotent", code="truncated"),
    Fault("headers stop half-way", forever(lambda: Raw(b"HTTP/1.1 200 OK\r\nContent-Ty")),
          NetworkError, 4, "idempotent", code="truncated"),
    Fault("not JSON", forever(lambda: Respond(200, "OK", {"Content-Type": "text/plain"})),
          UnexpectedResponse, 3, "never", message="not JSON"),
    Fault("JSON that is not an object", forever(lambda: Respond(200, [1, 2])), UnexpectedResponse, 3, "never",
          message="not an object"),
    Fault("answer holding a lone surrogate", forever(lambda: Respond(200, b'{"note": "x\\ud800"}')),
          UnexpectedResponse, 3, "never", message="not valid Unicode"),
    Fault("answer holding NaN", forever(lambda: Respond(200, b'{"note": NaN}')), UnexpectedResponse, 3, "never",
          message="finite"),
    Fault("answer holding 1e400 (reads as Infinity)", forever(lambda: Respond(200, b'{"note": 1e400}')),
          UnexpectedResponse, 3, "never", message="beyond a double's range"),
    Fault("answer nested 50 deep", forever(lambda: Respond(200, b'{"a": ' + b"[" * 50 + b"]" * 50 + b"}")),
          UnexpectedResponse, 3, "never", message="nested more than"),
    Fault("answer nested 100000 deep", forever(lambda: Respond(200, b'{"a": ' + b"[" * 100_000 + b"]" * 100_000
                                                             + b"}")),
          UnexpectedResponse, 3, "never", message="nested too deeply"),
    Fault("error page nested 100000 deep", forever(lambda: Respond(500, b"[" * 100_000 + b"]" * 100_000)),
          ServiceUnavailable, 4, "idempotent"),
    Fault("larger than the bound (declared)", forever(lambda: Respond(200, {"pad": "x" * 4 * SMALL_BOUND})),
          UnexpectedResponse, 3, "never", transport={"max_response_bytes": SMALL_BOUND}, message="bound"),
    Fault("larger than the bound (undeclared)", forever(lambda: Respond(200, {"pad": "x" * 4 * SMALL_BOUND},
                                                                        length_header=False)),
          UnexpectedResponse, 3, "never", transport={"max_response_bytes": SMALL_BOUND}, message="bound"),
]


# http.Request hands any answer over as it came (status, headers, the body as JSON if it parses, else as
# text): an answer that is not a JSON object is its output, not a fault.
RAW_ANSWER_FAULTS = {"not JSON", "JSON that is not an object", "answer nested 100000 deep"}


def passes_answers_through(action) -> bool:
    return action.service.auth == "per-call"


def expected_attempts(fault: Fault, action) -> int:
    if fault.attempts is not None:
        return fault.attempts
    retried = fault.retried == "always" or (fault.retried == "idempotent" and is_idempotent(action))
    return MAX if retried else 1


@pytest.fixture
def small_transport(monkeypatch):
    """The CLI builds its own Runtime(): give its Transport the fault's options."""
    def use(options: dict) -> None:
        if options:
            monkeypatch.setattr("jobs_connector.runtime.Transport", functools.partial(Transport, **options))
    return use


def _serve(fault: Fault, action):
    if fault.handler is None:
        return None
    on_connect = (lambda port: Reset()) if fault.reset_on_connect else None
    return RawServer(fault.handler(action), on_connect=on_connect).start()


def _server_count(fault: Fault, server) -> int | None:
    if server is None:
        return None
    return server.connections if fault.counted == "connections" else len(server.requests)


def _check_waits(waits: list[float], attempts: int) -> None:
    assert len(waits) == attempts - 1
    assert all(0 <= w <= POLICY.max_delay for w in waits)
    assert sum(waits) <= POLICY.total_budget


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault(fault, action, aws_env, no_sleep, small_transport):
    body = input_for(action)
    error, exit_code, attempts = fault.error, fault.exit_code, expected_attempts(fault, action)
    retired = getattr(action.service, "retired_on", None)
    if retired and fault.code in ("refused", "connect-timeout"):
        error, attempts = ServiceRetired, 1  # a retired service's endpoint is gone: say so, do not retry
    if fault.ambiguous and not is_idempotent(action):
        error, exit_code = OutcomeUnknown, 5  # never sent again, by any layer: it may have been carried out
    if fault.name in RAW_ANSWER_FAULTS and passes_answers_through(action):
        error, exit_code, attempts = None, 0, 1
    small_transport(fault.transport)

    # 1. the CLI: exit code, one clean error line, no traceback
    server = _serve(fault, action)
    try:
        url = server.url if server else f"http://127.0.0.1:{free_port()}"
        result = run_action(action, body, config_for(action, url), "--verbose")  # the trace must cope too
        cli_count = _server_count(fault, server)
    finally:
        if server:
            server.stop()
    assert result.code == exit_code, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if error:
        assert result.stderr.splitlines()[-1].startswith(f"error: {error.__name__}"), result.stderr
        assert sum(line.startswith("error: ") for line in result.stderr.splitlines()) == 1
        assert result.stdout == ""
    if cli_count is not None:
        assert cli_count == attempts
    _check_waits(no_sleep, attempts)
    no_sleep.clear()

    # 2. Runtime.run: the typed error and its attempt count
    server = _serve(fault, action)
    try:
        url = server.url if server else f"http://127.0.0.1:{free_port()}"
        runtime = Runtime(transport=Transport(**fault.transport))
        if error is None:
            messages = list(runtime.run(action.key, body, config_for(action, url)))
            assert len(messages) == 1
        else:
            with pytest.raises(ConnectorError) as caught:
                list(runtime.run(action.key, body, config_for(action, url)))
        count = _server_count(fault, server)
    finally:
        if server:
            server.stop()
    if count is not None:
        assert count == attempts
    _check_waits(no_sleep, attempts)
    if error is None:
        return
    exc = caught.value
    assert type(exc) is error
    assert exc.attempts == attempts
    assert exc.exit_code == exit_code
    if fault.code and error is NetworkError:
        assert exc.code == fault.code
    if fault.message:
        assert fault.message in exc.message
    # retryable says whether a later try (a rebound) can help
    assert exc.retryable == (error in (NetworkError, ServiceUnavailable, Throttled))
    if error is OutcomeUnknown:
        assert "may have been carried out" in exc.message and "not sent again" in exc.message
        assert exc.check_with == action.spec("CHECK_WITH") and f"look with {exc.check_with}" in exc.message
        assert exc.to_dict()["outcome"] == "unknown" and exc.to_dict()["check_with"] == exc.check_with


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_connect_timeout_is_retried_for_every_action(action, aws_env, no_sleep):
    """A full accept queue never completes the handshake: the request never left, so retrying is safe."""
    retired = getattr(action.service, "retired_on", None)
    with FullBacklog() as backlog:
        runtime = Runtime(transport=Transport(connect_timeout=0.1))
        with pytest.raises(ConnectorError) as caught:
            list(runtime.run(action.key, input_for(action), config_for(action, f"http://127.0.0.1:{backlog.port}")))
    if retired:
        assert type(caught.value) is ServiceRetired and caught.value.attempts == 1
        return
    assert type(caught.value) is NetworkError and caught.value.code == "connect-timeout"
    assert caught.value.attempts == MAX and len(no_sleep) == MAX - 1


# -- Retry-After -------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_retry_after_is_honoured(form, action, aws_env, no_sleep):
    value = "2" if form == "seconds" else email.utils.formatdate(time.time() + 3, usegmt=True)
    handler = first_then_ok(json_error(429, headers={"Retry-After": value}))(action)
    with RawServer(handler) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
        assert result.code == 0, result.stderr
        assert len(server.requests) == 2  # 429 is retried even when the action is not idempotent
    [wait] = no_sleep
    if form == "seconds":
        assert wait == 2.0
    else:  # the date has a one-second resolution
        assert 1.0 < wait <= 3.0


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_retry_after_longer_than_the_longest_wait_gives_up_at_once(action, aws_env, no_sleep):
    with RawServer(forever(json_error(503, headers={"Retry-After": "3600"}))(action)) as server:
        with pytest.raises(ServiceUnavailable) as caught:
            list(Runtime().run(action.key, input_for(action), config_for(action, server.url)))
        assert len(server.requests) == 1
    assert no_sleep == [] and caught.value.retry_after == 3600.0 and caught.value.retryable


# -- throttling error codes ------------------------------------------------------------------------

THROTTLING_CODES = botocore.retries.standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_every_botocore_throttling_code_is_throttled_and_retried(action, aws_env, no_sleep):
    for code in THROTTLING_CODES:
        no_sleep.clear()
        with RawServer(first_then_ok(json_error(400, code))(action)) as server:
            messages = list(Runtime().run(action.key, input_for(action), config_for(action, server.url)))
            assert len(server.requests) == 2, code
        assert len(messages) == 1 and len(no_sleep) == 1, code
        with RawServer(forever(json_error(400, code))(action)) as server:
            with pytest.raises(Throttled) as caught:
                list(Runtime().run(action.key, input_for(action), config_for(action, server.url)))
        assert caught.value.code == code and caught.value.attempts == MAX


# -- empty answers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
@pytest.mark.parametrize("empty", [b"", b"  \r\n"], ids=["no body", "blank body"])
def test_empty_200_is_emitted_as_an_empty_object_with_a_warning_where_members_are_required(empty, action, aws_env):
    """The service acted and said so (2xx): its answer is emitted; a missing required member is only drift."""
    with RawServer(lambda request: Respond(200, empty)) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
        assert len(server.requests) == 1
    assert result.code == 0, result.stderr
    if passes_answers_through(action):
        [message] = result.messages
        assert message["status"] == 200 and not (message.get("body") or "").strip(), message  # as it came
        return
    paging = action.spec("PAGING")  # fetchAll (the default) merges the (no) items of every page
    assert result.messages == [{paging.items: []} if paging else {}]
    warned = "warning: " in result.stderr and "is required" in result.stderr
    assert warned == (not accepts(action.out_schema, {})), result.stderr
