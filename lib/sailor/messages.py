"""The platform's message envelope and headers: what goes out for each data message, error, rebound and
snapshot, built from the incoming message and the settings. Pure functions; `amqp.py` sends them.

Incoming content (decrypted): `{"id", "body", "headers", "attachments", "passthrough", ...}`.
Outgoing headers: the incoming `x-eio-meta-*` headers (lower-cased), `threadId` (kept, or started),
`reply_to`, `parentMessageId` (the incoming `messageId`), a new `messageId`, and this step's `execId`,
`taskId` (the flow id), `workspaceId`, `containerId`, `userId`, `stepId`, `compId`, `function`,
`start` / `end` (epoch milliseconds), plus ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from jobs_connector.sailor.crypto import MessageCipher, to_json
from jobs_connector.sailor.settings import Settings

META_PREFIX = "x-eio-meta-"
TRACE_ID_HEADER = META_PREFIX + "trace-id"
ERROR_RESPONSE_HEADER = "x-eio-error-response"
REBOUND_LIMIT_MESSAGE = "Rebound limit exceeded"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Outgoing:
    """One message to publish to the step's exchange."""

    routing_key: str
    body: bytes
    headers: dict
    expiration: str | None = None  # milliseconds, as AMQP wants it: a string
    properties: dict = field(default_factory=lambda: {"content_type": "application/json",
                                                      "content_encoding": "utf8"})
    kind: str = "data"


@dataclass
class StepData:
    """The step as the platform API describes it (GET /v1/tasks/{flow}/steps/{step})."""

    id: str
    config: dict
    snapshot: dict = field(default_factory=dict)
    is_passthrough: bool = False
    comp_id: str | None = None
    function: str | None = None

    @classmethod
    def from_api(cls, data: Mapping) -> StepData:
        config = data.get("config") if isinstance(data.get("config"), dict) else {}
        snapshot = data.get("snapshot") if isinstance(data.get("snapshot"), dict) else {}
        return cls(id=str(data.get("id") or ""), config=config, snapshot=snapshot,
                   is_passthrough=data.get("is_passthrough") is True,
                   comp_id=data.get("comp_id"), function=data.get("function"))


def _clean(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if v is not None}


def incoming_headers(headers: Mapping | None, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> dict:
    """What the sailor keeps of an incoming message's AMQP headers."""
    headers = dict(headers or {})
    meta = {k.lower(): v for k, v in headers.items() if k.lower().startswith(META_PREFIX)}
    kept = {
        "stepId": headers.get("stepId"),  # the previous step: used by the pass-through mechanism
        **meta,
        "threadId": headers.get("threadId") or meta.get(TRACE_ID_HEADER) or new_id(),
        "messageId": headers.get("messageId"),
        "parentMessageId": headers.get("parentMessageId"),
        "reply_to": headers.get("reply_to"),
    }
    return _clean(kept)


def outgoing_headers(settings: Settings, incoming: Mapping, start: int | None = None) -> dict:
    """The headers every message this step publishes for one incoming message starts from."""
    return _clean({
        **incoming,
        **settings.additional_headers,
        "parentMessageId": incoming.get("messageId"),
        "threadId": incoming.get("threadId"),
        "messageId": str(uuid.uuid4()),
        "execId": settings.exec_id,
        "taskId": settings.flow_id,
        "workspaceId": settings.workspace_id,
        "containerId": settings.container_id,
        "userId": settings.user_id,
        "stepId": settings.step_id,
        "compId": settings.comp_id,
        "function": settings.function,
        "start": now_ms() if start is None else start,
    })


def data_message(settings: Settings, step: StepData, cipher: MessageCipher, emitted: Mapping,
                 incoming_payload: Mapping, incoming: Mapping, base_headers: Mapping) -> Outgoing:
    """A data message: the emitted body in the platform's envelope, encrypted, with its own messageId."""
    message_id = str(emitted.get("id") or uuid.uuid4())
    message = {"id": message_id, "attachments": emitted.get("attachments") or {},
               "body": emitted.get("body", {}), "headers": dict(emitted.get("headers") or {})}
    if step.is_passthrough:
        passthrough = copy.deepcopy(incoming_payload.get("passthrough") or {})
        if settings.no_self_passthrough:
            previous = incoming.get("stepId")
            if previous:
                passthrough[previous] = {k: v for k, v in incoming_payload.items() if k != "passthrough"}
        else:
            passthrough[settings.step_id] = copy.deepcopy(message)
        message["passthrough"] = passthrough
    headers = {**base_headers, "messageId": message_id, "end": now_ms(),
               "protocolVersion": settings.protocol_version}
    return Outgoing(settings.data_routing_key, cipher.encode(message, settings.protocol_version), headers)


def error_fields(error: Mapping) -> dict:
    """The platform's error shape (name, message, stack) from the runtime's error dict. The 'stack' is a
    one-line account (type, HTTP status, service code, request id): never a traceback, never a secret."""
    name = str(error.get("type") or error.get("name") or "Error")
    message = str(error.get("message") or "Not Available")
    details = [f"HTTP {error['status']}" if error.get("status") is not None else None,
               error.get("code"), f"request-id {error['request_id']}" if error.get("request_id") else None,
               f"field {error['field']}" if error.get("field") else None,
               f"rule {error['rule']}" if error.get("rule") else None,
               f"{error['attempts']} attempt(s)" if error.get("attempts") else None]
    shown = " | ".join(str(d) for d in details if d)
    return {"name": name, "message": message, "stack": f"{name}: {message}" + (f" ({shown})" if shown else "")}


def error_messages(settings: Settings, cipher: MessageCipher, error: Mapping, base_headers: Mapping,
                   original_content: bytes | None, original_protocol: int, *, end: bool = True) -> list[Outgoing]:
    """The error message, and the error reply when the message came from a request that waits for one.
    `end=False` leaves out the `end` header, as the Node sailor does for "Rebound limit exceeded" (it sends
    that error with the step's outgoing headers as they were when the message arrived)."""
    sealed_error = cipher.encode_base64_text(error_fields(error))
    payload = {"error": sealed_error}
    if original_content:
        # errorInput is base64 text whatever the incoming protocol version.
        payload["errorInput"] = (original_content.decode("ascii", "replace") if original_protocol < 2
                                 else cipher.encode_base64_text(cipher.decode(original_content, 2)))
    headers = {**base_headers, "end": now_ms()} if end else dict(base_headers)
    out = [Outgoing(settings.error_routing_key, to_json(payload).encode("utf-8"), headers, kind="error")]
    reply_to = base_headers.get("reply_to")
    if reply_to and not settings.no_error_replies:
        out.append(Outgoing(str(reply_to), sealed_error.encode("ascii"), {**headers, ERROR_RESPONSE_HEADER: True},
                            kind="error-reply"))
    return out


def rebound_iteration(headers: Mapping | None) -> int:
    """Which rebound this would be: one more than the incoming message's reboundIteration."""
    value = (headers or {}).get("reboundIteration")
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str) and value.strip().isdigit():
        return int(value) + 1
    return 1


def rebound_message(settings: Settings, reason: str, original_content: bytes, original_headers: Mapping | None,
                    original_properties: Mapping, iteration: int) -> Outgoing:
    """The original message, unchanged, back to the platform to be delivered again later: after
    REBOUND_INITIAL_EXPIRATION ms, doubled on each rebound (15 s, 30 s, 1 min, ...)."""
    expiration = (2 ** (iteration - 1)) * settings.rebound_initial_expiration
    headers = {**dict(original_headers or {}), "end": now_ms(), "reboundReason": reason,
               "reboundIteration": iteration}
    properties = {k: v for k, v in original_properties.items() if v is not None}
    properties.setdefault("content_type", "application/json")
    properties.setdefault("content_encoding", "utf8")
    return Outgoing(settings.rebound_routing_key, original_content, headers, str(expiration), properties,
                    kind="rebound")


def snapshot_message(settings: Settings, snapshot, base_headers: Mapping, event: str = "snapshot") -> Outgoing:
    """A snapshot: plain JSON (the sailors do not encrypt it), marked with its event."""
    headers = {**base_headers, "snapshotEvent": event}
    return Outgoing(settings.snapshot_routing_key, to_json(snapshot).encode("utf-8"), headers, kind="snapshot")
