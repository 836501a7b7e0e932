"""Panorama: device job changed (deprecated with the Panorama actions: AWS retired the service on
2026-05-31, and an endpoint that cannot be reached fails with ServiceRetired, never retried).

Lists the device jobs (ListDevicesJobs, every page, optionally of one device) and describes each job not
yet seen in a final status (DescribeDeviceJob); emits each job when it appears and each time its status
changes.
"""

from __future__ import annotations

from jobs_connector.kit import Item

FINAL = ("COMPLETED", "FAILED")
CONFIG = {
    "properties": {
        "DeviceId": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9\\-\\_]+$"},
    },
}


def items(ctx):
    body = {"MaxResults": 25}
    if ctx.cfg.get("DeviceId"):
        body["DeviceId"] = ctx.cfg["DeviceId"]
    for job in ctx.each("panorama.ListDevicesJobs", body):
        job_id = job.get("JobId") if isinstance(job, dict) else None
        if not job_id or ctx.seen_version(job_id) in FINAL:
            continue  # a job in a final status does not change again: no need to describe it
        detail = ctx.call("panorama.DescribeDeviceJob", {"JobId": job_id})
        yield Item(id=job_id, version=str(detail.get("Status")), body=detail, updated=None)
