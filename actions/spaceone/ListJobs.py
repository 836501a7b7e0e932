"""ListJobs: the SpaceONE identity jobs that match a query, page by page."""

from jobs_connector.kit import Offset

METHOD = "POST"
PATH = "/identity/v2/job/list"
IDEMPOTENT = True
# query.page.start is 1-based; the answer's total_count says when the last page has been read.
PAGING = Offset(items="results", start="query.page.start", limit="query.page.limit", total="total_count")

EXAMPLE = {"query": {"page": {"start": 1, "limit": 10}}, "trusted_account_id": "ta-123456789012"}
NOTES = """\
Pages with query.page (start is 1-based, 100 jobs a page unless query.page.limit says otherwise) until
total_count jobs have been read. fetchAll merges the pages' results; fetchPage returns one page as
the service answered it; emitIndividually emits each job as its own message."""
