"""The sandbox reads request heads itself (lib/sandbox/http_head.py) rather than through http.server's email
parser: the same fields as http.client's parser for every well-formed head (checked against it), HTTP/1.1's
refusals for the rest, and the connection rules of http.server, over a real socket."""

from __future__ import annotations

import io
import json
import re
import socket
from http.client import parse_headers

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs_connector.sandbox.http_head import MAX_FIELDS, MAX_LINE, HeadError, parse_request_line, read_headers
from tests.support.sandbox import running_sandbox

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.text(TOKEN_CHARS, min_size=1, max_size=20)
# a field value: visible ISO-8859-1 characters with inner spaces and tabs (no CR, LF or NUL)
values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40) \
    .map(lambda v: v.strip(" \t"))


def head(*lines: str) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO("".join(f"{line}\r\n" for line in (*lines, "")).encode("iso-8859-1")))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, values, st.sampled_from(["", " ", "  ", "\t"])), max_size=12))
def test_every_well_formed_head_reads_as_http_client_reads_it(fields):
    lines = [f"{name}:{space}{value}{space}" for name, value, space in fields]
    ours = read_headers(head(*lines))
    reference = parse_headers(head(*lines))
    assert ours.items() == [(name, value) for name, value, _ in fields]
    for name, _, _ in fields:
        for spelling in (name, name.lower(), name.upper()):
            # http.client keeps trailing spaces; RFC 9110 5.5 says they are not part of the value
            assert ours.get(spelling) == ",".join(v.rstrip(" \t") for v in reference.get_all(name)), spelling
    assert ours.get("x-not-sent") is None


def test_repeated_fields_are_joined_and_names_read_in_any_case():
    headers = read_headers(head("Host: h", "X-Thing: a", "x-thing: b", "Content-Length: 0"))
    assert headers.get("X-THING") == "a,b" and headers.get("host") == "h" and headers.get("Content-Length") == "0"
    assert headers.items() == [("Host", "h"), ("X-Thing", "a"), ("x-thing", "b"), ("Content-Length", "0")]
    assert headers.get("missing", "default") == "default"


@pytest.mark.parametrize("line, status", [
    (" folded: continuation", 400),         # obs-fold (RFC 9112 5.2: a server may refuse it)
    ("No-Colon-Here", 400),
    ("Space-Before : colon", 400),          # RFC 9112 5.1: MUST be refused
    (": empty name", 400),
    ("Bad\x01Name: v", 400),
    ("Nul: a\x00b", 400),
    ("Bare-Cr: a\rb", 400),
    ("X-Long: " + "x" * MAX_LINE, 431),
])
def test_malformed_or_oversized_lines_are_refused_with_the_status_http_gives(line, status):
    with pytest.raises(HeadError) as caught:
        read_headers(head("Host: h", line))
    assert caught.value.status == status


def test_more_than_the_field_bound_is_refused_and_the_bound_itself_is_read():
    assert len(read_headers(head(*(f"X-{i}: v" for i in range(MAX_FIELDS)))).items()) == MAX_FIELDS
    with pytest.raises(HeadError) as caught:
        read_headers(head(*(f"X-{i}: v" for i in range(MAX_FIELDS + 1))))
    assert caught.value.status == 431


def test_a_head_cut_off_by_the_end_of_the_stream_ends_there():
    headers = read_headers(io.BufferedReader(io.BytesIO(b"Host: h\r\nX-A: 1\r\n")))
    assert headers.items() == [("Host", "h"), ("X-A", "1")]


@pytest.mark.parametrize("line, expected", [
    ("GET /x HTTP/1.1", ("GET", "/x", (1, 1), "HTTP/1.1")),
    ("POST /a?b=c HTTP/1.0", ("POST", "/a?b=c", (1, 0), "HTTP/1.0")),
])
def test_request_lines(line, expected):
    assert parse_request_line(line) == expected


@pytest.mark.parametrize("line, status", [
    ("GET /", 400),                 # HTTP/0.9: not served
    ("GET / HTTP/1.1 extra", 400),
    ("GET / HTTPS/1.1", 400),
    ("GET / HTTP/1.10", 400),
    ("GET / HTTP/\u0661.1", 400),   # a digit, but not an ASCII one
    ("GET / HTTP/2.0", 505),
])
def test_bad_request_lines(line, status):
    with pytest.raises(HeadError) as caught:
        parse_request_line(line)
    assert caught.value.status == status


# -- over a real socket ---------------------------------------------------------------------------------


@pytest.fixture
def sandbox():
    with running_sandbox() as server:
        yield server


def exchange(sandbox, raw: bytes) -> tuple[list[bytes], bytes]:
    """Send raw bytes, then read until the sandbox closes the connection: (statuses, everything)."""
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return re.findall(rb"HTTP/1\.1 (\d{3}) ", received), received  # a status line follows a body directly


def health(version: str = "HTTP/1.1", *extra: str) -> bytes:
    return "\r\n".join(["GET /_sandbox/health " + version, "Host: x", *extra, "", ""]).encode()


def test_kept_alive_requests_and_the_close_rules_of_http_server(sandbox):
    # HTTP/1.1 keeps the connection for the next request; Connection: close ends it after its answer.
    statuses, _ = exchange(sandbox, health() + health() + health("HTTP/1.1", "Connection: close") + health())
    assert statuses == [b"200"] * 3
    # HTTP/1.0 closes after one answer unless it asks to keep the connection alive.
    statuses, _ = exchange(sandbox, health("HTTP/1.0") + health())
    assert len(statuses) == 1
    statuses, _ = exchange(sandbox, health("HTTP/1.0", "Connection: keep-alive") + health())
    assert len(statuses) == 2


def test_refused_heads_get_their_status_and_close_the_connection(sandbox):
    for raw, status in [(health("HTTP/1.1", " folded"), b"400"), (health("HTTP/2.0"), b"505"),
                        (b"GET /_sandbox/health\r\n\r\n", b"400"),
                        (health("HTTP/1.1", *(f"X-{i}: v" for i in range(MAX_FIELDS + 1))), b"431")]:
        statuses, _ = exchange(sandbox, raw + health())
        assert statuses == [status], raw[:60]


def test_expect_100_continue_is_answered_before_the_body_is_read(sandbox):
    body = json.dumps({"job_id": "job-5a4db0c00001"}).encode()
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as conn:
        conn.sendall(b"POST /identity/v2/job/get HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
                     b"Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                     % len(body))
        assert conn.recv(64).startswith(b"HTTP/1.1 100")
        conn.sendall(body)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and b'"job_id":"job-5a4db0c00001"' in received
