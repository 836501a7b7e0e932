"""Every AWS action agrees with the botocore model of the installed version: its in- and out-schemas
(member names, required members, types, enums, lengths, ranges, anchored patterns, secrets) and the HTTP
binding its module declares. Actions are discovered from component.json, so new ones are covered."""

from __future__ import annotations

import copy

import pytest

from jobs_connector.component.registry import get_action
from tests.support.aws_model import aws_action_keys, idempotency_token_members, operation_model, service_model
from tests.support.model_schema import anchored, mismatches

KEYS = aws_action_keys()


def test_aws_actions_are_discovered():
    """Every modelled AWS action is compared with the model: each AWS service's actions, all but the bound ones."""
    from jobs_connector.component.registry import action_keys

    aws = {key for key in action_keys()
           if get_action(key).service.auth == "sigv4" and not get_action(key).spec("BINDING")}
    assert set(KEYS) == aws and {key.split(".")[0] for key in KEYS} >= {"iot-jobs-data", "iot", "panorama",
                                                                      "codepipeline"}


@pytest.mark.parametrize("key", KEYS)
def test_input_schema_matches_the_model(key):
    action, op = get_action(key), operation_model(key)
    assert op.input_shape is not None
    assert mismatches(op.input_shape, action.in_schema, "in") == []


@pytest.mark.parametrize("key", KEYS)
def test_output_schema_matches_the_model(key):
    action, op = get_action(key), operation_model(key)
    if op.output_shape is None:  # nothing modelled: an empty object, still a complete schema
        assert action.out_schema.get("type") == "object"
        assert action.out_schema.get("properties") == {}
        return
    assert mismatches(op.output_shape, action.out_schema, "out") == []


@pytest.mark.parametrize("key", KEYS)
def test_service_facts_match_the_model(key):
    action = get_action(key)
    model = service_model(action.service_name)
    service = action.service
    assert service.signing_name == model.signing_name
    assert service.api_version == model.api_version
    if model.protocol == "json":
        assert service.protocol == f"json-{model.metadata['jsonVersion']}"
        assert service.target_prefix == model.metadata["targetPrefix"]
    else:
        assert service.protocol == model.protocol


@pytest.mark.parametrize("key", KEYS)
def test_module_binding_matches_the_model(key):
    action, op = get_action(key), operation_model(key)
    members = op.input_shape.members
    tokens = idempotency_token_members(op.input_shape)
    assert action.spec("IDEMPOTENCY_TOKEN") == (tokens[0] if tokens else None)
    if action.service.protocol != "rest-json":
        return
    assert action.spec("METHOD") == op.http["method"]
    assert action.spec("PATH") == op.http["requestUri"]

    def bound(location):
        return {name: m.serialization["name"] for name, m in members.items()
                if m.serialization.get("location") == location}

    assert (action.spec("QUERY") or {}) == bound("querystring")
    assert (action.spec("HEADERS") or {}) == bound("header")


# --- the comparison must be able to fail -----------------------------------------------------------

def _string_paths(schema, path=()):
    """Paths (as key tuples) of every string node of a schema."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string":
        yield path
    for key in ("properties",):
        for name, sub in (schema.get(key) or {}).items():
            yield from _string_paths(sub, (*path, key, name))
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(schema.get(key), dict):
            yield from _string_paths(schema[key], (*path, key))


def _node(schema, path):
    for part in path:
        schema = schema[part]
    return schema


def _mutations(schema):
    """(name, mutated copy) pairs: each one loosens or breaks the schema in one place."""
    out = []
    first = next(iter(schema["properties"]))
    dropped = copy.deepcopy(schema)
    del dropped["properties"][first]
    out.append((f"member {first} removed", dropped))
    renamed = copy.deepcopy(schema)
    renamed["properties"][first + "X"] = renamed["properties"].pop(first)
    out.append((f"member {first} renamed", renamed))
    if schema.get("required"):
        loose = copy.deepcopy(schema)
        loose["required"] = loose["required"][1:]
        out.append(("a required member made optional", loose))
    if schema.get("additionalProperties") is False:
        open_ = copy.deepcopy(schema)
        del open_["additionalProperties"]
        out.append(("unknown members accepted", open_))
    retyped = copy.deepcopy(schema)
    node = retyped["properties"][first]
    node["type"] = "boolean" if node.get("type") != "boolean" else "string"
    out.append((f"{first} retyped", retyped))
    for keyword in ("maxLength", "minLength", "pattern", "enum", "maxItems", "minItems", "maximum", "minimum"):
        for path in _string_paths(schema):
            if keyword in _node(schema, path):
                loosened = copy.deepcopy(schema)
                del _node(loosened, path)[keyword]
                out.append((f"{keyword} dropped at {'/'.join(path)}", loosened))
                break
    for path in _string_paths(schema):
        if "maxLength" in _node(schema, path):
            wider = copy.deepcopy(schema)
            _node(wider, path)["maxLength"] += 1
            out.append((f"maxLength widened at {'/'.join(path)}", wider))
            break
    for path in _string_paths(schema):
        if "pattern" in _node(schema, path):
            unanchored = copy.deepcopy(schema)
            node = _node(unanchored, path)
            node["pattern"] = node["pattern"].removeprefix("^(?:").removesuffix(")$").lstrip("^").rstrip("$")
            out.append((f"pattern unanchored at {'/'.join(path)}", unanchored))
            break
    return out


@pytest.mark.parametrize("key", KEYS)
def test_every_mutation_of_an_input_schema_is_caught(key):
    action, op = get_action(key), operation_model(key)
    mutations = _mutations(action.in_schema)
    assert len(mutations) >= 3
    for name, mutated in mutations:
        assert mismatches(op.input_shape, mutated, "in"), f"not caught: {name}"
    assert action.in_schema == get_action(key).in_schema  # the mutations worked on copies


def test_a_secret_that_is_not_marked_is_caught():
    import botocore.session

    model = botocore.session.get_session().get_service_model("codepipeline")
    shape = model.operation_model("GetThirdPartyJobDetails").output_shape
    credentials = shape.members["jobDetails"].members["data"].members["artifactCredentials"]
    schema = {"type": "object", "properties": {name: {"type": "string", "x-secret": True}
                                               for name in credentials.members},
              "required": sorted(credentials.required_members), "x-secret": True}
    assert mismatches(credentials, schema, "out") == []
    unmarked = copy.deepcopy(schema)
    del unmarked["properties"]["secretAccessKey"]["x-secret"]
    assert mismatches(credentials, unmarked, "out") == ["$.secretAccessKey: sensitive in the model but not "
                                                        "marked x-secret"]


@pytest.mark.parametrize(("model", "ours"), [
    ("[a-z]+", "^(?:[a-z]+)$"),
    ("^[a-z]+$", "^[a-z]+$"),
    ("^a$|^b$", "^(?:^a$|^b$)$"),  # an alternation is wrapped even when both ends are anchored
    ("[a-zA-Z0-9_-]+|^\\$next", "^(?:[a-zA-Z0-9_-]+|^\\$next)$"),
])
def test_patterns_are_anchored(model, ours):
    assert anchored(model) == ours
