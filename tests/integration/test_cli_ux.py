"""The CLI's habits and messages: --version, describe --skeleton, describe's layout, and the errors that
used to mislead (the unreadable file, the hidden problems, the ignored --emit, the missing region)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from jobs_connector.auth import chain
from jobs_connector.base.errors import BadInput, ConfigurationError
from jobs_connector.component.registry import ROOT, action_keys, get_action
from jobs_connector.validation import validate_input
from jobs_connector.validation.reference import MAX_LISTED_PROBLEMS, refuse_input
from tests.support.cli import run_cli
from tests.support.loopback import Reply

UPDATE = "iot-jobs-data.UpdateJobExecution"


# -- --version ----------------------------------------------------------------------------------------------

def test_version_prints_the_package_version():
    proc = subprocess.run([sys.executable, "-m", "lib", "--version"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip().startswith("jobs-connector ")
    assert proc.stdout.split()[1][0].isdigit()


def test_version_falls_back_to_lib_version_without_package_metadata(monkeypatch):
    from importlib import metadata

    import jobs_connector
    from jobs_connector.base.extras import version

    monkeypatch.setattr(metadata, "version", lambda name: (_ for _ in ()).throw(metadata.PackageNotFoundError(name)))
    monkeypatch.setattr(jobs_connector, "__version__", "9.9.9-test")
    assert version() == "9.9.9-test"


# -- describe --skeleton ------------------------------------------------------------------------------------

def _paths(value, prefix=""):
    """Every field path in a skeleton, in describe's notation without its [] and {} marks."""
    if isinstance(value, dict):
        for key, sub in value.items():
            path = prefix.rstrip(".") if key == "KeyName" else f"{prefix}{key}"  # a map's one entry stands for any key
            if key != "KeyName":
                yield path
            yield from _paths(sub, f"{path}." if path else "")
    elif isinstance(value, list) and value:
        yield from _paths(value[0], prefix)


def _plain(field: str) -> str:
    return field.replace("[]", "").replace("{}", "")


def _left_out(schema: dict, prefix: str = "", limited: bool = False):
    """The fields a skeleton may leave out: one of any type (no placeholder can stand for it), and those of an
    object that takes fewer entries than it declares (maxProperties: one aggregation stage per item)."""
    properties = schema.get("properties") or {}
    limited = limited or schema.get("maxProperties", len(properties)) < len(properties)
    for name, sub in properties.items():
        path = f"{prefix}{name}"
        if limited or "type" not in sub:
            yield path
        inner = sub.get("items") if sub.get("type") == "array" else sub
        if isinstance(inner, dict):
            yield from _left_out(inner, f"{path}.", limited or "type" not in sub)


@pytest.mark.parametrize("key", action_keys())
def test_skeleton_is_json_with_every_input_field(key):
    from jobs_connector.cli import describe

    result = run_cli("describe", key, "--skeleton")
    assert result.code == 0
    shown = set(_paths(json.loads(result.stdout)))
    action = get_action(key)
    fields = {_plain(row[0]) for row in describe.rows(action.in_schema)}
    paging = action.spec("PAGING")
    cursors = {getattr(paging, "input_token", None), "prev"} if paging else set()  # only an answer gives one
    assert fields - cursors - set(_left_out(action.in_schema)) <= shown, fields - shown
    assert bool(fields) == bool(shown)


def test_skeleton_placeholders_follow_the_rules():
    skeleton = json.loads(run_cli("describe", UPDATE, "--skeleton").stdout)
    example = get_action(UPDATE).spec("EXAMPLE")
    assert skeleton["status"] == example["status"]  # an enum: the example's value
    assert skeleton["thingName"] == example["thingName"] and skeleton["includeJobDocument"] is False
    assert skeleton["statusDetails"] == {"KeyName": "value"}  # a map: one entry to rename, within its rules
    assert skeleton["stepTimeoutInMinutes"] == 1  # a number: 1, not the 0 the service refuses
    listing = json.loads(run_cli("describe", "iot.ListJobs", "--skeleton").stdout)
    assert "nextToken" not in listing  # a cursor comes from an answer
    validate_input(get_action(UPDATE).in_schema, skeleton)  # as given, it is an input the action takes


# -- describe: full descriptions, aligned and wrapped; errors; sample output ---------------------------------

def test_describe_wraps_full_descriptions_to_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "90")
    out = run_cli("describe", "codepipeline.AcknowledgeThirdPartyJob").stdout
    tables = out.split("Inputs (* required):", 1)[1].split("Example:", 1)[0]
    assert max(len(line) for line in out.splitlines()[:3] + tables.splitlines()) <= 90
    flat = " ".join(out.split())
    nonce = get_action("codepipeline.AcknowledgeThirdPartyJob").in_schema["properties"]["nonce"]["description"]
    assert len(nonce) > 100 and " ".join(nonce.split()) in flat  # the whole description, not cut at 100
    assert "..." not in out.split("Inputs", 1)[1].split("Errors", 1)[0]


def test_describe_columns_line_up(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    out = run_cli("describe", UPDATE).stdout
    inputs = out.split("Inputs (* required):\n", 1)[1].split("\n\n", 1)[0].splitlines()
    rows = [line for line in inputs if line[2] != " "]  # a field's first line (the others continue a cell)
    starts = {re.match(r"[* ] \S+\s+", line).end() for line in rows}
    assert len(rows) > 5 and len(starts) == 1, inputs  # the type column starts at one offset on every row


def test_describe_lists_the_errors_and_a_sample_output(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    out = run_cli("describe", "codepipeline.AcknowledgeThirdPartyJob").stdout
    assert "InvalidNonceException" in out and "Conflict (exit 3)" in out
    assert "another worker holds the job" in out
    sample = out.split("Sample output", 1)[1].split("\n", 1)[1]
    assert json.loads(sample) == {"status": "Created"}
    info = json.loads(run_cli("describe", "codepipeline.AcknowledgeThirdPartyJob", "--json").stdout)
    assert {e["code"] for e in info["errors"]} >= {"InvalidNonceException", "JobNotFoundException"}


# -- errors that name what went wrong --------------------------------------------------------------------------

def test_unreadable_input_file_is_named(aws_env, tmp_path):
    missing = tmp_path / "no-such-body.json"
    result = run_cli("run", UPDATE, "--input", f"@{missing}")
    assert result.code == 2
    assert f"input file {missing} cannot be read: No such file or directory" in result.stderr


def test_every_problem_is_listed():
    schema = get_action(UPDATE).in_schema
    with pytest.raises(BadInput) as caught:
        refuse_input(schema, {"status": "DONE", "jobId": "#", "expectedVersion": "one"})
    message = str(caught.value)
    assert message.startswith("4 problems in the input:")
    for part in ("'thingName' is required", "'jobId' must match", "'status' must be one of",
                 "'expectedVersion' must be of type integer"):
        assert part in message
    assert "more problem" not in message
    assert caught.value.field == "thingName" and caught.value.rule == "required"  # the first one's


def test_a_flood_of_problems_is_cut_at_a_readable_number():
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    body = {f"f{i:02}": "x" for i in range(MAX_LISTED_PROBLEMS + 5)}
    with pytest.raises(BadInput) as caught:
        refuse_input(schema, body)
    message = str(caught.value)
    assert message.count("\n  - ") == MAX_LISTED_PROBLEMS
    assert message.endswith("... and 5 more")


def test_one_problem_reads_as_one_sentence():
    with pytest.raises(BadInput) as caught:
        refuse_input(get_action(UPDATE).in_schema, {"thingName": "t", "jobId": "j"})
    assert str(caught.value) == "input field 'status' is required"


def test_emit_and_max_pages_warn_on_an_action_that_does_not_page(aws_env, loopback):
    loopback.script += [Reply(200, {})]
    result = run_cli("run", UPDATE, "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}',
                     "--endpoint", loopback.url, "--emit", "emitIndividually", "--max-pages", "3")
    assert result.code == 0, result.stderr
    assert f"warning: --emit has no effect: {UPDATE} does not page" in result.stderr
    assert f"warning: --max-pages has no effect: {UPDATE} does not page" in result.stderr
    assert result.messages == [{}]


def test_no_paging_warning_on_a_list_action(monkeypatch, loopback):
    monkeypatch.setenv("EMBEDTHIS_ENDPOINT", loopback.url)
    monkeypatch.setenv("EMBEDTHIS_TOKEN", "test-token-not-real")
    loopback.script += [Reply(200, {"data": []})]
    result = run_cli("run", "embedthis.FindClouds", "--emit", "fetchPage", "--max-pages", "2")
    assert result.code == 0 and "warning" not in result.stderr


def test_missing_region_mentions_the_region_flag(monkeypatch, loopback):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTFAKEKEY00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key-not-real-0000000000000000")
    result = run_cli("run", UPDATE, "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}',
                     "--endpoint", loopback.url)
    assert result.code == 2 and loopback.requests == []
    assert "no AWS region" in result.stderr and "--region" in result.stderr
    fixed = run_cli("run", UPDATE, "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}',
                    "--endpoint", loopback.url, "--region", "eu-central-1", "--dry-run")
    assert fixed.code == 0 and "/eu-central-1/iot-jobs-data/aws4_request" in fixed.stdout


def test_a_profile_error_from_the_credentials_reaches_the_user_as_written(monkeypatch):
    """The CLI adds to a ConfigurationError, never replaces it: the profile message lib/auth/chain.py writes
    is what the user reads, with the --profile hint."""
    written = "AWS profile 'nope' not found in the shared files (test)"

    def refuse(cfg, environ, cache=None):
        raise ConfigurationError(written, field="profile", rule="unknown-profile")

    monkeypatch.setattr(chain, "resolve_aws_credentials", refuse)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = run_cli("run", UPDATE, "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}')
    assert result.code == 2
    assert written in result.stderr and "no AWS credentials" not in result.stderr
    assert "hint: on the command line: --profile NAME" in result.stderr


def test_an_unknown_profile_is_not_reported_as_missing_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_PROFILE", "nope")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = run_cli("run", UPDATE, "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}')
    assert result.code == 2
    assert "'nope'" in result.stderr and "no AWS credentials" not in result.stderr
