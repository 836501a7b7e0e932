"""ListJobExecutionsForJob: the executions of one job, thing by thing, optionally by status, page by page."""

from jobs_connector.kit import Cursor

METHOD = "GET"
PATH = "/jobs/{jobId}/things"
QUERY = {"status": "status", "maxResults": "maxResults", "nextToken": "nextToken"}
# A read: asking again changes nothing.
IDEMPOTENT = True
PAGING = Cursor(items="executionSummaries", input_token="nextToken", output_token="nextToken")

EXAMPLE = {"jobId": "firmware-2-1-rollout", "status": "FAILED"}
