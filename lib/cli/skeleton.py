"""`jobs-connector describe ACTION --skeleton`: an input with every field and a placeholder, ready to fill.

As the AWS CLI's --generate-cli-skeleton: a string is "", a number 0 (or its minimum above 0), a boolean false, an
enum its first value, a field with a default that default; a list holds one element, a map one entry
named after its key rule. The same walk gives a sample of an output schema (docs, `describe`).
"""

from __future__ import annotations

import json

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
    return placeholder(action.in_schema)


def render(action: Action) -> str:
    return json.dumps(skeleton(action), indent=2, ensure_ascii=False)
