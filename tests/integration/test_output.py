"""--output table|text and --query: the formatters, the AWS CLI's text output as the reference, and the
flags end to end over real HTTP."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from awscli.formatter import TableFormatter
from awscli.text import format_text
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs_connector.base.errors import BadInput
from jobs_connector.cli.output import as_text, compile_query
from jobs_connector.cli.table import as_table, display_width
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


def aws_cli_table(value, title: str = "Op", width: int = 80) -> str:
    """The AWS CLI's own --output table for a body (color off, a terminal `width` wide)."""
    formatter = TableFormatter(argparse.Namespace(color="off", query=None))
    formatter.table._terminal_width = width
    stream = io.StringIO()
    formatter(title, value, stream)
    return stream.getvalue()


@pytest.mark.parametrize("value", [
    JOBS,
    JOBS["queuedJobs"],
    [["demo-job-1", "IN_PROGRESS"], ["demo-job-2", "QUEUED"]],  # a list of lists: columns, not JSON cells
    {"execution": {"jobId": "j", "status": "QUEUED", "statusDetails": {"a": "1"}, "versionNumber": 2,
                   "queuedAt": 1796586600, "startedAt": 1796586600, "lastUpdatedAt": 1796586600}},  # too wide
    {"jobs": [{"id": "1", "tags": {"k": "v", "z": "w"}, "n": True}, {"id": "2", "n": None}]},
    {"one": 1},
    ["x", "y"],
])
def test_table_output_is_the_aws_cli_s(value):
    assert as_table(value, "Op", 80) == aws_cli_table(value)


_ascii_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet="abc xyz", min_size=1,
                                                                                 max_size=5),
                           lambda inner: st.lists(inner, min_size=1, max_size=3) | st.dictionaries(
                               st.sampled_from(["a", "b", "c", "jobId"]), inner, min_size=1, max_size=3),
                           max_leaves=10)


def _mixed(value) -> bool:
    if isinstance(value, dict):
        return any(_mixed(v) for v in value.values())
    if isinstance(value, list):
        kinds = {type(v) if isinstance(v, dict | list) else "scalar" for v in value}
        return len(kinds) > 1 or any(_mixed(v) for v in value)
    return False


@settings(max_examples=100, deadline=None)
@given(_ascii_json, st.sampled_from([40, 80, 200]))
def test_table_output_matches_the_aws_cli_for_any_body(value, width):
    try:
        expected = aws_cli_table(value, "Op", width)
    except (ValueError, TypeError, AttributeError, IndexError):  # shapes the AWS CLI fails on; ours still draws
        as_table(value, "Op", width)
        return
    if not isinstance(value, dict | list):
        return  # a lone value: the AWS CLI draws its title only, ours the value under it
    if _mixed(value):
        return  # a list mixing kinds: rows of different lengths in one section, which the AWS CLI cannot draw
    assert as_table(value, "Op", width) == expected


def test_table_of_nothing_draws_nothing():
    assert as_table(None, "Op") == "" == as_table([], "Op") == as_table({}, "Op")
    assert aws_cli_table([]) == "" == aws_cli_table({})


def test_table_counts_wide_characters_as_two_columns():
    lines = as_table([{"name": "東京"}, {"name": "abcd"}], "Op").splitlines()
    assert {display_width(line) for line in lines} == {len(lines[0])}
    assert display_width("東京") == 4


def test_table_cells_stay_on_one_line():
    table = as_table([{"note": "a\nb"}], "Op")
    assert "|  a b   |" in table.splitlines() and len(table.splitlines()) == 7  # the row on one line


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
    assert table.stdout == aws_cli_table(JOBS["queuedJobs"], "GetPendingJobExecutions", 80)
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
