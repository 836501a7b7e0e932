"""Request authentication: SigV4 for the AWS services, a token header for the others.

SigV4 is `aws-requests-auth` with its canonical request replaced by botocore's rules, so our signature
equals the one the AWS SDKs compute for the same request (tests/conformance/test_conformance_signing.py compares it
with botocore's SigV4Auth). The differences we correct, each named there by a test that fails with the
plain aws-requests-auth canonicalisation:

- path: dot segments are removed and runs of slashes folded before encoding (an empty path is '/', as in
  aws-requests-auth);
- query: pairs are sorted by (key, value), not as 'key=value' strings ('a=1' sorts before 'a-b=2');
- headers: every header the request carries when signed is signed (content-type, x-amz-target, ...),
  not only host and x-amz-date; values are trimmed and inner runs of spaces folded;
- host: the port is kept unless it is the scheme's default;
- no unsigned x-amz-content-sha256 header is added (only S3 wants it).
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlsplit

import requests
from aws_requests_auth.aws_auth import AWSRequestsAuth, getSignatureKey

from jobs_connector.auth.keys import AwsCredentials, TokenCredentials

ALGORITHM = "AWS4-HMAC-SHA256"

# requests adds these itself after we build the request; the SDKs never sign them.
_UNSIGNED = frozenset({"user-agent", "accept", "accept-encoding", "connection", "content-length",
                       "expect", "transfer-encoding", "x-amzn-trace-id", "authorization"})


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, and runs of slashes folded, as AWS services expect."""
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment and segment != ".":
            out.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_path(url: str) -> str:
    path = urlsplit(url).path
    return quote(_remove_dot_segments(path) if path else "/", safe="/~")


def canonical_query(url: str) -> str:
    query = urlsplit(url).query
    if not query:
        return ""
    pairs = [pair.partition("=")[::2] for pair in query.split("&")]
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def host_header(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port and parts.port != default:
        host += f":{parts.port}"
    return host


def _body_bytes(body) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/aws4_request"


def canonical_request(method: str, url: str, headers: Mapping[str, str], body) -> tuple[str, str]:
    """The canonical request over exactly `headers` (names in any case), and its signed-headers list."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signed = sorted(lowered)
    canonical_headers = "".join(f"{name}:{' '.join(str(lowered[name]).split())}\n" for name in signed)
    signed_headers = ";".join(signed)
    payload_hash = hashlib.sha256(_body_bytes(body)).hexdigest()
    request = "\n".join([method.upper(), canonical_path(url), canonical_query(url),
                         canonical_headers, signed_headers, payload_hash])
    return request, signed_headers


@functools.lru_cache(maxsize=64)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The key of one day, region and service: four HMACs, derived once (in memory only) rather than for
    every request."""
    return getSignatureKey(secret_key, date, region, service)


def signature(method: str, url: str, headers: Mapping[str, str], body, secret_key: str, region: str,
              service: str, amz_date: str) -> str:
    """The SigV4 signature of a request over `headers`; used to sign, and by the sandbox to verify."""
    request, _ = canonical_request(method, url, headers, body)
    string_to_sign = "\n".join([ALGORITHM, amz_date, credential_scope(amz_date[:8], region, service),
                                hashlib.sha256(request.encode("utf-8")).hexdigest()])
    key = signing_key(secret_key, amz_date[:8], region, service)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class SigV4(AWSRequestsAuth):
    """AWSRequestsAuth with botocore's canonicalisation and an injectable clock."""

    def __init__(self, credentials: AwsCredentials, region: str, service: str,
                 clock: Callable[[], _dt.datetime] = _utcnow):
        super().__init__(aws_access_key=credentials.access_key, aws_secret_access_key=credentials.secret_key,
                         aws_host="", aws_region=region, aws_service=service, aws_token=credentials.token)
        self.clock = clock

    def get_aws_request_headers(self, r, aws_access_key, aws_secret_access_key, aws_token):
        amz_date = self.clock().strftime("%Y%m%dT%H%M%SZ")
        headers = {name.lower(): value for name, value in r.headers.items()}
        headers.pop("x-amz-date", None)
        headers["x-amz-date"] = amz_date
        if aws_token:
            headers["x-amz-security-token"] = aws_token
        headers.setdefault("host", host_header(r.url))
        to_sign = {name: value for name, value in headers.items() if name not in _UNSIGNED}
        signed_headers = ";".join(sorted(to_sign))
        scope = credential_scope(amz_date[:8], self.aws_region, self.service)
        sig = signature(r.method, r.url, to_sign, r.body, aws_secret_access_key, self.aws_region, self.service,
                        amz_date)
        out = {
            "Authorization": f"{ALGORITHM} Credential={aws_access_key}/{scope}, "
                             f"SignedHeaders={signed_headers}, Signature={sig}",
            "X-Amz-Date": amz_date,
        }
        if aws_token:
            out["X-Amz-Security-Token"] = aws_token
        return out


class TokenAuth(requests.auth.AuthBase):
    """Puts the API key or token in its header (Authorization: Bearer ... by default)."""

    def __init__(self, credentials: TokenCredentials):
        self.credentials = credentials

    def __call__(self, r):
        r.headers[self.credentials.header] = self.credentials.value
        return r


class RefreshingSigV4(SigV4):
    """SigV4 for credentials that expire: asks their source for the current ones before signing each request
    (each attempt, each page), so a long listing or a retry never goes out with credentials about to expire.
    `on_credentials` (set by the runtime) learns each set used, to redact it."""

    def __init__(self, credentials: AwsCredentials, current: Callable[[], AwsCredentials], region: str,
                 service: str, clock: Callable[[], _dt.datetime] = _utcnow):
        super().__init__(credentials, region, service, clock)
        self.current = current
        self.on_credentials: Callable[[AwsCredentials], None] | None = None

    def get_aws_request_headers_handler(self, r):
        credentials = self.current()
        if self.on_credentials:
            self.on_credentials(credentials)
        return self.get_aws_request_headers(r=r, aws_access_key=credentials.access_key,
                                            aws_secret_access_key=credentials.secret_key,
                                            aws_token=credentials.token)
