"""Where the two sides of IoT Jobs meet in the sandbox: jobs, thing groups and the rules that move a job as
its executions move. The control plane (iot.py) creates jobs and the executions of their things; the data
plane (iot_jobs_data.py) lets devices take and finish those executions. Both keep their state in the one
`iot-jobs-data` dict, and both call `settle` so that whichever side is asked sees the same fleet:

- a job's counts (jobProcessDetails) are counted from its executions when asked, never stored;
- an IN_PROGRESS execution of a job with timeoutConfig.inProgressTimeoutInMinutes becomes TIMED_OUT when
  that many minutes have passed since it started (AWS: "the timer is started when the job execution status
  is set to IN_PROGRESS");
- abortConfig: once at least minNumberOfExecutedThings executions are terminal and the failures of the
  criterion's failureType (ALL: failed, rejected and timed out) reach thresholdPercentage of them, the job
  is cancelled as CancelJob without force does (the sandbox's reading: QUEUED executions are cancelled,
  IN_PROGRESS ones run on);
- a SNAPSHOT job whose executions are all terminal is COMPLETED; a CONTINUOUS job stays IN_PROGRESS.
"""

from __future__ import annotations

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "REMOVED", "CANCELED"})
ACCOUNT = "123456789012"
REGION = "us-east-1"
DEMO_GROUP = "demo-fleet"
DEMO_GROUP_THINGS = ("demo-device-1", "demo-device-2")
# jobProcessDetails member for each execution status.
COUNTERS = {"QUEUED": "numberOfQueuedThings", "IN_PROGRESS": "numberOfInProgressThings",
            "SUCCEEDED": "numberOfSucceededThings", "FAILED": "numberOfFailedThings",
            "REJECTED": "numberOfRejectedThings", "CANCELED": "numberOfCanceledThings",
            "TIMED_OUT": "numberOfTimedOutThings", "REMOVED": "numberOfRemovedThings"}
ABORT_FAILURES = {"FAILED": {"FAILED"}, "REJECTED": {"REJECTED"}, "TIMED_OUT": {"TIMED_OUT"},
                  "ALL": {"FAILED", "REJECTED", "TIMED_OUT"}}


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:{kind}/{name}"


def ensure(state: dict, now: float) -> None:
    """The control plane's part of the state, added to a data-plane state (or an older state file) once:
    the demo thing group, and a job record for each job the data plane was seeded with."""
    state.setdefault("thingGroups", {DEMO_GROUP: list(DEMO_GROUP_THINGS)})
    state.setdefault("jobTemplates", {})
    jobs = state.setdefault("jobs", {})
    for job_id in state.get("documents", {}):
        if job_id not in jobs:
            things = sorted(thing for thing, executions in state["things"].items() if job_id in executions)
            queued = min((state["things"][t][job_id]["queuedAt"] for t in things), default=int(now))
            jobs[job_id] = {"jobId": job_id, "jobArn": arn("job", job_id), "targetSelection": "SNAPSHOT",
                            "status": "IN_PROGRESS", "targets": [arn("thing", t) for t in things],
                            "createdAt": queued, "lastUpdatedAt": queued}


def queue_execution(state: dict, thing: str, job_id: str, now: float, number: int = 1) -> dict:
    """A new QUEUED execution of job_id on thing. queuedAt is whole seconds, so a queue position breaks the
    ties of jobs queued in the same second: AWS runs them in the order they were queued, not by name."""
    state["queuePosition"] = state.get("queuePosition", 0) + 1
    execution = {"jobId": job_id, "thingName": thing, "status": "QUEUED", "statusDetails": {},
                 "queuedAt": int(now), "lastUpdatedAt": int(now), "versionNumber": 1, "executionNumber": number,
                 "queuePosition": state["queuePosition"]}
    state["things"].setdefault(thing, {})[job_id] = execution
    return execution


def queue_order(execution: dict) -> tuple:
    """Oldest first; the seeded executions have no position and are older than any queued later."""
    return execution["queuedAt"], execution.get("queuePosition", 0), execution["jobId"]


def executions_of(state: dict, job_id: str) -> list[dict]:
    return [executions[job_id] for executions in state["things"].values() if job_id in executions]


def process_details(state: dict, job_id: str) -> dict:
    counts = dict.fromkeys(COUNTERS.values(), 0)
    processing = []
    for execution in executions_of(state, job_id):
        counts[COUNTERS[execution["status"]]] += 1
        if execution["status"] not in TERMINAL:
            processing.append(arn("thing", execution["thingName"]))
    return {"processingTargets": sorted(processing), **counts}


def cancel_executions(state: dict, job_id: str, now: float, *, force: bool) -> None:
    """CancelJob's effect on the executions: QUEUED ones are cancelled, IN_PROGRESS ones only with force;
    executions already in a terminal status keep it."""
    for execution in executions_of(state, job_id):
        status = execution["status"]
        if status == "QUEUED" or (status == "IN_PROGRESS" and force):
            execution.update(status="CANCELED", lastUpdatedAt=int(now), versionNumber=execution["versionNumber"] + 1,
                             forceCanceled=status == "IN_PROGRESS")
            execution.pop("stepDeadline", None)


def _expire_in_progress(state: dict, job: dict, now: float) -> None:
    minutes = (job.get("timeoutConfig") or {}).get("inProgressTimeoutInMinutes")
    if not minutes:
        return
    for execution in executions_of(state, job["jobId"]):
        started = execution.get("startedAt")
        if execution["status"] == "IN_PROGRESS" and started is not None and now >= started + minutes * 60:
            execution.update(status="TIMED_OUT", lastUpdatedAt=int(started + minutes * 60),
                             versionNumber=execution["versionNumber"] + 1)
            execution.pop("stepDeadline", None)


def _abort_criterion_met(state: dict, job: dict) -> bool:
    executions = executions_of(state, job["jobId"])
    executed = [e for e in executions if e["status"] in TERMINAL]
    for criterion in (job.get("abortConfig") or {}).get("criteriaList", []):
        if criterion.get("action") != "CANCEL" or len(executed) < criterion.get("minNumberOfExecutedThings", 1):
            continue
        failing = ABORT_FAILURES.get(criterion.get("failureType"), set())
        failures = sum(1 for e in executed if e["status"] in failing)
        if executed and 100.0 * failures / len(executed) >= criterion.get("thresholdPercentage", 100.0):
            return True
    return False


def settle(state: dict, now: float) -> None:
    """Move every running job on as its executions moved: timeouts, abort criteria, completion."""
    ensure(state, now)
    for job in state["jobs"].values():
        if job["status"] != "IN_PROGRESS":
            continue
        _expire_in_progress(state, job, now)
        if _abort_criterion_met(state, job):
            cancel_executions(state, job["jobId"], now, force=False)
            job.update(status="CANCELED", lastUpdatedAt=int(now), forceCanceled=False,
                       comment="aborted: the abortConfig failure threshold was reached")
            continue
        executions = executions_of(state, job["jobId"])
        if job["targetSelection"] == "SNAPSHOT" and executions and all(e["status"] in TERMINAL for e in executions):
            finished = max(e["lastUpdatedAt"] for e in executions)
            job.update(status="COMPLETED", completedAt=finished, lastUpdatedAt=finished)
