"""SigV4 verification, the way AWS checks a request: the key must be known, the date near, the signature
the one jobs_connector.auth.sigv4 computes for the same request and secret (one canonicalisation, shared with the
client, never a second signer)."""

from __future__ import annotations

import datetime
import hmac
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.auth.sigv4 import ALGORITHM, signature
from jobs_connector.sandbox.defaults import MAX_CLOCK_SKEW_SECONDS, SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY
from jobs_connector.sandbox.wire import ApiError, Request

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/"
    r"(?P<service>[^/\s,]+)/aws4_request\s*,\s*SignedHeaders=(?P<signed>[a-z0-9;._-]+)\s*,\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\s*$")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")

_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your "
                  "AWS Secret Access Key and signing method. Consult the service documentation for details.")
_UNKNOWN_KEY = "The security token included in the request is invalid."


def sandbox_credentials(environ: Mapping[str, str] = os.environ) -> AwsCredentials:
    """The one key pair the sandbox accepts (and the session token, if it was started with one): the
    environment's, else the documented sandbox pair."""
    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return AwsCredentials(key, secret, environ.get("AWS_SESSION_TOKEN") or None, "environment")
    return AwsCredentials(SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY, source="sandbox default")


@dataclass(frozen=True)
class Scope:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> Scope | None:
    match = _AUTHORIZATION.match(value or "")
    if not match:
        return None
    return Scope(match["key"], match["date"], match["region"], match["service"],
                 tuple(match["signed"].split(";")), match["signature"])


def _incomplete(message: str) -> ApiError:
    return ApiError(400, "IncompleteSignatureException", message)


def _invalid(message: str = _BAD_SIGNATURE) -> ApiError:
    return ApiError(403, "InvalidSignatureException", message)


def _epoch(amz_date: str) -> int | None:
    """Seconds since the epoch of a YYYYMMDDTHHMMSSZ stamp (its shape already checked); None for a date
    that does not exist. Read by slicing: time.strptime cost the sandbox a tenth of a request."""
    try:
        when = datetime.datetime(int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8]), int(amz_date[9:11]),
                                 int(amz_date[11:13]), int(amz_date[13:15]), tzinfo=datetime.UTC)
    except ValueError:
        return None
    return int(when.timestamp())


def _stamp(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def verify(request: Request, credentials: AwsCredentials, now: float) -> Scope:
    """The request's credential scope if its SigV4 signature holds; an ApiError shaped as AWS answers."""
    authorization = request.header("authorization") or ""
    scope = parse_authorization(authorization)
    if scope is None:
        raise _incomplete(f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                          f"parameters in the {ALGORITHM} format.")
    if scope.access_key != credentials.access_key:
        raise ApiError(403, "UnrecognizedClientException", _UNKNOWN_KEY)
    token = request.header("x-amz-security-token")
    if (token or None) != credentials.token:
        raise ApiError(403, "UnrecognizedClientException", _UNKNOWN_KEY)
    amz_date = request.header("x-amz-date")
    if not amz_date or not _AMZ_DATE.match(amz_date):
        raise _incomplete("Authorization header requires existence of a valid 'X-Amz-Date' header.")
    if "host" not in scope.signed_headers or "x-amz-date" not in scope.signed_headers:
        raise _incomplete("'Host' and 'X-Amz-Date' must be SignedHeaders in the AWS Authorization.")
    sent_at = _epoch(amz_date)
    if sent_at is None:
        raise _incomplete("Authorization header requires existence of a valid 'X-Amz-Date' header.")
    if sent_at < now - MAX_CLOCK_SKEW_SECONDS:
        raise _invalid(f"Signature expired: {amz_date} is now earlier than {_stamp(now - MAX_CLOCK_SKEW_SECONDS)} "
                       f"({_stamp(now)} - 15 min.)")
    if sent_at > now + MAX_CLOCK_SKEW_SECONDS:
        raise _invalid(f"Signature not yet current: {amz_date} is still later than "
                       f"{_stamp(now + MAX_CLOCK_SKEW_SECONDS)} ({_stamp(now)} + 15 min.)")
    if scope.date != amz_date[:8]:
        raise _invalid(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                       f"HTTP: '{scope.date}' != '{amz_date[:8]}', from '{amz_date}'.")
    headers = {}
    for name in scope.signed_headers:
        value = request.header(name)
        if value is None:
            raise _invalid()
        headers[name] = value
    url = f"http://{request.header('host') or 'localhost'}{request.raw_path or '/'}"
    if request.raw_query:
        url += f"?{request.raw_query}"
    expected = signature(request.method, url, headers, request.body, credentials.secret_key, scope.region,
                         scope.service, amz_date)
    if not hmac.compare_digest(expected, scope.signature):
        raise _invalid()
    return scope
