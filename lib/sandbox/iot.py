"""AWS IoT, the control plane of IoT Jobs (rest-json, signing name iot), as a fleet operator sees it.

It shares its state with the data plane (iot_jobs_data.py; the rules that tie them are in iot_fleet.py):
CreateJob queues one execution per target thing (a thing group stands for its things; the demo group
`demo-fleet` holds demo-device-1 and demo-device-2), and devices take them with GetPendingJobExecutions and
StartNextPendingJobExecution. CancelJob cancels QUEUED executions, IN_PROGRESS ones only with force;
CancelJobExecution likewise for one execution. Rollout rates and scheduling are accepted and kept, not
enacted: every execution is queued at once.
"""

from __future__ import annotations

import json
import math

from jobs_connector.sandbox import iot_fleet
from jobs_connector.sandbox.iot_fleet import TERMINAL, arn
from jobs_connector.sandbox.wire import ApiError, Reply, Request, Routes, member, offset_token, read_offset_token

NAME = "iot"
STATE = "iot-jobs-data"  # one fleet: the data plane's state is this service's state too
PROTOCOL = "rest-json"
JOB_DOCUMENT_MAX = 32 * 1024
CONFIG_MEMBERS = ("description", "presignedUrlConfig", "jobExecutionsRolloutConfig", "abortConfig",
                  "timeoutConfig", "jobExecutionsRetryConfig", "schedulingConfig", "documentParameters")

routes = Routes()


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidRequestException", message)


def _not_found(message: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message)


def _job(state: dict, job_id: str) -> dict:
    job = state["jobs"].get(job_id)
    if job is None:
        raise _not_found(f"Job {job_id} cannot be found.")
    return job


def _flag(req: Request, name: str) -> bool:
    value = req.query.get(name)
    if value not in (None, "true", "false"):
        raise _bad(f"{name} '{value}' is not a boolean; use true or false")
    return value == "true"


def _page(items: list, req: Request, view) -> tuple[list, str | None]:
    query = req.query
    size = query.get("maxResults", "250")
    if not size.isdigit() or not 1 <= int(size) <= 250:
        raise _bad("maxResults must be a whole number from 1 to 250")
    start = read_offset_token(query["nextToken"], "nextToken", _bad) if "nextToken" in query else 0
    end = start + int(size)
    return [view(item) for item in items[start:end]], (offset_token(end) if end < len(items) else None)


def _paged(key: str, items: list, req: Request, view) -> Reply:
    page, token = _page(items, req, view)
    return Reply(200, {key: page, **({"nextToken": token} if token else {})})


def _things_of(state: dict, targets: list) -> list[str]:
    """The things a job reaches: thing ARNs as they are, thing-group ARNs as the group's things."""
    things: list[str] = []
    for target in targets:
        if not isinstance(target, str):
            raise _bad("targets must hold ARNs")
        prefix, _, name = target.rpartition("/")
        if prefix.endswith(":thinggroup") and prefix.startswith("arn:aws"):
            if name not in state["thingGroups"]:
                raise _not_found(f"Thing group {name} cannot be found; the sandbox knows "
                                 f"{', '.join(sorted(state['thingGroups']))}")
            members = state["thingGroups"][name]
        elif prefix.endswith(":thing") and prefix.startswith("arn:aws") and name:
            members = [name]
        else:
            raise _bad(f"target {target} is not a thing or thing-group ARN "
                       f"(arn:aws:iot:<region>:<account>:thing/<name> or ...:thinggroup/<name>)")
        things += [thing for thing in members if thing not in things]
    return things


def _document(body: dict, state: dict) -> tuple[str | None, str | None]:
    """(document, template ARN) of a new job: its own document or documentSource, else its template's."""
    document = member(body, "document", "string", _bad)
    source = member(body, "documentSource", "string", _bad)
    template_arn = member(body, "jobTemplateArn", "string", _bad)
    if template_arn:
        template = state["jobTemplates"].get(template_arn.rpartition("/")[2])
        if template is None:
            raise _not_found(f"Job template {template_arn} cannot be found.")
        document = document or template.get("document")
    if document is None and source is None:
        raise _bad("a job needs a document, a documentSource or a jobTemplateArn")
    if document is not None:
        if len(document.encode("utf-8")) > JOB_DOCUMENT_MAX:
            raise _bad(f"the job document is larger than {JOB_DOCUMENT_MAX} bytes")
        try:
            parsed = json.loads(document)
        except ValueError:
            raise _bad("the job document is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise _bad("the job document must be a JSON object")
    return document, template_arn


def _timeout_minutes(body: dict) -> None:
    config = member(body, "timeoutConfig", "object", _bad)
    minutes = (config or {}).get("inProgressTimeoutInMinutes")
    if minutes is not None and (not isinstance(minutes, int) or not 1 <= minutes <= 10080):
        raise _bad("timeoutConfig.inProgressTimeoutInMinutes must be from 1 to 10080 (7 days)")


def _job_view(state: dict, job: dict) -> dict:
    keys = ("jobArn", "jobId", "targetSelection", "status", "forceCanceled", "reasonCode", "comment", "targets",
            *CONFIG_MEMBERS, "createdAt", "lastUpdatedAt", "completedAt", "jobTemplateArn")
    out = {k: job[k] for k in keys if k in job and k != "documentParameters"}
    out["jobProcessDetails"] = iot_fleet.process_details(state, job["jobId"])
    out["isConcurrent"] = False
    return out


def _execution_summary(execution: dict) -> dict:
    keys = ("status", "queuedAt", "startedAt", "lastUpdatedAt", "executionNumber")
    return {k: execution[k] for k in keys if k in execution}


# -- jobs -----------------------------------------------------------------------------------------


@routes.add("PUT", "/jobs/{jobId}")
def create_job(req: Request, state: dict, now: float, jobId: str) -> Reply:
    body = req.json(_bad)
    targets = member(body, "targets", "array", _bad, required=True)
    selection = member(body, "targetSelection", "string", _bad) or "SNAPSHOT"
    if selection not in ("SNAPSHOT", "CONTINUOUS"):
        raise _bad("targetSelection must be SNAPSHOT or CONTINUOUS")
    if jobId in state["jobs"]:
        raise ApiError(409, "ResourceAlreadyExistsException", f"Job {jobId} already exists.",
                       resourceId=jobId, resourceArn=arn("job", jobId))
    _timeout_minutes(body)
    document, template_arn = _document(body, state)
    things = _things_of(state, targets)
    job = {"jobId": jobId, "jobArn": arn("job", jobId), "targetSelection": selection, "status": "IN_PROGRESS",
           "targets": list(targets), "createdAt": int(now), "lastUpdatedAt": int(now)}
    job.update({k: body[k] for k in CONFIG_MEMBERS if body.get(k) is not None})
    if template_arn:
        job["jobTemplateArn"] = template_arn
    if body.get("documentSource"):
        job["documentSource"] = body["documentSource"]
    state["jobs"][jobId] = job
    if document is not None:
        state["documents"][jobId] = document
    for thing in things:
        iot_fleet.queue_execution(state, thing, jobId, now)
    out = {"jobArn": job["jobArn"], "jobId": jobId}
    if "description" in job:
        out["description"] = job["description"]
    return Reply(200, out)


@routes.add("GET", "/jobs/{jobId}")
def describe_job(req: Request, state: dict, now: float, jobId: str) -> Reply:
    job = _job(state, jobId)
    out = {"job": _job_view(state, job)}
    if "documentSource" in job:
        out["documentSource"] = job["documentSource"]
    return Reply(200, out)


@routes.add("GET", "/jobs")
def list_jobs(req: Request, state: dict, now: float) -> Reply:
    query = req.query
    jobs = sorted(state["jobs"].values(), key=lambda j: (-j["createdAt"], j["jobId"]))
    if "status" in query:
        jobs = [j for j in jobs if j["status"] == query["status"]]
    if "targetSelection" in query:
        jobs = [j for j in jobs if j["targetSelection"] == query["targetSelection"]]
    if "thingGroupName" in query:
        group = arn("thinggroup", query["thingGroupName"])
        jobs = [j for j in jobs if group in j["targets"]]
    keys = ("jobArn", "jobId", "targetSelection", "status", "createdAt", "lastUpdatedAt", "completedAt")
    return _paged("jobs", jobs, req, lambda j: {**{k: j[k] for k in keys if k in j}, "isConcurrent": False})


@routes.add("PATCH", "/jobs/{jobId}")
def update_job(req: Request, state: dict, now: float, jobId: str) -> Reply:
    body = req.json(_bad)
    job = _job(state, jobId)
    if "timeoutConfig" in body:
        raise _bad("timeoutConfig cannot be updated: the in-progress timer applies to every execution of the job")
    job.update({k: body[k] for k in CONFIG_MEMBERS if body.get(k) is not None})
    job["lastUpdatedAt"] = int(now)
    return Reply(200, None)


@routes.add("PUT", "/jobs/{jobId}/cancel")
def cancel_job(req: Request, state: dict, now: float, jobId: str) -> Reply:
    body = req.json(_bad)
    force = _flag(req, "force")
    job = _job(state, jobId)
    if job["status"] == "COMPLETED":
        raise _bad(f"Job {jobId} is COMPLETED: there is nothing left to cancel")
    if job["status"] == "CANCELED" and not force:
        raise _bad(f"Job {jobId} is already CANCELED; cancel it again with force to cancel its IN_PROGRESS "
                   "executions")
    iot_fleet.cancel_executions(state, jobId, now, force=force)
    job.update(status="CANCELED", forceCanceled=force, lastUpdatedAt=int(now))
    for name in ("reasonCode", "comment"):
        if member(body, name, "string", _bad) is not None:
            job[name] = body[name]
    return Reply(200, {"jobArn": job["jobArn"], "jobId": jobId,
                       **({"description": job["description"]} if "description" in job else {})})


@routes.add("DELETE", "/jobs/{jobId}")
def delete_job(req: Request, state: dict, now: float, jobId: str) -> Reply:
    force = _flag(req, "force")
    job = _job(state, jobId)
    if job["status"] == "IN_PROGRESS" and not force:
        raise ApiError(409, "InvalidStateTransitionException",
                       f"Job {jobId} is IN_PROGRESS; cancel it first or delete it with force")
    del state["jobs"][jobId]
    state["documents"].pop(jobId, None)
    for executions in state["things"].values():
        executions.pop(jobId, None)
    return Reply(200, None)


@routes.add("GET", "/jobs/{jobId}/job-document")
def get_job_document(req: Request, state: dict, now: float, jobId: str) -> Reply:
    _job(state, jobId)
    document = state["documents"].get(jobId)
    return Reply(200, {"document": document} if document is not None else {})


# -- executions -----------------------------------------------------------------------------------


@routes.add("GET", "/jobs/{jobId}/things")
def list_job_executions_for_job(req: Request, state: dict, now: float, jobId: str) -> Reply:
    _job(state, jobId)
    status = req.query.get("status")
    executions = sorted((e for e in iot_fleet.executions_of(state, jobId) if status in (None, e["status"])),
                        key=lambda e: e["thingName"])
    return _paged("executionSummaries", executions, req, lambda e: {
        "thingArn": arn("thing", e["thingName"]), "jobExecutionSummary": _execution_summary(e)})


@routes.add("GET", "/things/{thingName}/jobs")
def list_job_executions_for_thing(req: Request, state: dict, now: float, thingName: str) -> Reply:
    query = req.query
    executions = sorted(state["things"].get(thingName, {}).values(), key=iot_fleet.queue_order, reverse=True)
    executions = [e for e in executions if query.get("status") in (None, e["status"])
                  and query.get("jobId") in (None, e["jobId"])]
    return _paged("executionSummaries", executions, req, lambda e: {
        "jobId": e["jobId"], "jobExecutionSummary": _execution_summary(e)})


def _execution(state: dict, thing: str, job_id: str) -> dict:
    execution = state["things"].get(thing, {}).get(job_id)
    if execution is None:
        raise _not_found(f"No job execution found for thing {thing} and job {job_id}")
    return execution


@routes.add("GET", "/things/{thingName}/jobs/{jobId}")
def describe_job_execution(req: Request, state: dict, now: float, thingName: str, jobId: str) -> Reply:
    execution = _execution(state, thingName, jobId)
    number = req.query.get("executionNumber")
    if number is not None and number != str(execution["executionNumber"]):
        raise _not_found(f"No job execution {number} found for thing {thingName} and job {jobId}")
    keys = ("jobId", "status", "forceCanceled", "queuedAt", "startedAt", "lastUpdatedAt", "executionNumber",
            "versionNumber")
    out = {k: execution[k] for k in keys if k in execution}
    out["thingArn"] = arn("thing", thingName)
    out["statusDetails"] = {"detailsMap": execution.get("statusDetails", {})}
    deadline = execution.get("stepDeadline")
    if execution["status"] == "IN_PROGRESS" and deadline is not None:
        out["approximateSecondsBeforeTimedOut"] = max(0, math.ceil(deadline - now))
    return Reply(200, {"execution": out})


@routes.add("PUT", "/things/{thingName}/jobs/{jobId}/cancel")
def cancel_job_execution(req: Request, state: dict, now: float, thingName: str, jobId: str) -> Reply:
    body = req.json(_bad)
    force = _flag(req, "force")
    expected = member(body, "expectedVersion", "integer", _bad)
    details = member(body, "statusDetails", "object", _bad)
    execution = _execution(state, thingName, jobId)
    status = execution["status"]
    if status in TERMINAL:
        raise ApiError(409, "InvalidStateTransitionException",
                       f"Job execution {jobId} on {thingName} is already {status}, a terminal status")
    if status == "IN_PROGRESS" and not force:
        raise ApiError(409, "InvalidStateTransitionException",
                       f"Job execution {jobId} on {thingName} is IN_PROGRESS; cancel it with force")
    if expected is not None and expected != execution["versionNumber"]:
        raise ApiError(409, "VersionConflictException",
                       f"expectedVersion {expected} does not match the current version {execution['versionNumber']}")
    execution.update(status="CANCELED", forceCanceled=status == "IN_PROGRESS", lastUpdatedAt=int(now),
                     versionNumber=execution["versionNumber"] + 1)
    execution.pop("stepDeadline", None)
    if details is not None:
        execution["statusDetails"] = details
    return Reply(200, None)


# -- job templates --------------------------------------------------------------------------------


@routes.add("PUT", "/job-templates/{jobTemplateId}")
def create_job_template(req: Request, state: dict, now: float, jobTemplateId: str) -> Reply:
    body = req.json(_bad)
    description = member(body, "description", "string", _bad, required=True)
    if jobTemplateId in state["jobTemplates"]:
        raise ApiError(409, "ConflictException", f"Job template {jobTemplateId} already exists.",
                       resourceId=jobTemplateId)
    job_arn = member(body, "jobArn", "string", _bad)
    document = body.get("document")
    if job_arn:  # a template made from a job takes that job's document
        document = document or state["documents"].get(_job(state, job_arn.rpartition("/")[2])["jobId"])
    elif document is None and body.get("documentSource") is None:
        raise _bad("a job template needs a document, a documentSource or a jobArn")
    _timeout_minutes(body)
    template_arn = arn("jobtemplate", jobTemplateId)
    state["jobTemplates"][jobTemplateId] = {
        "jobTemplateArn": template_arn, "jobTemplateId": jobTemplateId, "description": description,
        "createdAt": int(now), "document": document,
        **{k: body[k] for k in ("timeoutConfig", "abortConfig", "documentSource") if body.get(k) is not None}}
    return Reply(200, {"jobTemplateArn": template_arn, "jobTemplateId": jobTemplateId})


@routes.add("GET", "/job-templates")
def list_job_templates(req: Request, state: dict, now: float) -> Reply:
    templates = sorted(state["jobTemplates"].values(), key=lambda t: (-t["createdAt"], t["jobTemplateId"]))
    keys = ("jobTemplateArn", "jobTemplateId", "description", "createdAt")
    return _paged("jobTemplates", templates, req, lambda t: {k: t[k] for k in keys})


def handle(req: Request, state: dict, now: float) -> Reply:
    iot_fleet.settle(state, now)
    return routes.dispatch(req, state, now, lambda m: ApiError(404, "UnknownOperationException", f"AWS IoT: {m}"))
