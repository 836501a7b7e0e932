"""elastic.io message semantics: data messages, then end; an error, or a rebound for a retryable failure."""

from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime, process
from tests.support.loopback import Reply


def collect(loopback, body, runtime=None):
    emitted = []
    cfg = {"endpoint": loopback.url}
    process("iot-jobs-data.GetPendingJobExecutions", {"body": body}, cfg,
            lambda kind, payload: emitted.append((kind, payload)), runtime=runtime)
    return emitted


def test_data_then_end(aws_env, loopback):
    loopback.script.append(Reply(200, {"queuedJobs": [{"jobId": "j"}]}))
    assert collect(loopback, {"thingName": "t"}) == [("data", {"body": {"queuedJobs": [{"jobId": "j"}]}}),
                                                     ("end", {})]


def test_bad_input_is_an_error_not_a_rebound(aws_env, loopback):
    [(kind, error), end] = collect(loopback, {"thingName": "bad name"})
    assert kind == "error" and end == ("end", {})
    assert error["type"] == "BadInput" and error["field"] == "thingName" and error["retryable"] is False
    assert loopback.requests == []


def test_retryable_failure_rebounds(aws_env, loopback):
    loopback.default = Reply(503, {"message": "down"}, {"x-amzn-RequestId": "r-9"})
    runtime = Runtime(transport=Transport(policy=RetryPolicy(max_attempts=2), sleep=lambda s: None))
    [(kind, error), _] = collect(loopback, {"thingName": "t"}, runtime)
    assert kind == "rebound"
    assert error == {"type": "ServiceUnavailable", "message": "down", "retryable": True, "status": 503,
                     "request_id": "r-9", "attempts": 2}


def test_rejection_is_an_error(aws_env, loopback):
    loopback.script.append(Reply(404, {"message": "no thing"}, {"x-amzn-ErrorType": "ResourceNotFoundException"}))
    [(kind, error), _] = collect(loopback, {"thingName": "t"})
    assert kind == "error" and error["type"] == "NotFound" and error["code"] == "ResourceNotFoundException"
