"""The step fields the platform renders: for list actions the emit behaviour and the page bound, read by
`jobs_connector.component.paging.emit_settings` from the step's config (`emitBehaviour`, `maxPages`); for actions
that name a
cloud or a job, a select list the platform fills by calling `selectModel` (see `select_models.py`).

Every action whose module declares `PAGING` carries exactly these fields in component.json, and
`"dynamicMetadata": true`, so the platform asks `getMetaModel` for the output schema, which is the
item's schema when the step emits one message per item. A select field is a default: the step runner
puts its value into the body member it names only when the message does not carry that member.
`tools/component_fields.py` writes them all; a test keeps component.json in step.
"""

from __future__ import annotations

import copy

from jobs_connector.component.paging import DEFAULT_MAX_PAGES, EMIT_BEHAVIOURS
from jobs_connector.component.registry import component, get_action

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
    return {key for key in component()["actions"] if get_action(key).spec("PAGING")}


def _select(label: str, model: str, member: str, note: str) -> dict:
    return {"label": label, "viewClass": "SelectView", "model": model, "required": False,
            "prompt": f"From the message ({member})", "note": note}


# field name -> (its definition, the body member it fills)
SELECT_FIELDS = {
    "cloudId": (_select("Cloud", "embedthisClouds", "id",
                        "Listed by FindClouds. Used as the body's id when the message has none."), "id"),
    "jobId": (_select("Job", "spaceoneJobs", "job_id",
                      "Listed by ListJobs (newest first). Used as the body's job_id when the message has none."),
              "job_id"),
    "workspaceId": (_select("Workspace", "spaceoneWorkspaces", "workspace_id",
                            "The workspaces that ListJobs shows jobs in. Used as the body's workspace_id when the "
                            "message has none."), "workspace_id"),
}
_EMBEDTHIS_CLOUD_ACTIONS = ("GetCloud", "GetBrowserKeys", "ProvisionCloud", "ProvisionCloudAsync", "RemoveCloud",
                            "RemoveCloudAsync", "UpdateCloud", "UpdateCloudStack", "WaitForTemplate")
SELECTS_BY_ACTION = {
    **{f"embedthis.{name}": ("cloudId",) for name in _EMBEDTHIS_CLOUD_ACTIONS},
    "spaceone.GetJob": ("jobId",),
    "spaceone.DeleteJob": ("jobId",),
    "spaceone.ListJobs": ("workspaceId",),
}


def with_select_fields(component: dict) -> dict:
    """A copy of the component with the select fields on exactly the actions in SELECTS_BY_ACTION (when
    this build has them; other fields kept, in their place)."""
    out = copy.deepcopy(component)
    for key, entry in out["actions"].items():
        fields = {k: v for k, v in (entry.get("fields") or {}).items() if k not in SELECT_FIELDS}
        for name in SELECTS_BY_ACTION.get(key, ()):
            fields[name] = copy.deepcopy(SELECT_FIELDS[name][0])
        if fields:
            entry["fields"] = fields
        else:
            entry.pop("fields", None)
    return out


def with_step_fields(component: dict, paging_keys: set[str]) -> dict:
    return with_select_fields(with_emit_fields(component, paging_keys))


def fill_from_select_fields(action_key: str, message: dict, cfg) -> dict:
    """The message with each select field's value as the body member it names, where the body lacks it."""
    names = SELECTS_BY_ACTION.get(action_key, ())
    body = message.get("body")
    fills = {SELECT_FIELDS[n][1]: cfg.get(n) for n in names if cfg.get(n) not in (None, "")}
    if not fills or (body is not None and not isinstance(body, dict)):
        return message
    missing = {member: value for member, value in fills.items() if member not in (body or {})}
    return {**message, "body": {**(body or {}), **missing}} if missing else message
