"""DescribeDeviceJob: the type, target version and status of one Panorama device job."""

METHOD = "GET"
PATH = "/jobs/{JobId}"
# A read: asking again changes nothing.
IDEMPOTENT = True
EXAMPLE = {"JobId": "job-0a1b2c3d4e5f"}
NOTES = """\
AWS ended support for Panorama on 2026-05-31: when the endpoint can no longer be resolved or reached,
the step fails with ServiceRetired (not retried) instead of a bare DNS error.

Status moves PENDING -> IN_PROGRESS (DOWNLOADING, VERIFYING, REBOOTING for an OTA update) and ends in
COMPLETED or FAILED; poll this action until it reaches one of those two.
"""
