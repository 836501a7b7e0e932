"""Hypothesis strategies for the conformance tests.

- `input_strategy(schema)`: valid action inputs, from our in-schema with hypothesis-jsonschema. Two kinds
  of string it cannot draw are given a strategy of their own (as custom formats): base64 blobs
  (`contentEncoding` is not a constraint it knows) and patterns Python's `re` cannot compile (the models'
  `\\p{C}`, which our validator evaluates with the `regex` module). Every draw is then checked with our own
  validator, so an input the runtime would refuse is never used.
- `shape_strategy(shape)`: values of a botocore shape, drawn from the model itself (not from our
  schemas): the answers a service may send, within every modelled constraint.
"""

from __future__ import annotations

import base64
import copy
import math
import re
from functools import cache

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from jobs_connector.validation.reference import validator_for
from jobs_connector.validation.rules import compiled_pattern

# Unicode text without control, format, surrogate, private-use or unassigned characters.
PRINTABLE = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn"))
# The widest strings drawn where the model sets no bound: enough to exercise encoding, fast to run.
UNBOUNDED_TEXT = 24


def _compiles_with_re(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _base64_strategy(min_length: int, max_length: int | None):
    min_bytes = 0 if min_length <= 0 else 3 * (math.ceil(min_length / 4) - 1) + 1
    max_bytes = min_bytes + 16 if max_length is None else 3 * (max_length // 4)
    return st.binary(min_size=min_bytes, max_size=max(min_bytes, max_bytes)).map(
        lambda raw: base64.b64encode(raw).decode("ascii"))


def _regex_module_text(pattern: str, min_length: int, max_length: int | None):
    matcher = compiled_pattern(pattern)
    top = min_length + UNBOUNDED_TEXT if max_length is None else max_length
    return st.text(PRINTABLE, min_size=max(min_length, 1), max_size=top).filter(lambda s: bool(matcher.search(s)))


def generation_schema(schema: dict) -> tuple[dict, dict]:
    """A copy of `schema` that hypothesis-jsonschema can draw from, and the custom formats it needs."""
    formats: dict = {}

    def visit(node):
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        # Annotations go; a member that happens to be named like one ("description") stays.
        node = {key: ({name: visit(sub) for name, sub in value.items()} if key == "properties" else visit(value))
                for key, value in node.items() if key not in ("$schema", "description", "title", "x-secret")}
        if node.get("type") != "string":
            return node
        low, high = node.get("minLength", 0), node.get("maxLength")
        if node.get("contentEncoding") == "base64":
            name = f"x-base64-{len(formats)}"
            formats[name] = _base64_strategy(low, high)
            node = {k: v for k, v in node.items() if k != "contentEncoding"} | {"format": name}
        elif "pattern" in node and not _compiles_with_re(node["pattern"]):
            name = f"x-pattern-{len(formats)}"
            formats[name] = _regex_module_text(node.pop("pattern"), low, high)
            node["format"] = name
        return node

    return visit(copy.deepcopy(schema)), formats


@cache
def _input_strategy(schema_key: str):
    import json

    schema = json.loads(schema_key)
    drawable, formats = generation_schema(schema)
    validator = validator_for(schema)
    return from_schema(drawable, custom_formats=formats).filter(lambda body: validator.is_valid(body))


def input_strategy(schema: dict):
    import json

    return _input_strategy(json.dumps(schema, sort_keys=True))


# --- from the botocore model -------------------------------------------------------------------------

def _anchored(pattern: str) -> str:
    return pattern if pattern.startswith("^") and pattern.endswith("$") and "|" not in pattern else f"^(?:{pattern})$"


def _string(shape):
    meta = shape.metadata
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    low, high = meta.get("min", 0), meta.get("max")
    top = low + UNBOUNDED_TEXT if high is None else min(high, low + 64)
    if "pattern" in meta:
        pattern = _anchored(meta["pattern"])
        if _compiles_with_re(pattern):
            matcher = compiled_pattern(pattern)  # our validator's reading: '$' is the very end
            return (st.from_regex(pattern, fullmatch=True, alphabet=PRINTABLE)
                    .filter(lambda s: low <= len(s) <= (high or math.inf) and bool(matcher.search(s))))
        return _regex_module_text(pattern, low, high)
    return st.text(PRINTABLE, min_size=low, max_size=top)


def shape_strategy(shape, depth: int = 0):
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        if depth > 6:
            return st.just({})
        members = {name: shape_strategy(member, depth + 1) for name, member in shape.members.items()}
        required = {n: s for n, s in members.items() if n in shape.required_members}
        optional = {n: s for n, s in members.items() if n not in shape.required_members}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        low = meta.get("min", 0)
        return st.lists(shape_strategy(shape.member, depth + 1), min_size=low,
                        max_size=min(meta.get("max", low + 3), low + 3))
    if kind == "map":
        low = meta.get("min", 0)
        return st.dictionaries(shape_strategy(shape.key, depth + 1), shape_strategy(shape.value, depth + 1),
                               min_size=low, max_size=min(meta.get("max", low + 3), low + 3))
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        bits = 31 if kind == "integer" else 63
        return st.integers(meta.get("min", -(2 ** bits)), meta.get("max", 2 ** bits - 1))
    if kind in ("float", "double"):
        return st.floats(meta.get("min"), meta.get("max"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":  # epoch seconds, with the fraction the services send
        return st.floats(0, 4102444800, allow_nan=False).map(lambda t: round(t, 3))
    if kind == "blob":
        low = meta.get("min", 0)
        return st.binary(min_size=low, max_size=meta.get("max", low + 16)).map(
            lambda raw: base64.b64encode(raw).decode("ascii"))
    return st.none()  # document types: none in the models we use
