"""The security checks CI runs: bandit over the shipped code, and the dependency audit that reads pip-audit's
report truthfully (an unaccepted vulnerability fails; packages nobody could audit are named, not hidden)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from jobs_connector.component.registry import ROOT
from tools import dependency_audit as audit

CI = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
# requirements.txt includes the runtime pins (-r requirements-runtime.txt); read both as pip does.
REQUIREMENTS = "".join(open(os.path.join(ROOT, name), encoding="utf-8").read()
                       for name in ("requirements.txt", "requirements-runtime.txt"))
SECURITY_AUDIT = open(os.path.join(ROOT, "SECURITY-AUDIT.md"), encoding="utf-8").read()

VULN = {"id": "PYSEC-2099-1", "aliases": ["GHSA-xxxx-yyyy-zzzz"], "fix_versions": ["9.9.9"]}


def report(*deps):
    return {"dependencies": list(deps), "fixes": []}


def test_an_unaccepted_vulnerability_fails():
    code, lines = audit.verdict(report({"name": "requests", "version": "1.0", "vulns": [VULN]}), set())
    assert code == 1
    assert any("requests 1.0: PYSEC-2099-1 (fixed in 9.9.9) - NOT ACCEPTED" in line for line in lines)


@pytest.mark.parametrize("accepted", ["PYSEC-2099-1", "GHSA-xxxx-yyyy-zzzz"])
def test_a_vulnerability_accepted_by_id_or_alias_passes(accepted):
    code, lines = audit.verdict(report({"name": "requests", "version": "1.0", "vulns": [VULN]}), {accepted})
    assert code == 0 and any("accepted in SECURITY-AUDIT.md" in line for line in lines)


def test_packages_nobody_could_audit_are_named_not_hidden():
    code, lines = audit.verdict(report(
        {"name": "requests", "version": "1.0", "vulns": []},
        {"name": "regex", "skip_reason": "Dependency not found on PyPI and could not be audited: regex (1)"},
    ), set())
    assert code == 0
    assert lines[0] == "dependency audit: 1 of 2 packages audited, 0 known vulnerabilities, 0 not accepted"
    assert "INCOMPLETE" in lines[1] and "1 package(s)" in lines[1]
    assert lines[2].startswith("  regex: Dependency not found")


def test_accepted_ids_are_read_from_lines_of_the_audit_file():
    text = "intro\n- accepted: GHSA-aaaa-bbbb-cccc (urllib3): not reachable from our calls\n* accepted: `PYSEC-1`\n"
    assert audit.accepted_ids(text) == {"GHSA-aaaa-bbbb-cccc", "PYSEC-1"}
    assert isinstance(audit.accepted_ids(SECURITY_AUDIT), set)


def test_pip_audit_not_completing_is_reported_and_not_a_failure(monkeypatch, capsys):
    monkeypatch.setattr(audit, "run_pip_audit", lambda requirements: None)
    assert audit.main(["requirements.txt", os.path.join(ROOT, "SECURITY-AUDIT.md")]) == 0
    monkeypatch.setattr(audit, "run_pip_audit",
                        lambda requirements: report({"name": "x", "version": "1", "vulns": [VULN]}))
    assert audit.main(["requirements.txt", os.path.join(ROOT, "SECURITY-AUDIT.md")]) == 1
    assert "NOT ACCEPTED" in capsys.readouterr().out


def test_ci_runs_bandit_and_the_dependency_audit():
    lines = [line.strip() for line in CI.splitlines() if not line.lstrip().startswith("#")]
    assert "python3 -m bandit -q -c pyproject.toml -r lib actions" in lines
    assert "python3 tools/dependency_audit.py requirements.txt SECURITY-AUDIT.md" in lines
    for package in ("bandit", "pip-audit", "cryptography"):
        assert re.search(rf"^{package}==[0-9.]+$", REQUIREMENTS, re.M), package


def test_bandit_finds_nothing_unaccepted_in_the_shipped_code():
    done = subprocess.run([sys.executable, "-m", "bandit", "-q", "-c", "pyproject.toml", "-r", "lib", "actions"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
