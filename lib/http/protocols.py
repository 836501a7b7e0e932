"""The wire formats: how a validated input becomes an HTTP request, and an HTTP answer becomes output or
a typed error. Three protocols, each written once:

- rest-json (AWS): members bound to the URI, query string, headers or JSON body, as botocore does;
- json-1.1 (AWS): POST / with X-Amz-Target and the whole input as the JSON body;
- token-json (SpaceONE, EmbedThis): POST <base><path> with a JSON body and optional query options.
"""

from __future__ import annotations

import json
import math
import re
from urllib.parse import quote

from jobs_connector.base.errors import BadInput, ConnectorError, UnexpectedResponse, error_type_for
from jobs_connector.base.jsonsafe import check_answer
from jobs_connector.base.record import Record
from jobs_connector.component.registry import Action

_TEMPLATE_PARAM = re.compile(r"{([^}]+)}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class HttpRequest(Record):
    __slots__ = _fields = ("method", "url", "headers", "body")

    def __init__(self, method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None):
        self.method, self.url, self.headers, self.body = method, url, {} if headers is None else headers, body


def percent_encode(value, safe: str = "-._~") -> str:
    """botocore's percent_encode: UTF-8, then quote() with only unreserved characters left as they are."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    if not isinstance(value, (str, bytes)):
        value = str(value)
    if isinstance(value, str):
        value = value.encode("utf-8")
    return quote(value, safe=safe)


def _query_value(value):
    if isinstance(value, (dict, list)) and not (isinstance(value, list) and all(
            isinstance(v, (str, int, float, bool)) for v in value)):
        return json.dumps(value, separators=(",", ":"))
    return value


def encode_query(pairs: dict) -> str:
    parts = []
    for name, value in pairs.items():
        value = _query_value(value)
        for item in value if isinstance(value, list) else [value]:
            parts.append(f"{percent_encode(name)}={percent_encode(item)}")
    return "&".join(parts)


def render_path(template: str, params: dict) -> str:
    """Fill a URI template as botocore does: `{name}` encodes '/', a greedy `{name+}` keeps it."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        greedy = name.endswith("+")
        value = params[name.rstrip("+")]
        return percent_encode(value, safe="/~" if greedy else "-._~")

    return _TEMPLATE_PARAM.sub(fill, template)


def header_value(member: str, value) -> str:
    """A header's text; control characters (CR/LF: header injection) are refused as bad input."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if _CONTROL.search(text):
        raise BadInput(f"input field '{member}' contains control characters, which a header cannot carry",
                       field=member, rule="header-value")
    return text


def _json_body(members: dict) -> bytes:
    # json.dumps' default separators and ASCII escaping: the bytes botocore sends.
    return json.dumps(members).encode("utf-8")


def build_request(action: Action, body: dict, base_url: str) -> HttpRequest:
    protocol = action.service.protocol
    if protocol == "json-1.1":
        return HttpRequest("POST", base_url + "/", {
            "X-Amz-Target": f"{action.service.target_prefix}.{action.operation}",
            "Content-Type": "application/x-amz-json-1.1",
        }, _json_body(body))

    path_template = action.spec("PATH")
    query_map: dict = action.spec("QUERY", {})
    header_map: dict = action.spec("HEADERS", {})
    uri_members = {name.rstrip("+") for name in _TEMPLATE_PARAM.findall(path_template)}
    bound = uri_members | set(query_map) | set(header_map)
    path = render_path(path_template, body)
    query = {query_map[m]: body[m] for m in query_map if m in body}
    headers = {header_map[m]: header_value(m, body[m]) for m in header_map if m in body}
    url = base_url + path + (f"?{encode_query(query)}" if query else "")
    payload = {k: v for k, v in body.items() if k not in bound}

    if protocol == "token-json":
        headers["Content-Type"] = "application/json"
        return HttpRequest(action.spec("METHOD", "POST"), url, headers, _json_body(payload))

    # rest-json: a JSON body ('{}' when empty) only if the operation has members outside the URI,
    # query and headers; no body and no Content-Type otherwise.
    has_body_members = any(name not in bound for name in action.in_schema.get("properties", {}))
    data = None
    if has_body_members:
        headers["Content-Type"] = "application/json"
        data = _json_body(payload)
    return HttpRequest(action.spec("METHOD"), url, headers, data)


class FloatReader:
    """json.loads's parse_float, noting on the way what the checks need to know of the floats:
    - whether one has an integral value (5.0, 1e3). Only such a float can pass for an integer in JSON
      Schema (1.5 cannot), so only then must validation run our strict integer rule, a call into Python
      for every integer of the answer (lib/validation/fast.py). Timestamps with a fraction are not;
    - whether one was beyond a double's range: 1e400 is JSON, but it reads as infinity, which nothing
      downstream can write out, so the answer check must walk the values (lib/base/jsonsafe.py) as for NaN."""

    __slots__ = ("integral", "infinite")

    def __init__(self):
        self.integral = self.infinite = False

    def __call__(self, text: str) -> float:
        value = float(text)
        if value.is_integer():
            self.integral = True
        elif math.isinf(value):
            self.infinite = True
        return value


def parse_json(content: bytes, status: int) -> tuple[dict, bool]:
    """The answer's JSON object, and whether it holds a float with an integral value (the parser tells at
    no cost, as it does NaN and Infinity, so the text need not be searched for them)."""
    if not content or not content.strip():
        return {}, False
    floats, constants = FloatReader(), []
    try:
        data = json.loads(content, parse_float=floats,
                          parse_constant=lambda name: constants.append(name) or float(name))
    except ValueError:
        raise UnexpectedResponse(f"the service answered HTTP {status} with a body that is not JSON",
                                 status=status) from None
    except RecursionError:
        raise UnexpectedResponse(f"the service answered HTTP {status} with JSON nested too deeply to read",
                                 status=status) from None
    if not isinstance(data, dict):
        raise UnexpectedResponse(f"the service answered HTTP {status} with JSON that is not an object",
                                 status=status)
    # NaN, lone surrogates, ...: nothing downstream could write them out
    check_answer(data, status, content, constants=bool(constants) or floats.infinite)
    return data, floats.integral


def _first(*values):
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None


def _error_fields(protocol: str, headers, content: bytes) -> tuple[str | None, str | None, str | None]:
    """(code, message, request id) from an error answer, whatever shape the service used."""
    try:
        data = json.loads(content) if content else {}
    except (ValueError, RecursionError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    # {"error": {"code", "message"}}, or {"detail": {...}} as SpaceONE's REST gateway answers
    nested = next((data[key] for key in ("error", "detail") if isinstance(data.get(key), dict)), {})
    if protocol in ("rest-json", "json-1.1"):
        code = _first(headers.get("x-amzn-ErrorType"), data.get("__type"), data.get("code"), data.get("Code"))
        if code:
            code = code.split(":", 1)[0].rsplit("#", 1)[-1]
        request_id = _first(headers.get("x-amzn-RequestId"), headers.get("x-amz-request-id"))
    else:
        code = _first(data.get("code"), nested.get("code"), data.get("error"), data.get("error_code"))
        request_id = _first(headers.get("x-request-id"), headers.get("x-amzn-RequestId"))
    message = _first(data.get("message"), data.get("Message"), nested.get("message"), data.get("detail"))
    return code, message, request_id


def error_from_response(protocol: str, status: int, headers, content: bytes, *,
                        retry_after: float | None = None) -> ConnectorError:
    code, message, request_id = _error_fields(protocol, headers, content)
    if message is None:
        looks_html = content[:200].lstrip().lower().startswith((b"<!doctype", b"<html"))
        message = "the service answered with an HTML error page" if looks_html else "the service refused the request"
    error_type = error_type_for(status, code)
    # Uncut (the answer is bounded): the runtime scrubs the whole message, then cuts it (MESSAGE_LIMIT).
    return error_type(message, status=status, code=code, request_id=request_id, retry_after=retry_after)
