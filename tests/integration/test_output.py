"""--output table|text and --query: the formatters, the AWS CLI's text output as the reference, and the
flags end to end over real HTTP."""

from __future__ import annotations

import io
import json

import pytest
from awscli.text import format_text
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs_connector.base.errors import BadInput
from jobs_connector.cli.output import as_table, as_text, compile_query, display_width
from tests.support.cli import run_cli
from tests.support.loopback import Reply

JOBS = {"inProgressJobs": [],
        "queuedJobs": [{"jobId": "demo-job-1", "versionNumber": 1, "executionNumber": 1},
                       {"jobId": "demo-job-2", "versionNumber": 3, "executionNumber": 2, "extra": True}]}


def aws_cli_text(value) -> str:
    stream = io.StringIO()
    format_text(value, stream)
    return stream.getvalue()


@pytest.mark.parametrize("value", [
    JOBS,
    {"execution": {"jobId": "j", "status": "QUEUED", "statusDetails": {"a": "1"}, "versionNumber": 2}},
    [{"a": 1, "b": None}, {"b": 2, "c": [1, 2]}],
    ["x", "y", ["z"]],
    {"empty": [], "flag": False, "n": 1.5},
    "plain",
])
def test_text_output_is_the_aws_cli_s(value):
    assert as_text(value) == aws_cli_text(value)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet="abc xyz", max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.sampled_from(["a", "b", "c", "jobId"]), inner, max_size=3), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_text_output_matches_the_aws_cli_for_any_body(value):
    try:
        expected = aws_cli_text(value)
    except AttributeError:  # the AWS CLI fails on a list mixing objects and scalars; ours still prints it
        as_text(value)
        return
    assert as_text(value) == expected


def test_table_has_one_row_per_object_and_aligned_columns():
    table = as_table(JOBS["queuedJobs"])
    lines = table.splitlines()
    assert lines[1] == "| jobId      | versionNumber | executionNumber | extra |"
    assert lines[3] == "| demo-job-1 | 1             | 1               |       |"
    assert lines[4] == "| demo-job-2 | 3             | 2               | true  |"
    assert len({len(line) for line in lines}) == 1  # every line as wide: the columns line up


def test_table_of_an_object_titles_its_nested_lists():
    text = as_table(JOBS)
    assert "| queuedJobs" in text and "| inProgressJobs" in text  # each list its own titled table
    assert "| demo-job-2 |" in text


def test_table_counts_wide_characters_as_two_columns():
    lines = as_table([{"name": "東京"}, {"name": "abcd"}]).splitlines()
    assert {display_width(line) for line in lines} == {len(lines[0])}
    assert display_width("東京") == 4


def test_table_cells_stay_on_one_line():
    assert "a b" in as_table([{"note": "a\nb"}]) and "\n|" in as_table([{"note": "a\nb"}])
    assert len(as_table([{"note": "a\nb"}]).splitlines()) == 5


def test_query_picks_from_each_body():
    assert compile_query("queuedJobs[].jobId")(JOBS) == ["demo-job-1", "demo-job-2"]
    assert compile_query(None)(JOBS) is JOBS


def test_bad_query_is_refused_before_anything_is_sent():
    with pytest.raises(BadInput) as caught:
        compile_query("queuedJobs[")
    assert caught.value.field == "--query" and caught.value.rule == "jmespath"


def test_query_and_output_end_to_end(aws_env, loopback):
    loopback.script += [Reply(200, JOBS)] * 3
    base = ("run", "iot-jobs-data.GetPendingJobExecutions", "--input", '{"thingName": "t"}', "--endpoint", loopback.url)
    ids = run_cli(*base, "--query", "queuedJobs[].jobId")
    assert ids.code == 0, ids.stderr
    assert ids.messages == [["demo-job-1", "demo-job-2"]]
    text = run_cli(*base, "--query", "queuedJobs[].[jobId, versionNumber]", "--output", "text")
    assert text.stdout == "demo-job-1\t1\ndemo-job-2\t3\n"
    table = run_cli(*base, "--query", "queuedJobs", "--output", "table")
    assert "| jobId      | versionNumber | executionNumber | extra |" in table.stdout
    assert len(loopback.requests) == 3


def test_bad_query_exits_2_and_sends_nothing(aws_env, loopback):
    result = run_cli("run", "iot-jobs-data.GetPendingJobExecutions", "--input", '{"thingName": "t"}',
                     "--endpoint", loopback.url, "--query", "[?")
    assert result.code == 2 and loopback.requests == []
    assert "is not a JMESPath expression" in result.stderr


def test_query_applies_to_each_emitted_item(monkeypatch, loopback):
    monkeypatch.setenv("EMBEDTHIS_ENDPOINT", loopback.url)
    monkeypatch.setenv("EMBEDTHIS_TOKEN", "test-token-not-real")
    loopback.script += [Reply(200, {"data": [{"id": "c1", "name": "one"}], "next": "n1"}),
                        Reply(200, {"data": [{"id": "c2", "name": "two"}]})]
    result = run_cli("run", "embedthis.FindClouds", "--emit", "emitIndividually", "--query", "name",
                     "--output", "text")
    assert result.code == 0, result.stderr
    assert result.stdout == "one\ntwo\n"
    assert json.loads(json.dumps(len(loopback.requests))) == 2
