"""Paging and emit behaviour over real HTTP: SpaceONE offset paging (query.page + total_count) and
EmbedThis cursor paging (`next`), each emit behaviour, the page limit, an empty result, and the CLI's
progress on stderr."""

import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from jobs_connector.cli.main import Progress
from jobs_connector.component.paging import Cursor, Offset
from jobs_connector.runtime import Runtime, process
from tests.support.cli import run_cli
from tests.support.loopback import Reply

SPACEONE_KEY = "test-spaceone-api-key-not-real-0001"
EMBEDTHIS_TOKEN = "test-embedthis-token-not-real-0001"


def job(n: int) -> dict:
    return {"job_id": f"job-{n:012d}", "status": "SUCCESS", "resource_group": "DOMAIN",
            "domain_id": "domain-58010aa2e451", "created_at": "2022-06-17T08:00:01.225Z"}


def cloud(n: int) -> dict:
    return {"id": f"cloud-{n:04d}", "name": f"cloud {n}", "region": "us-east-1", "devices": n, "enable": True}


class FakeSpaceOne:
    """job/list answering query.page slices of `jobs`, with total_count."""

    def __init__(self, jobs):
        self.jobs = jobs

    def __call__(self, request):
        assert request.path.endswith("/identity/v2/job/list")
        page = request.json()["query"]["page"]
        start, limit = page["start"], page["limit"]
        return Reply(200, {"results": self.jobs[start - 1:start - 1 + limit], "total_count": len(self.jobs)})


class FakeBuilder:
    """cloud/find answering `limit` items from the `next` cursor on, with the next cursor while more remain."""

    def __init__(self, items, path="/cloud/find"):
        self.items, self.path = items, path

    def __call__(self, request):
        url = urlsplit(request.path)
        assert url.path.endswith(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        offset = int(query["next"].removeprefix("c")) if "next" in query else 0
        limit = int(query.get("limit", 3))
        body = {"data": self.items[offset:offset + limit]}
        if offset + limit < len(self.items):
            body["next"] = f"c{offset + limit}"
        return Reply(200, body)


@pytest.fixture
def spaceone(loopback, monkeypatch):
    # A base URL with a path prefix, as behind a gateway.
    monkeypatch.setenv("SPACEONE_ENDPOINT", loopback.url + "/spaceone")
    monkeypatch.setenv("SPACEONE_API_KEY", SPACEONE_KEY)
    return loopback


@pytest.fixture
def builder(loopback, monkeypatch):
    monkeypatch.setenv("EMBEDTHIS_ENDPOINT", loopback.url + "/api")
    monkeypatch.setenv("EMBEDTHIS_TOKEN", EMBEDTHIS_TOKEN)
    return loopback


def page_starts(server):
    return [r.json()["query"]["page"]["start"] for r in server.requests]


def cursors(server):
    return [parse_qs(urlsplit(r.path).query).get("next", [None])[0] for r in server.requests]


LIST_JOBS = ("run", "spaceone.ListJobs", "--input", json.dumps({"query": {"page": {"limit": 3}}}))
FIND_CLOUDS = ("run", "embedthis.FindClouds", "--input", json.dumps({"limit": 3}))

# -- offset paging (SpaceONE) ---------------------------------------------------------------------


def test_offset_fetch_all_merges_three_pages(spaceone):
    jobs = [job(n) for n in range(7)]
    spaceone.default = FakeSpaceOne(jobs)
    result = run_cli(*LIST_JOBS)
    assert result.code == 0, result.stderr
    assert result.messages == [{"results": jobs, "total_count": 7}]
    assert page_starts(spaceone) == [1, 4, 7]
    assert all(r.path == "/spaceone/identity/v2/job/list" for r in spaceone.requests)
    assert all(r.headers["Authorization"] == f"Bearer {SPACEONE_KEY}" for r in spaceone.requests)
    # progress from the second page on, one line each (stderr is not a terminal here)
    assert "fetched page 2 (6 items so far)\n" in result.stderr
    assert "fetched page 3 (7 items so far)\n" in result.stderr
    assert "fetched page 1" not in result.stderr
    assert "page limit" not in result.stderr


def test_offset_default_page_is_filled_in(spaceone):
    spaceone.default = FakeSpaceOne([job(1)])
    result = run_cli("run", "spaceone.ListJobs", "--input", "{}")
    assert result.code == 0, result.stderr
    assert spaceone.requests[0].json() == {"query": {"page": {"start": 1, "limit": 100}}}


def test_offset_fetch_page_reads_one_page(spaceone):
    jobs = [job(n) for n in range(7)]
    spaceone.default = FakeSpaceOne(jobs)
    result = run_cli(*LIST_JOBS, "--emit", "fetchPage")
    assert result.code == 0, result.stderr
    assert result.messages == [{"results": jobs[:3], "total_count": 7}]
    assert len(spaceone.requests) == 1


def test_offset_fetch_page_continues_from_a_given_start(spaceone):
    jobs = [job(n) for n in range(7)]
    spaceone.default = FakeSpaceOne(jobs)
    result = run_cli("run", "spaceone.ListJobs", "--input", '{"query": {"page": {"start": 4, "limit": 3}}}',
                     "--emit", "fetchPage")
    assert result.messages == [{"results": jobs[3:6], "total_count": 7}]


def test_offset_emit_individually(spaceone):
    jobs = [job(n) for n in range(7)]
    spaceone.default = FakeSpaceOne(jobs)
    result = run_cli(*LIST_JOBS, "--emit", "emitIndividually")
    assert result.code == 0, result.stderr
    assert result.messages == jobs
    assert page_starts(spaceone) == [1, 4, 7]
    assert "fetched page 3 (7 items so far)" in result.stderr


@pytest.mark.parametrize("emit, expected", [("fetchAll", 1), ("emitIndividually", 6)])
def test_offset_page_limit(spaceone, emit, expected):
    jobs = [job(n) for n in range(10)]
    spaceone.default = FakeSpaceOne(jobs)
    result = run_cli(*LIST_JOBS, "--emit", emit, "--max-pages", "2")
    assert result.code == 0, result.stderr
    assert page_starts(spaceone) == [1, 4]
    assert len(result.messages) == expected
    if emit == "fetchAll":
        # total_count tells the reader that more remain
        assert result.messages == [{"results": jobs[:6], "total_count": 10}]
    else:
        assert result.messages == jobs[:6]
    assert "stopped after 2 pages (the page limit, --max-pages); more remain" in result.stderr


def test_offset_page_limit_not_reported_when_nothing_remains(spaceone):
    spaceone.default = FakeSpaceOne([job(n) for n in range(6)])
    result = run_cli(*LIST_JOBS, "--max-pages", "2")
    assert page_starts(spaceone) == [1, 4]
    assert len(result.messages[0]["results"]) == 6
    assert "page limit" not in result.stderr


@pytest.mark.parametrize("emit, expected", [
    ("fetchAll", [{"results": [], "total_count": 0}]),
    ("fetchPage", [{"results": [], "total_count": 0}]),
    ("emitIndividually", []),
])
def test_offset_empty_result(spaceone, emit, expected):
    spaceone.default = FakeSpaceOne([])
    result = run_cli(*LIST_JOBS, "--emit", emit)
    assert result.code == 0, result.stderr
    assert result.messages == expected
    assert len(spaceone.requests) == 1


def test_offset_platform_process_emits_each_item(spaceone):
    jobs = [job(n) for n in range(5)]
    spaceone.default = FakeSpaceOne(jobs)
    emitted = []
    process("spaceone.ListJobs", {"body": {"query": {"page": {"limit": 2}}}},
            {"emitBehaviour": "emitIndividually"}, lambda kind, msg: emitted.append((kind, msg)))
    assert emitted == [("data", {"body": j}) for j in jobs] + [("end", {})]


# -- cursor paging (EmbedThis) --------------------------------------------------------------------


def test_cursor_fetch_all_merges_three_pages(builder):
    clouds = [cloud(n) for n in range(8)]
    builder.default = FakeBuilder(clouds)
    result = run_cli(*FIND_CLOUDS)
    assert result.code == 0, result.stderr
    assert result.messages == [{"data": clouds}]  # no `next`: nothing remains
    assert cursors(builder) == [None, "c3", "c6"]
    assert all(urlsplit(r.path).path == "/api/cloud/find" for r in builder.requests)
    assert all(r.headers["Authorization"] == f"Bearer {EMBEDTHIS_TOKEN}" for r in builder.requests)
    assert all(r.json() == {} for r in builder.requests)  # query options never go in the body
    assert "fetched page 2 (6 items so far)\n" in result.stderr
    assert "fetched page 3 (8 items so far)\n" in result.stderr


def test_cursor_fetch_page_keeps_the_cursor_to_continue(builder):
    clouds = [cloud(n) for n in range(8)]
    builder.default = FakeBuilder(clouds)
    first = run_cli(*FIND_CLOUDS, "--emit", "fetchPage")
    assert first.messages == [{"data": clouds[:3], "next": "c3"}]
    second = run_cli("run", "embedthis.FindClouds", "--input",
                     json.dumps({"limit": 3, "next": first.messages[0]["next"]}), "--emit", "fetchPage")
    assert second.messages == [{"data": clouds[3:6], "next": "c6"}]
    assert cursors(builder) == [None, "c3"]


def test_cursor_emit_individually(builder):
    clouds = [cloud(n) for n in range(8)]
    builder.default = FakeBuilder(clouds)
    result = run_cli(*FIND_CLOUDS, "--emit", "emitIndividually")
    assert result.code == 0, result.stderr
    assert result.messages == clouds
    assert cursors(builder) == [None, "c3", "c6"]


@pytest.mark.parametrize("emit", ["fetchAll", "emitIndividually"])
def test_cursor_page_limit(builder, emit):
    clouds = [cloud(n) for n in range(12)]
    builder.default = FakeBuilder(clouds)
    result = run_cli(*FIND_CLOUDS, "--emit", emit, "--max-pages", "3")
    assert result.code == 0, result.stderr
    assert cursors(builder) == [None, "c3", "c6"]
    if emit == "fetchAll":
        # the merged message keeps the cursor, so the listing can be continued
        assert result.messages == [{"data": clouds[:9], "next": "c9"}]
    else:
        assert result.messages == clouds[:9]
    assert "stopped after 3 pages (the page limit, --max-pages); more remain" in result.stderr


def test_cursor_page_limit_from_the_step_config(builder):
    builder.default = FakeBuilder([cloud(n) for n in range(12)])
    bodies = list(Runtime().run("embedthis.FindClouds", {"limit": 3}, {"maxPages": "2"}))
    assert [len(b["data"]) for b in bodies] == [6]
    assert len(builder.requests) == 2


@pytest.mark.parametrize("emit, expected", [
    ("fetchAll", [{"data": []}]), ("fetchPage", [{"data": []}]), ("emitIndividually", [])])
def test_cursor_empty_result(builder, emit, expected):
    builder.default = FakeBuilder([])
    result = run_cli(*FIND_CLOUDS, "--emit", emit)
    assert result.code == 0, result.stderr
    assert result.messages == expected
    assert len(builder.requests) == 1


def test_get_hosts_pages_with_the_next_query_option(builder):
    hosts = [{"name": f"host-{n}", "region": "us-east-1"} for n in range(5)]
    builder.default = FakeBuilder(hosts, path="/cloud/getHosts")
    result = run_cli("run", "embedthis.GetHosts", "--input", '{"open": true}')
    assert result.code == 0, result.stderr
    assert result.messages == [{"data": hosts}]
    assert cursors(builder) == [None, "c3"]
    assert all(r.json() == {"open": True} for r in builder.requests)


def test_bad_page_limit_is_refused_before_sending(builder):
    result = run_cli(*FIND_CLOUDS, "--max-pages", "0")
    assert result.code == 2
    assert "maxPages" in result.stderr
    assert builder.requests == []


def test_a_failing_later_page_fails_the_step(builder, no_sleep):
    builder.script += [FakeBuilder([cloud(n) for n in range(9)]), Reply(403, {"message": "forbidden"})]
    result = run_cli(*FIND_CLOUDS)
    assert result.code == 3
    assert result.messages == []
    assert "AuthError" in result.stderr


# -- the mechanism, without HTTP ------------------------------------------------------------------


def test_offset_stops_at_total_even_when_the_page_is_full():
    paging = Offset(items="results", start="query.page.start", limit="query.page.limit", total="total_count")
    body = paging.first_body({"query": {"page": {"limit": 2}}})
    assert body == {"query": {"page": {"start": 1, "limit": 2}}}
    assert paging.next_body(body, {"results": [1, 2], "total_count": 4}, 2) == {
        "query": {"page": {"start": 3, "limit": 2}}}
    last = {"query": {"page": {"start": 3, "limit": 2}}}
    assert paging.next_body(last, {"results": [3, 4], "total_count": 4}, 4) is None
    assert paging.next_body(body, {"results": [], "total_count": 4}, 0) is None  # no progress: stop


def test_cursor_stops_on_an_empty_cursor():
    paging = Cursor(items="data", input_token="next", output_token="next")
    assert paging.next_body({"limit": 3}, {"data": [1], "next": "c1"}, 1) == {"limit": 3, "next": "c1"}
    for page in ({"data": [1]}, {"data": [1], "next": ""}, {"data": [1], "next": None}):
        assert paging.next_body({"limit": 3}, page, 1) is None


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_redraws_one_line_on_a_terminal_and_closes_it():
    stream = _Terminal()
    progress = Progress(stream)
    progress(1, 3)
    progress(2, 6)
    progress(3, 7)
    assert stream.getvalue() == "fetched page 2 (6 items so far)\rfetched page 3 (7 items so far)\r"
    progress.close_line()
    progress.close_line()  # once only
    assert stream.getvalue().endswith("\r\n")
    progress(4, 9)
    progress.page_limit(4)
    assert stream.getvalue().endswith("(9 items so far)\r\nstopped after 4 pages (the page limit, --max-pages); "
                                      "more remain\n")
