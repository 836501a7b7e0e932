"""DescribeJobExecution: the details of one job execution on a thing (jobId `$next` for the next pending one)."""

METHOD = "GET"
PATH = "/things/{thingName}/jobs/{jobId}"
QUERY = {"includeJobDocument": "includeJobDocument", "executionNumber": "executionNumber"}
IDEMPOTENT = True

EXAMPLE = {"thingName": "demo-thing", "jobId": "demo-job-1", "includeJobDocument": True}
