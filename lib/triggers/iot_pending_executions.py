"""IoT Jobs: new pending job execution for a thing.

Lists the thing's pending executions (GetPendingJobExecutions) and emits each one once when it is newly
QUEUED and once more when it is newly IN_PROGRESS; an execution is identified by job id and execution
number, so a job executed again on the thing is a new execution.
"""

from __future__ import annotations

from jobs_connector.kit import Item

STATUSES = ("QUEUED", "IN_PROGRESS")
CONFIG = {
    "properties": {
        "thingName": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[a-zA-Z0-9:_-]+$"},
        "statuses": {"type": "array", "items": {"enum": list(STATUSES)}, "minItems": 1, "uniqueItems": True},
    },
    "required": ["thingName"],
}
EXAMPLE_CONFIG = {"thingName": "demo-thing"}


def items(ctx):
    wanted = ctx.cfg.get("statuses") or STATUSES
    answer = ctx.call("iot-jobs-data.GetPendingJobExecutions", {"thingName": ctx.cfg["thingName"]})
    lists = (("QUEUED", answer.get("queuedJobs") or []), ("IN_PROGRESS", answer.get("inProgressJobs") or []))
    found = []
    for status, summaries in lists:
        if status not in wanted:
            continue
        for summary in summaries:
            if isinstance(summary, dict) and summary.get("jobId"):
                found.append((status, summary))
    # Oldest change first, so the messages come in the order things happened.
    found.sort(key=lambda pair: (pair[1].get("lastUpdatedAt") or 0, pair[1]["jobId"]))
    for status, summary in found:
        execution = summary.get("executionNumber")
        yield Item(id=f"{summary['jobId']}#{execution}", version=status,
                   body={"thingName": ctx.cfg["thingName"], "status": status, **summary},
                   updated=summary.get("lastUpdatedAt"))
