"""component.json integrity: every action's module and schemas exist, load, and are valid schemas."""

import json
import os
import struct

import pytest

from jobs_connector.component.registry import ROOT, component, get_action
from jobs_connector.component.services import SERVICES
from jobs_connector.validation.reference import check_schema

KEYS = list(component()["actions"])


def test_descriptor_shape():
    comp = component()
    assert comp["title"] and comp["description"]
    assert isinstance(comp["credentials"]["fields"], dict) and comp["credentials"]["fields"]
    assert isinstance(comp["triggers"], dict)
    # One entry per action module, none missing: component.json is the one registry.
    modules = {f"{service}.{name[:-3]}" for service in os.listdir(os.path.join(ROOT, "actions"))
               for name in os.listdir(os.path.join(ROOT, "actions", service)) if name.endswith(".py")}
    assert set(KEYS) == modules and len(KEYS) == len(set(KEYS))


@pytest.mark.parametrize("key", KEYS)
def test_action_entry(key):
    entry = component()["actions"][key]
    service, operation = key.split(".", 1)
    assert service in SERVICES
    assert entry["main"] == f"./actions/{service}/{operation}.py"
    assert entry["metadata"] == {"in": f"./schemas/{service}/{operation}.in.json",
                                 "out": f"./schemas/{service}/{operation}.out.json"}
    assert entry["title"] and entry["description"]
    for path in (entry["main"], entry["metadata"]["in"], entry["metadata"]["out"]):
        assert os.path.isfile(os.path.join(ROOT, path)), path


@pytest.mark.parametrize("key", KEYS)
def test_schemas_are_valid_and_complete(key):
    action = get_action(key)
    for schema in (action.in_schema, action.out_schema):
        check_schema(schema)
        assert schema["type"] == "object"
    assert action.in_schema.get("additionalProperties") is False, "inputs must refuse unknown fields"
    assert action.out_schema.get("properties") is not None, "outputs must be typed, not a bare object"
    for name, prop in action.in_schema["properties"].items():
        pattern = prop.get("pattern")
        if pattern:
            assert pattern.startswith("^") and pattern.endswith("$"), f"{name}: unanchored pattern"


@pytest.mark.parametrize("key", KEYS)
def test_module_declares_its_binding(key):
    action = get_action(key)
    service = action.service
    if action.spec("BINDING"):  # binds its own request per call (lib/http/binding.py): the binding is the declaration
        binding = action.spec("BINDING")
        assert all(callable(getattr(binding, m, None)) for m in ("service", "signing", "request", "idempotent",
                                                                   "answer"))
    elif service.protocol != "json-1.1":
        assert isinstance(action.spec("PATH"), str) and action.spec("PATH").startswith("/")
    if service.protocol == "rest-json" and not action.spec("BINDING"):
        assert action.spec("METHOD") in ("GET", "PUT", "POST", "DELETE", "PATCH")
    props = set(action.in_schema["properties"])
    for mapping in ("QUERY", "HEADERS"):
        assert set(action.spec(mapping, {})) <= props, f"{mapping} binds a member the schema lacks"
    example = action.spec("EXAMPLE")
    if example is not None:
        from jobs_connector.validation import validate_input

        validate_input(action.in_schema, example)


def test_no_module_is_listed_twice_or_orphaned():
    listed = {component()["actions"][k]["main"][2:] for k in KEYS}
    on_disk = {os.path.join("actions", d, f) for d in os.listdir(os.path.join(ROOT, "actions"))
               for f in os.listdir(os.path.join(ROOT, "actions", d)) if f.endswith(".py")}
    assert on_disk == listed


def test_logo_is_a_real_png_of_at_least_256px():
    with open(os.path.join(ROOT, "logo.png"), "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width >= 256 and height >= 256


def test_requirements_are_pinned():
    with open(os.path.join(ROOT, "requirements.txt")) as fh:
        lines = [line.split("#")[0].strip() for line in fh]
    reqs = [line for line in lines if line and not line.startswith("-")]
    assert reqs and all("==" in line for line in reqs), [r for r in reqs if "==" not in r]


def test_component_json_is_formatted_as_the_tools_write_it():
    """tools/component_fields.py rewrites the file with indent 2: a hand edit in another style would make its
    next run a diff of the whole file."""
    with open(os.path.join(ROOT, "component.json"), encoding="utf-8") as fh:
        text = fh.read()
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
