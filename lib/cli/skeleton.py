"""`jobs-connector describe ACTION --skeleton` (and `run ACTION --generate-cli-skeleton`): an input with every
field and a placeholder, ready to fill, that our validation and the service accept as it stands.

As the AWS CLI's --generate-cli-skeleton, every field is there, but each placeholder keeps its field's rules
(the AWS CLI's `""` and `0` are often refused): a string is `""` where the field allows it, else the value
the action's example gives it, else a value of the field's form (its name, a region, an ARN, ...; the first
that fits its length and pattern); a number is 1 (or the nearest its range allows); a boolean false; an
enum the example's value, else its first one; a field with a default that default; a list holds one element
(or its minimum), a map one entry `KeyName` (or a key its key rule allows). The plain walk (`placeholder`,
`sample`) gives the sample of an output schema (docs, `describe`).
"""

from __future__ import annotations

import json
import re

from jobs_connector.component.registry import Action

_MAX_DEPTH = 8  # schemas here are shallow; the bound only keeps a recursive one from looping


def placeholder(schema: dict, depth: int = 0):
    """A value of the schema's type with every declared field present, to be filled in."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        out = {name: placeholder(sub, depth + 1) for name, sub in (schema.get("properties") or {}).items()}
        extra = schema.get("additionalProperties")
        if not out and isinstance(extra, dict):
            out["KeyName"] = placeholder(extra, depth + 1)
        return out
    if kind == "array":
        item = placeholder(schema.get("items") or {}, depth + 1)
        return [] if item is None else [item]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else None)
        return low if low is not None and low > 0 else 0  # 0 unless the rule is above it (a timestamp's floor is not)
    if kind == "boolean":
        return False
    if kind == "string":
        return ""
    return None


def sample(schema: dict, name: str = "", known: dict | None = None, depth: int = 0):
    """A readable example of a value of the schema (an output's sample in `describe` and the docs): a string
    is "<its field name>" (or the value the action's example input gives that field, "***" for a secret),
    a date-time a date, other types as in `placeholder`."""
    known = known or {}
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if schema.get("x-secret"):
        return "***"
    if isinstance(known.get(name), str | int | float | bool) and kind in ("string", "integer", "number", "boolean"):
        return known[name]
    if kind == "object" or "properties" in schema:
        out = {key: sample(sub, key, known, depth + 1) for key, sub in (schema.get("properties") or {}).items()}
        extra = schema.get("additionalProperties")
        if not out and isinstance(extra, dict):
            out["key"] = sample(extra, "value", known, depth + 1)
        return out
    if kind == "array":
        item = sample(schema.get("items") or {}, name.rstrip("s") or "item", known, depth + 1)
        return [] if item is None else [item]
    if kind == "string" and not schema.get("enum") and "default" not in schema:
        if schema.get("format") == "date-time":
            return "2026-01-01T12:00:00Z"
        return f"<{name or 'string'}>"
    return placeholder(schema, depth)


def skeleton(action: Action) -> dict:
    example = action.spec("EXAMPLE")
    out = fillable(action.in_schema, known=example if isinstance(example, dict) else None)
    paging = action.spec("PAGING")
    if paging is not None and isinstance(out, dict):  # a cursor comes from an answer; none can be made up
        for name in (getattr(paging, "input_token", None), "prev"):
            out.pop(name, None)
    return out


# -- placeholders that keep their field's rules ---------------------------------------------------------

# Tried in turn for a string that "" does not fit, after the example's value and the field's own name.
_STRING_FORMS = ("example", "EXAMPLE", "1", "AAAA", "us-east-1", "arn:aws:iam::123456789012:role/example",
                 "/", "2026-01-01T12:00:00Z", "00000000-0000-0000-0000-000000000000", "example.com", "x")


def _fits(schema: dict, value) -> bool:
    """Whether a scalar keeps the schema's own rules (type, enum, length, pattern, range, encoding)."""
    # Imported here: `describe` shows samples without loading validation (tests/integration/test_lazy_loading.py).
    from jobs_connector.validation.rules import compiled_pattern, is_canonical_base64

    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            return False
        if "pattern" in schema and not compiled_pattern(schema["pattern"]).search(value):
            return False
        return schema.get("contentEncoding") != "base64" or is_canonical_base64(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        return ((low is None or value >= low) and (high is None or value <= high)
                and ("exclusiveMinimum" not in schema or value > schema["exclusiveMinimum"])
                and ("exclusiveMaximum" not in schema or value < schema["exclusiveMaximum"]))
    return True


def _words(name: str) -> list[str]:
    """A field name in the forms a pattern may want: as it is, snake_case, UPPER_CASE, lower case."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return [name, snake, snake.upper(), name.lower(), snake.replace("_", "-")]


def _string(schema: dict, name: str, known) -> str:
    low = schema.get("minLength", 0)
    candidates = [known] if isinstance(known, str) else []
    candidates += ["", *_words(name or "value"), *_STRING_FORMS]
    for text in candidates:
        for value in (text, (text * low)[:max(low, len(text))] if text else text):
            if _fits(schema, value):
                return value
    return "x" * low


def _number(schema: dict, kind: str, known):
    if isinstance(known, int | float) and not isinstance(known, bool) and _fits(schema, known):
        return known
    value = 1
    if "minimum" in schema or "exclusiveMinimum" in schema:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        value = max(value, low if kind == "number" else int(low) + (low != int(low)))
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    return value


def fillable(schema: dict, name: str = "", known: dict | None = None, depth: int = 0):
    """A value of the schema with every declared field present, each placeholder within its field's rules;
    `known` gives values by field name (the action's example), used where they fit."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    known = known if isinstance(known, dict) else {}
    given = known.get(name)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return given if given in schema["enum"] else schema["enum"][0]
    if given is None and schema.get("examples") and _fits(schema, schema["examples"][0]):
        given = schema["examples"][0]  # the schema's own example of a sensible value (a SpaceONE operator)
    for branch in schema.get("anyOf") or schema.get("oneOf") or ():
        value = fillable(branch, name, known, depth + 1)
        if value is not None:
            return value
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        inner = given if isinstance(given, dict) else known
        properties = schema.get("properties") or {}
        names = [n for n in properties if n in schema.get("required", ())]
        names += [n for n in properties if n not in names]
        names = names[: schema.get("maxProperties", len(names))]
        out = {n: fillable(properties[n], n, inner, depth + 1) for n in properties if n in names}
        out = {n: value for n, value in out.items() if value is not None}  # a field of any type: left out
        extra = schema.get("additionalProperties")
        if not out and isinstance(extra, dict):
            key = _string({"type": "string", **(schema.get("propertyNames") or {})}, "KeyName", None)
            out[key] = fillable(extra, "value", {}, depth + 1)
        return out
    if kind == "array":
        item = fillable(schema.get("items") or {}, name.rstrip("s"), known, depth + 1)
        return [] if item is None else [item] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        return _number(schema, kind, given)
    if kind == "boolean":
        return given if isinstance(given, bool) else False
    if kind == "string":
        return _string(schema, name, given)
    return None


def render(action: Action) -> str:
    return json.dumps(skeleton(action), indent=2, ensure_ascii=False)
