"""What a schema must say for a botocore shape, checked node by node: an independent reading of the model,
written apart from tools/aws_schemas.py so a fault in the tool cannot hide a fault in a schema.

`mismatches(shape, schema, side)` lists every difference as 'path: what'. Constraint keywords must be
exactly the model's (a missing one loosens the schema, an extra one refuses what the service accepts);
annotations (description, title, examples) are free.
"""

from __future__ import annotations

import math

# A timestamp on input is whole seconds since the epoch: what the SDKs send (botocore truncates), within
# the dates they can represent (years 1 to 9999). On output the services send fractional seconds.
TIMESTAMP_INPUT = {"type": "integer", "minimum": -62135596800, "maximum": 253402300799}
TIMESTAMP_OUTPUT = {"type": "number"}

ANNOTATIONS = frozenset({"description", "title", "$schema", "examples", "default", "deprecated", "$comment"})


def anchored(pattern: str) -> str:
    """The pattern a schema must carry for a model pattern: the whole value must match."""
    if pattern.startswith("^") and pattern.endswith("$") and "|" not in pattern:
        return pattern
    return f"^(?:{pattern})$"


def base64_length(byte_count: int) -> int:
    return 4 * math.ceil(byte_count / 3)


def expected_keywords(shape, side: str) -> dict:
    """The constraint keywords of the node for `shape` (children excluded: they are walked separately)."""
    meta = shape.metadata
    kind = shape.type_name
    out: dict = {}
    if kind == "structure":
        out["type"] = "object"
        if shape.required_members:
            out["required"] = sorted(shape.required_members)
        if side == "in":
            out["additionalProperties"] = False
    elif kind == "list":
        out["type"] = "array"
        out.update({k: meta[m] for k, m in (("minItems", "min"), ("maxItems", "max")) if m in meta})
    elif kind == "map":
        out["type"] = "object"
        out.update({k: meta[m] for k, m in (("minProperties", "min"), ("maxProperties", "max")) if m in meta})
    elif kind == "string":
        out["type"] = "string"
        if shape.enum:
            out["enum"] = list(shape.enum)
        out.update({k: meta[m] for k, m in (("minLength", "min"), ("maxLength", "max")) if m in meta})
        if "pattern" in meta:
            out["pattern"] = anchored(meta["pattern"])
    elif kind in ("integer", "long", "float", "double"):
        out["type"] = "integer" if kind in ("integer", "long") else "number"
        out.update({k: meta[m] for k, m in (("minimum", "min"), ("maximum", "max")) if m in meta})
    elif kind == "boolean":
        out["type"] = "boolean"
    elif kind == "blob":
        out = {"type": "string", "contentEncoding": "base64"}
        if meta.get("min"):
            out["minLength"] = base64_length(meta["min"])
        if "max" in meta:
            out["maxLength"] = base64_length(meta["max"])
    elif kind == "timestamp":
        out = dict(TIMESTAMP_INPUT if side == "in" else TIMESTAMP_OUTPUT)
    return out


def mismatches(shape, schema, side: str, path: str = "$", seen: tuple = ()) -> list[str]:
    if not isinstance(schema, dict):
        return [f"{path}: not a schema object"]
    if shape.name in seen and shape.type_name == "structure":
        return []  # a recursive shape: its first occurrence is checked
    seen = (*seen, shape.name)
    problems: list[str] = []
    expected = expected_keywords(shape, side)
    children = {"properties", "items", "propertyNames"}
    if shape.type_name == "map":
        children.add("additionalProperties")
    free = ANNOTATIONS | children | {"x-secret"}
    ours = {k: v for k, v in schema.items() if k not in free}
    if ours.get("required") is not None:
        ours["required"] = sorted(ours["required"])
    for key in sorted(set(expected) | set(ours)):
        if key not in ours:
            problems.append(f"{path}: missing {key}={expected[key]!r}")
        elif key not in expected:
            problems.append(f"{path}: {key}={ours[key]!r} is not in the model")
        elif ours[key] != expected[key] or type(ours[key]) is not type(expected[key]):
            problems.append(f"{path}: {key}={ours[key]!r}, the model says {expected[key]!r}")
    if shape.metadata.get("sensitive") and schema.get("x-secret") is not True:
        problems.append(f"{path}: sensitive in the model but not marked x-secret")

    if shape.type_name == "structure":
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return [*problems, f"{path}: no properties"]
        for name in shape.members.keys() - properties.keys():
            problems.append(f"{path}.{name}: member missing")
        for name in properties.keys() - shape.members.keys():
            problems.append(f"{path}.{name}: not a member in the model")
        for name, member in shape.members.items():
            if name in properties:
                problems += mismatches(member, properties[name], side, f"{path}.{name}", seen)
    elif shape.type_name == "list":
        problems += mismatches(shape.member, schema.get("items"), side, f"{path}[]", seen)
    elif shape.type_name == "map":
        problems += mismatches(shape.key, schema.get("propertyNames"), side, f"{path}{{key}}", seen)
        problems += mismatches(shape.value, schema.get("additionalProperties"), side, f"{path}{{value}}", seen)
    return problems
