"""The step fields the platform renders for list actions: the emit behaviour and the page bound, read by
`lib.paging.emit_settings` from the step's config (`emitBehaviour`, `maxPages`).

Every action whose module declares `PAGING` carries exactly these fields in component.json, and
`"dynamicMetadata": true`, so the platform asks `getMetaModel` for the output schema, which is the
item's schema when the step emits one message per item. `tools/component_fields.py` writes them;
a test keeps component.json in step.
"""

from __future__ import annotations

import copy

from ..paging import DEFAULT_MAX_PAGES, EMIT_BEHAVIOURS

EMIT_FIELDS = {
    "emitBehaviour": {
        "label": "Emit behaviour",
        "viewClass": "SelectView",
        "model": {
            "fetchAll": "Fetch all pages into one message",
            "fetchPage": "Fetch one page",
            "emitIndividually": "Emit each item individually",
        },
        "prompt": "Fetch all",
        "required": False,
    },
    "maxPages": {
        "label": "Page limit",
        "viewClass": "TextFieldView",
        "required": False,
        "placeholder": str(DEFAULT_MAX_PAGES),
        "note": f"Stop after this many pages (fetchAll and emitIndividually); {DEFAULT_MAX_PAGES} by default.",
    },
}

assert tuple(EMIT_FIELDS["emitBehaviour"]["model"]) == EMIT_BEHAVIOURS  # one list of behaviours


def with_emit_fields(component: dict, paging_keys: set[str]) -> dict:
    """A copy of the component with the emit fields on exactly the paging actions (other fields kept)."""
    out = copy.deepcopy(component)
    for key, entry in out["actions"].items():
        fields = {k: v for k, v in (entry.get("fields") or {}).items() if k not in EMIT_FIELDS}
        if key in paging_keys:
            entry["fields"] = {**copy.deepcopy(EMIT_FIELDS), **fields}
            entry["dynamicMetadata"] = True
        else:
            entry.pop("dynamicMetadata", None)
            if fields:
                entry["fields"] = fields
            else:
                entry.pop("fields", None)
    return out


def paging_action_keys() -> set[str]:
    from ..registry import component, get_action

    return {key for key in component()["actions"] if get_action(key).spec("PAGING")}
