"""An IoT job's progress read from DescribeJob's `job`: its status, its execution counts, whether it is
finished and its failure rate. One computation for iot.WatchJobProgress (the action a flow polls) and
the iot.jobProgressChanged trigger, so both report the same numbers."""

from __future__ import annotations

FINISHED = frozenset({"COMPLETED", "CANCELED"})
FAILURES = ("numberOfFailedThings", "numberOfRejectedThings", "numberOfTimedOutThings")
NOT_TERMINAL = ("numberOfQueuedThings", "numberOfInProgressThings")


def process_details(job: dict) -> dict:
    """The job's jobProcessDetails as sent ({} when the answer has none)."""
    details = job.get("jobProcessDetails") if isinstance(job, dict) else None
    return details if isinstance(details, dict) else {}


def counts(details: dict) -> dict:
    """The execution counters (numberOf...Things), sorted by name; processingTargets and odd values left out."""
    return {k: v for k, v in sorted(details.items())
            if k.startswith("numberOf") and isinstance(v, int) and not isinstance(v, bool)}


def failure_rate(job_counts: dict) -> float:
    """Failed, rejected and timed-out executions over terminal ones (0 to 1, 0 while none is terminal)."""
    terminal = sum(v for k, v in job_counts.items() if k not in NOT_TERMINAL)
    failed = sum(job_counts.get(k, 0) for k in FAILURES)
    return round(failed / terminal, 4) if terminal else 0


def progress(job: dict) -> dict:
    """{status, counts, finished, failureRate} of DescribeJob's `job`."""
    status = job.get("status") if isinstance(job, dict) else None
    job_counts = counts(process_details(job))
    return {"status": status, "counts": job_counts, "finished": status in FINISHED,
            "failureRate": failure_rate(job_counts)}


def changes(before: dict | None, now: dict) -> list[str]:
    """What moved between two {status, counts} snapshots: 'status' and the counters whose value differs
    (a missing counter is 0); everything when there is no earlier snapshot."""
    if before is None:
        return ["status", *now["counts"]]
    moved = ["status"] if before.get("status") != now["status"] else []
    old = before.get("counts") or {}
    return moved + [k for k in sorted({*old, *now["counts"]}) if old.get(k, 0) != now["counts"].get(k, 0)]
