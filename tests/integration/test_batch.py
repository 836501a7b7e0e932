"""Batch mode (`jobs-connector run ACTION --each [--concurrency N]`, lib/cli/batch.py) over real HTTP against a
loopback server: one output line per input in input order, an error line for a failed input while the
rest go on, the worst failure as the exit code, ordered output under concurrency through one pool of
connections, and a non-idempotent action sent exactly once per input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from urllib.parse import unquote

import pytest

from jobs_connector.cli.batch import MAX_LINE_BYTES
from jobs_connector.component.registry import ROOT
from tests.conftest import FAKE_ACCESS_KEY
from tests.support.cli import run_cli
from tests.support.loopback import Reply

PENDING = "iot-jobs-data.GetPendingJobExecutions"  # idempotent GET /things/{thingName}/jobs
START_NEXT = "iot-jobs-data.StartNextPendingJobExecution"  # not idempotent: PUT /things/{thingName}/jobs/$next
EMPTY = {"inProgressJobs": [], "queuedJobs": []}


def thing_of(recorded) -> str:
    return unquote(recorded.path.split("/")[2])


def answer_for_thing(recorded) -> Reply:
    thing = thing_of(recorded)
    if thing.startswith("missing"):
        return Reply(404, {"message": "no such thing"}, {"x-amzn-ErrorType": "ResourceNotFoundException"})
    if thing.startswith("broken"):
        return Reply(500, {"message": "internal"}, {"x-amzn-ErrorType": "InternalFailure"})
    return Reply(200, {"inProgressJobs": [], "queuedJobs": [{"jobId": f"job-of-{thing}", "versionNumber": 1,
                                                              "executionNumber": 1, "queuedAt": 1700000000}]})


def each(monkeypatch, server, lines: list[str], *extra: str, action: str = PENDING):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("".join(lines).encode("utf-8"))))
    return run_cli("run", action, "--each", "--config", json.dumps({"endpoint": server.url}), *extra)


def lines_for(things: list[str]) -> list[str]:
    return [json.dumps({"thingName": thing}) + "\n" for thing in things]


def test_one_output_line_per_input_in_order(aws_env, loopback, monkeypatch):
    loopback.default = answer_for_thing
    things = [f"device-{n:03d}" for n in range(12)]
    result = each(monkeypatch, loopback, lines_for(things))
    assert result.code == 0, result.stderr
    assert [m["queuedJobs"][0]["jobId"] for m in result.messages] == [f"job-of-{t}" for t in things]
    assert [thing_of(r) for r in loopback.requests] == things


def test_a_bad_line_mid_stream_gives_an_error_line_and_the_rest_go_on(aws_env, loopback, monkeypatch):
    loopback.default = answer_for_thing
    lines = lines_for(["first"]) + ["{not json\n", "\n"] + lines_for(["third"]) + ['{"thingName": 5}\n'] \
        + ['"a string"\n'] + lines_for(["last"])
    result = each(monkeypatch, loopback, lines)
    assert result.code == 2, result.stderr
    messages = result.messages
    assert len(messages) == 6  # the blank line is not an input
    assert messages[0]["queuedJobs"][0]["jobId"] == "job-of-first"
    assert messages[1]["error"]["type"] == "BadInput" and messages[1]["error"]["rule"] == "json"
    assert messages[1]["error"]["line"] == 2
    assert messages[2]["queuedJobs"][0]["jobId"] == "job-of-third"
    assert messages[3]["error"]["field"] == "thingName" and messages[3]["error"]["line"] == 5
    assert messages[4]["error"]["type"] == "BadInput" and messages[4]["error"]["line"] == 6
    assert messages[5]["queuedJobs"][0]["jobId"] == "job-of-last"
    assert [thing_of(r) for r in loopback.requests] == ["first", "third", "last"]  # nothing sent for bad input
    assert "line 2: error: BadInput" in result.stderr and "line 5: error:" in result.stderr


def test_drift_in_an_answer_is_a_warning_and_the_answer_is_emitted(aws_env, loopback, monkeypatch):
    loopback.default = Reply(200, {"inProgressJobs": [], "queuedJobs": [{"jobId": "j", "versionNumber": "two"}]})
    result = each(monkeypatch, loopback, lines_for(["a", "b"]))
    assert result.code == 0, result.stderr
    assert [m["queuedJobs"][0]["versionNumber"] for m in result.messages] == ["two", "two"]
    assert "line 1: warning:" in result.stderr and "line 2: warning:" in result.stderr


def test_service_errors_give_error_lines_and_the_worst_sets_the_exit_code(aws_env, loopback, monkeypatch, no_sleep):
    loopback.default = answer_for_thing
    result = each(monkeypatch, loopback, lines_for(["ok-1", "missing-1", "ok-2"]))
    assert result.code == 3, result.stderr
    errors = [m["error"] for m in result.messages if "error" in m]
    assert [(e["type"], e["status"], e["code"], e["line"]) for e in errors] == \
        [("NotFound", 404, "ResourceNotFoundException", 2)]
    assert len(result.messages) == 3 and "queuedJobs" in result.messages[2]

    # a retryable failure after every attempt is worse than a rejection
    result = each(monkeypatch, loopback, lines_for(["broken-1", "missing-2", "ok-3"]))
    assert result.code == 4, result.stderr
    assert [m.get("error", {}).get("type") for m in result.messages] == ["ServiceUnavailable", "NotFound", None]


class SlowFirst:
    """Answers the earlier inputs later (input n of k waits (k - n) * 30 ms) and records how many
    requests were in progress at once."""

    def __init__(self, count: int):
        self.count, self.in_flight, self.most = count, 0, 0
        self.lock = threading.Lock()

    def __call__(self, recorded) -> Reply:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        n = int(thing_of(recorded).split("-")[1])
        time.sleep((self.count - n) * 0.03)
        with self.lock:
            self.in_flight -= 1
        return answer_for_thing(recorded)


def test_concurrency_keeps_the_output_in_input_order_through_one_pool(aws_env, loopback, monkeypatch):
    things = [f"device-{n}" for n in range(12)]
    slow = SlowFirst(len(things))
    loopback.default = slow
    result = each(monkeypatch, loopback, lines_for(things), "--concurrency", "4")
    assert result.code == 0, result.stderr
    assert [m["queuedJobs"][0]["jobId"] for m in result.messages] == [f"job-of-{t}" for t in things]
    assert sorted(thing_of(r) for r in loopback.requests) == sorted(things)  # each input sent once
    assert 2 <= slow.most <= 4  # calls overlapped, never more than asked for
    # the threads share kept-alive connections: no more connections than calls at once
    assert len({r.client for r in loopback.requests}) <= 4


def test_a_non_idempotent_action_is_sent_once_per_input(aws_env, loopback, monkeypatch, no_sleep):
    def answer(recorded):
        thing = thing_of(recorded)
        if thing == "broken":
            return Reply(500, {"message": "internal"}, {"x-amzn-ErrorType": "InternalFailure"})
        if thing == "dropped":
            return None  # the connection closes after the request arrived: the outcome is not known
        return Reply(200, {})

    loopback.default = answer
    things = ["a", "broken", "b", "dropped", "c", "d"]
    for concurrency in ("1", "3"):
        loopback.requests.clear()
        result = each(monkeypatch, loopback, lines_for(things), "--concurrency", concurrency, action=START_NEXT)
        assert sorted(thing_of(r) for r in loopback.requests) == sorted(things), concurrency
        assert all(r.method == "PUT" for r in loopback.requests)
        kinds = [m.get("error", {}).get("type") for m in result.messages]
        assert kinds == [None, "OutcomeUnknown", None, "OutcomeUnknown", None, None], concurrency
        assert result.code == 5  # the worst: look before running those inputs again


@pytest.mark.parametrize("argv, field", [
    (("--concurrency", "2"), "concurrency"),  # without --each
    (("--each", "--concurrency", "0"), "concurrency"),
    (("--each", "--concurrency", "65"), "concurrency"),
    (("--each", "--input", '{"thingName": "x"}'), "input"),
    (("--each", "--emit", "emitIndividually"), "emitBehaviour"),
    (("--each", "--output", "table"), "output"),
])
def test_options_batch_mode_cannot_honour_are_refused_before_anything_is_sent(argv, field, aws_env, loopback,
                                                                                monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"thingName": "x"}\n')))
    result = run_cli("run", PENDING, "--config", json.dumps({"endpoint": loopback.url}), *argv)
    assert result.code == 2 and f"field: {field}" in result.stderr
    assert loopback.requests == []


def test_query_applies_to_each_body_and_error_lines_stay_whole(aws_env, loopback, monkeypatch):
    loopback.default = answer_for_thing
    result = each(monkeypatch, loopback, lines_for(["a", "missing", "b"]), "--query", "queuedJobs[0].jobId")
    assert result.code == 3, result.stderr
    assert result.messages[0] == "job-of-a" and result.messages[2] == "job-of-b"
    assert result.messages[1]["error"]["type"] == "NotFound"


def test_an_unknown_action_is_refused_once(aws_env, loopback, monkeypatch):
    result = each(monkeypatch, loopback, lines_for(["a", "b"]), action="iot-jobs-data.NoSuchThing")
    assert result.code == 2 and result.stdout == "" and result.stderr.count("error:") == 1


def test_an_overlong_line_is_refused_and_the_next_still_runs(aws_env, loopback, monkeypatch):
    loopback.default = answer_for_thing
    huge = json.dumps({"thingName": "x" * (MAX_LINE_BYTES + 10)}) + "\n"
    result = each(monkeypatch, loopback, [huge] + lines_for(["after"]))
    assert result.code == 2
    first, second = result.messages
    assert first["error"]["rule"] == "size" and first["error"]["line"] == 1
    assert second["queuedJobs"][0]["jobId"] == "job-of-after"


def test_dry_run_each_shows_one_signed_request_per_input_and_sends_nothing(aws_env, loopback, monkeypatch):
    result = each(monkeypatch, loopback, lines_for(["a", "b"]), "--dry-run")
    assert result.code == 0, result.stderr
    assert [m["url"].rsplit("/", 2)[-2] for m in result.messages] == ["a", "b"]
    assert all("Signature=***" in m["headers"]["Authorization"] and FAKE_ACCESS_KEY not in json.dumps(m)
               for m in result.messages)
    assert loopback.requests == []


def test_a_real_process_reads_its_stdin_line_by_line(aws_env, loopback):
    loopback.default = answer_for_thing
    done = subprocess.run([sys.executable, "-m", "lib", "run", PENDING, "--each", "--concurrency", "2",
                           "--endpoint", loopback.url], cwd=ROOT, input="".join(lines_for(["p", "missing", "q"])),
                          capture_output=True, text=True, timeout=60, env={**os.environ})
    assert done.returncode == 3, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [m.get("error", {}).get("code") for m in out] == [None, "ResourceNotFoundException", None]
    assert out[2]["queuedJobs"][0]["jobId"] == "job-of-q"
