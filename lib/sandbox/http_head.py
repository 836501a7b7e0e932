"""Reading a request's head (request line and header fields) for the sandbox's handler, without the email
parser that http.server goes through: that parser took a fifth of the sandbox's CPU per request (see
docs/performance.md, round seven). The rules are HTTP/1.1's (RFC 9110/9112), and stricter than
http.server's where the RFC lets a server refuse: no HTTP/0.9, no folded lines, no space before a colon.
Values lose their surrounding spaces and tabs, which RFC 9110 5.5 says are not part of them.
"""

from __future__ import annotations

import re

MAX_LINE = 65536  # http.client's _MAXLINE and _MAXHEADERS: the limits http.server applied
MAX_FIELDS = 100
# field-name = token (RFC 9110 5.1); the value is what follows the colon, without surrounding spaces or tabs,
# and holds no CR, LF or NUL (5.5)
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n\x00]*?)[ \t]*\r?\n")
_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")


class HeadError(Exception):
    """A request head the sandbox refuses: the HTTP status to answer and why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Headers:
    """A request's header fields in the order received. `get` takes a name in any case; a repeated field's
    values are joined with ',' (RFC 9110 5.3), as wire.Request joins them."""

    __slots__ = ("_fields", "_by_name")

    def __init__(self, fields: list[tuple[str, str]]):
        self._fields = fields
        by_name: dict[str, str] = {}
        for name, value in fields:
            key = name.lower()
            by_name[key] = f"{by_name[key]},{value}" if key in by_name else value
        self._by_name = by_name

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._by_name.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)


def parse_request_line(line: str) -> tuple[str, str, tuple[int, int], str]:
    """'METHOD target HTTP/x.y' -> (method, target, (x, y), 'HTTP/x.y'). HeadError 400, or 505 from HTTP/2 on."""
    words = line.split()
    if len(words) != 3:
        raise HeadError(400, f"Bad request syntax ({line[:200]!r})")
    method, target, version = words
    match = _VERSION.fullmatch(version)
    if match is None:
        raise HeadError(400, f"Bad request version ({version[:40]!r})")
    number = (int(match[1]), int(match[2]))
    if number >= (2, 0):
        raise HeadError(505, f"Invalid HTTP version ({version[5:]})")
    return method, target, number, version


def read_headers(rfile) -> Headers:
    """The header fields up to the empty line, read from a buffered binary file. Values are decoded as
    ISO-8859-1 (as http.client does). HeadError 431 for a line over MAX_LINE or more than MAX_FIELDS
    fields; 400 for a line that is not 'name: value' (a folded line among them)."""
    fields: list[tuple[str, str]] = []
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeadError(431, "Line too long")
        if line in (b"\r\n", b"\n", b""):
            return Headers(fields)
        if len(fields) >= MAX_FIELDS:
            raise HeadError(431, f"got more than {MAX_FIELDS} headers")
        match = _FIELD.fullmatch(line)
        if match is None:
            raise HeadError(400, f"Bad header line ({line[:80].decode('iso-8859-1')!r})")
        fields.append((match[1].decode("ascii"), match[2].decode("iso-8859-1")))
