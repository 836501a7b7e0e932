"""The intake's decisions, apart from HTTP: what to answer to `POST /hooks/<flow>`, `GET /events/<id>`,
`GET /healthz` and `/readyz` (wsgi.py serves them; server.py runs that on waitress). A request is refused before
anything is stored:

  404 unknown flow or path      411 no Content-Length      413 body over the size bound
  400 malformed framing (Content-Length), a body that is not a JSON object, or a malformed delivery id
  401 missing, malformed or wrong signature, or timestamp outside the window
  409 this signed request already made an event under another (unsigned) delivery id
  503 the event could not be stored (store busy past its bound, store file gone, Redis lost): nothing
      was stored, the sender tries again

202 {"id": ...} is sent only once the event is durably stored; a redelivery (same delivery id, or the
identical signed request replayed when no delivery id was sent) gets 200 {"id": <the same id>,
"duplicate": true} and is not queued again.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable

from jobs_connector.base.log_repeats import RepeatFilter
from jobs_connector.webhooks import view
from jobs_connector.webhooks.events import Event, new_id, stored_headers
from jobs_connector.webhooks.flows import FlowFileError, Flows
from jobs_connector.webhooks.intake import health
from jobs_connector.webhooks.metrics import OFF, NoMetrics
from jobs_connector.webhooks.signatures import jobs_hmac as signature
from jobs_connector.webhooks.signatures.schemes import Verifier
from jobs_connector.webhooks.store.event_store import NotDurable, StoreBusy
from jobs_connector.webhooks.store.queue import Queue

log = logging.getLogger("jobs_connector.webhooks.intake")
log.addFilter(RepeatFilter())  # a refused flood or a lost store: one line per interval, not one per request

MAX_BODY = 1024 * 1024
_DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,200}\Z")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def verifiers(flows: Flows) -> dict[str, Verifier]:
    """Each flow's verifier; FlowFileError when a secret does not suit its scheme or two flows share one
    (a request signed for one flow must never be accepted by another)."""
    found: dict[str, Verifier] = {}
    owners: dict[bytes, object] = {}
    for flow in flows:
        if flow.trigger is not None:  # a poll starts it: no webhook, no secret
            continue
        where = f"flow '{flow.name}'.secret_env"
        if flow.secret is None:
            raise FlowFileError("the webhook secret is not loaded", where=where, rule="secret-missing")
        try:
            verifier = Verifier(flow.signing, flow.secret)
        except ValueError as exc:
            raise FlowFileError(f"the secret in {flow.secret_env}: {exc}", where=where, rule="secret-format") from None
        other = owners.get(verifier.key)
        if other is not None:
            raise FlowFileError(
                f"flows '{other.name}' and '{flow.name}' have the same webhook secret ({other.secret_env}, "
                f"{flow.secret_env}): a request signed for one would be accepted by the other; give each flow "
                "its own secret", where=where, rule="secret-shared")
        owners[verifier.key] = flow
        found[flow.name] = verifier
    return found


class Headers:
    """Request headers by case-insensitive name."""

    def __init__(self, pairs):
        self._values = {name.lower(): value for name, value in pairs}

    def get(self, name: str, default=None):
        return self._values.get(name.lower(), default)

    def items(self):
        return self._values.items()


class Intake:
    def __init__(self, flows: Flows, queue: Queue, *, max_body: int = MAX_BODY,
                 tolerance: float = signature.DEFAULT_TOLERANCE, clock=time.time):
        self.flows, self.queue, self.store = flows, queue, queue.store
        self.max_body, self.tolerance, self.clock = max_body, tolerance, clock
        self.verifiers = verifiers(flows)
        # serve --worker-processes: their counts for /healthz (lib/webhooks/processes.py)
        self.worker_processes: Callable[[], dict] | None = None
        self.metrics: NoMetrics = OFF  # serve sets its recorder (lib/webhooks/metrics/)

    def refuse(self, flow_name: str, reason: str, status: int, message: str) -> tuple[int, dict]:
        """A refusal, counted by reason (the flow only when it is one of ours: labels stay bounded)."""
        self.metrics.refused(flow_name if flow_name in self.verifiers else "", reason)
        return status, {"error": message}

    def receive(self, flow_name: str, headers, body: bytes) -> tuple[int, dict]:
        flow = self.flows.get(flow_name)
        if flow is None or flow.trigger is not None:  # a flow a poll starts has no webhook
            return self.refuse(flow_name, "unknown-flow", 404, f"no flow named '{flow_name}'")
        now = self.clock()
        try:
            signed = self.verifiers[flow.name].verify(headers, body, tolerance=self.tolerance, now=now)
        except signature.SignatureError as exc:
            log.warning("hook %s refused: %s", flow_name, exc, extra={"flow": flow_name})
            return self.refuse(flow_name, "bad-signature", 401, str(exc))
        try:
            data = json.loads(body, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            return self.refuse(flow_name, "bad-json", 400, "the body is not valid JSON")
        if not isinstance(data, dict):
            return self.refuse(flow_name, "bad-json", 400, "the body must be a JSON object")
        delivery_id = signed.delivery_id
        if delivery_id is not None and not _DELIVERY_ID.match(delivery_id):
            return self.refuse(flow_name, "bad-delivery-id", 400,
                               "the delivery id must be 1 to 200 printable ASCII characters without spaces")
        # A signed delivery id names the event alone: two deliveries of the same body in the same second
        # with different ids are two events. An unsigned one could be forged onto a captured request, so
        # the signature's fingerprint still recognises the request (see _clash).
        event = Event(id=new_id(), flow=flow.name, body=data, received_at=now, headers=stored_headers(headers),
                      delivery_id=delivery_id, fingerprint=None if signed.id_signed else signed.fingerprint,
                      replay_until=signed.signed_at + self.tolerance, due_at=now, updated_at=now,
                      secret_fields=list(flow.secret_event_fields))
        try:
            event_id, created = self.queue.accept(event)
        except StoreBusy as exc:
            log.warning("hook %s: 503, the store is busy: %s", flow_name, exc, extra={"flow": flow_name})
            return self.refuse(flow_name, "store-busy", 503,
                               "the store is busy; nothing was stored, send it again later")
        except NotDurable as exc:
            log.error("hook %s: 503, the event was written but may not survive a crash: %s", flow_name, exc,
                      extra={"flow": flow_name})
            return self.refuse(flow_name, "not-durable", 503, "the event was written but could not be flushed to "
                               "disk, so whether it survives a crash is unknown; send it again: a repeat with the "
                               "same delivery id, or of the same signed request, is recognised")
        except Exception as exc:
            log.warning("hook %s: 503, the event could not be stored: %s: %s", flow_name, type(exc).__name__, exc,
                        extra={"flow": flow_name})
            return self.refuse(flow_name, "store-unavailable", 503,
                               "the event could not be stored; send it again later")
        if not created:
            clash = self._clash(event, event_id)
            if clash:
                return self.refuse(flow_name, "conflict", *clash)
            self.metrics.duplicate(flow.name)
            return 200, {"id": event_id, "duplicate": True}
        self.metrics.accepted(flow.name)
        return 202, {"id": event_id}

    def _clash(self, event: Event, existing_id: str) -> tuple[int, str] | None:
        """409 when an unsigned delivery id differs from the one of the event this signed request already
        made: a replay with a forged id, or a sender's second delivery of the same body in the same second,
        which it can tell apart only by signing the id. Never a silent merge."""
        if event.delivery_id is None or event.fingerprint is None:
            return None
        existing = self.store.get(existing_id)
        if existing is None or existing.delivery_id == event.delivery_id:
            return None
        return 409, ("this signed request was already delivered under another delivery id; to send the same body "
                     "again within the second, sign the delivery id too (v1 over '<t>.<X-Delivery-Id>.<body>')")

    def event(self, event_id: str) -> tuple[int, dict]:
        event = self.store.get(event_id)
        if event is None:
            return 404, {"error": "no such event"}
        return 200, view.public(event, self.flows.secrets())

    def health(self, path: str = "/healthz") -> tuple[int, dict]:
        """/healthz (alive) or /readyz (the store answers and is durable): lib/webhooks/intake/health.py."""
        return health.route(path, self.queue, flows=self.flows, extra=self.worker_processes)
