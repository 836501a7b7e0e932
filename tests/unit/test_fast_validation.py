"""The fast validation stage (jsonschema-rs, lib/validation/fast.py) against the reference (jsonschema,
lib/validation/reference.py), for the in- and out-schema of every action.

The fast stage may only ever say "valid" where the reference does: it decides alone for valid messages,
and a wrong "valid" would let a bad request out or a malformed answer through. A wrong "not valid" only
costs time (the reference then decides), so valid messages are also checked to pass the fast stage, or
it would never be used. Hypothesis mutates documented bodies with hostile strings and any JSON values;
HYPOTHESIS_PROFILE=long runs 1000 examples per schema instead of 40."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs_connector.base.jsonsafe import find_problem
from jobs_connector.component.registry import get_action
from jobs_connector.validation import fast as fast_validation
from jobs_connector.validation.reference import validator_for
from jobs_connector.validation.rules import compiled_pattern
from tests.support.fuzzing import mutated
from tests.support.inputs import full_input, input_for, minimal_valid_input, sample_output
from tests.support.targets import all_actions

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
DIFFERENTIAL = settings(max_examples=1000 if LONG else 40, deadline=None, database=None, derandomize=not LONG,
                        suppress_health_check=list(HealthCheck))
ACTIONS = [action.key for action in all_actions()]


def holds_integral_float(value) -> bool:
    if isinstance(value, dict):
        return any(holds_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_integral_float(v) for v in value)
    return isinstance(value, float) and value.is_integer()


def documented_bodies(key: str, side: str) -> list[dict]:
    action = get_action(key)
    if side == "out":
        return [sample_output(action.out_schema)]
    bodies = [input_for(action), minimal_valid_input(action.in_schema)]
    try:
        bodies.append(full_input(action.in_schema))
    except ValueError:
        pass
    return bodies


def schema_of(key: str, side: str) -> dict:
    action = get_action(key)
    return action.in_schema if side == "in" else action.out_schema


# Values where jsonschema-rs and jsonschema could read a rule differently (see EDGES below).
EDGE_VALUES = st.sampled_from([5.0, 1.5, 1700000000.25, -1, 0, 2 ** 63, 2 ** 64, 2 ** 70, True, "", "YQ", "YQ==\n",
                               "a\n"])


CASES = [(key, side) for key in ACTIONS for side in ("in", "out")]


@pytest.mark.parametrize("key,side", CASES)
def test_documented_bodies_pass_the_fast_stage(key, side):
    schema = schema_of(key, side)
    for body in documented_bodies(key, side):
        assert validator_for(schema).is_valid(body)
        assert fast_validation.is_valid(schema, body), body


@pytest.mark.parametrize("key,side", CASES)
def test_fast_valid_only_where_the_reference_is_valid(key, side):
    schema, bodies = schema_of(key, side), documented_bodies(key, side)
    reference = validator_for(schema)
    seen = {"fast valid": 0, "refused": 0}

    @DIFFERENTIAL
    @given(mutated(bodies, EDGE_VALUES))
    def check(body):
        if find_problem(body):  # what JSON cannot carry never reaches a validator (lib/base/jsonsafe.py)
            return
        if fast_validation.is_valid(schema, body):
            seen["fast valid"] += 1
            assert reference.is_valid(body), body
        else:
            seen["refused"] += 1
        if not holds_integral_float(body) and fast_validation.is_valid(schema, body, integral_floats=False):
            assert reference.is_valid(body), body  # without the integer rule, for bodies with no float like 5.0

    check()
    assert sum(seen.values()) > 0
    if schema.get("properties"):  # a schema that documents fields: some mutations break them
        assert seen["refused"] > 0


EDGES = [
    ({"type": "integer"}, 5.0), ({"type": "integer"}, True), ({"type": "number"}, False),
    ({"type": "integer", "maximum": 2 ** 63 - 1}, 2 ** 63), ({"type": "integer", "minimum": 0}, -(2 ** 70)),
    ({"type": "string", "contentEncoding": "base64"}, "YQ"), ({"type": "string", "contentEncoding": "base64"}, "Y Q=="),
    ({"type": "string", "contentEncoding": "base64"}, "YR=="),
    ({"type": "string", "pattern": "^[a-z]+$"}, "abc\n"), ({"type": "string", "pattern": "^[\\w]+$"}, "a\u00b2"),
    ({"type": "string", "pattern": "^\\p{L}+$"}, "a1"), ({"type": "string", "maxLength": 1}, "\U0001f600\U0001f600"),
    ({"type": "string", "minLength": 2}, "\U0001f600"), ({"enum": ["A", "B"]}, "a"),
    ({"type": "object", "additionalProperties": False}, {"x": 1}),
    ({"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}}, {"a\n": 1}),
]


@pytest.mark.parametrize("schema,value", EDGES, ids=[f"{s}-{v!r}"[:60] for s, v in EDGES])
def test_the_edges_where_the_two_engines_read_differently_are_refused(schema, value):
    assert not validator_for(schema).is_valid(value)
    assert not fast_validation.is_valid(schema, value)


def schema_patterns() -> list[str]:
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            for key, value in node.items():
                if key not in ("enum", "const", "required"):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for key in ACTIONS:
        walk(get_action(key).in_schema)
        walk(get_action(key).out_schema)
    return sorted(found)


PATTERNS = schema_patterns()
PLAIN = [p for p in PATTERNS if fast_validation.plain_pattern(p)]
TRICKY = ["", "a", "abc\n", "abc\r\n", "\n", "a b", "a\tb", "a\x00b", "\u00e9", "\U0001f600", "\u200b", "\x7f",
          "a-b_c.d", "1" * 300, "../x", "x/y", "%2F", "$next", "job$next", "\u00b2", "\u0661", "\u2028", "x:y@z"]


def test_patterns_left_to_jsonschema_rs_are_read_as_regex_reads_them():
    assert len(PLAIN) >= 5 and len(PLAIN) < len(PATTERNS)  # some go to jsonschema-rs, some stay with `regex`
    for pattern in PLAIN:
        schema = {"type": "string", "pattern": pattern}
        for text in TRICKY + [t * 3 for t in TRICKY]:
            assert fast_validation.is_valid(schema, text) == bool(compiled_pattern(pattern).search(text)), \
                (pattern, text)


@DIFFERENTIAL
@given(st.sampled_from(PLAIN or ["^a$"]), st.data())
def test_plain_patterns_agree_on_generated_strings(pattern, data):
    text = data.draw(st.one_of(st.text(max_size=30), st.from_regex(pattern).filter(lambda s: len(s) < 500)))
    schema = {"type": "string", "pattern": pattern}
    assert fast_validation.is_valid(schema, text) == bool(compiled_pattern(pattern).search(text))


@pytest.mark.parametrize("pattern", ["^.+$", "^[\\w]+$", "^(?i:ab)$", "^(?=a).$", "^\\d+$", "^(?:[^\\p{C}]+)$", "a.b"])
def test_patterns_with_engine_specific_meaning_stay_with_regex(pattern):
    assert not fast_validation.plain_pattern(pattern)
