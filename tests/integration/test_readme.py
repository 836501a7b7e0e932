"""The README's two set-up commands cannot rot: the test command is the one CI runs, the quick start
installs the base package only (pinned, no test or audit tools), and the quick-start command is run here,
verbatim but for a `pip install` that has already been done."""

import os
import re
import shlex
import socket
import subprocess
import sys
import tomllib

import pytest

from jobs_connector.component.registry import ROOT
from jobs_connector.sandbox import DEFAULT_PORT, SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
CI = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
BLOCKS = re.findall(r"^```sh\n(.*?)^```", README, flags=re.S | re.M)
QUICK_START, TEST_COMMAND = (block.strip() for block in BLOCKS[:2])
QUICK_INSTALL = "pip install -c requirements-runtime.txt -e ."  # constraints: pins, installs nothing itself
TEST_INSTALL = "pip install -r requirements.txt -e ."
TOOLS = {"pytest", "responses", "boto3", "awscli", "hypothesis", "hypothesis-jsonschema", "ruff", "bandit",
         "pip-audit"}


def _pip_arguments(command: str) -> list[str]:
    words = shlex.split(command)
    return [w for w in words[words.index("install") + 1:] if w != "-q"]


def test_the_two_commands_come_first():
    assert README.index(QUICK_START) < README.index(TEST_COMMAND) < README.index("## Contents")
    assert QUICK_START.startswith(QUICK_INSTALL + " && ") and TEST_COMMAND.startswith(TEST_INSTALL + " && ")


def _names(requirements: str) -> set[str]:
    with open(os.path.join(ROOT, requirements), encoding="utf-8") as fh:
        lines = [line.split("#", 1)[0].strip() for line in fh]
    return {re.split(r"[=<>\[ ]", line, maxsplit=1)[0].lower() for line in lines if line and not line.startswith("-")}


def test_the_quick_start_installs_no_test_or_audit_tools():
    # `-e .` installs pyproject's base dependencies; `-c` only pins their versions.
    pyproject = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))
    base = {re.split(r"[=<>\[ ]", dep, maxsplit=1)[0].lower() for dep in pyproject["project"]["dependencies"]}
    assert base and not base & TOOLS
    assert base <= _names("requirements-runtime.txt"), "every base dependency is pinned"
    assert not _names("requirements-runtime.txt") & TOOLS
    assert {"pytest", "bandit", "pip-audit"} <= _names("requirements.txt")  # the test command still gets them


def test_the_test_command_is_the_one_ci_runs():
    install, test = (part.strip() for part in TEST_COMMAND.split("&&"))
    ci_lines = [line.strip() for line in CI.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert any(line == test or line.startswith(test + " ") for line in ci_lines), f"{test!r} is not run by .ci/run"
    [ci_install] = [line for line in ci_lines if "pip install" in line]
    assert _pip_arguments(ci_install) == _pip_arguments(install)


def _already_installed() -> bool:
    probe = subprocess.run([sys.executable, "-c",
                            "import jobs_connector.cli.main, jobs_connector.sandbox, requests, jsonschema"],
                           cwd=ROOT, capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.slow
def test_the_quick_start_command_runs_the_job_to_success():
    command = QUICK_START
    if _already_installed():  # the install half has been done by whoever runs the tests
        command = command[len(QUICK_INSTALL + " && "):]
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "GetPendingJobExecutions" in out and "StartNextPendingJobExecution" in out
    assert '"status": "IN_PROGRESS"' in out and '"status": "SUCCEEDED"' in out
    assert "Done: job demo-job-1 on demo-thing is SUCCEEDED (version 3)." in out
    port = int(re.search(r"Sandbox running at http://127\.0\.0\.1:(\d+)", out).group(1))
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):  # the script stopped its sandbox
        probe.connect(("127.0.0.1", port))


def test_the_sandbox_page_matches_the_code():
    section = open(os.path.join(ROOT, "docs", "sandbox.md"), encoding="utf-8").read()
    for fact in (str(DEFAULT_PORT), "--port 0", SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY, "--state", "--print-env",
                 "AWS_ENDPOINT_URL", "SPACEONE_ENDPOINT", "EMBEDTHIS_ENDPOINT", "demo-thing"):
        assert fact in section, fact
