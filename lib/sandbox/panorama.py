"""AWS Panorama device jobs (rest-json, signing name panorama): CreateJobForDevices, DescribeDeviceJob,
ListDevicesJobs with NextToken paging.

AWS retired Panorama on 2026-05-31; the sandbox keeps answering so flows that still carry the steps can be
exercised. A new job moves on with time: PENDING for 5 s, then IN_PROGRESS (an OTA job: DOWNLOADING,
then VERIFYING), REBOOTING, and COMPLETED after 30 s.
"""

from __future__ import annotations

import re
import uuid

from jobs_connector.sandbox.wire import ApiError, Reply, Request, Routes, member, offset_token, read_offset_token

NAME = "panorama"
PROTOCOL = "rest-json"
ACCOUNT = "123456789012"
_ID = re.compile(r"^[a-zA-Z0-9\-_]{1,255}$")
# (seconds since creation, status) for each job type: where a job stands at a given age.
PROGRESS = {
    "OTA": ((0, "PENDING"), (5, "DOWNLOADING"), (12, "VERIFYING"), (20, "REBOOTING"), (30, "COMPLETED")),
    "REBOOT": ((0, "PENDING"), (5, "IN_PROGRESS"), (15, "REBOOTING"), (30, "COMPLETED")),
}

routes = Routes()


def _invalid(message: str) -> ApiError:
    return ApiError(400, "ValidationException", message)


def _not_found(message: str, resource_id: str, resource_type: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message, ResourceId=resource_id, ResourceType=resource_type)


def seed(now: float) -> dict:
    devices = {}
    for n, kind in ((1, "PANORAMA_APPLIANCE"), (2, "PANORAMA_APPLIANCE"), (3, "PANORAMA_APPLIANCE_DEVELOPER_KIT")):
        device_id = f"device-sandbox{n:012d}"
        devices[device_id] = {"DeviceId": device_id, "DeviceName": f"demo-appliance-{n}", "DeviceType": kind,
                              "DeviceArn": f"arn:aws:panorama:us-east-1:{ACCOUNT}:device/{device_id}",
                              "ImageVersion": "4.3.45"}
    jobs = {}
    device_ids = list(devices)
    for n in range(1, 8):  # seven finished jobs: three pages of ListDevicesJobs at MaxResults=3
        job_id = f"job-sandbox{n:012d}"
        jobs[job_id] = {"JobId": job_id, "DeviceId": device_ids[n % 3], "JobType": "OTA" if n % 2 else "REBOOT",
                        "ImageVersion": "4.3.45", "CreatedTime": round(now - 86400 * (8 - n), 3)}
    return {"devices": devices, "jobs": jobs}


def _status(job: dict, now: float) -> str:
    age = now - job["CreatedTime"]
    status = "PENDING"
    for after, name in PROGRESS[job["JobType"]]:
        if age >= after:
            status = name
    return status


@routes.add("POST", "/jobs")
def create_job_for_devices(req: Request, state: dict, now: float) -> Reply:
    body = req.json(_invalid)
    device_ids = member(body, "DeviceIds", "array", _invalid, required=True)
    job_type = member(body, "JobType", "string", _invalid, required=True)
    config = member(body, "DeviceJobConfig", "object", _invalid)
    if len(device_ids) != 1:
        raise _invalid("DeviceIds must list exactly 1 device")
    if job_type not in PROGRESS:
        raise _invalid(f"JobType must be one of {', '.join(PROGRESS)}")
    device_id = device_ids[0]
    if not isinstance(device_id, str) or not _ID.match(device_id):
        raise _invalid("DeviceIds[0] must match ^[a-zA-Z0-9\\-\\_]+$ (1 to 255 characters)")
    device = state["devices"].get(device_id)
    if device is None:
        raise _not_found(f"Device {device_id} not found; the sandbox has {', '.join(state['devices'])}",
                         device_id, "device")
    image_version = device["ImageVersion"]
    if job_type == "OTA":
        ota = member(config or {}, "OTAJobConfig", "object", _invalid, required=True, where="DeviceJobConfig.")
        image_version = member(ota, "ImageVersion", "string", _invalid, required=True,
                               where="DeviceJobConfig.OTAJobConfig.")
        member(ota, "AllowMajorVersionUpdate", "boolean", _invalid, where="DeviceJobConfig.OTAJobConfig.")
    job_id = f"job-{uuid.uuid4().hex[:24]}"
    state["jobs"][job_id] = {"JobId": job_id, "DeviceId": device_id, "JobType": job_type,
                             "ImageVersion": image_version, "CreatedTime": round(now, 3)}
    if job_type == "OTA":
        device["ImageVersion"] = image_version
    return Reply(200, {"Jobs": [{"DeviceId": device_id, "JobId": job_id}]})


@routes.add("GET", "/jobs/{JobId}")
def describe_device_job(req: Request, state: dict, now: float, JobId: str) -> Reply:
    job = state["jobs"].get(JobId)
    if job is None:
        raise _not_found(f"Job {JobId} not found", JobId, "job")
    device = state["devices"][job["DeviceId"]]
    return Reply(200, {"JobId": JobId, "JobType": job["JobType"], "CreatedTime": job["CreatedTime"],
                       "DeviceId": device["DeviceId"], "DeviceName": device["DeviceName"],
                       "DeviceArn": device["DeviceArn"], "DeviceType": device["DeviceType"],
                       "ImageVersion": job["ImageVersion"], "Status": _status(job, now)})


@routes.add("GET", "/jobs")
def list_devices_jobs(req: Request, state: dict, now: float) -> Reply:
    query = req.query
    device_id = query.get("DeviceId")
    max_results = query.get("MaxResults", "25")
    if not max_results.isdigit() or int(max_results) > 25:
        raise _invalid("MaxResults must be a whole number from 0 to 25")
    limit = int(max_results) or 25
    offset = read_offset_token(query["NextToken"], "NextToken", _invalid) if "NextToken" in query else 0
    jobs = sorted(state["jobs"].values(), key=lambda j: (-j["CreatedTime"], j["JobId"]))
    if device_id is not None:
        jobs = [j for j in jobs if j["DeviceId"] == device_id]
    page = jobs[offset:offset + limit]
    out = {"DeviceJobs": [{"JobId": j["JobId"], "JobType": j["JobType"], "CreatedTime": j["CreatedTime"],
                           "DeviceId": j["DeviceId"], "DeviceName": state["devices"][j["DeviceId"]]["DeviceName"]}
                          for j in page]}
    if offset + limit < len(jobs):
        out["NextToken"] = offset_token(offset + limit)
    return Reply(200, out)


def handle(req: Request, state: dict, now: float) -> Reply:
    return routes.dispatch(req, state, now, lambda m: ApiError(404, "UnknownOperationException", f"Panorama: {m}"))
