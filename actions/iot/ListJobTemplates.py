"""ListJobTemplates: the job templates of the account, page by page."""

from jobs_connector.kit import Cursor

METHOD = "GET"
PATH = "/job-templates"
QUERY = {"maxResults": "maxResults", "nextToken": "nextToken"}
# A read: asking again changes nothing.
IDEMPOTENT = True
PAGING = Cursor(items="jobTemplates", input_token="nextToken", output_token="nextToken")

EXAMPLE = {"maxResults": 25}
