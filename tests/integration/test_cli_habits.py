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
