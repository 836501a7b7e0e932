"""ListJobs: the jobs of the account, optionally by status, target selection or thing group, page by page."""

from jobs_connector.kit import Cursor

METHOD = "GET"
PATH = "/jobs"
QUERY = {"status": "status", "targetSelection": "targetSelection", "maxResults": "maxResults",
         "nextToken": "nextToken", "thingGroupName": "thingGroupName", "thingGroupId": "thingGroupId",
         "namespaceId": "namespaceId"}
# A read: asking again changes nothing.
IDEMPOTENT = True
PAGING = Cursor(items="jobs", input_token="nextToken", output_token="nextToken")

EXAMPLE = {"status": "IN_PROGRESS", "maxResults": 25}
NOTES = """\
maxResults is the page size (1 to 250). With the emit behaviour fetchPage the answer keeps its nextToken:
pass it back as input nextToken to continue where the page ended.
"""
