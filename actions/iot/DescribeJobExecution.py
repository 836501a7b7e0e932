"""DescribeJobExecution (control plane): one thing's execution of a job, as the fleet operator sees it."""

METHOD = "GET"
PATH = "/things/{thingName}/jobs/{jobId}"
QUERY = {"executionNumber": "executionNumber"}
# A read: asking again changes nothing.
IDEMPOTENT = True

EXAMPLE = {"thingName": "demo-thing", "jobId": "firmware-2-1-rollout"}
NOTES = """\
Not the device's call: iot-jobs-data.DescribeJobExecution is the data-plane twin a device makes (on the
account's iot:Jobs endpoint, with the job document). This one goes to the control plane (iot.<region>).
"""
