"""ListJobExecutionsForThing: the job executions of one thing, optionally by status or job, page by page."""

from jobs_connector.kit import Cursor

METHOD = "GET"
PATH = "/things/{thingName}/jobs"
QUERY = {"status": "status", "namespaceId": "namespaceId", "maxResults": "maxResults", "nextToken": "nextToken",
         "jobId": "jobId"}
# A read: asking again changes nothing.
IDEMPOTENT = True
PAGING = Cursor(items="executionSummaries", input_token="nextToken", output_token="nextToken")

EXAMPLE = {"thingName": "demo-thing"}
