"""UpdateJobExecution: report the progress or the final status of a job execution on a thing."""

METHOD = "POST"
PATH = "/things/{thingName}/jobs/{jobId}"
# Not idempotent unless the caller sets expectedVersion: a repeat may be refused as a state conflict.
IDEMPOTENT = False
# After an answer that never came, look with this action (the execution's status and version) before trying again.
CHECK_WITH = "iot-jobs-data.DescribeJobExecution"

EXAMPLE = {
    "thingName": "demo-thing",
    "jobId": "demo-job-1",
    "status": "SUCCEEDED",
    "statusDetails": {"result": "firmware 2.1 installed"},
    "expectedVersion": 2,
}
