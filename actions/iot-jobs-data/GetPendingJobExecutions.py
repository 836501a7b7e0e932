"""GetPendingJobExecutions: the job executions of a thing that are not in a terminal status."""

METHOD = "GET"
PATH = "/things/{thingName}/jobs"
IDEMPOTENT = True

EXAMPLE = {"thingName": "demo-thing"}
