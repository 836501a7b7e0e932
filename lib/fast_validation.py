"""The fast first stage of validation: jsonschema-rs (compiled Rust), with our readings of `pattern`,
`contentEncoding` and integers (lib/rules.py) plugged in as keywords.

It can only say "valid". Anything else (an invalid value, or one it cannot read, such as an integer
beyond 64 bits) goes to the reference validator (jsonschema, lib/validation.py), which decides and
explains; so the reference, loaded only then, stays the one authority, and a valid message - nearly
every message - costs a fraction of a millisecond even when it is megabytes long.
tests/test_fast_validation.py holds the two to "fast says valid => the reference says valid" for every
schema of every action.
"""

from __future__ import annotations

import copy

import jsonschema_rs

from .rules import compiled_pattern, is_canonical_base64, is_strict_integer
from .schema_cache import PerSchema

STRICT_INTEGER = "x-strict-integer"  # our marker keyword, added where a schema says "type": "integer"
_NOT_SCHEMAS = ("enum", "const", "required", "examples", "default")  # values there are data, not schemas


class _Pattern:
    def __init__(self, parent_schema, value, schema_path):
        self.matcher = compiled_pattern(value)

    def validate(self, instance):
        if isinstance(instance, str) and not self.matcher.search(instance):
            raise ValueError("does not match the pattern")


class _ContentEncoding:
    def __init__(self, parent_schema, value, schema_path):
        self.base64 = value == "base64"

    def validate(self, instance):
        if self.base64 and isinstance(instance, str) and not is_canonical_base64(instance):
            raise ValueError("is not canonical base64")


class _StrictInteger:
    def __init__(self, parent_schema, value, schema_path):
        pass

    def validate(self, instance):
        # jsonschema-rs has already checked the type; only 5.0 (a float it counts as an integer) remains.
        if isinstance(instance, float) and not is_strict_integer(instance):
            raise ValueError("is not an integer")


KEYWORDS = {"pattern": _Pattern, "contentEncoding": _ContentEncoding, STRICT_INTEGER: _StrictInteger}


def _mark_integers(node):
    if isinstance(node, dict):
        out = {k: (v if k in _NOT_SCHEMAS else _mark_integers(v)) for k, v in node.items()}
        if out.get("type") == "integer" or (isinstance(out.get("type"), list) and "integer" in out["type"]):
            out[STRICT_INTEGER] = True
        return out
    if isinstance(node, list):
        return [_mark_integers(v) for v in node]
    return node


def _compile(schema):
    if not isinstance(schema, dict):
        return None
    try:
        return jsonschema_rs.Draft202012Validator(_mark_integers(copy.deepcopy(schema)), keywords=KEYWORDS,
                                                  offline=True)
    except Exception:  # noqa: BLE001  # a schema it cannot compile is left to the reference validator
        return None


_validators = PerSchema(_compile)


def is_valid(schema, instance) -> bool:
    """True only when the instance is certainly valid; False means "ask the reference validator"."""
    validator = _validators(schema)
    if validator is None:
        return False
    try:
        return validator.is_valid(instance)
    except Exception:  # noqa: BLE001  # a value it cannot convert (e.g. an int beyond 64 bits)
        return False
