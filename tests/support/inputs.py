"""Values made from a JSON Schema, for tests that cover every action without naming one.

- `minimal_valid_input(schema)`: the required members only, each with a value its rules accept;
- `input_for(action)`: the module's EXAMPLE when the in-schema accepts it, else the minimal input;
- `sample_output(schema, secret=...)`: an answer with every documented field filled in, the fields marked
  `"x-secret"` carrying the values `secret(path)` plants, so a test can look for them afterwards.

Every value is checked with the connector's own validator (jobs_connector.validation.reference), so a pattern that
the simple
candidates below cannot satisfy fails loudly here instead of producing an input the action refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from jobs_connector.validation.reference import validator_for

# Tried in order for a string, each also padded to minLength; the first one the schema accepts wins.
_STRING_CANDIDATES = (
    "sample-1", "sample", "a", "1", "2026-01-01T00:00:00Z", "11111111-2222-3333-4444-555555555555",
    "123456789012", "QUJDRA==", "arn:aws:iot:eu-west-1:123456789012:thing/sample",
    "arn:aws:codepipeline:eu-west-1:123456789012:sample", "arn:aws:panorama:eu-west-1:123456789012:sample",
    "https://example.com/sample", "sample@example.com", "0.1.0", "/sample",
)


def _accepts(schema: dict, value) -> bool:
    return not any(True for _ in validator_for(schema).iter_errors(value))


def _types(schema: dict) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return declared
    if isinstance(declared, str):
        return [declared]
    if "properties" in schema or "additionalProperties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return ["string"]


def _string(schema: dict, preferred: str | None) -> str:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    for base in ((preferred,) if preferred else ()) + _STRING_CANDIDATES:
        value = base + "a" * max(0, low - len(base))
        if high is not None:
            value = value[:high]
        if _accepts(schema, value):
            return value
    raise ValueError(f"tests/support/inputs.py has no sample string for {json.dumps(schema)[:200]}")


def _number(schema: dict, integer: bool):
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    for value in (1, low, high, 0, (low or 0) + 1, (high or 2) - 1):
        if value is None:
            continue
        value = int(value) if integer else value
        if _accepts(schema, value):
            return value
    raise ValueError(f"tests/support/inputs.py has no sample number for {json.dumps(schema)[:200]}")


class _Sampler:
    def __init__(self, full: bool, secret: Callable[[str], str] | None, text: str | None):
        self.full, self.secret, self.text = full, secret, text

    def value(self, schema: dict, path: str, in_secret: bool = False):
        if not isinstance(schema, dict):
            return "sample"
        in_secret = in_secret or bool(schema.get("x-secret"))
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        kind = _types(schema)[0]
        if kind == "object":
            return self.object(schema, path, in_secret)
        if kind == "array":
            count = max(schema.get("minItems", 0), 1 if self.full else 0)
            return [self.value(schema.get("items", {}), f"{path}[{i}]", in_secret) for i in range(count)]
        if kind == "string":
            planted = self.secret(path) if (in_secret and self.secret) else None
            return _string(schema, planted or self.text)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer")
        if kind == "boolean":
            return True
        return None

    def object(self, schema: dict, path: str, in_secret: bool) -> dict:
        props = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        names = required + [n for n in props if n not in required] if self.full else required
        names = names[:max(len(required), schema.get("maxProperties", len(names)))]
        out = {name: self.value(props.get(name, {}), f"{path}.{name}" if path else name, in_secret)
               for name in names}
        extra = schema.get("additionalProperties")
        wanted = max(schema.get("minProperties", 0), 1 if (self.full or in_secret) and not props else 0)
        if isinstance(extra, dict) and len(out) < wanted:
            key = _string(schema.get("propertyNames") or {"type": "string"}, "key1")
            out[key] = self.value(extra, f"{path}.{key}" if path else key, in_secret)
        elif extra is not False and in_secret and not out and self.secret:
            out["value"] = self.secret(f"{path}.value")  # a secret object with no documented shape
        return out


def minimal_valid_input(schema: dict) -> dict:
    body = _Sampler(full=False, secret=None, text=None).value(schema, "")
    _check(schema, body)
    return body


def sample_output(schema: dict, secret: Callable[[str], str] | None = None, text: str | None = None) -> dict:
    """Every documented field filled in (one item per list, one entry per map); secrets from `secret(path)`;
    free strings prefer `text` when the schema allows it."""
    body = _Sampler(full=True, secret=secret, text=text).value(schema, "")
    _check(schema, body)
    return body


def full_input(schema: dict, secret: Callable[[str], str] | None = None) -> dict:
    """Like sample_output, for an in-schema: every member, secret members carrying planted values."""
    return sample_output(schema, secret)


def _check(schema: dict, body) -> None:
    errors = [e.message for e in validator_for(schema).iter_errors(body)]
    if errors:
        raise ValueError(f"generated body is refused by its schema: {errors[:3]}")


def input_for(action) -> dict:
    example = action.spec("EXAMPLE")
    if isinstance(example, dict) and _accepts(action.in_schema, example):
        return dict(example)
    return minimal_valid_input(action.in_schema)


def accepts(schema: dict, value) -> bool:
    return _accepts(schema, value)


def last_page(action, page: dict) -> dict:
    """`page` without the cursor that would ask for another page (a server answer that ends a listing)."""
    paging = action.spec("PAGING")
    token = getattr(paging, "output_token", None)
    if not token:
        return page
    page = json.loads(json.dumps(page))
    node = page
    *parents, last = token.split(".")
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)
    return page
