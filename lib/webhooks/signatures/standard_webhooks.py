"""Standard Webhooks signatures (https://www.standardwebhooks.com), a per-flow choice (`signing: standard-webhooks`).

The sender puts three headers on the request:

  webhook-id:        the delivery id (the same for a redelivery of the same message)
  webhook-timestamp: unix seconds
  webhook-signature: space-separated `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`

The key is the flow's secret, `whsec_<base64>` (the prefix is optional), base64-decoded. A request is
accepted when one `v1` signature matches (constant-time compare) and the timestamp is within the
replay window, in either direction; other versions (`v1a,...`, asymmetric) are ignored. The
`webhook-id` is the event's delivery id, so the identical request sent again is the same event.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from jobs_connector.webhooks.signatures.jobs_hmac import SignatureError

ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "webhook-id", "webhook-timestamp", "webhook-signature"
PREFIX = "whsec_"
MIN_KEY_BYTES = 24  # the specification's lower bound for a secret
_TIMESTAMP = re.compile(r"^[0-9]{1,12}\Z")
_SIGNATURE = re.compile(r"^[A-Za-z0-9+/]{43}=\Z")  # base64 of 32 bytes


def key_from_secret(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; ValueError (without the secret) when it is not one."""
    text = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a Standard Webhooks secret is whsec_ followed by base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a Standard Webhooks secret must decode to at least {MIN_KEY_BYTES} bytes")
    return key


def signature(key: bytes, msg_id: str, timestamp: int | str, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def verify(key: bytes, headers, body: bytes, *, tolerance: float, now: float) -> tuple[str, int, str]:
    """Check the three headers; return (webhook-id, timestamp, the matching signature) or raise."""
    msg_id, timestamp, header = (headers.get(h) for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    if not (msg_id and timestamp and header):
        raise SignatureError(f"the {ID_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required "
                             "(Standard Webhooks)")
    if not _TIMESTAMP.match(timestamp):
        raise SignatureError(f"the {TIMESTAMP_HEADER} header must be unix seconds")
    candidates = []
    for part in header.split(" ")[:8]:
        version, _, value = part.partition(",")
        if version == "v1" and _SIGNATURE.match(value):
            candidates.append(value)
    if not candidates:
        raise SignatureError(f"the {SIGNATURE_HEADER} header must hold v1,<base64 signature>")
    expected = signature(key, msg_id, timestamp, body)
    matched = None
    for candidate in candidates:
        if hmac.compare_digest(candidate, expected):
            matched = candidate
    if matched is None:
        raise SignatureError("the signature does not match the body")
    if abs(now - int(timestamp)) > tolerance:
        raise SignatureError(f"the signature timestamp is outside the {tolerance:g}-second replay window")
    return msg_id, int(timestamp), matched
