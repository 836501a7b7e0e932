"""`jobs-connector docs`: write docs/actions.md from component.json and the schemas.

The page says, for every action, what `jobs-connector describe` says (lib/cli/describe.py is the one reader
of the schemas): title, description, deprecation, role, request, inputs with their rules, outputs, an
example and a sample output, the errors the service can return (lib/component/error_catalog.py) and a platform
mapping example (lib/cli/mapping_example.py), plus the credentials form. The output depends only on those
files, so a test can regenerate it and fail when the checked-in page is stale.
"""

from __future__ import annotations

import json
import os
import re
import sys

from jobs_connector.cli import describe, mapping_example
from jobs_connector.component import error_catalog as action_errors
from jobs_connector.component.registry import ROOT, component, get_action
from jobs_connector.triggers.trigger import get_trigger


# In a checkout, the checkout's docs/actions.md; installed (the component ships inside the package as
# `_component`), never into site-packages: docs/actions.md under the current directory.
def default_output(root: str = ROOT) -> str:
    shipped = os.path.basename(os.path.normpath(root)) == "_component"
    return os.path.join("docs", "actions.md") if shipped else os.path.join(root, "docs", "actions.md")


DEFAULT_OUTPUT = default_output()

SERVICE_TITLES = {
    "iot-jobs-data": "AWS IoT Jobs (data plane)",
    "panorama": "AWS Panorama",
    "codepipeline": "AWS CodePipeline (third-party jobs)",
    "spaceone": "SpaceONE identity jobs",
    "embedthis": "EmbedThis Builder device clouds",
}


def cell(text) -> str:
    """Text for a Markdown table cell: one line; pipes, emphasis marks and angle brackets escaped."""
    text = "" if text is None else str(text)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\n", " ").strip()


def code(text: str) -> str:
    return f"`{text}`" if text else ""


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def credentials_section() -> list[str]:
    fields = component().get("credentials", {}).get("fields", {})
    rows = [[code(name), cell(f.get("label")), "yes" if f.get("viewClass") == "PasswordFieldView" else "",
             cell(f.get("note"))] for name, f in fields.items()]
    return ["## Credentials", "",
            "The platform's credentials form (also the `--config` fields of `jobs-connector run`). Fill in the "
            "services you use; every field is optional on its own.", "",
            *_table(["field", "label", "secret", "note"], rows), ""]


def action_section(key: str) -> list[str]:
    action = get_action(key)
    info = describe.summary(action)
    lines = [f"### {key}", "", f"**{cell(info['title'])}**", ""]
    if info.get("deprecated"):
        lines += [f"> **Deprecated:** {info['deprecated']}", ""]
    lines += [cell(info["description"]), ""]
    lines.append(f"- Request: {code(info['request'])} ({info['protocol']}, {info['auth']})")
    lines.append("- Retries: " + describe.retries_text(info, code))
    if info.get("role"):
        lines.append(f"- Role: {code(info['role'])} (the Builder role the token must have)")
    if info.get("paging"):
        lines.append(f"- Paging: {info['paging']}; step fields `emitBehaviour` ({info['emitBehaviour']})")
    for name, field in (component()["actions"][key].get("fields") or {}).items():
        if field.get("viewClass") == "SelectView" and isinstance(field.get("model"), str):
            lines.append(f"- Step field {code(name)} ({cell(field['label'])}): a select list the platform fills "
                         f"with `selectModel` {code(field['model'])}. {cell(field.get('note', ''))}")
    lines.append("")
    if info.get("notes"):
        lines += [info["notes"].strip(), ""]
    lines += ["Inputs:", ""]
    if info["inputs"]:
        lines += _table(["field", "type", "required", "rules", "description"],
                        [[code(r["field"]), cell(r["type"]), "yes" if r["required"] else "",
                          cell(r["rules"]), cell(r["description"])] for r in info["inputs"]])
    else:
        lines.append("(none)")
    lines += ["", "Outputs:", ""]
    if info["outputs"]:
        lines += _table(["field", "type", "rules", "description"],
                        [[code(r["field"]), cell(r["type"]), cell(r["rules"]), cell(r["description"])]
                         for r in info["outputs"]])
    else:
        lines.append("(an empty object)")
    lines.append("")
    if "example" in info:
        example = json.dumps(info["example"], ensure_ascii=False)
        lines += ["Example:", "", "```sh", f"jobs-connector run {key} --input '{example}'", "```", ""]
    lines += ["Sample output (its shape from the output schema; values are placeholders or the example's):", "",
              "```json", json.dumps(info["sample_output"], indent=2, ensure_ascii=False), "```", ""]
    lines += errors_section(action, info["errors"])
    lines += mapping_section(action)
    return lines


def errors_section(action, errors: list[dict]) -> list[str]:
    if not errors and action.service.auth == "per-call":  # http.Request: whichever service it is sent to
        return ["Errors the service can return: those of the chosen service (see its actions), mapped to the "
                "same error types and exit codes; a non-GET/HEAD request whose answer never came is "
                "OutcomeUnknown (exit 5).", ""]
    if not errors:
        return []
    rows = [[code(e["code"]), str(e["status"]), f"{e['type']} (exit {e['exit']}"
             + (", retried" if e["retryable"] else "") + ")", cell(e["meaning"])] for e in errors]
    return ["Errors the service can return (source: " + cell(action_errors.source(action)) + "):", "",
            *_table(["code", "HTTP", "reported as", "meaning"], rows), ""]


def mapping_section(action) -> list[str]:
    source, expression = mapping_example.mapping(action)
    where = (f"from the output of the step before it, `{source}`" if source
             else "from values (an earlier step's fields go where the literals are)")
    return [f"Platform mapping (JSONata, the step's input {where}):", "", "```jsonata", expression, "```", ""]


def trigger_section(key: str) -> list[str]:
    trigger = get_trigger(key)
    lines = [f"### {key}", "", f"**{cell(trigger.title)}** (polling trigger)", ""]
    if trigger.deprecated:
        lines += [f"> **Deprecated:** {trigger.deprecated}", ""]
    lines += [cell(trigger.description), ""]
    fields = trigger.entry.get("fields", {})
    required = set(trigger.config_schema["required"])
    lines += ["Config fields:", ""]
    lines += _table(["field", "label", "required", "secret", "note"],
                    [[code(name), cell(f.get("label")), "yes" if name in required else "",
                      "yes" if f.get("viewClass") == "PasswordFieldView" else "",
                      cell(f.get("note") or f.get("placeholder") and f"e.g. {f['placeholder']}")]
                     for name, f in fields.items()])
    lines += ["", "Each message:", ""]
    rows = [[code(path), cell(kind), cell(rules), cell(text)]
            for path, kind, _required, rules, text in describe.rows(trigger.out_schema)]
    lines += _table(["field", "type", "rules", "description"], rows)
    example = getattr(trigger.module, "EXAMPLE_CONFIG", None)
    if example is not None:
        lines += ["", "Example:", "", "```sh",
                  f"jobs-connector watch {key} --config '{json.dumps(example)}' --state {key}.state --every 30s",
                  "```"]
    lines.append("")
    return lines


def triggers_section() -> list[str]:
    keys = list(component().get("triggers", {}))
    if not keys:
        return []
    lines = ["## Triggers", "",
             f"{len(keys)} polling triggers. Each emits every new or changed item once and keeps a snapshot; "
             "the same trigger runs on the platform, under `jobs-connector watch` and in a flows file "
             "([triggers.md](triggers.md)). Every trigger also takes `firstRun` (`emitExisting`, the default, "
             "or `startFromNow`), `startTime`, `snapshotLimit` and `skipSnapshot`.", ""]
    for key in keys:
        lines += trigger_section(key)
    return lines


def render() -> str:
    comp = component()
    keys = list(comp["actions"])
    services: dict[str, list[str]] = {}
    for key in keys:
        services.setdefault(key.split(".", 1)[0], []).append(key)
    lines = ["# Actions", "",
             "<!-- Generated by `jobs-connector docs` from component.json and the schemas: do not edit. -->", "",
             comp.get("description", ""), "",
             f"{len(keys)} actions. `jobs-connector describe ACTION` shows the same for one action.", ""]
    lines += ["## Contents", ""]
    for service, members in services.items():
        title = SERVICE_TITLES.get(service, service)
        lines.append(f"- [{title}](#{anchor(title)})")
        for key in members:
            flag = " (deprecated)" if get_action(key).deprecated else ""
            lines.append(f"  - [{key}](#{anchor(key)}): {get_action(key).title}{flag}")
    lines.append("")
    lines.append("- [Triggers](#triggers)")
    for key in comp.get("triggers", {}):
        lines.append(f"  - [{key}](#{anchor(key)})")
    lines.append("")
    lines += credentials_section()
    lines += triggers_section()
    for service, members in services.items():
        lines += [f"## {SERVICE_TITLES.get(service, service)}", ""]
        for key in members:
            lines += action_section(key)
    return "\n".join(lines).rstrip("\n") + "\n"


def add_arguments(parser) -> None:
    parser.description = "Write docs/actions.md from component.json and the schemas."
    parser.add_argument("--output", "-o", default=DEFAULT_OUTPUT,
                        help="where to write (default: docs/actions.md of the checkout; installed, "
                             "docs/actions.md under the current directory)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is out of date")


def main(args) -> int:
    text = render()
    try:
        with open(args.output, encoding="utf-8") as fh:
            current = fh.read()
    except FileNotFoundError:
        current = None
    if args.check:
        if current != text:
            print(f"{os.path.relpath(args.output)} is out of date: run `jobs-connector docs`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(f"wrote {os.path.relpath(args.output)}", file=sys.stderr)
    return 0
