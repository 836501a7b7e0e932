"""SpaceONE: jobs changed.

Lists the identity jobs (ListJobs, every page), optionally of one status and one workspace, and emits
each job that is new or whose `updated_at` (or status) changed since the last poll.
"""

from __future__ import annotations

from jobs_connector.kit import Item, epoch_of

STATUSES = ["NONE", "PENDING", "IN_PROGRESS", "FAILURE", "SUCCESS", "CANCELED", "ERROR"]
CONFIG = {
    "properties": {
        "status": {"enum": STATUSES},
        "workspace_id": {"type": "string", "minLength": 1, "maxLength": 100},
        "pageSize": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
}
SNAPSHOT_KEY = "updated_at"  # the item field whose time orders changes


def items(ctx):
    body = {"query": {"page": {"start": 1, "limit": ctx.cfg.get("pageSize", 100)},
                      "sort": [{"key": SNAPSHOT_KEY}]}}
    for name in ("status", "workspace_id"):
        if ctx.cfg.get(name):
            body[name] = ctx.cfg[name]
    for job in ctx.each("spaceone.ListJobs", body):
        if not isinstance(job, dict) or not job.get("job_id"):
            continue
        changed = job.get(SNAPSHOT_KEY) or job.get("created_at")
        yield Item(id=job["job_id"], version=f"{changed}|{job.get('status')}", body=job,
                   updated=_epoch(changed))


def _epoch(value):
    try:
        return epoch_of(value, SNAPSHOT_KEY)
    except Exception:  # a time the service writes in another way still counts as a change, just unordered
        return None
