"""A platform mapping example per action: how a flow step maps an earlier step's output into this action's
input, as a JSONata expression (the elastic.io mapper's language, also the flows file's).

The earlier step is the action of the same service whose output carries most of this action's required
fields by name (StartNextPendingJobExecution's `execution.jobId` feeds UpdateJobExecution's `jobId`); a
required field no output carries, or one that is a choice of this step (an enum such as the new `status`),
takes its value from the action's example input, as a literal."""

from __future__ import annotations

import json

from jobs_connector.cli import describe
from jobs_connector.component.registry import Action, action_keys, get_action


def _output_paths(action: Action) -> dict[str, str]:
    """Leaf name -> the shallowest JSONata path to it in the action's output (first element of a list)."""
    paths: dict[str, str] = {}
    for field, kind, *_ in describe.rows(action.out_schema):
        if kind.startswith(("object", "array", "map")):
            continue
        leaf = field.rsplit(".", 1)[-1].removesuffix("[]")
        path = field.replace("[]", "[0]")
        if "{}" not in path and (leaf not in paths or path.count(".") < paths[leaf].count(".")):
            paths[leaf] = path
    return paths


def source_for(action: Action) -> tuple[Action | None, dict[str, str]]:
    """The earlier step that feeds most required fields, and field -> path in its output."""
    required = action.in_schema.get("required", [])
    best, best_paths = None, {}
    for key in action_keys():
        other = get_action(key)
        if other.key == action.key or other.service_name != action.service_name:
            continue
        paths = {f: p for f, p in _output_paths(other).items() if f in required}
        if len(paths) > len(best_paths):
            best, best_paths = other, paths
    return best, best_paths


def mapping(action: Action) -> tuple[str | None, str]:
    """(the earlier action's key or None, the JSONata expression)."""
    example = action.spec("EXAMPLE") or {}
    required = action.in_schema.get("required", [])
    source, paths = source_for(action)
    fields = required or list(example)
    properties = action.in_schema.get("properties", {})
    parts, mapped = [], False
    for name in fields:
        chosen = "enum" in properties.get(name, {}) and name in example  # a choice this step makes, not data
        if name in paths and not chosen:
            parts.append(f'  "{name}": {paths[name]}')
            mapped = True
        elif name in example:
            parts.append(f'  "{name}": {json.dumps(example[name], ensure_ascii=False)}')
        else:
            parts.append(f'  "{name}": ""')
    return (source.key if mapped else None), ("{\n" + ",\n".join(parts) + "\n}" if parts else "{}")
