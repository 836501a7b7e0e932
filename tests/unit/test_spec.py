"""An action module's declarations are checked when the registry loads it: every upper-case name must be one the
runtime knows, of the right kind (jobs_connector.component.spec); the runtime asks one binding for every call."""

from __future__ import annotations

import types

import pytest

from jobs_connector.component.paging import Cursor
from jobs_connector.component.registry import action_keys, get_action
from jobs_connector.component.spec import DECLARATIONS, DeclarationError, OperationSpec, read_spec
from jobs_connector.http.binding import ModelledBinding, binding_of


def module(**names) -> types.ModuleType:
    made = types.ModuleType("planted")
    for name, value in names.items():
        setattr(made, name, value)
    return made


def test_every_shipped_action_declares_only_known_names_of_the_right_kind():
    for key in action_keys():
        assert isinstance(get_action(key).declarations, OperationSpec), key


def test_a_misspelt_declaration_fails_the_load_naming_the_file_and_the_name():
    with pytest.raises(DeclarationError, match=r"actions/x/Op\.py: IDEMPOTNET is not a declaration"):
        read_spec(module(METHOD="GET", PATH="/x", IDEMPOTNET=True), "actions/x/Op.py")


@pytest.mark.parametrize("name, value", [
    ("METHOD", "FETCH"), ("PATH", "things/{x}"), ("IDEMPOTENT", "yes"), ("QUERY", {"a": 1}),
    ("PAGING", {"items": "x"}), ("READ_TIMEOUT", 0), ("CHECK_WITH", "DescribeJob"), ("BINDING", object()),
    ("EXAMPLE", []),
])
def test_a_declaration_of_the_wrong_kind_fails_the_load(name, value):
    base = {"METHOD": "GET", "PATH": "/x"}
    with pytest.raises(DeclarationError, match=rf"{name} must be"):
        read_spec(module(**{**base, name: value}), "actions/x/Op.py")


def test_private_helpers_and_kit_names_are_not_declarations():
    from jobs_connector import kit

    spec = read_spec(module(METHOD="POST", PATH="/x", _RESERVED=frozenset(), SERVICES=kit.SERVICES,
                            PAGING=Cursor(items="a", input_token="n", output_token="n")), "m.py")
    assert spec.method == "POST" and spec.paging.items == "a" and spec.query == {} and spec.idempotent is False


def test_every_declaration_has_an_attribute_and_a_default():
    spec = read_spec(module(), "empty.py")
    assert {name.lower() for name in DECLARATIONS} == set(OperationSpec._fields)
    assert spec.method is None and spec.headers == {} and spec.idempotent is False


def test_a_name_the_runtime_asks_for_that_is_no_declaration_is_an_error():
    with pytest.raises(AttributeError):
        get_action("iot-jobs-data.UpdateJobExecution").spec("IDEMPOTNET")


def test_a_modelled_action_gets_the_binding_its_declarations_make():
    action = get_action("iot-jobs-data.UpdateJobExecution")
    binding = binding_of(action)
    assert isinstance(binding, ModelledBinding)
    assert binding.service({}) is action.service and binding.idempotent({}) is False
    request = binding.request({"thingName": "t 1", "jobId": "j", "status": "SUCCEEDED"}, "https://h")
    assert (request.method, request.url) == ("POST", "https://h/things/t%201/jobs/j")
    own = get_action("http.Request")
    assert binding_of(own) is own.spec("BINDING")
