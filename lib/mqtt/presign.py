"""SigV4 over WebSocket for AWS IoT Core: the `wss://<endpoint>/mqtt?...` URL a client opens, signed in its
query string (service name `iotdevicegateway`) as the AWS IoT developer guide describes. The session token of
temporary credentials is appended after signing (X-Amz-Security-Token is not part of what AWS IoT signs).
The URL is a credential: it is never logged, and only lives in the connection's memory."""

from __future__ import annotations

import datetime as _dt
from urllib.parse import quote

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.auth.sigv4 import ALGORITHM, credential_scope, signature

SERVICE = "iotdevicegateway"
PATH = "/mqtt"


def _q(value: str) -> str:
    return quote(value, safe="-_.~")


def presigned_path(credentials: AwsCredentials, host: str, region: str, now: _dt.datetime | None = None,
                   expires: int | None = None) -> str:
    """The request path with its signed query string (`/mqtt?X-Amz-Algorithm=...`)."""
    now = now or _dt.datetime.now(_dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    query = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{credentials.access_key}/{credential_scope(amz_date[:8], region, SERVICE)}",
        "X-Amz-Date": amz_date,
        "X-Amz-SignedHeaders": "host",
    }
    if expires is not None:
        query["X-Amz-Expires"] = str(expires)
    text = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(query.items()))
    signed = signature("GET", f"https://{host}{PATH}?{text}", {"host": host}, b"", credentials.secret_key, region,
                       SERVICE, amz_date)
    path = f"{PATH}?{text}&X-Amz-Signature={signed}"
    if credentials.token:
        path += f"&X-Amz-Security-Token={_q(credentials.token)}"
    return path
