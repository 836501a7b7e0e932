"""FindClouds: the device clouds the token may see, page by page."""

from jobs_connector.kit import Cursor

METHOD = "POST"
PATH = "/cloud/find"
# The API's query-string options, each under its own name.
QUERY = {name: name for name in ("hidden", "filter", "limit", "next", "prev", "index", "where", "log")}
IDEMPOTENT = True
PAGING = Cursor(items="data", input_token="next", output_token="next")
ROLE = "user"  # the Builder user role the token must have

EXAMPLE = {"limit": 20}
NOTES = """\
Pages with the cursor: each answer's `next` is sent back as the `next` query option until
an answer has none (at most maxPages pages, 100 by default). fetchAll merges the pages' data;
fetchPage returns one page with its `next`, to continue from; emitIndividually emits each cloud
as its own message. Query options (hidden, filter, limit, next, prev, index, where, log) go in
the query string; an object cursor is sent JSON-encoded."""
