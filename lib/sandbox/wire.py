"""What the emulated services share on the wire: the request as received, replies, errors in each API's
own shape, path routes, and small checks of JSON members."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from jobs_connector.sandbox.http_head import Headers

# The error shapes of the five APIs:
# - rest-json (IoT Jobs, Panorama): x-amzn-ErrorType header, {"message": ...} body;
# - json-1.1 (CodePipeline): {"__type": ..., "message": ...} body (and the header, as AWS sends it);
# - spaceone: {"detail": {"code": "ERROR_...", "message": ...}}, the shape SpaceONE's REST gateway answers;
# - embedthis: {"error": true, "code": ..., "message": ...} (the Builder API documents no error body; this
#   is the sandbox's choice, kept small and parseable).
PROTOCOLS = ("rest-json", "json-1.1", "spaceone", "embedthis")
CONTENT_TYPES = {"rest-json": "application/json", "json-1.1": "application/x-amz-json-1.1",
                 "spaceone": "application/json", "embedthis": "application/json"}


class ApiError(Exception):
    """An error answer: HTTP status, the service's error code, a message, and extra body members."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


@dataclass
class Request:
    method: str
    raw_path: str  # as received: still percent-encoded, no query
    raw_query: str
    headers: object  # http_head.Headers, http.client.HTTPMessage or a dict: items()
    body: bytes = b""
    _index: Headers | None = field(default=None, init=False, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        """The header's value, repeated ones joined with ','; names in any case. Indexed once a request: a
        signed request asks for ten headers or more."""
        if self._index is None:
            self._index = self.headers if isinstance(self.headers, Headers) else Headers(
                [(key, str(value)) for key, value in self.headers.items()])
        return self._index.get(name)

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    def json(self, bad: Callable[[str], ApiError]) -> dict:
        """The body as a JSON object ({} when empty); anything else is refused with `bad(message)`."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise bad("the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise bad("the request body must be a JSON object")
        return data


@dataclass
class Reply:
    status: int = 200
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    protocol: str = "rest-json"

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def error_reply(protocol: str, error: ApiError) -> Reply:
    if protocol == "rest-json":
        body = {"message": error.message, **error.extra}
        return Reply(error.status, body, {"x-amzn-ErrorType": error.code}, protocol)
    if protocol == "json-1.1":
        body = {"__type": error.code, "message": error.message, **error.extra}
        return Reply(error.status, body, {"x-amzn-ErrorType": error.code}, protocol)
    if protocol == "spaceone":
        return Reply(error.status, {"detail": {"code": error.code, "message": error.message, **error.extra}},
                     {}, protocol)
    return Reply(error.status, {"error": True, "code": error.code, "message": error.message, **error.extra},
                 {}, protocol)


# -- routes ---------------------------------------------------------------------------------------


class Routes:
    """Method + path template ('/things/{thingName}/jobs') -> handler, matched segment by segment after
    percent-decoding, so '/jobs/%24next' and '/jobs/$next' are the same path, as they are to AWS."""

    def __init__(self):
        self._routes: list[tuple[str, list[str], Callable]] = []

    def add(self, method: str, template: str) -> Callable:
        def register(handler: Callable) -> Callable:
            self._routes.append((method, template.strip("/").split("/"), handler))
            return handler
        return register

    def match(self, method: str, raw_path: str) -> tuple[Callable, dict[str, str]] | None:
        segments = [unquote(s) for s in raw_path.strip("/").split("/")]
        for route_method, template, handler in self._routes:
            if route_method != method or len(template) != len(segments):
                continue
            params = {}
            for part, value in zip(template, segments, strict=True):
                if part.startswith("{") and part.endswith("}"):
                    if not value:
                        break
                    params[part[1:-1]] = value
                elif part != value:
                    break
            else:
                return handler, params
        return None

    def dispatch(self, req: Request, state: dict, now: float, unknown: Callable[[str], ApiError]) -> Reply:
        found = self.match(req.method, req.raw_path)
        if found is None:
            raise unknown(f"no operation at {req.method} {req.raw_path}")
        handler, params = found
        return handler(req, state, now, **params)


# -- members of a JSON body -----------------------------------------------------------------------

_KINDS = {
    "string": (str, "a string"),
    "integer": (int, "a whole number"),
    "boolean": (bool, "true or false"),
    "object": (dict, "an object"),
    "array": (list, "an array"),
}


def member(body: dict, name: str, kind: str, bad: Callable[[str], ApiError], *, required: bool = False,
           where: str = ""):
    """body[name] checked to be of `kind` (None when absent and optional); `bad(message)` otherwise."""
    label = f"{where}{name}"
    if name not in body or body[name] is None:
        if required:
            raise bad(f"{label} is required")
        return None
    value = body[name]
    python_type, said = _KINDS[kind]
    if not isinstance(value, python_type) or (kind == "integer" and isinstance(value, bool)):
        raise bad(f"{label} must be {said}")
    if kind == "string" and required and not value:
        raise bad(f"{label} must not be empty")
    return value


# -- paging ---------------------------------------------------------------------------------------


def offset_token(offset: int) -> str:
    """An opaque next-page token, as the AWS list operations hand out."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def read_offset_token(token: str, name: str, bad: Callable[[str], ApiError]) -> int:
    """The offset inside a token offset_token made; anything else is refused with `bad(message)`."""
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad(f"{name} is not a token this API returned") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise bad(f"{name} is not a token this API returned")
    return offset
