"""The fast first stage of validation: jsonschema-rs (compiled Rust), with our readings of `pattern`,
`contentEncoding` and integers (lib/validation/rules.py) plugged in as keywords.

It can only say "valid". Anything else (an invalid value, or one it cannot read, such as an integer
beyond 64 bits) goes to the reference validator (jsonschema, lib/validation/reference.py), which decides and
explains; so the reference, loaded only then, stays the one authority, and a valid message - nearly
every message - costs a fraction of a millisecond even when it is megabytes long.
tests/unit/test_fast_validation.py holds the two to "fast says valid => the reference says valid" for every
schema of every action.
"""

from __future__ import annotations

import re

import jsonschema_rs

from jobs_connector.base.schema_cache import PerSchema
from jobs_connector.validation.rules import compiled_pattern, is_canonical_base64, is_strict_integer

STRICT_INTEGER = "x-strict-integer"  # our marker keyword, added where a schema says "type": "integer"
OUR_PATTERN = "x-regex-pattern"  # a pattern jsonschema-rs's own engine might read otherwise than `regex`
_NOT_SCHEMAS = ("enum", "const", "required", "examples", "default")  # values there are data, not schemas

# Patterns both engines read alike are left to jsonschema-rs (no call back into Python for every string):
# anchors, groups, alternation, quantifiers and ASCII literals, and classes of ASCII literals, ranges and
# \xHH escapes. Anything else ('.', \w, \d, \s, \p{..}, flags, ...) is evaluated by our `regex` reading.
_PLAIN_CLASS = r"\[\^?(?:[A-Za-z0-9 _@.:$-]|\\[-_.$]|\\x[0-9A-Fa-f]{2})+\]"
_PLAIN_PIECE = r"[A-Za-z0-9:@_-]|\^|\$|\(\?:|\((?!\?)|[)|+*?]|\{\d+(?:,\d*)?\}|\\\$"
_PLAIN_PATTERN = re.compile(rf"(?:{_PLAIN_CLASS}|{_PLAIN_PIECE})*\Z")


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
        # jsonschema-rs has already checked the type; what it still lets through is 5.0, a float.
        if not is_strict_integer(instance):
            raise ValueError("is not an integer")


KEYWORDS = {OUR_PATTERN: _Pattern, "contentEncoding": _ContentEncoding, STRICT_INTEGER: _StrictInteger}


def plain_pattern(pattern: str) -> bool:
    return bool(_PLAIN_PATTERN.match(pattern))


def _prepared(node, strict_integers: bool):
    """The schema as jsonschema-rs is to read it: our pattern keyword where needed, integer markers."""
    if isinstance(node, dict):
        out = {k: (v if k in _NOT_SCHEMAS else _prepared(v, strict_integers)) for k, v in node.items()}
        if isinstance(out.get("pattern"), str) and not plain_pattern(out["pattern"]):
            out[OUR_PATTERN] = out.pop("pattern")
        kind = out.get("type")
        if strict_integers and (kind == "integer" or (isinstance(kind, list) and "integer" in kind)):
            out[STRICT_INTEGER] = True
        return out
    if isinstance(node, list):
        return [_prepared(v, strict_integers) for v in node]
    return node


def _used_keywords(node, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        found.update(KEYWORDS.keys() & node.keys())
        for key, value in node.items():
            if key not in _NOT_SCHEMAS:
                _used_keywords(value, found)
    elif isinstance(node, list):
        for value in node:
            _used_keywords(value, found)
    return found


def _validator(prepared: dict):
    # Only the keywords this schema uses: with any custom keyword registered, used or not, jsonschema-rs
    # took 40% longer over every instance (a 5 MiB answer: 14.8 ms without, 20.7 ms with).
    keywords = {name: KEYWORDS[name] for name in _used_keywords(prepared, set())}
    return jsonschema_rs.Draft202012Validator(prepared, offline=True, keywords=keywords)


def _compile(schema):
    """(validator for any instance, validator for one without a float of integral value): jsonschema-rs's
    own integer type already refuses 1.5, and what our integer rule adds is refusing 5.0; without such a
    float the rule cannot fail, and leaving it out saves a call into Python for every integer."""
    if not isinstance(schema, dict):
        return None
    try:
        return tuple(_validator(_prepared(schema, strict)) for strict in (True, False))
    except Exception:  # noqa: BLE001  # a schema it cannot compile is left to the reference validator
        return None


_validators = PerSchema(_compile)


def is_valid(schema, instance, integral_floats: bool = True) -> bool:
    """True only when the instance is certainly valid; False means "ask the reference validator".
    integral_floats=False promises the instance holds no float with an integral value (5.0, 1e3) anywhere:
    a parser can tell at no cost (protocols.FloatReader)."""
    compiled = _validators(schema)
    if compiled is None:
        return False
    try:
        return compiled[0 if integral_floats else 1].is_valid(instance)
    except Exception:  # noqa: BLE001  # a value it cannot convert (e.g. an int beyond 64 bits)
        return False
