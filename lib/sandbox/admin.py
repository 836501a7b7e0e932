"""The sandbox's admin endpoints: make things happen while it runs, so a trigger has something to see.

    POST /_sandbox/iot/jobs          {"thingName": "demo-thing", "jobId"?: "...", "document"?: {...}}
         queues a new job execution for the thing (QUEUED; a job id seen on the thing before gets the next
         execution number)
    POST /_sandbox/codepipeline/jobs {"count"?: 1}      queues new third-party jobs for the sandbox action type
    POST /_sandbox/spaceone/jobs     {"job_id"?: "...", "status"?: "IN_PROGRESS", "workspace_id"?: "..."}
         without job_id a new job; with one, that job's status changes (updated_at moves on)
    POST /_sandbox/embedthis/clouds  {"id"?: "...", "name"?: "...", "devices"?: 3}
         without id a new cloud; with one, that cloud's record changes

Unsigned, like /_sandbox/health: the sandbox listens on 127.0.0.1 only and is a development tool.
Each answers 200 with what it created or changed.
"""

from __future__ import annotations

import json
import uuid

from jobs_connector.sandbox import codepipeline, embedthis, iot_fleet, spaceone
from jobs_connector.sandbox.wire import ApiError, Reply

PREFIX = "/_sandbox/"


def _bad(message: str) -> ApiError:
    return ApiError(400, "ValidationException", message)


def _text(body: dict, name: str, default=None, pattern_ok=lambda v: 0 < len(v) <= 128):
    value = body.get(name, default)
    if value is not None and (not isinstance(value, str) or not pattern_ok(value)):
        raise _bad(f"'{name}' must be a string of 1 to 128 characters")
    return value


def queue_iot_job(data: dict, body: dict, now: float) -> dict:
    thing = _text(body, "thingName")
    if not thing:
        raise _bad("'thingName' is required")
    job_id = _text(body, "jobId") or f"sandbox-job-{uuid.uuid4().hex[:12]}"
    document = body.get("document", {"operation": "sandbox-queued"})
    executions = data["things"].get(thing, {})
    number = executions[job_id]["executionNumber"] + 1 if job_id in executions else 1
    if job_id in executions and executions[job_id]["status"] in ("QUEUED", "IN_PROGRESS"):
        raise _bad(f"job {job_id} is already pending on {thing}")
    execution = iot_fleet.queue_execution(data, thing, job_id, now, number)
    data["documents"][job_id] = json.dumps(document)
    return {k: execution[k] for k in ("jobId", "thingName", "status", "executionNumber")}


def queue_codepipeline_jobs(data: dict, body: dict, now: float) -> dict:
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise _bad("'count' must be a whole number from 1 to 100")
    jobs = [codepipeline._new_job(data, now + i / 1000) for i in range(count)]
    return {"jobs": [{"jobId": job["id"], "clientId": job["clientId"]} for job in jobs]}


def change_spaceone_job(data: dict, body: dict, now: float) -> dict:
    statuses = ("PENDING", "IN_PROGRESS", "FAILURE", "SUCCESS", "CANCELED")
    status = _text(body, "status")
    if status is not None and status not in statuses:
        raise _bad(f"'status' must be one of {', '.join(statuses)}")
    job_id = _text(body, "job_id")
    stamp = spaceone._iso(now)
    if job_id is None:
        job_id = f"job-{uuid.uuid4().hex[:12]}"
        workspace = _text(body, "workspace_id") or "workspace-5a4db0c00001"
        data["jobs"][job_id] = {"job_id": job_id, "status": status or "IN_PROGRESS", "options": {},
                                "resource_group": "WORKSPACE", "domain_id": spaceone.DOMAIN,
                                "workspace_id": workspace, "trusted_account_id": "ta-5a4db0c00001",
                                "plugin_id": "plugin-aws-cloud-service-inven-collector",
                                "created_at": stamp, "updated_at": stamp}
        return data["jobs"][job_id]
    job = data["jobs"].get(job_id)
    if job is None:
        raise ApiError(404, "ResourceNotFoundException", f"no SpaceONE job {job_id}")
    job.update(status=status or job["status"], updated_at=stamp)
    if job["status"] in ("FAILURE", "SUCCESS", "CANCELED"):
        job["finished_at"] = stamp
    return job


def change_embedthis_cloud(data: dict, body: dict, now: float) -> dict:
    devices = body.get("devices")
    if devices is not None and (not isinstance(devices, int) or isinstance(devices, bool) or devices < 0):
        raise _bad("'devices' must be a whole number of at least 0")
    name = _text(body, "name")
    cloud_id = _text(body, "id")
    if cloud_id is None:
        cloud = embedthis._new_cloud(data, now, {"name": name or f"sandbox-cloud-{data['seq'] + 1}"})
    else:
        cloud = data["clouds"].get(cloud_id)
        if cloud is None:
            raise ApiError(404, "ResourceNotFoundException", f"no EmbedThis cloud {cloud_id}")
        cloud["version"] = cloud.get("version", 1) + 1
    if name is not None:
        cloud["name"] = name
    if devices is not None:
        cloud["devices"] = devices
    return embedthis._view(cloud)


# path -> (service state name, handler)
ROUTES = {
    "/_sandbox/iot/jobs": ("iot-jobs-data", queue_iot_job),
    "/_sandbox/codepipeline/jobs": ("codepipeline", queue_codepipeline_jobs),
    "/_sandbox/spaceone/jobs": ("spaceone", change_spaceone_job),
    "/_sandbox/embedthis/clouds": ("embedthis", change_embedthis_cloud),
}


def handle(req, store, now: float) -> Reply | None:
    """The admin endpoint's answer, or None when the path is not one."""
    route = ROUTES.get(req.raw_path)
    if route is None:
        return None
    if req.method != "POST":
        return Reply(405, {"message": f"{req.raw_path} takes POST"})
    service, handler = route
    try:
        body = req.json(_bad)
        with store.lock:
            answer = handler(store.data[service], body, now)
            store.save_if_changed()
    except ApiError as error:
        return Reply(error.status, {"code": error.code, "message": error.message})
    return Reply(200, answer)
