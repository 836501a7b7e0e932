"""Request: one raw HTTP request to a configured service, for an operation the connector does not model.

Its specifics live here; the runtime asks this module's BINDING (lib/http/binding.py) for the service, the
signing, the request, whether it is safe to repeat, and how to read the answer. Endpoint policy, signing,
retries, the answer size bound, redaction and typed errors are the runtime's, as for every action.
"""

from __future__ import annotations

import json

from jobs_connector.kit import (
    SERVICES,
    BadInput,
    FloatReader,
    HttpRequest,
    Signing,
    check_answer,
    encode_query,
    header_value,
)

# The connector's own headers: a user's value would break the signature or the framing, or smuggle auth.
_RESERVED_HEADERS = frozenset({"authorization", "host", "content-length", "transfer-encoding", "connection",
                              "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"})
# Emitted from every answer, besides the ones the input's responseHeaders name.
_ANSWER_HEADERS = ("content-type", "etag", "location", "last-modified", "x-amzn-requestid", "x-amz-request-id",
                  "x-request-id")
_SAFE_TO_REPEAT = frozenset({"GET", "HEAD"})
_NO_BODY = frozenset({"GET", "HEAD"})

# Whether it is safe to repeat depends on the method: see BINDING.idempotent. After an answer that never came
# to a POST, PUT, PATCH or DELETE, look with a GET of the resource through this action before trying again.
CHECK_WITH = "http.Request"

EXAMPLE = {"service": "iot", "method": "GET", "path": "/jobs/firmware-2-1-rollout/job-document"}
NOTES = """\
Signed with the step's credentials for the chosen service: SigV4 (signing name and region of the service
and the step, or signingName / region from the input) for iot-jobs-data, iot, panorama and codepipeline;
the API token header for spaceone and embedthis. The endpoint is the service's, with its overrides
(endpoint, AWS_ENDPOINT_URL_<SERVICE>, SPACEONE_ENDPOINT, ...) and the same rule: HTTPS unless loopback.

Retries: throttling, 503 and failures before the request left are retried for every method. A read
timeout, a reset connection or a 500/502/504 after the request left is retried only for GET and HEAD;
for any other method the step fails with OutcomeUnknown (exit 5): look before you send it again.

An error answer (4xx, 5xx) is a typed error carrying the service's code and message, as for every
action; a 2xx answer is emitted as {status, headers, body}, body being the parsed JSON or the text.
"""


def _refuse(field: str, rule: str, message: str) -> BadInput:
    return BadInput(f"input field '{field}' {message}", field=field, rule=rule)


class _Binding:
    def service(self, body: dict):
        return SERVICES[body["service"]]

    def signing(self, body: dict) -> Signing:
        return Signing(body.get("signingName"), body.get("region"))

    def request(self, body: dict, base_url: str) -> HttpRequest:
        method, path = body["method"], body["path"]
        if self.service(body).auth != "sigv4" and ("signingName" in body or "region" in body):
            raise _refuse("signingName" if "signingName" in body else "region", "aws-only",
                          f"applies to AWS services only, not to {body['service']}")
        if any(segment in (".", "..") for segment in path.split("/")):
            raise _refuse("path", "no-dot-segments", "must not hold a '.' or '..' segment")
        headers = {}
        for name, value in (body.get("headers") or {}).items():
            if name.lower() in _RESERVED_HEADERS:
                raise _refuse(f"headers.{name}", "reserved-header",
                              "is set by the connector (signing, framing) and cannot be given")
            headers[name] = header_value(f"headers.{name}", value)
        data = None
        if "body" in body:
            if method in _NO_BODY:
                raise _refuse("body", "no-body", f"cannot be sent with {method}")
            data = json.dumps(body["body"]).encode("utf-8")
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        query = body.get("query") or {}
        url = base_url.rstrip("/") + path + (f"?{encode_query(query)}" if query else "")
        return HttpRequest(method, url, headers, data)

    def idempotent(self, body: dict) -> bool:
        return body["method"] in _SAFE_TO_REPEAT

    def answer(self, body: dict, answer) -> tuple[dict, bool]:
        out: dict = {"status": answer.status, "headers": {}}
        wanted = {*_ANSWER_HEADERS, *(name.lower() for name in body.get("responseHeaders", ()))}
        for name, value in answer.headers.items():
            if name.lower() in wanted:
                out["headers"][name.lower()] = value
        if not answer.content:
            return out, False
        floats = FloatReader()
        try:
            out["body"] = json.loads(answer.content, parse_float=floats)
        except (ValueError, RecursionError):
            out["body"] = answer.content.decode("utf-8", errors="replace")
        check_answer(out["body"], answer.status)  # NaN, lone surrogates: nothing downstream could write them
        return out, floats.integral


BINDING = _Binding()
