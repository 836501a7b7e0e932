"""docs/actions.md is generated; it must be what `jobs-connector docs` writes today."""

from __future__ import annotations

import jobs_connector.component.registry as registry
from jobs_connector.cli import docs
from jobs_connector.component.registry import component
from tests.support.cli import run_cli


def test_checked_in_docs_are_up_to_date():
    with open(docs.DEFAULT_OUTPUT, encoding="utf-8") as fh:
        checked_in = fh.read()
    assert checked_in == docs.render(), "docs/actions.md is stale: run `jobs-connector docs`"


def test_every_action_and_credential_field_is_documented():
    text = docs.render()
    for key, entry in component()["actions"].items():
        assert f"### {key}\n" in text and entry["title"] in text
    for name in component()["credentials"]["fields"]:
        assert f"`{name}`" in text


def test_rendering_is_deterministic():
    assert docs.render() == docs.render()


def test_inputs_show_type_required_and_rules():
    text = docs.render()
    section = text.split("### iot-jobs-data.UpdateJobExecution\n", 1)[1].split("\n### ", 1)[0]
    assert "| `thingName` | string | yes | min length 1, max length 128" in section
    assert "| `status` | string | yes | one of QUEUED \\| IN_PROGRESS" in section  # pipes escaped
    assert "Retries: never sent twice" in section and "look with `iot-jobs-data.DescribeJobExecution`" in section


def test_deprecation_role_and_example_are_shown(monkeypatch):
    real = component()
    entry = dict(real["actions"]["iot-jobs-data.GetPendingJobExecutions"], deprecated="Retired by the provider.")
    fake = {**real, "actions": {"iot-jobs-data.GetPendingJobExecutions": entry}}
    monkeypatch.setattr(registry, "component", lambda: fake)
    monkeypatch.setattr(docs, "component", lambda: fake)
    registry.get_action.cache_clear()
    action = registry.get_action("iot-jobs-data.GetPendingJobExecutions")
    monkeypatch.setattr(action.module, "ROLE", "admin", raising=False)
    monkeypatch.setattr(action.module, "EXAMPLE", {"thingName": "demo-thing"}, raising=False)
    try:
        text = docs.render()
    finally:
        registry.get_action.cache_clear()
    assert "> **Deprecated:** Retired by the provider." in text
    assert "(deprecated)" in text.split("## Credentials")[0]
    assert "- Role: `admin`" in text
    assert "jobs-connector run iot-jobs-data.GetPendingJobExecutions --input '{\"thingName\": \"demo-thing\"}'" in text


def test_cli_check_and_write(tmp_path):
    target = tmp_path / "actions.md"
    assert run_cli("docs", "--check", "--output", str(target)).code == 1  # missing
    assert run_cli("docs", "--output", str(target)).code == 0
    assert target.read_text(encoding="utf-8") == docs.render()
    assert run_cli("docs", "--check", "--output", str(target)).code == 0
    target.write_text("stale", encoding="utf-8")
    result = run_cli("docs", "--check", "--output", str(target))
    assert result.code == 1 and "out of date" in result.stderr


def test_each_action_has_a_sample_output_its_errors_and_a_mapping():
    text = docs.render()
    for key in component()["actions"]:
        section = text.split(f"### {key}\n", 1)[1].split("\n### ", 1)[0]
        assert "Sample output" in section and "```json\n" in section, key
        assert "Errors the service can return" in section, key
        assert "Platform mapping (JSONata" in section and "```jsonata\n" in section, key
    ack = text.split("### codepipeline.AcknowledgeThirdPartyJob\n", 1)[1].split("\n### ", 1)[0]
    assert "| `InvalidNonceException` | 400 | Conflict (exit 3) |" in ack
    assert "`codepipeline.PollForThirdPartyJobs`" in ack and '"jobId": jobs[0].jobId' in ack
