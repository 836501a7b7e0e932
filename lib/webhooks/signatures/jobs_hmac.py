"""Webhook signatures, in the scheme Stripe uses: HMAC-SHA256 over `<timestamp>.<raw body>`.

The sender puts `X-Jobs-Signature: t=<unix seconds>,v1=<hex digest>` on the request; several `v1=` values
may be given (a sender rolling its secret signs with both). A request is accepted when one digest
matches (compared in constant time) and the timestamp is within the replay window of this server's
clock, in either direction. Because the timestamp is signed, a captured request cannot be replayed
after the window; within it, the server recognises the identical signature and answers with the
event it already stored (see intake.py), so a replay never runs a flow twice.

GitHub's `X-Hub-Signature-256` is not accepted: it signs the body only, with no timestamp, so it
cannot be given a replay window. A flow may choose Standard Webhooks instead (standard_webhooks.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

HEADER = "X-Jobs-Signature"
DEFAULT_TOLERANCE = 300  # seconds
_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}\Z")


class SignatureError(Exception):
    """The request is not signed, or not signed right; the message says which, never the secret."""


def digest(secret: bytes, timestamp: int | str, body: bytes, delivery_id: str | None = None) -> str:
    """HMAC-SHA256 of `<t>.<body>`, or of `<t>.<delivery id>.<body>` when the delivery id is signed too."""
    signed = f"{timestamp}.{delivery_id}." if delivery_id else f"{timestamp}."
    return hmac.new(secret, signed.encode("ascii") + body, hashlib.sha256).hexdigest()


def sign(secret: bytes | str, body: bytes, timestamp: int | None = None, delivery_id: str | None = None) -> str:
    """The header value a sender puts on a request (used by tests, the benchmark and in the docs); with
    `delivery_id`, the X-Delivery-Id the request carries is signed too."""
    secret = secret.encode("utf-8") if isinstance(secret, str) else secret
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={digest(secret, timestamp, body, delivery_id)}"


def parse(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise SignatureError(f"the {HEADER} header is missing")
    timestamp, digests = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.match(value):
                raise SignatureError(f"the {HEADER} header has a malformed timestamp")
            timestamp = int(value)
        elif key == "v1":
            if not _DIGEST.match(value):
                raise SignatureError(f"the {HEADER} header has a malformed v1 digest (64 lower-case hex digits)")
            digests.append(value)
        # Other schemes (v0, future versions) are ignored, as Stripe's clients do.
    if timestamp is None or not digests:
        raise SignatureError(f"the {HEADER} header must be t=<unix seconds>,v1=<hex digest>")
    return timestamp, digests[:8]


def verify(secret: bytes, header: str | None, body: bytes, *, tolerance: float = DEFAULT_TOLERANCE,
           now: float | None = None) -> str:
    """Check the signature; return the matching digest (the request's fingerprint) or raise."""
    return check(secret, header, body, tolerance=tolerance, now=now)[1]


def check(secret: bytes, header: str | None, body: bytes, *, tolerance: float = DEFAULT_TOLERANCE,
          now: float | None = None, delivery_id: str | None = None) -> tuple[int, str, bool]:
    """Check the signature; return (its timestamp, the matching digest, whether it signs `delivery_id`)."""
    timestamp, digests = parse(header)
    now = time.time() if now is None else now
    # Check the digest first: an unsigned request learns nothing about the clock.
    expected = {digest(secret, timestamp, body): False}
    if delivery_id:
        expected[digest(secret, timestamp, body, delivery_id)] = True
    matched, bound = None, False
    for candidate in digests:
        for value, signs_id in expected.items():
            if hmac.compare_digest(candidate, value):
                matched, bound = candidate, signs_id
    if matched is None:
        raise SignatureError("the signature does not match the body")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signature timestamp is outside the {tolerance:g}-second replay window")
    return timestamp, matched, bound
