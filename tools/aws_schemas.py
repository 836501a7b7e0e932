"""Write the JSON Schemas of AWS actions from the botocore service model (a development tool).

    python tools/aws_schemas.py iot-jobs-data GetPendingJobExecutions DescribeJobExecution ...

botocore is a development and test dependency only: the runtime reads the checked-in schemas. Run this
again after a botocore upgrade; tests/test_conformance*.py fail when a schema drifts from the model.
The binding each action module must declare (METHOD, PATH, QUERY, HEADERS, IDEMPOTENCY_TOKEN) is printed.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Shapes that carry secrets although the model does not mark them `sensitive`, per service.
# codepipeline: the clientToken proves the caller may work on a third-party job, and
# GetThirdPartyJobDetails returns the action's configuration values, secret ones included (seed 004).
SECRET_SHAPES: dict[str, frozenset[str]] = {
    "codepipeline": frozenset({"ClientToken", "ActionConfigurationValue"}),
}


def load_model(service: str) -> dict:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def describe(doc: str | None, limit: int = 300) -> str | None:
    if not doc:
        return None
    text = html.unescape(re.sub(r"<[^>]+>", "", doc))
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > limit:
        cut = text.rfind(". ", 0, limit)
        text = text[: cut + 1] if cut > 40 else text[:limit].rstrip() + "..."
    return text or None


def anchored(pattern: str) -> str:
    """The model's pattern, anchored at both ends so the whole value must match."""
    if pattern.startswith("^") and pattern.endswith("$") and "|" not in pattern:
        return pattern
    return f"^(?:{pattern})$"


def to_schema(shape, *, strict: bool, seen=(), secret_shapes: frozenset[str] = frozenset()) -> dict:
    """JSON Schema for a botocore shape. strict: refuse unknown members (input side).
    secret_shapes: names of shapes to mark secret besides those the model marks `sensitive`."""
    if shape.name in seen:
        raise ValueError(f"recursive shape {shape.name}")
    seen = (*seen, shape.name)
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        out: dict = {"type": "object", "properties": {}}
        for name, member in shape.members.items():
            sub = to_schema(member, strict=strict, seen=seen, secret_shapes=secret_shapes)
            doc = describe(member.documentation)
            if doc:
                sub = {"description": doc, **sub}
            out["properties"][name] = sub
        if shape.required_members:
            out["required"] = list(shape.required_members)
        if strict:
            out["additionalProperties"] = False
    elif kind == "list":
        out = {"type": "array",
               "items": to_schema(shape.member, strict=strict, seen=seen, secret_shapes=secret_shapes)}
        if "min" in meta:
            out["minItems"] = meta["min"]
        if "max" in meta:
            out["maxItems"] = meta["max"]
    elif kind == "map":
        out = {"type": "object",
               "propertyNames": to_schema(shape.key, strict=strict, seen=seen, secret_shapes=secret_shapes),
               "additionalProperties": to_schema(shape.value, strict=strict, seen=seen, secret_shapes=secret_shapes)}
        if "min" in meta:
            out["minProperties"] = meta["min"]
        if "max" in meta:
            out["maxProperties"] = meta["max"]
    elif kind == "string":
        out = {"type": "string"}
        if shape.enum:
            out["enum"] = list(shape.enum)
        if "min" in meta:
            out["minLength"] = meta["min"]
        if "max" in meta:
            out["maxLength"] = meta["max"]
        if "pattern" in meta:
            out["pattern"] = anchored(meta["pattern"])
    elif kind in ("integer", "long"):
        out = {"type": "integer"}
        if "min" in meta:
            out["minimum"] = meta["min"]
        if "max" in meta:
            out["maximum"] = meta["max"]
    elif kind in ("float", "double"):
        out = {"type": "number"}
        if "min" in meta:
            out["minimum"] = meta["min"]
        if "max" in meta:
            out["maximum"] = meta["max"]
    elif kind == "boolean":
        out = {"type": "boolean"}
    elif kind == "blob":
        out = {"type": "string", "contentEncoding": "base64"}
        if meta.get("min"):
            out["minLength"] = math.ceil(meta["min"] / 3) * 4
        if "max" in meta:
            out["maxLength"] = math.ceil(meta["max"] / 3) * 4
    elif kind == "timestamp" and strict:
        # Input: whole seconds, as the SDKs send them (botocore truncates a fraction), in the years 1-9999
        # they can represent. Output: the services send fractional seconds.
        out = {"type": "integer", "minimum": -62135596800, "maximum": 253402300799,
               "description": "whole seconds since 1970-01-01T00:00:00Z"}
    elif kind == "timestamp":
        out = {"type": "number", "description": "seconds since 1970-01-01T00:00:00Z"}
    else:  # document
        out = {}
    if meta.get("sensitive") or shape.name in secret_shapes:
        out["x-secret"] = True
    return out


def operation_schemas(service: str, operation: str) -> tuple[dict, dict, dict]:
    """(input schema, output schema, HTTP binding) of one operation, as the files hold them."""
    model = load_model(service)
    op = model.operation_model(operation)
    secret_shapes = SECRET_SHAPES.get(service, frozenset())
    title = f"{service}.{operation}"
    in_schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"{title} input",
                 "description": describe(op.documentation, 500)}
    in_schema.update(to_schema(op.input_shape, strict=True, secret_shapes=secret_shapes) if op.input_shape else
                     {"type": "object", "properties": {}, "additionalProperties": False})
    out_schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"{title} output"}
    out_schema.update(to_schema(op.output_shape, strict=False, secret_shapes=secret_shapes) if op.output_shape else
                      {"type": "object", "properties": {}})
    binding = {"METHOD": op.http.get("method"), "PATH": op.http.get("requestUri")}
    members = op.input_shape.members if op.input_shape else {}
    binding["QUERY"] = {n: m.serialization["name"] for n, m in members.items()
                        if m.serialization.get("location") == "querystring"}
    binding["HEADERS"] = {n: m.serialization["name"] for n, m in members.items()
                          if m.serialization.get("location") == "header"}
    binding["IDEMPOTENCY_TOKEN"] = [n for n, m in members.items() if m.metadata.get("idempotencyToken")]
    return in_schema, out_schema, binding


def write_operation(service: str, operation: str) -> None:
    in_schema, out_schema, binding = operation_schemas(service, operation)
    folder = os.path.join(ROOT, "schemas", service)
    os.makedirs(folder, exist_ok=True)
    for suffix, schema in (("in", in_schema), ("out", out_schema)):
        with open(os.path.join(folder, f"{operation}.{suffix}.json"), "w", encoding="utf-8") as fh:
            json.dump(schema, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
    print(f"{service}.{operation}", json.dumps(binding))


if __name__ == "__main__":
    for name in sys.argv[2:]:
        write_operation(sys.argv[1], name)
