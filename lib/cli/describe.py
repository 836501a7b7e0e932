"""What `jobs-connector describe` shows: an action's inputs with their rules, its outputs, an example."""

from __future__ import annotations

import json
import shutil
import textwrap

from jobs_connector.component.registry import Action


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
        "idempotent": action.safe_to_repeat,
        **({"check_with": action.spec("CHECK_WITH")} if action.spec("CHECK_WITH") else {}),
    }
    if action.spec("BINDING"):  # http.Request: the method decides (lib/http/binding.py)
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
    # Only for describe's full view: the registry's JSON summary (docs, completion) needs neither.
    from jobs_connector.cli.skeleton import sample
    from jobs_connector.component.error_catalog import errors_for

    out["errors"] = errors_for(action)
    out["sample_output"] = sample(action.out_schema, known=example if isinstance(example, dict) else None)
    return out


def retries_text(info: dict, code=str) -> str:
    """What a repeat of this action risks, in one sentence (describe and docs/actions.md)."""
    if isinstance(info["idempotent"], str):  # http.Request: the method decides
        return f"safe to retry for {info['idempotent']}; other methods are never sent twice (exit 5)"
    if info["idempotent"]:
        return "safe to retry (idempotent)"
    look = f"; look with {code(info['check_with'])}" if info.get("check_with") else ""
    return "never sent twice: once the request may have reached the service, the outcome is unknown " \
           f"(OutcomeUnknown, exit 5){look}"


def render(action: Action, width: int | None = None) -> str:
    """The text `describe` prints: full descriptions wrapped to `width` (the terminal's by default), the input
    and output fields in aligned columns, the errors the action can return, an example and a sample output."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    width = max(width, 60)  # narrower than this, no column layout can be read anyway
    info = summary(action)
    lines = [f"{info['action']} — {info['title']}"]
    if info.get("deprecated"):
        lines += _wrap(f"DEPRECATED: {info['deprecated']}", width)
    lines += _wrap(info["description"], width) + [""]
    facts = [("service", f"{info['service']} ({info['protocol']}, {info['auth']})"),
             ("request", info["request"]),
             ("retries", retries_text(info))]
    if "role" in info:
        facts.append(("role", f"{info['role']} (the Builder role the token must have)"))
    if "paging" in info:
        facts.append(("paging", f"{info['paging']}; emit {info['emitBehaviour']}"))
    lines += columns(facts, width)
    if "notes" in info:
        lines += ["", info["notes"].strip()]
    lines += ["", "Inputs (* required):"]
    lines += columns([(("* " if r["required"] else "  ") + r["field"], r["type"], r["rules"], r["description"])
                      for r in info["inputs"]] or [("  (none)",)], width)
    lines += ["", "Outputs:"]
    lines += columns([("  " + r["field"], r["type"], r["rules"], r["description"]) for r in info["outputs"]]
                     or [("  (empty object)",)], width)
    if info["errors"]:
        lines += ["", "Errors the service can return (code, HTTP status, what the connector reports, meaning):"]
        lines += columns([("  " + e["code"], str(e["status"]), f"{e['type']} (exit {e['exit']})", e["meaning"])
                          for e in info["errors"]], width)
    if "example" in info:
        lines += ["", "Example:", f"  jobs-connector run {action.key} --input '{json.dumps(info['example'])}'"]
    lines += ["", "Sample output (its shape; values are placeholders):"]
    lines += ["  " + line for line in json.dumps(info["sample_output"], indent=2, ensure_ascii=False).splitlines()]
    return "\n".join(lines)


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    out = []
    for paragraph in text.splitlines() or [""]:
        out += textwrap.wrap(paragraph, width, initial_indent=indent, subsequent_indent=indent) or [""]
    return out


def columns(items, width: int, indent: str = "", gap: int = 2) -> list[str]:
    """Rows of cells in aligned columns; the last column takes the width left and wraps, the others keep
    their width (at most a third of the line each, wrapped inside it when longer)."""
    count = max(len(row) for row in items)
    rows = [tuple(row) + ("",) * (count - len(row)) for row in items]
    cap = max(12, (width - len(indent)) // 3)
    widths = [max(1, min(max(len(row[c]) for row in rows), cap)) for c in range(count - 1)]  # empty: 1
    last = max(width - len(indent) - sum(widths) - gap * (count - 1), 24)
    out = []
    for row in rows:
        cells = [textwrap.wrap(text, w, break_on_hyphens=False) or [""]
                 for text, w in zip(row, [*widths, last], strict=True)]
        for i in range(max(len(c) for c in cells)):
            parts = [(c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, [*widths, last], strict=True)]
            out.append((indent + (" " * gap).join(parts)).rstrip())
    return out


# -- triggers: `describe TRIGGER` ----------------------------------------------------------------------------

def trigger_summary(trigger) -> dict:
    """What `describe` says of a polling trigger (`describe TRIGGER --json`)."""
    schema = trigger.config_schema
    required = set(schema["required"])
    fields = trigger.entry.get("fields", {})
    out = {"trigger": trigger.key, "title": trigger.title, "description": trigger.description,
           "service": trigger.service_name}
    if trigger.deprecated:
        out["deprecated"] = trigger.deprecated
    out["config"] = [{"field": name, "type": type_of(rule), "required": name in required, "rules": constraints(rule),
                      "description": (fields.get(name) or {}).get("note") or rule.get("description", "")}
                     for name, rule in schema["properties"].items()]
    out["outputs"] = [dict(zip(("field", "type", "rules", "description"), (r[0], r[1], r[3], r[4]), strict=True))
                      for r in rows(trigger.out_schema)]
    example = getattr(trigger.module, "EXAMPLE_CONFIG", None)
    if example is not None:
        out["example_config"] = example
    return out


def render_trigger(trigger, width: int | None = None) -> str:
    width = max(width or shutil.get_terminal_size((100, 24)).columns, 60)
    info = trigger_summary(trigger)
    lines = [f"{info['trigger']} — {info['title']} (polling trigger)"]
    if info.get("deprecated"):
        lines += _wrap(f"DEPRECATED: {info['deprecated']}", width)
    lines += _wrap(info["description"], width) + ["", "Config (* required; also credentials, as for run):"]
    lines += columns([(("* " if r["required"] else "  ") + r["field"], r["type"], r["rules"], r["description"])
                      for r in info["config"]], width)
    lines += ["", "Each message:"]
    lines += columns([("  " + r["field"], r["type"], r["rules"], r["description"]) for r in info["outputs"]]
                     or [("  (empty object)",)], width)
    config = json.dumps(info.get("example_config", {}))
    lines += ["", "Run it:", f"  jobs-connector watch {info['trigger']} --config '{config}' --state FILE --every 30s"]
    return "\n".join(lines)
