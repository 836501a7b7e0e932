"""JSONata mappings are bounded in time and memory, at load time and at run time; bare words are caught at
load. The evaluator is a real child process: these tests run the runaway expressions for real."""

import time

import pytest

from jobs_connector.webhooks.flows import FlowFileError, build
from jobs_connector.webhooks.mapping.input_mapping import Mapping, MappingError
from jobs_connector.webhooks.mapping.jsonata_box import EvaluationFailed, Evaluator
from tests.support.webhooks import HOOK_SECRET, SECRET_ENV

ENV = {SECRET_ENV: HOOK_SECRET}
UPDATE = "iot-jobs-data.UpdateJobExecution"
ENDLESS = "($f := function($n){ $n < 0 ? 'x' : $f($n+1)}; $f(0))"
BACKTRACKING = "$match(event.s, /(a+)+$/)"  # stuck inside `re`, where no cooperative check runs
EVENT = {"thing": "t-1", "job": "j-1", "s": "a" * 30 + "!"}


@pytest.fixture(scope="module")
def evaluator():
    box = Evaluator(time_limit=0.3, kill_grace=0.5, memory_limit=256 << 20)
    yield box
    box.close()


def one_flow(status_expr: str, **extra) -> dict:
    return {"flows": [{"name": "device-status", "secret_env": SECRET_ENV, **extra,
                       "steps": [{"action": UPDATE, "input": {"thingName": "event.thing", "jobId": "event.job",
                                                              "status": status_expr}}]}]}


def failure(evaluator, sources, context=None) -> EvaluationFailed:
    with pytest.raises(EvaluationFailed) as info:
        evaluator.evaluate(sources, context if context is not None else {"event": EVENT})
    return info.value


def test_plain_expressions_evaluate_to_json(evaluator):
    assert evaluator.evaluate(["event.thing", "$count([1..1000])", "{'a': [1, 2]}"], {"event": EVENT}) == \
        ["t-1", 1000, {"a": [1, 2]}]


@pytest.mark.parametrize(("source", "rule"), [
    ("[1..10000000]", "size-limit"),  # jsonata itself allows 1e7 while its message says 1e6
    ("$count([1..1000000].[1..1000000])", None),  # nested ranges: stopped by size, time or memory
    (ENDLESS, "time-limit"),
    (BACKTRACKING, "time-limit"),
    ("$pad('x', 50000000)", "size-limit"),
    ("$pad('x', 5000000000)", "memory-limit"),
    ("($f := function($n){ $n = 0 ? 0 : 1 + $f($n-1)}; $f(100000))", "depth-limit"),
])
def test_runaway_expressions_are_stopped_naming_the_expression(evaluator, source, rule):
    started = time.monotonic()
    failed = failure(evaluator, ["event.thing", source])
    assert failed.index == 1
    assert failed.rule in ({rule} if rule else {"size-limit", "time-limit", "memory-limit"})
    assert time.monotonic() - started < 10  # bounded: the time limit plus the kill grace, on a busy machine


def test_the_evaluator_still_answers_after_a_kill_and_after_a_cooperative_stop(evaluator):
    failure(evaluator, [BACKTRACKING])
    assert evaluator.evaluate(["event.thing"], {"event": EVENT}) == ["t-1"]
    failure(evaluator, [ENDLESS])
    assert evaluator.evaluate(["event.job"], {"event": EVENT}) == ["j-1"]


def test_a_mapping_failure_names_the_field_and_the_rule(evaluator):
    mapping = Mapping({"thingName": "event.thing", "statusDetails": {"x": BACKTRACKING}}, evaluator=evaluator)
    with pytest.raises(MappingError) as info:
        mapping.evaluate({"event": EVENT})
    assert info.value.where == "input.statusDetails.x" and info.value.rule == "time-limit"
    assert BACKTRACKING in info.value.message


def test_evaluation_is_one_request_per_mapping_and_the_process_is_reused():
    box = Evaluator()
    try:
        mapping = Mapping({"a": "event.thing", "b": "event.job", "c": {"d": "1 + 1"}}, evaluator=box)
        for _ in range(5):
            assert mapping.evaluate({"event": EVENT}) == {"a": "t-1", "b": "j-1", "c": {"d": 2}}
        assert box.started == 1
    finally:
        box.close()


def test_the_evaluator_sees_no_environment(evaluator, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake/secret/never-in-the-child")
    box = Evaluator()
    try:
        assert box.evaluate(["$exists($env)"], {}) == [False]
        child = box._take()
        try:
            with open(f"/proc/{child.process.pid}/environ", "rb") as fh:
                assert fh.read() == b""
        finally:
            child.close()
    finally:
        box.close()


# -- at load time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", [ENDLESS, "$count([1..10000000])"])
def test_loading_a_constant_runaway_expression_fails_instead_of_hanging(expr):
    started = time.monotonic()
    with pytest.raises(FlowFileError) as info:
        build(one_flow(expr), environ=ENV)
    assert "flow 'device-status' step 1.input.status" in str(info.value)
    assert "limit" in str(info.value)
    assert time.monotonic() - started < 15


def test_an_example_event_that_makes_an_expression_run_away_fails_the_load():
    with pytest.raises(FlowFileError) as info:
        build(one_flow("$match(event.s, /(a+)+$/) ? 'SUCCEEDED' : 'FAILED'", example_event=EVENT), environ=ENV)
    assert "step 1.input.status" in str(info.value) and "time-limit" in str(info.value)


@pytest.mark.parametrize("example", [None, {"thing": "t", "job": "j"}])
def test_a_bare_word_is_refused_with_the_quoting_hint(example):
    extra = {"example_event": example} if example else {}
    with pytest.raises(FlowFileError) as info:
        build(one_flow("SUCCEEDED", **extra), environ=ENV)
    error = info.value
    assert error.rule == "bare-word" and error.field == "flow 'device-status' step 1.input.status"
    assert "\"'SUCCEEDED'\"" in error.message


@pytest.mark.parametrize("expr", ["event.ok ? 'SUCCEEDED' : FAILED", "$string(PENDING)", "[event.x, QUEUED][0]",
                                  "($s := DONE; $s)"])
def test_bare_words_inside_larger_expressions_are_found(expr):
    with pytest.raises(FlowFileError) as info:
        build(one_flow(expr), environ=ENV)
    assert info.value.rule == "bare-word"


@pytest.mark.parametrize("expr", ["'SUCCEEDED'", "event.ok ? 'SUCCEEDED' : 'FAILED'",
                                  "event.items[status = 'x'].state", "steps[0].execution.status",
                                  "$map(event.list, function($v){ $v.state })[0]", "meta.flow & headers.x"])
def test_paths_from_the_context_are_not_bare_words(expr):
    build(one_flow(expr), environ=ENV)
