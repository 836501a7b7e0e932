"""WatchJobProgress: a job's status and execution counts, and whether they changed since the last look.

The fleet-progress poll as a step: a flow runs it on a schedule, hands back the `snapshot` it emitted
last time, and branches on `changed` (or on `failureRate` to cancel a rollout); the iot.jobProgressChanged
trigger reports the same progress (lib/component/job_progress.py) with a snapshot of its own. Underneath it is one
iot.DescribeJob call, bound here through lib/http/binding.py so it is signed, retried and bounded as every
action is.
"""

from __future__ import annotations

from jobs_connector.kit import (
    SERVICES,
    Signing,
    build_request,
    changes,
    get_action,
    parse_json,
    process_details,
    progress,
)

# A read (one DescribeJob): asking again changes nothing.
IDEMPOTENT = True
BOUND_TO = "iot.DescribeJob"  # the one call underneath: its request shape and its errors are this action's
EXAMPLE = {"jobId": "firmware-2-1-rollout",
           "snapshot": {"status": "IN_PROGRESS", "counts": {"numberOfQueuedThings": 2}}}
NOTES = """\
Pass the previous message's `snapshot` back as input `snapshot` (the first run has none: it reports
changed true). `changes` names what moved ("status", or a counter such as numberOfSucceededThings);
`finished` is true once the job is COMPLETED or CANCELED; `failureRate` is the share of terminal
executions that failed, were rejected or timed out (0 to 1), to decide on iot.CancelJob.
"""


class _Binding:
    def service(self, body: dict):
        return SERVICES["iot"]

    def signing(self, body: dict) -> Signing:
        return Signing()

    def request(self, body: dict, base_url: str):
        return build_request(get_action("iot.DescribeJob"), {"jobId": body["jobId"]}, base_url)

    def idempotent(self, body: dict) -> bool:
        return True

    def answer(self, body: dict, answer) -> tuple[dict, bool]:
        page, _ = parse_json(answer.content, answer.status)
        job = page.get("job") if isinstance(page.get("job"), dict) else {}
        now = progress(job)
        snapshot = {"status": now["status"], "counts": now["counts"]}
        moved = changes(body.get("snapshot"), snapshot)
        out = {"jobId": body["jobId"], "changed": bool(moved), "changes": moved, "finished": now["finished"],
               "failureRate": now["failureRate"], "status": now["status"],
               "jobProcessDetails": process_details(job), "snapshot": snapshot}
        return out, True  # a body of our own making (failureRate is a float): the full check, it is small


BINDING = _Binding()
