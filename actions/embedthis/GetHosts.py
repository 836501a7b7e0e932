"""GetHosts: the device cloud hosts, page by page."""

from jobs_connector.kit import Cursor

METHOD = "POST"
PATH = "/cloud/getHosts"
QUERY = {"next": "next"}
IDEMPOTENT = True
PAGING = Cursor(items="data", input_token="next", output_token="next")
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"region": "us-east-1"}
NOTES = """\
Pages with the cursor: each answer's `next` is sent back as the `next` query option until
an answer has none (at most maxPages pages, 100 by default). fetchAll merges the pages' data;
fetchPage returns one page with its `next`, to continue from; emitIndividually emits each host
as its own message."""
