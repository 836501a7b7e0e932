"""Hostile and random inputs for any action, made from its in-schema, and a check of a request as it
arrived on the wire (raw bytes at the server): well formed, nothing injected, nothing smuggled.

- `hostile_strings()`: header injection (CR/LF), path traversal (`..`, `%2e%2e`, `/`), query smuggling
  (`&`, `#`, `?`, `=`), control characters, lone surrogates, odd Unicode, huge strings;
- `json_values()`: any JSON-ish value, NaN and Infinity included, and deep nesting;
- `mutated_inputs(action)`: a valid input with a few members replaced by the above, removed, or unknown
  ones added (so both inputs the schema accepts and inputs it refuses come out);
- `string_leaves(schema, body)`: the path of every string member of a body, nested ones included;
- `wire_problems(action, body, request, base_path)`: what is wrong with a request the server received.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote, urlsplit

from hypothesis import strategies as st

from tests.support.inputs import full_input, input_for

HOSTILE = (
    "..", ".", "%2e%2e", "%2E%2E", "../../etc/passwd", "a/../../b", "..%2f..%2f", "/", "a/b", "//",
    "a?b=c", "a&b=c", "a#frag", "#", "?", "&", "=", "a=b&c=d", "x;y", "%", "%zz", "%00", "%0d%0a",
    "x\r\nX-Injected: 1", "\r\n\r\nGET /admin HTTP/1.1\r\nHost: evil", "\n", "\r", "\x00", "\x7f", "\t", " ",
    "a b", "\u2028", "\u0085", "\ufeff", "é", "😀", "\ud800", "x\udfffy", "＄next", "$next", "\\", "'", '"',
    "<script>", "A" * 5000, "",
)

_ANY_CHAR = st.characters(exclude_categories=())  # every code point, surrogates and controls included


def hostile_strings():
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(_ANY_CHAR, max_size=40),
        st.tuples(st.sampled_from(HOSTILE), st.text(_ANY_CHAR, max_size=5)).map("".join),
        st.integers(1000, 200_000).map(lambda n: "x" * n),
    )


def nested(depth: int, leaf=None):
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


def json_values(max_leaves: int = 12):
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.integers(-(10 ** 30), 10 ** 30),
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([float("nan"), float("inf"), -float("inf")]),
        hostile_strings(),
    )
    trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                         max_leaves=max_leaves)
    return st.one_of(trees, st.integers(30, 60).map(nested))


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, path + (index,))


def string_leaves(body) -> list[tuple]:
    """The path of every string in `body` (the members of an input that carry text)."""
    return [path for path in _paths(body) if path and isinstance(_get(body, path), str)]


def _get(body, path):
    for part in path:
        body = body[part]
    return body


def with_value(body, path: tuple, value):
    """A deep copy of `body` with the value at `path` replaced (or removed when value is REMOVE)."""
    out = json.loads(json.dumps(body))
    node = out
    for part in path[:-1]:
        node = node[part]
    if value is REMOVE:
        if isinstance(node, dict):
            node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return out


REMOVE = object()


def mutated_inputs(action):
    bases = [input_for(action)]
    try:
        bases.append(full_input(action.in_schema))
    except ValueError:
        pass
    return mutated(bases)


def mutated(bases: list[dict], extra_values=None):
    """One of `bases` with up to three members replaced (by hostile strings, any JSON value, or
    `extra_values`), removed, or unknown ones added."""
    paths = sorted({path for base in bases for path in _paths(base) if path}, key=repr)
    unknown = [("unknownMember",), ("thing\r\nName",)]
    values = st.one_of(hostile_strings(), json_values(), st.just(REMOVE),
                       *([] if extra_values is None else [extra_values]))
    mutation = st.tuples(st.sampled_from(paths + unknown), values)

    def apply(args):
        base, mutations = args
        body = base
        for path, value in mutations:
            try:
                body = with_value(body, path, value)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed or replaced the parent
        return body

    return st.tuples(st.sampled_from(bases), st.lists(mutation, min_size=0, max_size=3)).map(apply)


# -- the wire ----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_ENCODED_SEGMENT = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$")
_ENCODED_QUERY = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$")
_PARAM = re.compile(r"{([^}]+)}")
_STANDARD_HEADERS = {"host", "user-agent", "accept-encoding", "accept", "connection", "content-length",
                     "content-type", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-target"}


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strict_json(raw: bytes):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(raw, parse_constant=refuse)


def wire_problems(action, body: dict, request, extra_headers: tuple = ()) -> list[str]:
    """Everything wrong with `request` (a RawRequest) as the wire form of `body` for `action`."""
    problems = []
    line = request.head.split(b"\r\n", 1)[0]
    if not re.fullmatch(rb"[A-Z]+ [\x21-\x7e]+ HTTP/1\.1", line):
        problems.append(f"request line is not well formed: {line[:200]!r}")
    if "#" in request.target:
        problems.append("a fragment reached the request target")
    for raw in request.head.split(b"\r\n")[1:]:
        if not raw:
            continue
        if b"\r" in raw or b"\n" in raw or b"\x00" in raw:
            problems.append(f"a header line holds CR, LF or NUL: {raw[:80]!r}")
        name = raw.split(b":", 1)[0].decode("latin-1")
        if not _TOKEN.match(name):
            problems.append(f"a header name is not a token: {name[:40]!r}")
    if action.spec("BOUND_TO"):  # an action bound to one call sends that call's request
        from jobs_connector.component.registry import get_action

        action = get_action(action.spec("BOUND_TO"))
    raw = action.service.auth == "per-call"  # http.Request: the input names the path, query and headers
    allowed = _STANDARD_HEADERS | {h.lower() for h in (action.spec("HEADERS") or {}).values()}
    allowed |= {h.lower() for h in extra_headers}
    if raw:
        allowed |= {h.lower() for h in (body.get("headers") or {})} | {"x-amz-content-sha256"}
    injected = {name.lower() for name, _ in request.headers} - allowed
    if injected:
        problems.append(f"unexpected headers: {sorted(injected)}")

    path, _, query = request.target.partition("?")
    if raw:
        base = urlsplit(request.target).path if "://" in request.target else path
        if not base.endswith(body.get("path", "")):
            problems.append(f"the path {path[:200]!r} is not the input's {body.get('path')!r}")
        query_map = {name: name for name in body.get("query") or {}}
    else:
        problems += _path_problems(action.spec("PATH") or "/", path, body)
        query_map = action.spec("QUERY") or {}
    if query and not query_map:
        problems.append(f"a query string the action does not have: {query[:100]!r}")
    for pair in filter(None, query.split("&")):
        name, sep, value = pair.partition("=")
        if not sep or not _ENCODED_QUERY.match(name) or not _ENCODED_QUERY.match(value):
            problems.append(f"query pair not percent-encoded: {pair[:100]!r}")
        elif unquote(name) not in query_map.values():
            problems.append(f"query parameter smuggled in: {unquote(name)[:60]!r}")
    values = (body.get("query") or {}) if raw else body
    expected = {query_map[m]: values[m] for m in query_map if m in values and isinstance(values[m], (str, int, bool))}
    got = {unquote(n): unquote(v) for n, _, v in (p.partition("=") for p in query.split("&") if p)}
    for name, value in expected.items():
        if got.get(name) != _as_text(value):
            problems.append(f"query parameter {name} is {got.get(name)!r}, not {_as_text(value)!r}")

    if request.body:
        try:
            _strict_json(request.body)
        except ValueError as exc:
            problems.append(f"the body is not strict JSON: {exc}")
    return problems


def _path_problems(template: str, path: str, body: dict) -> list[str]:
    if any(name.endswith("+") for name in _PARAM.findall(template)):
        return []  # a greedy member may hold '/': checked against the decoded value only
    want = template.split("/")
    got = path.split("/")
    if len(got) != len(want):
        return [f"the path {path[:200]!r} does not have the segments of {template!r}"]
    problems = []
    for have, spec in zip(got, want, strict=True):
        param = _PARAM.fullmatch(spec)
        if not param:
            if have != spec:
                problems.append(f"path segment {have!r} is not the template's {spec!r}")
            continue
        if have in (".", "..") or not _ENCODED_SEGMENT.match(have) or "/" in have:
            problems.append(f"path segment not safely encoded: {have[:100]!r}")
        elif unquote(have) != _as_text(body.get(param.group(1))):
            problems.append(f"path segment {have[:60]!r} does not decode to the input value")
    return problems
