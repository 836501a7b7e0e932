"""WatchJobProgress: a job's status and execution counts, and whether they changed since the last look.

The fleet-progress poll (the trigger machinery has not landed on main yet): a flow runs this step on a
schedule, hands back the `snapshot` it emitted last time, and branches on `changed` (or on
`failureRate` to cancel a rollout). Underneath it is one iot.DescribeJob call, bound here through
lib/binding.py so it is signed, retried and bounded as every action is.
"""

from __future__ import annotations

from .binding import Signing
from .protocols import build_request, parse_json
from .registry import get_action
from .services import SERVICES

FINISHED = frozenset({"COMPLETED", "CANCELED"})
FAILURES = ("numberOfFailedThings", "numberOfRejectedThings", "numberOfTimedOutThings")

# A read (one DescribeJob): asking again changes nothing.
IDEMPOTENT = True
ERRORS_OF = "DescribeJob"  # the service's errors are those of the call underneath
EXAMPLE = {"jobId": "firmware-2-1-rollout",
           "snapshot": {"status": "IN_PROGRESS", "counts": {"numberOfQueuedThings": 2}}}
NOTES = """\
Pass the previous message's `snapshot` back as input `snapshot` (the first run has none: it reports
changed true). `changes` names what moved ("status", or a counter such as numberOfSucceededThings);
`finished` is true once the job is COMPLETED or CANCELED; `failureRate` is the share of terminal
executions that failed, were rejected or timed out (0 to 1), to decide on iot.CancelJob.
"""


def _counts(details: dict) -> dict:
    return {k: v for k, v in sorted(details.items()) if k.startswith("numberOf") and isinstance(v, int)}


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
        page, floats = parse_json(answer.content, answer.status)
        job = page.get("job") if isinstance(page.get("job"), dict) else {}
        details = job.get("jobProcessDetails") if isinstance(job.get("jobProcessDetails"), dict) else {}
        snapshot = {"status": job.get("status"), "counts": _counts(details)}
        before = body.get("snapshot")
        if before is None:
            changes = ["status", *snapshot["counts"]]
        else:
            changes = ["status"] if before.get("status") != snapshot["status"] else []
            old = before.get("counts") or {}
            changes += [k for k in sorted({*old, *snapshot["counts"]}) if old.get(k, 0) != snapshot["counts"].get(k, 0)]
        terminal = sum(v for k, v in snapshot["counts"].items() if k not in (
            "numberOfQueuedThings", "numberOfInProgressThings"))
        failed = sum(snapshot["counts"].get(k, 0) for k in FAILURES)
        out = {"jobId": body["jobId"], "changed": bool(changes), "changes": changes,
               "finished": snapshot["status"] in FINISHED,
               "failureRate": round(failed / terminal, 4) if terminal else 0,
               "status": snapshot["status"], "jobProcessDetails": details, "snapshot": snapshot}
        return out, floats


BINDING = _Binding()
