"""The sandbox keeps up with a benchmark: each answer leaves in one write on a socket without Nagle (no
delayed-ACK stall on kept-alive connections), long SpaceONE listings page from one remembered selection
and still see every change, and many jobs can be seeded. Behaviour only: no timing is asserted here
(the sandbox section of benchmarks/run.py measures)."""

from __future__ import annotations

import json
import socket

import pytest

from jobs_connector.sandbox import server as sandbox_server
from jobs_connector.sandbox import spaceone
from tests.support.cli import run_cli
from tests.support.sandbox import running_sandbox, token_post


@pytest.fixture
def sandbox():
    with running_sandbox() as server:
        yield server


def list_all(sandbox, limit: int, **body) -> list[dict]:
    jobs, start, query = [], 1, body.pop("query", {})
    while True:
        page = token_post(sandbox, "/identity/v2/job/list",
                          {**body, "query": {**query, "page": {"start": start, "limit": limit}}})
        assert page.status_code == 200, page.text
        results = page.json()["results"]
        jobs += results
        start += limit
        if not results or start > page.json()["total_count"]:
            return jobs


class CountingWriter:
    def __init__(self, inner, counts: list):
        self.inner, self.counts = inner, counts

    def write(self, data):
        self.counts.append(len(data))
        return self.inner.write(data)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_each_answer_leaves_in_one_write_on_a_socket_without_nagle(sandbox, monkeypatch):
    writes, nodelay = [], []
    original_setup = sandbox_server._Handler.setup

    def setup(handler):
        original_setup(handler)
        nodelay.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        handler.wfile = CountingWriter(handler.wfile, writes)

    monkeypatch.setattr(sandbox_server._Handler, "setup", setup)
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as conn:
        reader = conn.makefile("rb")
        for _ in range(3):  # three requests on one kept-alive connection
            body = json.dumps({"job_id": "job-5a4db0c00001"}).encode()
            conn.sendall(b"POST /identity/v2/job/get HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            status = reader.readline()
            headers = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            answer = json.loads(reader.read(int(headers["content-length"])))
            assert status.startswith(b"HTTP/1.1 200") and answer["job_id"] == "job-5a4db0c00001"
    assert len(nodelay) == 1 and nodelay[0]  # one connection, Nagle off
    assert len(writes) == 3  # headers and body together, once per answer
    assert all(size > int(headers["content-length"]) for size in writes)


def test_a_long_listing_pages_every_seeded_job_once_newest_first(sandbox):
    added = sandbox.seed_spaceone_jobs(1000)
    assert len(added) == len(set(added)) == 1000 and all(i.startswith("job-bench-") for i in added)
    jobs = list_all(sandbox, 100)
    ids = [job["job_id"] for job in jobs]
    assert len(ids) == 1007 and set(ids) >= set(added)
    created = [job["created_at"] for job in jobs]
    assert created == sorted(created, reverse=True)
    # the same listing in one request holds the same jobs in the same order
    whole = token_post(sandbox, "/identity/v2/job/list", {}).json()
    assert [job["job_id"] for job in whole["results"]] == ids and whole["total_count"] == 1007


def test_a_remembered_selection_sees_deletions_seeding_and_other_questions(sandbox):
    sandbox.seed_spaceone_jobs(50)
    first = list_all(sandbox, 10)
    assert len(first) == 57
    doomed = first[0]["job_id"]
    assert token_post(sandbox, "/identity/v2/job/delete", {"job_id": doomed}).status_code == 200
    after = list_all(sandbox, 10)
    assert len(after) == 56 and doomed not in {job["job_id"] for job in after}
    sandbox.seed_spaceone_jobs(5)  # numbered after the ones before: no id is reused
    assert len({job["job_id"] for job in list_all(sandbox, 10)}) == 61
    failed = list_all(sandbox, 10, status="FAILURE")
    assert failed and all(job["status"] == "FAILURE" for job in failed)
    oldest_first = list_all(sandbox, 10, query={"sort": [{"key": "created_at"}]})
    assert [j["job_id"] for j in oldest_first] == [j["job_id"] for j in reversed(list_all(sandbox, 10))]


def test_add_jobs_numbers_on_from_earlier_seeds():
    state = spaceone.seed(1_700_000_000.0)
    first = spaceone.add_jobs(state, 3, 1_700_000_000.0)
    second = spaceone.add_jobs(state, 2, 1_700_000_000.0)
    assert first == [f"job-bench-{n:010d}" for n in (1, 2, 3)]
    assert second == [f"job-bench-{n:010d}" for n in (4, 5)]
    assert len(state["jobs"]) == 12


def test_the_cli_refuses_a_negative_number_of_seeded_jobs():
    result = run_cli("sandbox", "--port", "0", "--spaceone-jobs", "-1")
    assert result.code == 2 and "--spaceone-jobs" in result.stderr


def test_headers_are_read_in_any_case_and_repeated_ones_joined_as_http_says():
    from http.client import parse_headers
    from io import BytesIO

    from jobs_connector.sandbox.wire import Request

    message = parse_headers(BytesIO(b"Host: h\r\nX-Amz-Date: 20261201T000000Z\r\nX-Thing: a\r\nx-thing: b\r\n\r\n"))
    request = Request("GET", "/", "", message)
    assert request.header("host") == "h" and request.header("X-AMZ-DATE") == "20261201T000000Z"
    assert request.header("X-Thing") == "a,b" == ",".join(message.get_all("x-thing"))
    assert request.header("authorization") is None
    assert Request("GET", "/", "", {"Content-Type": "application/json"}).header("content-type") == "application/json"


def test_the_date_header_is_the_current_second_on_every_answer(sandbox, monkeypatch):
    import email.utils
    import time
    import types

    import requests

    now = [1_800_000_000.2]
    monkeypatch.setattr(sandbox_server, "time", types.SimpleNamespace(time=lambda: now[0]))
    monkeypatch.setattr(sandbox_server._Handler, "_date", (0, ""))
    handler = object.__new__(sandbox_server._Handler)
    seen = []
    for now[0] in (1_800_000_000.2, 1_800_000_000.9, 1_800_000_001.1, 1_800_000_061.0):
        seen.append(email.utils.parsedate_to_datetime(handler.date_time_string()).timestamp())
    assert seen == [1_800_000_000, 1_800_000_000, 1_800_000_001, 1_800_000_061]
    assert handler.date_time_string(0) == "Thu, 01 Jan 1970 00:00:00 GMT"  # a given time is formatted as asked
    monkeypatch.undo()
    answered = requests.get(sandbox.url + sandbox_server.HEALTH_PATH, timeout=10).headers["Date"]
    assert abs(email.utils.parsedate_to_datetime(answered).timestamp() - time.time()) < 5
