from tests.support.cli import run_cli
from tests.support.loopback import Reply


def test_get_pending_over_real_http(aws_env, loopback):
    loopback.script.append(Reply(200, {"inProgressJobs": [], "queuedJobs": [{"jobId": "j1", "versionNumber": 1}]}))
    result = run_cli("run", "iot-jobs-data.GetPendingJobExecutions", "--input", '{"thingName": "thing-1"}',
                     "--endpoint", loopback.url)
    assert result.code == 0, result.stderr
    assert result.messages == [{"inProgressJobs": [], "queuedJobs": [{"jobId": "j1", "versionNumber": 1}]}]
    [request] = loopback.requests
    assert (request.method, request.path) == ("GET", "/things/thing-1/jobs")
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTFAKEKEY00001/")


def test_retries_503_then_succeeds(aws_env, loopback, no_sleep):
    loopback.script += [Reply(503, {"message": "busy"}), Reply(503, {"message": "busy"}), Reply(200, {})]
    result = run_cli("run", "iot-jobs-data.GetPendingJobExecutions", "--input", '{"thingName": "t"}',
                     "--endpoint", loopback.url)
    assert result.code == 0, result.stderr
    assert len(loopback.requests) == 3
    assert len(no_sleep) == 2
