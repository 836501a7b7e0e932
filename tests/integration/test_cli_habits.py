"""Issue 36, the CLI half: what tripped a new user. A skeleton that works as given, tables as the AWS CLI draws
them, the AWS CLI's own flags, triggers that `list`, `describe` and completion find, mistakes that are
named, the right usage, network errors named for what they are, and help that says what the program does.

Most checks call the CLI in-process (tests/support/cli.py); a few run it as a process (`python -m
jobs_connector`), as a person would, batching several checks into one process where they can."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobs_connector.base.errors import Conflict, NotFound
from jobs_connector.component.registry import ROOT, action_keys, get_action
from jobs_connector.runtime import Runtime
from tests.support.cli import run_cli
from tests.support.sandbox import running_sandbox

UPDATE = "iot-jobs-data.UpdateJobExecution"


def cli_process(*argv: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The CLI as a person runs it: its own process, this checkout's package."""
    return subprocess.run([sys.executable, "-m", "jobs_connector", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, input=stdin, env={**os.environ, **(env or {})})


# -- a skeleton that works as given -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def skeletons() -> dict:
    return {key: json.loads(run_cli("describe", key, "--skeleton").stdout) for key in action_keys()}


@pytest.fixture(scope="module")
def module_sandbox():
    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox_runtime(module_sandbox, monkeypatch):
    """The module's sandbox, the client environment pointing at it (set again for each test: clean_env)."""
    for name, value in module_sandbox.client_environment().items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return module_sandbox, Runtime()


def test_every_skeleton_passes_our_validation_as_given(skeletons, sandbox_runtime):
    runtime = Runtime()
    for key, body in skeletons.items():
        request = runtime.dry_run(key, body, {})  # validation, binding and signing: BadInput fails the test
        assert request["method"] and request["url"].startswith(sandbox_runtime[0].url), key


def test_every_skeleton_is_accepted_by_the_sandbox_over_http(skeletons, sandbox_runtime):
    """The sandbox may not know the ids a skeleton names (not found) or be in another state (conflict);
    it must never refuse a skeleton's shape or values."""
    _, runtime = sandbox_runtime
    answered = {"ok": 0, "not found or conflict": 0}
    for key, body in skeletons.items():
        try:
            list(runtime.run(key, body, {"maxPages": 1, "readTimeout": 5}))
            answered["ok"] += 1
        except (NotFound, Conflict):
            answered["not found or conflict"] += 1
    assert answered["ok"] > 5, answered  # the example's ids reach real demo data for many actions


def test_the_update_skeleton_reports_a_status_a_device_may_report():
    proc = cli_process("describe", UPDATE, "--skeleton")
    assert proc.returncode == 0, proc.stderr
    skeleton = json.loads(proc.stdout)
    assert skeleton["status"] in ("IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED")
    assert 1 <= skeleton["stepTimeoutInMinutes"] <= 10080
    assert skeleton["executionNumber"] >= 1 and skeleton["expectedVersion"] >= 1
    assert None not in skeleton.values()
    schema = get_action(UPDATE).in_schema["properties"]
    assert set(skeleton) == set(schema)  # every field, as the AWS CLI's skeleton


# -- tables as the AWS CLI draws them, over the CLI as a process ----------------------------------------------

def test_table_of_a_list_of_lists_has_columns_and_a_query_of_nothing_draws_nothing(module_sandbox):
    env = {k: v for k, v in module_sandbox.client_environment().items() if v is not None}
    script = ("from jobs_connector.cli.main import main\n"
              "import sys\n"
              "base = ['run', 'spaceone.ListJobs', '--output', 'table']\n"
              "print('rc', main(base + ['--query', 'results[].[job_id, status]']), flush=True)\n"
              "print('rc', main(base + ['--query', 'nothere']), flush=True)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, **env})
    first, second = proc.stdout.split("rc 0\n")[:2]
    lines = first.splitlines()
    assert lines[1].strip("| ") == "ListJobs"  # the title row: the operation's name
    rows = [line for line in lines[3:-1]]
    assert rows and all(line.count("|") == 3 for line in rows), first  # two columns: job_id | status
    assert not any("[" in line for line in rows)  # not a JSON list in one cell
    assert second == "" and "gives nothing" in proc.stderr  # no empty box; stderr says why


# -- the AWS CLI's habits ---------------------------------------------------------------------------------------

def test_aws_cli_flags_work_as_in_the_aws_cli(module_sandbox, tmp_path):
    """--cli-input-json file://, --endpoint-url, --debug and --no-paginate in one process, against the sandbox."""
    env = {k: v for k, v in module_sandbox.client_environment().items() if v is not None}
    env.pop("AWS_ENDPOINT_URL")  # --endpoint-url gives it
    body = tmp_path / "in.json"
    body.write_text(json.dumps({"thingName": "demo-thing"}))
    proc = cli_process("run", "iot-jobs-data.GetPendingJobExecutions", "--cli-input-json", f"file://{body}",
                       "--endpoint-url", module_sandbox.url, "--debug", "--no-paginate", env=env)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)  # (the skeleton test may have finished demo-job-1 already)
    assert {job["jobId"] for job in answer["queuedJobs"] + answer["inProgressJobs"]} >= {"demo-job-2"}
    assert f"> GET {module_sandbox.url}/things/demo-thing/jobs" in proc.stderr  # --debug: the request on stderr
    assert "warning" not in proc.stderr  # --no-paginate on an action that does not page: a no-op, as in aws


def test_generate_cli_skeleton_fileb_and_no_paginate(tmp_path):
    skeleton = run_cli("run", UPDATE, "--generate-cli-skeleton")
    assert skeleton.code == 0 and json.loads(skeleton.stdout) == json.loads(run_cli("describe", UPDATE,
                                                                                     "--skeleton").stdout)
    output = json.loads(run_cli("run", UPDATE, "--generate-cli-skeleton", "output").stdout)
    assert "executionState" in output
    body = tmp_path / "in.json"
    body.write_bytes(json.dumps({"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}).encode())
    dry = run_cli("run", UPDATE, "--input", f"fileb://{body}", "--region", "us-east-1", "--dry-run",
                  "--config", json.dumps({"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "x" * 20}))
    assert dry.code == 0, dry.stderr
    assert json.loads(dry.stdout)["body"] == {"status": "SUCCEEDED"}
    both = run_cli("run", "spaceone.ListJobs", "--no-paginate", "--emit", "fetchAll")
    assert both.code == 2 and "--no-paginate" in both.stderr


def test_a_query_parse_error_shows_the_expression_and_a_caret():
    result = run_cli("run", UPDATE, "--query", "queuedJobs[?jobId==`x`")
    assert result.code == 2
    lines = result.stderr.splitlines()
    expression = next(i for i, line in enumerate(lines) if line.strip() == "queuedJobs[?jobId==`x`")
    caret = lines[expression + 1]
    assert caret.strip() == "^" and caret.index("^") == lines[expression].index("`x`") + 3


# -- triggers you can find --------------------------------------------------------------------------------------

def test_list_describe_and_completion_find_the_triggers():
    from jobs_connector.cli.completion import complete
    from jobs_connector.component.registry import component

    triggers = list(component()["triggers"])
    listed = run_cli("list").stdout
    assert all(f"\n{key} " in listed for key in triggers)
    described = run_cli("describe", "iot-jobs-data.newPendingJobExecution")
    assert described.code == 0, described.stderr
    assert "* thingName" in described.stdout and "jobs-connector watch iot-jobs-data.newPendingJobExecution" in \
        described.stdout
    info = json.loads(run_cli("describe", "iot-jobs-data.newPendingJobExecution", "--json").stdout)
    assert {"thingName", "firstRun"} <= {row["field"] for row in info["config"]}
    offered = complete("bash", {"COMP_LINE": "jobs-connector watch ", "COMP_POINT": "21"})
    assert sorted(offered) == sorted(triggers)
    assert complete("bash", {"COMP_LINE": "jobs-connector watch iot-jobs-data.n", "COMP_POINT": "36"}) == [
        "iot-jobs-data.newPendingJobExecution "]
    assert sorted(complete("bash", {"COMP_LINE": "jobs-connector watch iot-jobs-data.", "COMP_POINT": "35"})) == [
        "iot-jobs-data.jobNotification", "iot-jobs-data.newPendingJobExecution"]
    assert "iot.jobProgressChanged " in complete("bash", {"COMP_LINE": "jobs-connector describe iot.j",
                                                         "COMP_POINT": "30"})


# -- silent mistakes, named -------------------------------------------------------------------------------------

def test_a_misspelt_config_key_is_refused_with_the_key_it_resembles(aws_env, loopback):
    result = run_cli("run", UPDATE, "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}',
                     "--endpoint", loopback.url, "--config", '{"regoin": "us-east-1", "readTimeot": 5}')
    assert result.code == 2 and loopback.requests == []
    assert "'regoin' is not a known key (did you mean 'region'?)" in result.stderr
    assert "'readTimeot' is not a known key (did you mean 'readTimeout'?)" in result.stderr
    fine = run_cli("run", UPDATE, "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}',
                   "--dry-run", "--config", '{"region": "us-east-1", "readTimeout": 5, "maxPages": 2}')
    assert fine.code == 0, fine.stderr
    watch = run_cli("watch", "iot-jobs-data.newPendingJobExecution", "--once", "--config",
                    '{"thingNme": "demo-thing"}')
    assert watch.code == 2 and "(did you mean 'thingName'?)" in watch.stderr


def test_every_unknown_input_field_is_listed(aws_env):
    result = run_cli("run", UPDATE, "--dry-run", "--input",
                     '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED", "foo": 1, "bar": 2, "baz": 3}')
    assert result.code == 2
    assert "3 problems in the input:" in result.stderr
    assert all(f"input field '{name}' is not a known field" in result.stderr for name in ("foo", "bar", "baz"))


# -- the right usage ---------------------------------------------------------------------------------------------

def test_an_unknown_flag_after_run_shows_run_s_usage():
    proc = cli_process("run", UPDATE, "--inptu", "{}")
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: jobs-connector run ")
    assert "unrecognized arguments: --inptu {} (did you mean --input?)" in proc.stderr


# -- network errors named for what they are ----------------------------------------------------------------------

def test_a_refused_connection_names_the_port(aws_env, no_sleep):
    import socket

    with socket.socket() as probe:  # a port nothing listens on: bound, then closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("run", "iot-jobs-data.GetPendingJobExecutions", "--input", '{"thingName": "t"}',
                     "--endpoint", f"http://127.0.0.1:{port}")
    assert result.code == 4, result.stderr
    assert f"the connection was refused: nothing listens on that port (127.0.0.1:{port})" in result.stderr


def test_an_unreachable_network_is_not_called_a_reset(aws_env, no_sleep):
    import requests
    import responses
    from urllib3.exceptions import NewConnectionError

    cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 101] Network is unreachable")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://jobs.example.com/things/t/jobs/j",
                 body=requests.exceptions.ConnectionError(cause))
        result = run_cli("run", UPDATE, "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}',
                         "--endpoint", "https://jobs.example.com")
        sent = len(mock.calls)
    assert result.code == 4, result.stderr  # never sent: retryable even for a call that is not idempotent
    assert "the network is unreachable (no route to the host) (jobs.example.com:443)" in result.stderr
    assert "reset" not in result.stderr and "OutcomeUnknown" not in result.stderr
    assert sent == 4  # the request never left, so every attempt was safe


# -- help and docs that say what the program does -------------------------------------------------------------

def test_help_and_docs_agree_with_the_program(capsys):
    from jobs_connector.cli import docs, serve
    from jobs_connector.cli.main import EXTENSIONS, build_parser
    from jobs_connector.sandbox import Sandbox

    top = build_parser().format_help()
    assert all(f" {name} " in top.replace("`", " ") for name in ("list", "describe", "run", *EXTENSIONS)), top
    webhooks = open(os.path.join(ROOT, "docs", "webhooks.md"), encoding="utf-8").read()
    assert f"web + {serve.DEFAULT_WORKERS} worker threads" in webhooks
    sandbox_doc = open(os.path.join(ROOT, "docs", "sandbox.md"), encoding="utf-8").read()
    sandbox = Sandbox(0)
    try:
        for line in sandbox.shell_lines():  # the documented lines are the program's (its URL aside)
            assert "  " + line.replace(sandbox.url, "http://127.0.0.1:8766") in sandbox_doc, line
        assert "export AWS_DEFAULT_REGION=us-east-1" in sandbox.shell_lines()
    finally:
        sandbox.stop()
    import argparse

    from jobs_connector.cli import sandbox as sandbox_cli

    parser = argparse.ArgumentParser()
    sandbox_cli.add_arguments(parser)
    assert "control plane" in parser.description
    assert docs.default_output(os.path.join("site-packages", "jobs_connector", "_component")) == os.path.join(
        "docs", "actions.md")  # installed: never into the package
    assert docs.default_output(ROOT) == os.path.join(ROOT, "docs", "actions.md")


def test_events_list_json_and_retry_history(tmp_path, monkeypatch):
    from jobs_connector.webhooks.events import DEAD, Event
    from jobs_connector.webhooks.store.queue import Queue
    from jobs_connector.webhooks.worker.outcomes import history_line, lifetime_attempt

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    queue = Queue(url)
    try:
        empty = run_cli("events", "list", "--json", "--queue", url)
        assert empty.code == 0 and empty.stdout == "" and "no events" in empty.stderr
        event = Event(id="ev-1", flow="deploy", body={}, received_at=1.0, status=DEAD, attempts=1,
                      error={"type": "RequestRejected"}, history=[history_line({"type": "RequestRejected"}, 1.0, 1)])
        queue.store.add(event)
        listed = run_cli("events", "list", "--json", "--queue", url)
        assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == ["ev-1"]
        assert run_cli("events", "retry", "ev-1", "--queue", url).code == 0
        again = queue.store.get("ev-1")
        assert again.attempts == 0 and again.history[-1]["attempts_before"] == 1 and len(again.history) == 1
        again.attempts += 1  # what a worker does as it takes the event (Worker._take)
        assert lifetime_attempt(again) == 2  # the history's second attempt is attempt 2, not 1 again
    finally:
        queue.close()


# -- the test needs, said ---------------------------------------------------------------------------------------

def test_the_test_run_names_missing_system_programs(monkeypatch, tmp_path):
    from tests.support import system_needs

    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    monkeypatch.setattr(system_needs, "PROGRAMS", {k: (p, n, ()) for k, (p, n, _) in system_needs.PROGRAMS.items()})
    lines = system_needs.report(system_needs.missing())
    assert "redis-server, rabbitmq-server, node, npm, openssl" in lines[0] and lines[0].rstrip().endswith("ip")
    assert lines[-1].strip() == ("install them with: apt-get install -y redis-server rabbitmq-server nodejs npm "
                                 "openssl chromium chromium-driver iproute2")
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    note = readme.split("python3 -m pytest\n```", 1)[1].split("##", 1)[0]
    assert all(program in note for program in system_needs.PROGRAMS) and "npm" in note and "cache" in note


# -- the sandbox's environment and the AWS CLI v1 ----------------------------------------------------------------

def test_the_printed_environment_is_enough_for_the_aws_cli(module_sandbox):
    """The AWS CLI v1 (requirements.txt pins it) against the sandbox with only the lines `--print-env` gives."""
    import shlex

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for line in module_sandbox.shell_lines():
        words = shlex.split(line)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
    command = [sys.executable, "-m", "awscli", "iot-jobs-data", "get-pending-job-executions",
               "--thing-name", "demo-thing", "--endpoint-url", env["AWS_ENDPOINT_URL"]]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr  # no "You must specify a region"
    assert "queuedJobs" in json.loads(proc.stdout)
