"""IoT: job progress changed (the fleet operator's side).

Watches one job (config `jobId`: one iot.DescribeJob a poll) or the jobs iot.ListJobs lists, every page,
optionally filtered by `status`, `targetSelection` and `thingGroupName` (one DescribeJob per listed job:
the list carries no counts). A job is emitted when its status or its execution counts (jobProcessDetails)
differ from what was last emitted for it: the version is a digest of the two. The message carries the
progress as iot.WatchJobProgress computes it (lib/component/job_progress.py): status, counts, finished, failureRate.

A job last emitted COMPLETED that the list still shows COMPLETED is not described again: its executions
are all terminal, so its counts cannot move. A CANCELED job is still described (executions that were
IN_PROGRESS when it was cancelled without force run on and move its counts).
"""

from __future__ import annotations

import hashlib
import json

from jobs_connector.kit import BadInput, Item, process_details, progress

SETTLED = "COMPLETED"
LIST_FILTERS = ("status", "targetSelection", "thingGroupName")
CONFIG = {
    "properties": {
        "jobId": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-zA-Z0-9_-]+$"},
        "status": {"enum": ["IN_PROGRESS", "CANCELED", "COMPLETED", "DELETION_IN_PROGRESS", "SCHEDULED"]},
        "targetSelection": {"enum": ["CONTINUOUS", "SNAPSHOT"]},
        "thingGroupName": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[a-zA-Z0-9:_-]+$"},
        "pageSize": {"type": "integer", "minimum": 1, "maximum": 250},
    },
}
EXAMPLE_CONFIG = {"jobId": "fw-2-1"}


def items(ctx):
    job_id = ctx.cfg.get("jobId")
    if job_id:
        given = [name for name in (*LIST_FILTERS, "pageSize") if ctx.cfg.get(name) is not None]
        if given:
            raise BadInput(f"trigger iot.jobProgressChanged: '{given[0]}' filters the job list; it does not "
                           "apply with jobId (one job)", field=given[0], rule="not-with-jobId")
        yield _item(ctx.call("iot.DescribeJob", {"jobId": job_id}).get("job"))
        return
    body = {"maxResults": ctx.cfg.get("pageSize", 100)}
    body.update({name: ctx.cfg[name] for name in LIST_FILTERS if ctx.cfg.get(name)})
    for summary in ctx.each("iot.ListJobs", body):
        if not isinstance(summary, dict) or not summary.get("jobId"):
            continue
        seen = ctx.seen_version(summary["jobId"]) or ""
        if summary.get("status") == SETTLED and seen.startswith(SETTLED + ":"):
            continue  # finished and already reported finished: nothing left to move
        item = _item(ctx.call("iot.DescribeJob", {"jobId": summary["jobId"]}).get("job"))
        if item is not None:
            yield item


def _item(job) -> Item | None:
    if not isinstance(job, dict) or not job.get("jobId"):
        return None
    now = progress(job)
    digest = hashlib.sha256(json.dumps([now["status"], now["counts"]], sort_keys=True).encode("utf-8"))
    body = {"jobId": job["jobId"], **{k: job[k] for k in ("jobArn", "targetSelection") if k in job},
            **now, "jobProcessDetails": process_details(job)}
    # The status leads the version so a poll can tell a settled job without describing it again. No change
    # time: AWS does not move a job's lastUpdatedAt when its executions move, so `startTime` does not apply.
    return Item(id=job["jobId"], version=f"{now['status']}:{digest.hexdigest()[:32]}", body=body)
