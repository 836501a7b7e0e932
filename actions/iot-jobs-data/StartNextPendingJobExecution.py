"""StartNextPendingJobExecution: get and start the thing's next pending job execution (QUEUED or IN_PROGRESS)."""

METHOD = "PUT"
PATH = "/things/{thingName}/jobs/$next"
# Not idempotent: a repeat could start the execution after the one the first call started.
IDEMPOTENT = False

EXAMPLE = {"thingName": "demo-thing", "statusDetails": {"progress": "downloading"}, "stepTimeoutInMinutes": 30}
