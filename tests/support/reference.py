"""botocore as the reference implementation (test-only): the signature it computes for a request."""

from __future__ import annotations

import datetime as dt

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED_TIME = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.UTC)


def fixed_clock() -> dt.datetime:
    return FIXED_TIME


def botocore_authorization(prepared, access_key: str, secret_key: str, token: str | None,
                           region: str, service: str, when: dt.datetime = FIXED_TIME) -> str:
    """The Authorization header botocore's SigV4Auth computes for the request we sent.

    The request carries the headers botocore's own request would have when it signs: ours minus the ones
    `requests` adds by itself after signing (User-Agent, Accept*, Connection, Content-Length)."""
    own = {"user-agent", "accept", "accept-encoding", "connection", "content-length", "authorization"}
    headers = {k: v for k, v in prepared.headers.items() if k.lower() not in own}
    request = AWSRequest(method=prepared.method, url=prepared.url, headers=headers, data=prepared.body or b"")
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    auth = SigV4Auth(Credentials(access_key, secret_key, token), service, region)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    scope = f"{when:%Y%m%d}/{region}/{service}/aws4_request"
    return (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
            f"SignedHeaders={auth.signed_headers(auth.headers_to_sign(request))}, Signature={signature}")
