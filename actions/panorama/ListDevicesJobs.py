"""ListDevicesJobs: the Panorama device jobs of the account, optionally of one device, page by page."""

from jobs_connector.kit import Cursor

METHOD = "GET"
PATH = "/jobs"
QUERY = {"DeviceId": "DeviceId", "MaxResults": "MaxResults", "NextToken": "NextToken"}
# A read: asking again changes nothing.
IDEMPOTENT = True
# The botocore model names the list DeviceJobs (not Jobs, which is CreateJobForDevices' answer).
PAGING = Cursor(items="DeviceJobs", input_token="NextToken", output_token="NextToken")
EXAMPLE = {"DeviceId": "device-4tafxulb5ywrwo6yqpwjqx4kwm", "MaxResults": 25}
NOTES = """\
AWS ended support for Panorama on 2026-05-31: when the endpoint can no longer be resolved or reached,
the step fails with ServiceRetired (not retried) instead of a bare DNS error.

MaxResults is the page size (at most 25). With the emit behaviour fetchPage the answer keeps its
NextToken: pass it back as input NextToken to continue where the page ended.
"""
