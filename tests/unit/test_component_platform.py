"""component.json as the platform renders it: the credentials form, the list actions' step fields."""

from __future__ import annotations

import os

import pytest

from jobs_connector.component.registry import ROOT as REGISTRY_ROOT
from jobs_connector.component.registry import component, get_action
from jobs_connector.component.services import SERVICES, TokenService
from jobs_connector.mqtt.settings import CONFIG_FIELDS as MQTT_FIELDS
from jobs_connector.sailor.fields import EMIT_FIELDS, paging_action_keys, with_emit_fields

VIEW_CLASSES = {"TextFieldView", "PasswordFieldView", "SelectView", "CheckBoxView", "TextAreaView"}
SECRET_FIELDS = {"secretAccessKey", "sessionToken", "spaceoneApiKey", "embedthisToken"}
SELECT_FIELDS = {"transport"}  # https or mqtt (lib/mqtt/settings.py)


def runtime_config_fields() -> set[str]:
    """The step-config fields the runtime reads for credentials (lib/auth/chain.py, lib/component/services.py)."""
    names = {"accessKeyId", "secretAccessKey", "sessionToken", "region", "endpoint", "profile", *MQTT_FIELDS}
    for service in SERVICES.values():
        if isinstance(service, TokenService):
            names |= {service.endpoint_cfg, service.token_cfg} | ({service.header_cfg} - {None})
    return names


@pytest.mark.parametrize("name", list(component()["credentials"]["fields"]))
def test_credential_field_renders(name):
    field = component()["credentials"]["fields"][name]
    assert field["viewClass"] in VIEW_CLASSES
    assert field["label"] and field["note"]
    assert isinstance(field["required"], bool)
    assert field["viewClass"] == ("PasswordFieldView" if name in SECRET_FIELDS
                                  else "SelectView" if name in SELECT_FIELDS else "TextFieldView")
    assert name in runtime_config_fields(), f"{name} is not read by the runtime"


def test_every_secret_credential_is_a_password_field():
    fields = component()["credentials"]["fields"]
    assert SECRET_FIELDS <= set(fields)
    assert all(fields[n]["viewClass"] == "PasswordFieldView" for n in SECRET_FIELDS)


def test_every_service_can_be_configured_from_the_form():
    fields = set(component()["credentials"]["fields"])
    for service in SERVICES.values():
        if isinstance(service, TokenService):
            assert {service.endpoint_cfg, service.token_cfg} <= fields
    assert {"accessKeyId", "secretAccessKey", "region"} <= fields


def test_list_actions_carry_the_emit_fields_and_nothing_else_does():
    paging = paging_action_keys()
    assert with_emit_fields(component(), paging) == component(), "run: python tools/component_fields.py"
    for key, entry in component()["actions"].items():
        if key in paging:
            assert entry["fields"]["emitBehaviour"] == EMIT_FIELDS["emitBehaviour"]
            assert entry["dynamicMetadata"] is True
        else:
            assert "emitBehaviour" not in (entry.get("fields") or {})


def test_emit_fields_mechanism_on_a_list_action():
    fake = {"actions": {"a.List": {"fields": {"other": {"label": "x"}}}, "a.Get": {"dynamicMetadata": True}}}
    out = with_emit_fields(fake, {"a.List"})
    assert set(out["actions"]["a.List"]["fields"]) == {"emitBehaviour", "maxPages", "other"}
    assert out["actions"]["a.List"]["dynamicMetadata"] is True
    assert out["actions"]["a.Get"] == {}
    assert with_emit_fields(out, {"a.List"}) == out  # idempotent


def test_emit_behaviour_options_are_the_runtime_ones():
    from jobs_connector.component.paging import EMIT_BEHAVIOURS

    assert tuple(EMIT_FIELDS["emitBehaviour"]["model"]) == EMIT_BEHAVIOURS


def test_triggers_have_the_elasticio_polling_shape():
    triggers = component()["triggers"]
    assert len(triggers) == 7
    for key, entry in triggers.items():
        assert entry["type"] == "polling" and entry["title"] and entry["description"], key
        assert os.path.exists(os.path.join(REGISTRY_ROOT, entry["main"])), key
        assert os.path.exists(os.path.join(REGISTRY_ROOT, entry["metadata"]["out"])), key
        assert set(entry["fields"]) >= {"startTime", "snapshotLimit", "skipSnapshot"}, key


def test_every_action_has_a_title_and_description_for_the_platform():
    for key in component()["actions"]:
        action = get_action(key)
        assert action.title and action.description, key
