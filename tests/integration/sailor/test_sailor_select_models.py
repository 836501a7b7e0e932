"""The dynamic select lists: `jobs-connector ipaas selectModel` as the platform calls it (ELASTICIO_CFG in,
the answer POSTed to ELASTICIO_POST_RESULT_URL) against the sandbox over real HTTP, the fields in
component.json, and the step runner using a chosen value as the body's default."""

from __future__ import annotations

import json

from jobs_connector.component.registry import component
from jobs_connector.sailor.fields import SELECT_FIELDS, SELECTS_BY_ACTION, fill_from_select_fields, with_select_fields
from jobs_connector.sailor.messages import StepData
from jobs_connector.sailor.select_models import MODELS
from jobs_connector.sandbox import SANDBOX_TOKEN
from tests.integration.sailor.test_sailor_broker import serve
from tests.integration.sailor.test_sailor_service import run_service
from tests.support.loopback import LoopbackServer, Reply
from tests.support.sandbox import running_sandbox, token_post


def embedthis_cfg(sandbox) -> dict:
    return {"embedthisEndpoint": sandbox.url, "embedthisToken": SANDBOX_TOKEN}


def spaceone_cfg(sandbox) -> dict:
    return {"spaceoneEndpoint": sandbox.url, "spaceoneApiKey": SANDBOX_TOKEN}


def select(monkeypatch, platform, action: str, method: str, cfg: dict):
    result, post = run_service(monkeypatch, "selectModel", platform, ELASTICIO_CFG=json.dumps(cfg),
                               ELASTICIO_ACTION_OR_TRIGGER=action, ELASTICIO_GET_MODEL_METHOD=method)
    assert result.code == 0, result.stderr
    return post.json()


def test_cloud_ids_come_from_find_clouds(monkeypatch, loopback):
    with running_sandbox() as sandbox:
        token_post(sandbox, "/cloud/create", {"name": "made-for-the-form"})
        answer = select(monkeypatch, loopback, "embedthis.GetCloud", "embedthisClouds", embedthis_cfg(sandbox))
        listed = token_post(sandbox, "/cloud/find", {}).json()["data"]
    assert answer["status"] == "success", answer
    assert answer["data"] == {c["id"]: f"{c['name']} ({c['id']})" for c in listed}
    assert len(answer["data"]) == 8 and any("made-for-the-form" in label for label in answer["data"].values())


def test_spaceone_jobs_and_workspaces_come_from_list_jobs(monkeypatch, loopback):
    with running_sandbox() as sandbox:
        jobs_answer = select(monkeypatch, loopback, "spaceone.GetJob", "spaceoneJobs", spaceone_cfg(sandbox))
        loopback.requests.clear()
        spaces_answer = select(monkeypatch, loopback, "spaceone.ListJobs", "spaceoneWorkspaces", spaceone_cfg(sandbox))
        jobs = token_post(sandbox, "/identity/v2/job/list", {}).json()["results"]
    assert jobs_answer["status"] == "success", jobs_answer
    assert list(jobs_answer["data"]) == [j["job_id"] for j in jobs]  # every job, newest first
    first = jobs[0]
    assert jobs_answer["data"][first["job_id"]].startswith(f"{first['job_id']}: {first['status']}")
    assert spaces_answer["data"] == {w: w for w in sorted({j["workspace_id"] for j in jobs})}
    assert len(spaces_answer["data"]) == 2


def test_a_refused_token_is_an_error_answer_without_the_token(monkeypatch, loopback):
    service = LoopbackServer(default=Reply(401, {"code": "Unauthorized", "message": "bad token"})).start()
    try:  # the sandbox takes any token: a loopback server refuses this one
        cfg = {"embedthisEndpoint": service.url, "embedthisToken": "wrong-token-not-real"}
        answer = select(monkeypatch, loopback, "embedthis.GetCloud", "embedthisClouds", cfg)
    finally:
        service.stop()
    assert answer["status"] == "error" and "bad token" in answer["data"]["message"]
    assert "wrong-token-not-real" not in json.dumps(answer)
    assert len(service.requests) == 1  # refused credentials are not tried again


def test_an_unknown_model_is_an_error_answer_naming_the_known_ones(monkeypatch, loopback):
    answer = select(monkeypatch, loopback, "embedthis.GetCloud", "regions", {})
    assert answer["status"] == "error"
    assert "no select model 'regions'" in answer["data"]["message"] and "embedthisClouds" in answer["data"]["message"]


def test_component_json_declares_each_select_field_with_a_model_that_exists():
    assert with_select_fields(component()) == component(), "run: python tools/component_fields.py"
    declared = 0
    for key, entry in component()["actions"].items():
        for name, field in (entry.get("fields") or {}).items():
            if field.get("viewClass") == "SelectView" and isinstance(field.get("model"), str):
                assert field["model"] in MODELS, f"{key}.{name}: no select model {field['model']!r}"
                member = SELECT_FIELDS[name][1]
                schema = json.load(open(entry["metadata"]["in"]))
                assert member in schema["properties"], f"{key}: the field fills {member}, not in its input"
                declared += 1
    assert declared == sum(len(v) for k, v in SELECTS_BY_ACTION.items() if k in component()["actions"]) > 0


def test_a_select_field_is_only_a_default_for_the_body():
    cfg = {"cloudId": "cloud-from-the-form"}
    assert fill_from_select_fields("embedthis.GetCloud", {"body": {}}, cfg)["body"] == {"id": "cloud-from-the-form"}
    assert fill_from_select_fields("embedthis.GetCloud", {"body": {"id": "mine"}}, cfg)["body"] == {"id": "mine"}
    assert fill_from_select_fields("embedthis.FindClouds", {"body": {}}, cfg)["body"] == {}  # not its field
    assert fill_from_select_fields("embedthis.GetCloud", {"body": {}}, {"cloudId": ""})["body"] == {}


def test_the_step_runner_uses_the_chosen_cloud_when_the_message_has_none(platform):
    with running_sandbox() as sandbox:
        clouds = token_post(sandbox, "/cloud/find", {}).json()["data"]
        chosen, other = clouds[2], clouds[4]
        step = StepData(id="step_2", config={**embedthis_cfg(sandbox), "cloudId": chosen["id"]})
        platform.send({"body": {}})
        platform.send({"body": {"id": other["id"]}})  # the message's own id wins over the form's
        serve(platform, step, 2, ELASTICIO_FUNCTION="embedthis.GetCloud")
    first, second = platform.take("data", 2)
    assert first.value["body"]["id"] == chosen["id"]
    assert second.value["body"]["id"] == other["id"]
