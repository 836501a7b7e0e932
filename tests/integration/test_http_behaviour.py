"""Over real HTTP (a loopback server): retries, Retry-After, error mapping, timeouts, non-JSON answers."""

import threading

import pytest

from jobs_connector.base.errors import NetworkError, ServiceUnavailable
from jobs_connector.http.retry import RetryPolicy, parse_retry_after
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from tests.support.cli import run_cli
from tests.support.loopback import Reply

THING = '{"thingName": "thing-1"}'


def run(loopback, action="iot-jobs-data.GetPendingJobExecutions", body=THING):
    return run_cli("run", action, "--input", body, "--endpoint", loopback.url)


def test_success_emits_one_json_line(aws_env, loopback):
    loopback.script.append(Reply(200, {"inProgressJobs": [], "queuedJobs": [{"jobId": "j1", "versionNumber": 1}]}))
    result = run(loopback)
    assert result.code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert result.messages == [{"inProgressJobs": [], "queuedJobs": [{"jobId": "j1", "versionNumber": 1}]}]
    [request] = loopback.requests
    assert (request.method, request.path) == ("GET", "/things/thing-1/jobs")
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTFAKEKEY00001/")
    assert request.headers["User-Agent"].startswith("jobs-connector/")


def test_503_twice_then_200(aws_env, loopback, no_sleep):
    loopback.script += [Reply(503, {"message": "busy"}), Reply(503, {"message": "busy"}), Reply(200, {})]
    result = run(loopback)
    assert result.code == 0, result.stderr
    assert result.messages == [{}]
    assert len(loopback.requests) == 3
    assert len(no_sleep) == 2
    # each attempt is signed afresh
    assert all("Signature=" in r.headers["Authorization"] for r in loopback.requests)


def test_retry_after_is_honoured(aws_env, loopback, no_sleep):
    loopback.script += [Reply(429, {"message": "slow down"}, {"Retry-After": "3",
                                                               "x-amzn-ErrorType": "ThrottlingException"}),
                        Reply(200, {})]
    result = run(loopback, "iot-jobs-data.UpdateJobExecution",
                 '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}')
    assert result.code == 0, result.stderr
    assert no_sleep == [3.0]  # 429 is retried even for a non-idempotent call: the service refused it


def test_retry_after_longer_than_we_wait_gives_up_at_once(aws_env, loopback, no_sleep):
    loopback.script.append(Reply(429, {"message": "later"}, {"Retry-After": "3600"}))
    result = run(loopback)
    assert result.code == 4
    assert len(loopback.requests) == 1 and no_sleep == []
    assert "Throttled | HTTP 429" in result.stderr


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert parse_retry_after("soon") is None


def test_client_error_maps_with_request_id_and_exit_3(aws_env, loopback):
    loopback.script.append(Reply(409, {"message": "Job execution already in a terminal state"},
                                 {"x-amzn-ErrorType": "InvalidStateTransitionException:http://internal.amazon.com/",
                                  "x-amzn-RequestId": "req-123"}))
    result = run(loopback, "iot-jobs-data.UpdateJobExecution",
                 '{"thingName": "t", "jobId": "j", "status": "IN_PROGRESS"}')
    assert result.code == 3
    assert result.stderr.strip() == ("error: Conflict | HTTP 409 | InvalidStateTransitionException | "
                                     "request-id req-123: Job execution already in a terminal state")
    assert len(loopback.requests) == 1


def test_not_found_from_body_type(aws_env, loopback):
    loopback.script.append(Reply(404, {"__type": "com.amazonaws.iot#ResourceNotFoundException",
                                       "message": "no such thing"}))
    result = run(loopback)
    assert result.code == 3
    assert "NotFound | HTTP 404 | ResourceNotFoundException" in result.stderr
    assert "Traceback" not in result.stderr


def test_non_json_502_page_is_retried_for_idempotent_calls(aws_env, loopback, no_sleep):
    page = Reply(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", {"Content-Type": "text/html"})
    loopback.default = page
    result = run(loopback)
    assert result.code == 4
    assert len(loopback.requests) == 4
    assert "ServiceUnavailable | HTTP 502: the service answered with an HTML error page" in result.stderr


def test_502_is_not_retried_for_non_idempotent_calls(aws_env, loopback, no_sleep):
    loopback.default = Reply(502, "<html>Bad Gateway</html>")
    result = run(loopback, "iot-jobs-data.StartNextPendingJobExecution", THING)
    assert result.code == 5 and "error: OutcomeUnknown" in result.stderr  # it may have started a job
    assert len(loopback.requests) == 1


def test_non_json_200_is_an_unexpected_response(aws_env, loopback):
    loopback.script.append(Reply(200, "OK", {"Content-Type": "text/plain"}))
    result = run(loopback)
    assert result.code == 3
    assert "UnexpectedResponse | HTTP 200: the service answered HTTP 200 with a body that is not JSON" in result.stderr


def test_read_timeout_is_a_network_error_after_bounded_attempts(aws_env, loopback, no_sleep):
    release = threading.Event()

    def hang(request):
        release.wait(5)
        return Reply(200, {})

    loopback.default = hang
    runtime = Runtime(transport=Transport(read_timeout=0.3, policy=RetryPolicy(max_attempts=2)))
    try:
        with pytest.raises(NetworkError) as caught:
            list(runtime.run("iot-jobs-data.GetPendingJobExecutions", {"thingName": "t"},
                             {"endpoint": loopback.url}))
    finally:
        release.set()
    assert caught.value.code == "read-timeout"
    assert caught.value.attempts == 2 and caught.value.retryable


def test_connection_refused_exit_4(aws_env, no_sleep):
    result = run_cli("run", "iot-jobs-data.GetPendingJobExecutions", "--input", THING,
                     "--endpoint", "http://127.0.0.1:1")
    assert result.code == 4
    assert "NetworkError | refused: the connection was refused" in result.stderr
    assert len(no_sleep) == 3  # never reached the service: retried whatever the operation


def test_total_budget_bounds_retries(aws_env, loopback):
    loopback.default = Reply(503, {"message": "down"})
    clock = iter(range(0, 1000, 50))
    transport = Transport(policy=RetryPolicy(max_attempts=10, total_budget=120), sleep=lambda s: None,
                          monotonic=lambda: float(next(clock)))
    with pytest.raises(ServiceUnavailable) as caught:
        list(Runtime(transport=transport).run("iot-jobs-data.GetPendingJobExecutions", {"thingName": "t"},
                                              {"endpoint": loopback.url}))
    assert caught.value.attempts < 10
