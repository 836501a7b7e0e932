"""The signature scheme a flow accepts (the flows file's `signing` key), behind one interface for the intake.

  x-jobs-signature   (the default) `X-Jobs-Signature: t=<unix seconds>,v1=<hex>`, Stripe's scheme (signature.py)
  standard-webhooks  `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` (standard_webhooks.py)

Neither scheme signs the flow's name (Standard Webhooks senders cannot be asked to), so a request is
bound to its flow by the key alone: the intake refuses to start when two flows share a secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs_connector.webhooks.signatures import jobs_hmac as signature
from jobs_connector.webhooks.signatures import standard_webhooks

JOBS, STANDARD = "x-jobs-signature", "standard-webhooks"
SCHEMES = (JOBS, STANDARD)
GITHUB_HEADERS = ("X-Hub-Signature-256", "X-Hub-Signature")

_ACCEPTS = {
    JOBS: (f"{signature.HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>' or "
           "'<t>.<X-Delivery-Id>.<body>'>"),
    STANDARD: (f"Standard Webhooks: {standard_webhooks.ID_HEADER}, {standard_webhooks.TIMESTAMP_HEADER} and "
               f"{standard_webhooks.SIGNATURE_HEADER}: v1,<base64 HMAC-SHA256 of '<id>.<t>.<body>'>"),
}


DELIVERY_HEADERS = ("X-Delivery-Id", "X-GitHub-Delivery")


@dataclass(frozen=True)
class Signed:
    """What a verified request tells: when it was signed, its fingerprint, its delivery id, and whether
    the signature covers that id (then the id alone names the event; otherwise a replay could carry a
    forged id, and the fingerprint must keep recognising the request)."""

    signed_at: int
    fingerprint: str
    delivery_id: str | None = None
    id_signed: bool = False


class Verifier:
    def __init__(self, scheme: str, secret: bytes):
        """ValueError (never showing the secret) when the secret does not suit the scheme."""
        self.scheme = scheme
        if scheme == STANDARD:
            self.key = standard_webhooks.key_from_secret(secret.decode("utf-8", "replace"))
        elif scheme == JOBS:
            self.key = secret
        else:
            raise ValueError(f"unknown signing scheme {scheme!r} (one of {', '.join(SCHEMES)})")

    @property
    def accepts(self) -> str:
        return _ACCEPTS[self.scheme]

    def verify(self, headers, body: bytes, *, tolerance: float, now: float) -> Signed:
        """Raise signature.SignatureError saying what is wrong and, for a GitHub header, what is accepted."""
        try:
            if self.scheme == STANDARD:
                msg_id, signed_at, matched = standard_webhooks.verify(self.key, headers, body,
                                                                      tolerance=tolerance, now=now)
                return Signed(signed_at, matched, msg_id, id_signed=True)
            delivery_id = next((headers.get(h) for h in DELIVERY_HEADERS if headers.get(h)), None)
            signed_at, matched, id_signed = signature.check(self.key, headers.get(signature.HEADER), body,
                                                            tolerance=tolerance, now=now, delivery_id=delivery_id)
            return Signed(signed_at, matched, delivery_id, id_signed)
        except signature.SignatureError as exc:
            github = next((h for h in GITHUB_HEADERS if headers.get(h)), None)
            if github:
                raise signature.SignatureError(
                    f"{exc}; GitHub's {github} is not accepted (it signs no timestamp, so a captured request "
                    f"could be replayed for ever): this flow accepts {self.accepts}") from None
            raise
