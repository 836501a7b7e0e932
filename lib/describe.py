"""What `jobs-connector describe` shows: an action's inputs with their rules, its outputs, an example."""

from __future__ import annotations

import json

from .registry import Action


def constraints(schema: dict) -> str:
    rules = []
    if "enum" in schema:
        rules.append("one of " + " | ".join(map(str, schema["enum"])))
    for key, label in (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "min"),
                       ("maximum", "max"), ("minItems", "min items"), ("maxItems", "max items"),
                       ("minProperties", "min entries"), ("maxProperties", "max entries"),
                       ("pattern", "pattern"), ("format", "format"), ("contentEncoding", "encoding")):
        if key in schema:
            rules.append(f"{label} {schema[key]}")
    if isinstance(schema.get("propertyNames"), dict) and schema["propertyNames"].get("pattern"):
        rules.append(f"keys match {schema['propertyNames']['pattern']}")
    if schema.get("x-secret"):
        rules.append("secret")
    elif isinstance(schema.get("additionalProperties"), dict) and schema["additionalProperties"].get("x-secret"):
        rules.append("secret values")  # a map whose keys may be shown but whose values may not
    if schema.get("default") is not None:
        rules.append(f"default {json.dumps(schema['default'])}")
    return ", ".join(rules)


def type_of(schema: dict) -> str:
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties"):
        return f"map of {type_of(schema['additionalProperties'])}"
    return kind if isinstance(kind, str) else "|".join(kind)


def rows(schema: dict, prefix: str = "", required: bool = True, depth: int = 0):
    """(path, type, required, rules, description) for every field, nested ones indented by path."""
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        is_required = required and name in schema.get("required", [])
        yield path, type_of(sub), is_required, constraints(sub), sub.get("description", "")
        if depth < 6:
            yield from _children(sub, path, depth)


def _children(sub: dict, path: str, depth: int):
    if sub.get("type") == "object" and sub.get("properties"):
        yield from rows(sub, f"{path}.", True, depth + 1)
    elif sub.get("type") == "array" and isinstance(sub.get("items"), dict):
        yield from _children(sub["items"], f"{path}[]", depth + 1)
    elif sub.get("type") == "object" and isinstance(sub.get("additionalProperties"), dict):
        yield from _children(sub["additionalProperties"], f"{path}{{}}", depth + 1)


def summary(action: Action) -> dict:
    """Everything `describe` says, as data (`describe --json`)."""
    service = action.service
    out = {
        "action": action.key,
        "title": action.title,
        "description": action.description,
        "service": action.service_name,
        "protocol": service.protocol,
        "auth": f"AWS SigV4 (signing name {service.signing_name})" if service.auth == "sigv4"
        else "the chosen service's (SigV4 or its token header)" if service.auth == "per-call"
        else f"token header ({service.token_env})",
        "idempotent": bool(action.spec("IDEMPOTENT", False) or action.spec("IDEMPOTENCY_TOKEN")),
    }
    if action.spec("BINDING"):  # http.Request: the method decides (lib/binding.py)
        out["idempotent"] = "GET and HEAD only"
        out["request"] = "the input's method and path, on the chosen service's endpoint"
    elif service.protocol == "json-1.1":
        out["request"] = f"POST / (X-Amz-Target: {service.target_prefix}.{action.operation})"
    else:
        out["request"] = f"{action.spec('METHOD', 'POST')} {action.spec('PATH')}"
    if action.deprecated:
        out["deprecated"] = action.deprecated
    role = action.spec("ROLE")
    if role:
        out["role"] = role
    paging = action.spec("PAGING")
    if paging:
        out["paging"] = type(paging).__name__.lower()
        out["emitBehaviour"] = "fetchAll (default) | fetchPage | emitIndividually; maxPages (default 100)"
    notes = action.spec("NOTES")
    if notes:
        out["notes"] = notes
    out["inputs"] = [dict(zip(("field", "type", "required", "rules", "description"), r, strict=True))
                     for r in rows(action.in_schema)]
    out["outputs"] = [dict(zip(("field", "type", "rules", "description"), (r[0], r[1], r[3], r[4]), strict=True))
                      for r in rows(action.out_schema)]
    example = action.spec("EXAMPLE")
    if example is not None:
        out["example"] = example
    return out


def render(action: Action) -> str:
    info = summary(action)
    lines = [f"{info['action']} — {info['title']}"]
    if info.get("deprecated"):
        lines.append(f"DEPRECATED: {info['deprecated']}")
    lines += [info["description"], "",
              f"service   {info['service']} ({info['protocol']}, {info['auth']})",
              f"request   {info['request']}",
              "retries   " + (f"safe to retry for {info['idempotent']}" if isinstance(info["idempotent"], str)
                                 else "safe to retry (idempotent)" if info["idempotent"]
                                 else "not retried once it may have reached the service")]
    if "role" in info:
        lines.append(f"role      {info['role']} (the Builder role the token must have)")
    if "paging" in info:
        lines.append(f"paging    {info['paging']}; emit {info['emitBehaviour']}")
    if "notes" in info:
        lines += ["", info["notes"].strip()]
    lines += ["", "Inputs (* required):"]
    lines += _table([(("* " if r["required"] else "  ") + r["field"], r["type"], r["rules"], r["description"])
                     for r in info["inputs"]] or [("  (none)", "", "", "")])
    lines += ["", "Outputs:"]
    lines += _table([("  " + r["field"], r["type"], r["rules"], r["description"]) for r in info["outputs"]]
                    or [("  (empty object)", "", "", "")])
    if "example" in info:
        lines += ["", "Example:", f"  jobs-connector run {action.key} --input '{json.dumps(info['example'])}'"]
    return "\n".join(lines)


def _table(items) -> list[str]:
    width = [min(max(len(i[c]) for i in items), 44) for c in range(3)]
    out = []
    for field, kind, rules, doc in items:
        line = f"{field:<{width[0]}}  {kind:<{width[1]}}  {rules:<{width[2]}}".rstrip()
        if doc:
            line += f"  {doc[:100]}{'...' if len(doc) > 100 else ''}"
        out.append(line)
    return out
