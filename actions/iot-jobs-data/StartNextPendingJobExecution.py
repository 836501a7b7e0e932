"""StartNextPendingJobExecution: get and start the thing's next pending job execution (QUEUED or IN_PROGRESS)."""

METHOD = "PUT"
PATH = "/things/{thingName}/jobs/$next"
# Not idempotent: a repeat could start the execution after the one the first call started.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether a job moved to IN_PROGRESS) before trying again.
CHECK_WITH = "iot-jobs-data.GetPendingJobExecutions"

EXAMPLE = {"thingName": "demo-thing", "statusDetails": {"progress": "downloading"}, "stepTimeoutInMinutes": 30}
