"""AWS IoT Jobs data plane (rest-json, signing name iot-jobs-data), as a device sees it.

Job executions follow the real state machine: QUEUED -> IN_PROGRESS -> SUCCEEDED | FAILED | REJECTED,
QUEUED straight to a final status, IN_PROGRESS -> TIMED_OUT when a step timer runs out. A device may
report only IN_PROGRESS, SUCCEEDED, FAILED and REJECTED; every other change, and any change of an
execution already in a terminal status, is InvalidStateTransitionException (409) with the current
`executionState` in the body. A stale `expectedVersion` is refused the same way (the model lists no other
conflict error for UpdateJobExecution; the MQTT API calls this VersionMismatch, which the message says).
DescribeJobExecution of an execution the service REMOVED answers TerminalStateException (410).
Jobs created on the control plane (iot.py) queue their executions here; iot_fleet.py ties the two.
"""

from __future__ import annotations

import json
import math
import uuid

from jobs_connector.sandbox import iot_fleet
from jobs_connector.sandbox.iot_fleet import TERMINAL
from jobs_connector.sandbox.wire import ApiError, Reply, Request, Routes, member

NAME = "iot-jobs-data"
PROTOCOL = "rest-json"

DEVICE_STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED")
ALL_STATUSES = ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED")
STEP_TIMEOUT_MINUTES = (1, 10080)  # 1 minute to 7 days, as AWS allows
DEMO_THING = "demo-thing"
DEMO_ACCOUNT = "123456789012"

routes = Routes()


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidRequestException", message)


def _not_found(message: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message)


# -- state ----------------------------------------------------------------------------------------


def seed(now: float) -> dict:
    now = int(now)
    documents = {
        "demo-job-1": {"operation": "firmware-update", "version": "1.2.3",
                       "url": "https://example.com/firmware/demo-1.2.3.bin"},
        "demo-job-2": {"operation": "reboot", "delaySeconds": 5},
    }
    executions = {}
    for age, job_id in ((120, "demo-job-1"), (60, "demo-job-2")):
        executions[job_id] = {"jobId": job_id, "thingName": DEMO_THING, "status": "QUEUED", "statusDetails": {},
                              "queuedAt": now - age, "lastUpdatedAt": now - age, "versionNumber": 1,
                              "executionNumber": 1}
    return {
        "things": {DEMO_THING: executions},
        "documents": {job_id: json.dumps(doc) for job_id, doc in documents.items()},
        "commands": ["demo-reboot", "demo-collect-logs"],
        "commandExecutions": {},
    }


def _expire_steps(state: dict, now: float) -> None:
    """IN_PROGRESS executions whose step timer ran out become TIMED_OUT, as AWS does on its own."""
    for executions in state["things"].values():
        for execution in executions.values():
            deadline = execution.get("stepDeadline")
            if execution["status"] == "IN_PROGRESS" and deadline is not None and now >= deadline:
                execution.update(status="TIMED_OUT", lastUpdatedAt=int(deadline),
                                 versionNumber=execution["versionNumber"] + 1)
                execution.pop("stepDeadline", None)


def _pending(state: dict, thing: str) -> list[dict]:
    """Pending executions, next first: IN_PROGRESS ones, then QUEUED ones, each oldest first."""
    executions = state["things"].get(thing, {}).values()
    order = {"IN_PROGRESS": 0, "QUEUED": 1}
    return sorted((e for e in executions if e["status"] in order),
                  key=lambda e: (order[e["status"]], *iot_fleet.queue_order(e)))


def _summary(execution: dict) -> dict:
    keys = ("jobId", "queuedAt", "startedAt", "lastUpdatedAt", "versionNumber", "executionNumber")
    return {k: execution[k] for k in keys if k in execution}


def _view(state: dict, execution: dict, now: float, include_document: bool) -> dict:
    keys = ("jobId", "thingName", "status", "statusDetails", "queuedAt", "startedAt", "lastUpdatedAt",
            "versionNumber", "executionNumber")
    out = {k: execution[k] for k in keys if k in execution}
    deadline = execution.get("stepDeadline")
    if execution["status"] == "IN_PROGRESS" and deadline is not None:
        out["approximateSecondsBeforeTimedOut"] = max(0, math.ceil(deadline - now))
    if include_document and execution["jobId"] in state["documents"]:
        out["jobDocument"] = state["documents"][execution["jobId"]]
    return out


def _execution_state(execution: dict) -> dict:
    return {"status": execution["status"], "statusDetails": execution.get("statusDetails", {}),
            "versionNumber": execution["versionNumber"]}


def _status_details(body: dict) -> dict | None:
    details = member(body, "statusDetails", "object", _bad)
    if details is None:
        return None
    for key, value in details.items():
        if not isinstance(value, str) or not value:
            raise _bad(f"statusDetails.{key} must be a non-empty string")
        if len(value) > 1024:
            raise _bad(f"statusDetails.{key} is longer than 1024 characters")
    return details


def _step_timeout(body: dict) -> int | None:
    minutes = member(body, "stepTimeoutInMinutes", "integer", _bad)
    low, high = STEP_TIMEOUT_MINUTES
    if minutes is not None and not low <= minutes <= high:
        raise _bad(f"stepTimeoutInMinutes must be between {low} and {high} (1 minute to 7 days)")
    return minutes


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value not in ("true", "false"):
        raise _bad(f"'{value}' is not a boolean; use true or false")
    return value == "true"


# -- operations -----------------------------------------------------------------------------------


@routes.add("GET", "/things/{thingName}/jobs")
def get_pending_job_executions(req: Request, state: dict, now: float, thingName: str) -> Reply:
    pending = _pending(state, thingName)
    return Reply(200, {"inProgressJobs": [_summary(e) for e in pending if e["status"] == "IN_PROGRESS"],
                       "queuedJobs": [_summary(e) for e in pending if e["status"] == "QUEUED"]})


@routes.add("PUT", "/things/{thingName}/jobs/$next")
def start_next_pending_job_execution(req: Request, state: dict, now: float, thingName: str) -> Reply:
    body = req.json(_bad)
    details, minutes = _status_details(body), _step_timeout(body)
    pending = _pending(state, thingName)
    if not pending:
        return Reply(200, {})  # AWS answers an empty structure when nothing is pending
    execution = pending[0]
    if execution["status"] == "QUEUED":  # an IN_PROGRESS one is handed back as it is
        execution.update(status="IN_PROGRESS", startedAt=int(now), lastUpdatedAt=int(now),
                         versionNumber=execution["versionNumber"] + 1)
        if details is not None:
            execution["statusDetails"] = details
        if minutes is not None:
            execution["stepDeadline"] = now + minutes * 60
    return Reply(200, {"execution": _view(state, execution, now, include_document=True)})


@routes.add("GET", "/things/{thingName}/jobs/{jobId}")
def describe_job_execution(req: Request, state: dict, now: float, thingName: str, jobId: str) -> Reply:
    query = req.query
    include_document = _flag(query.get("includeJobDocument"), True)
    if jobId == "$next":
        pending = _pending(state, thingName)
        if not pending:
            return Reply(200, {})
        return Reply(200, {"execution": _view(state, pending[0], now, include_document)})
    execution = state["things"].get(thingName, {}).get(jobId)
    if execution is None:
        raise _not_found(f"No job execution found for thing {thingName} and job {jobId}")
    number = query.get("executionNumber")
    if number is not None:
        if not number.isdigit():
            raise _bad(f"executionNumber '{number}' is not a whole number")
        if int(number) != execution["executionNumber"]:
            raise _not_found(f"No job execution {number} found for thing {thingName} and job {jobId}")
    if execution["status"] == "REMOVED":
        raise ApiError(410, "TerminalStateException", f"Job execution {jobId} on {thingName} was removed")
    return Reply(200, {"execution": _view(state, execution, now, include_document)})


@routes.add("POST", "/things/{thingName}/jobs/{jobId}")
def update_job_execution(req: Request, state: dict, now: float, thingName: str, jobId: str) -> Reply:
    body = req.json(_bad)
    status = member(body, "status", "string", _bad, required=True)
    if status not in ALL_STATUSES:
        raise _bad(f"status '{status}' is not one of {', '.join(ALL_STATUSES)}")
    details, minutes = _status_details(body), _step_timeout(body)
    expected = member(body, "expectedVersion", "integer", _bad)
    number = member(body, "executionNumber", "integer", _bad)
    include_state = member(body, "includeJobExecutionState", "boolean", _bad)
    include_document = member(body, "includeJobDocument", "boolean", _bad)
    execution = state["things"].get(thingName, {}).get(jobId)
    if execution is None or (number is not None and number != execution["executionNumber"]):
        raise _not_found(f"No job execution found for thing {thingName} and job {jobId}")

    current = execution["status"]

    def refuse(message: str) -> ApiError:
        return ApiError(409, "InvalidStateTransitionException", message, executionState=_execution_state(execution))

    if current in TERMINAL:
        raise refuse(f"Job execution {jobId} on {thingName} is already {current}, a terminal status; "
                     f"it cannot change to {status}")
    if expected is not None and expected != execution["versionNumber"]:
        raise refuse(f"VersionMismatch: expectedVersion {expected} does not match the current version "
                     f"{execution['versionNumber']} of job execution {jobId} on {thingName}")
    if status not in DEVICE_STATUSES:
        raise refuse(f"A device cannot change a job execution from {current} to {status}; it may report "
                     f"{', '.join(DEVICE_STATUSES)}")

    if status == "IN_PROGRESS":
        execution.setdefault("startedAt", int(now))
        if minutes is not None:
            execution["stepDeadline"] = now + minutes * 60  # set or reset the step timer
    else:
        execution.pop("stepDeadline", None)
    execution.update(status=status, lastUpdatedAt=int(now), versionNumber=execution["versionNumber"] + 1)
    if details is not None:
        execution["statusDetails"] = details
    out = {}
    if include_state:
        out["executionState"] = _execution_state(execution)
    if include_document and jobId in state["documents"]:
        out["jobDocument"] = state["documents"][jobId]
    return Reply(200, out)


def _command_name(arn: str) -> str | None:
    prefix, sep, name = arn.partition(":command/")
    return name if sep and prefix.startswith("arn:aws") and name else None


@routes.add("POST", "/command-executions")
def start_command_execution(req: Request, state: dict, now: float) -> Reply:
    def invalid(message: str) -> ApiError:
        return ApiError(400, "ValidationException", message)

    body = req.json(invalid)
    target = member(body, "targetArn", "string", invalid, required=True)
    command = member(body, "commandArn", "string", invalid, required=True)
    member(body, "parameters", "object", invalid)
    timeout = member(body, "executionTimeoutSeconds", "integer", invalid)
    token = member(body, "clientToken", "string", invalid)
    if timeout is not None and timeout < 1:
        raise invalid("executionTimeoutSeconds must be at least 1")
    if not target.startswith("arn:aws") or not (":thing/" in target or ":client/" in target):
        raise invalid("targetArn must be the ARN of a thing (arn:aws:iot:<region>:<account>:thing/<name>) or an "
                      "MQTT client")
    name = _command_name(command)
    if name not in state["commands"]:
        raise _not_found(f"Command {command} does not exist; the sandbox knows "
                         f"{', '.join(state['commands'])} (arn:aws:iot:<region>:{DEMO_ACCOUNT}:command/<name>)")
    request = {k: body.get(k) for k in ("targetArn", "commandArn", "parameters", "executionTimeoutSeconds")}
    executions = state["commandExecutions"]
    if token:
        for execution_id, record in executions.items():
            if record["clientToken"] == token:
                if record["request"] != request:
                    raise ApiError(409, "ConflictException",
                                   "clientToken was already used with different parameters")
                return Reply(200, {"executionId": execution_id})
    execution_id = str(uuid.uuid4())
    executions[execution_id] = {"clientToken": token, "request": request, "status": "CREATED",
                                "createdAt": int(now)}
    return Reply(200, {"executionId": execution_id})


def handle(req: Request, state: dict, now: float) -> Reply:
    _expire_steps(state, now)
    iot_fleet.settle(state, now)  # jobs created on the control plane (iot.py) move as their executions do
    return routes.dispatch(req, state, now, lambda m: ApiError(404, "UnknownOperationException", f"IoT Jobs: {m}"))
