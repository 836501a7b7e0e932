"""The step runner: consume, decrypt, run the action, publish the results, then acknowledge.

For each incoming message the action runs on a worker thread (`jobs_connector.runtime.process`, which emits
'data' | 'error' | 'rebound' | 'end'), while this thread, which owns the broker connection, publishes
each emitted message in order, waits for the broker's confirm, and keeps the connection alive. Only when
the step has ended and every result is confirmed is the incoming message acknowledged (or rejected, after
an error, as the sailors do; after the "Rebound limit exceeded" error it is acknowledged, as Node does),
so a crash at any point before that leaves it in the queue to be delivered again: at-least-once.

A lightweight message (its body in the platform's object storage) is resolved on the worker thread before
the action runs (`object_storage.py`).

SIGTERM / SIGINT: stop taking messages, finish the one in hand (publish, acknowledge), return the
prefetched ones to the queue, close the connection and exit 0.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping

from pika.exceptions import AMQPError

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.component.registry import component
from jobs_connector.runtime import process
from jobs_connector.sailor import messages as msgs
from jobs_connector.sailor.amqp import AmqpLink, PublishError, properties_of
from jobs_connector.sailor.crypto import DecryptError, MessageCipher
from jobs_connector.sailor.fields import fill_from_select_fields
from jobs_connector.sailor.object_storage import ObjectStorage, ObjectStorageError, resolve_references
from jobs_connector.sailor.platform_api import retrieve_step
from jobs_connector.sailor.settings import Settings
from jobs_connector.triggers.engine import process as poll

log = logging.getLogger("jobs_connector.sailor")

POLL_SECONDS = 0.2  # how often the idle loop looks at the stop flag and the step's events
SHUTDOWN_GRACE_SECONDS = 30.0  # how long a stop waits for the message in hand (as sailor-jvm)
RESOLVED = "resolved-payload"  # the worker's word that a lightweight message's bodies were fetched


def _default_process(key, msg, cfg, emit, snapshot=None):
    if snapshot is not None:  # a polling trigger (lib/triggers): it reads the step's snapshot, emits a new one
        return poll(key, msg, cfg, snapshot, emit)
    process(key, msg, cfg, emit)


class StepRunner:
    def __init__(self, settings: Settings, step: msgs.StepData, link: AmqpLink,
                 process: Callable = _default_process, grace_seconds: float = SHUTDOWN_GRACE_SECONDS):
        self.settings = settings
        self.step = step
        self.link = link
        self.process = process
        self.grace_seconds = grace_seconds
        self.cipher = MessageCipher(settings.crypto_password, settings.crypto_iv)
        self.object_storage = ObjectStorage(settings.object_storage_uri, settings.object_storage_token, self.cipher,
                                            flow_id=settings.flow_id, step_id=settings.step_id)
        self.snapshot = copy.deepcopy(step.snapshot)
        self.stop_requested = threading.Event()
        self.processed = 0

    def request_stop(self, *_args) -> None:
        """Safe from a signal handler: only sets a flag the loops look at."""
        self.stop_requested.set()

    # -- the consume loop -----------------------------------------------------------------------

    def serve(self, max_messages: int | None = None) -> int:
        """Consume until asked to stop (or after `max_messages`); return how many were handled."""
        log.info("listening on %s for %s", self.settings.listen_messages_on, self.settings.function)
        try:
            for method, properties, body in self.link.deliveries(inactivity_timeout=POLL_SECONDS):
                if method is not None:
                    if not self.handle(method, properties, body):
                        break  # stopped while the message was in hand: it stays unacknowledged
                    self.processed += 1
                if self.stop_requested.is_set() or (max_messages is not None and self.processed >= max_messages):
                    break
        finally:
            if self.stop_requested.is_set():
                log.info("stopping on request")
            if self.link.is_open:
                try:
                    returned = self.link.stop_consuming()
                    if returned:
                        log.info("returned %d prefetched message(s) to the queue", returned)
                except AMQPError as exc:
                    log.warning("cancelling the consumer failed: %s", type(exc).__name__)
        return self.processed

    # -- one message ----------------------------------------------------------------------------

    def handle(self, method, properties, body: bytes) -> bool:
        """Process one delivery to the end; False if a stop came first and it was left unacknowledged."""
        tag = method.delivery_tag
        raw_headers = dict(properties.headers or {}) if properties else {}
        protocol = _protocol_version(raw_headers)
        try:
            payload = self.cipher.decode(body, protocol)
            if not isinstance(payload, dict):
                raise DecryptError("the message is not a JSON object")
        except DecryptError as exc:
            log.error("rejecting message %s: cannot decrypt it (%s)", raw_headers.get("messageId", "?"), exc)
            self.link.reject(tag)
            return True
        incoming = msgs.incoming_headers(raw_headers)
        base = msgs.outgoing_headers(self.settings, incoming)
        fields = {"message_id": incoming.get("messageId"), "step": self.settings.step_id,
                  "action": self.settings.function}
        started = time.monotonic()
        log.info("processing message %s (thread %s%s)", incoming.get("messageId", "?"), incoming.get("threadId"),
                 ", redelivered" if method.redelivered else "", extra=fields)
        context = _Context(body, protocol, raw_headers, properties_of(properties), payload, incoming, base)

        events: queue.Queue = queue.Queue()
        worker = threading.Thread(target=self._run_step, args=(payload, events), daemon=True,
                                  name=f"step-{tag}")
        worker.start()
        errors = 0
        stop_deadline = None
        while True:
            try:
                kind, data = events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self.link.pump(0)
                if self.stop_requested.is_set():
                    stop_deadline = stop_deadline or time.monotonic() + self.grace_seconds
                    if time.monotonic() > stop_deadline:
                        log.warning("the step did not finish within %.0f s of the stop; leaving message %s "
                                    "unacknowledged", self.grace_seconds, incoming.get("messageId", "?"))
                        return False
                continue
            if kind == "end":
                break
            if kind == RESOLVED:
                context.payload = data  # pass-through goes on with the fetched bodies, as in Node
                continue
            errors += self._emit(kind, data, context)
        if errors:
            self.link.reject(tag)
        else:
            self.link.ack(tag)
        log.info("message %s %s", incoming.get("messageId", "?"), "rejected after an error" if errors else "done",
                 extra={**fields, "duration": round(time.monotonic() - started, 6)})
        return True

    def _run_step(self, payload: dict, events: queue.Queue) -> None:
        ended = False

        def emit(kind: str, data=None) -> None:
            nonlocal ended
            if kind == "end":
                if ended:
                    return
                ended = True
            events.put((kind, data if data is not None else {}))

        # A trigger gets the snapshot as it stands (the step's, then the last one it emitted), as the Node sailor.
        trigger = {"snapshot": copy.deepcopy(self.snapshot)} if _is_trigger(self.settings.function) else {}
        try:
            # On this thread, so the connection's thread keeps the heartbeats going during the download.
            resolved = resolve_references(payload, self.object_storage)
            if resolved is not payload:
                events.put((RESOLVED, resolved))
            payload = resolved
        except ObjectStorageError as exc:
            # As Node: the error (with the input as errorInput), the input rejected, the action not run.
            log.error("%s", exc.message)
            emit("error", exc.to_dict())
            emit("end")
            return
        payload = fill_from_select_fields(self.settings.function, payload, self.step.config)
        try:
            self.process(self.settings.function, payload, copy.deepcopy(self.step.config), emit, **trigger)
        except Exception as exc:  # a bug, not a service error: say what, never how (no traceback, no secrets)
            log.error("the step failed unexpectedly: %s", type(exc).__name__)
            emit("error", {"type": "InternalError", "message": f"the step failed unexpectedly ({type(exc).__name__})"})
        finally:
            emit("end")

    # -- publishing what the step emits ---------------------------------------------------------

    def _emit(self, kind: str, data, ctx: _Context) -> int:
        """Publish one emitted event; return 1 if it counts as an error of this message."""
        try:
            if kind == "data":
                self.link.publish(msgs.data_message(self.settings, self.step, self.cipher, data or {},
                                                    ctx.payload, ctx.incoming, ctx.base))
                return 0
            if kind == "error":
                self._publish_error(data or {}, ctx)
                return 1
            if kind == "rebound":
                return self._rebound(data or {}, ctx)
            if kind in ("snapshot", "updateSnapshot"):
                self._snapshot(kind, data, ctx)
                return 0
        except PublishError as exc:
            log.error("publishing a %s message failed: %s", kind, exc)
            try:
                self._publish_error({"type": "PublishError", "message": str(exc)}, ctx)
            except PublishError as again:
                # As Node: its onError counts the error before publishing it, and a failed sendError is only
                # logged (run.js's unhandledRejection handler), so the input is still rejected (not requeued:
                # dead-lettered by the queue) and the runner goes on with the next message.
                log.error("publishing the error about it failed too (%s); the input will be rejected", again)
            return 1
        log.warning("ignoring the unsupported event %r", kind)
        return 0

    def _publish_error(self, error: Mapping, ctx: _Context, end: bool = True) -> None:
        log.info("error %s: %s", error.get("type", "Error"), error.get("message", ""))
        for message in msgs.error_messages(self.settings, self.cipher, error, ctx.base, ctx.content, ctx.protocol,
                                           end=end):
            self.link.publish(message)

    def _rebound(self, error: Mapping, ctx: _Context) -> int:
        iteration = msgs.rebound_iteration(ctx.raw_headers)
        if iteration > self.settings.rebound_limit:
            # As Node's sendRebound: the error goes out with the step's headers as they were (no `end`), and
            # a rebound never counts as an error of the message, so the input is acknowledged, not rejected:
            # the platform has the error, a dead letter on top of it would be a second account of one failure.
            log.info("rebound limit (%d) exceeded", self.settings.rebound_limit)
            self._publish_error({"type": "Error", "message": msgs.REBOUND_LIMIT_MESSAGE,
                                 "code": error.get("code"), "status": error.get("status")}, ctx, end=False)
            return 0
        reason = str(error.get("message") or "rebound")
        log.info("rebound %d: %s", iteration, reason)
        self.link.publish(msgs.rebound_message(self.settings, reason, ctx.content, ctx.raw_headers,
                                               ctx.properties, iteration))
        return 0

    def _snapshot(self, kind: str, data, ctx: _Context) -> None:
        if kind == "snapshot":
            self.snapshot = copy.deepcopy(data)
        elif isinstance(data, dict) and isinstance(self.snapshot, dict):
            self.snapshot.update(data)
        else:
            log.warning("updateSnapshot needs an object; ignored")
            return
        self.link.publish(msgs.snapshot_message(self.settings, data, ctx.base, kind))


class _Context:
    """What the publishing of one message's results needs to know about it."""

    __slots__ = ("content", "protocol", "raw_headers", "properties", "payload", "incoming", "base")

    def __init__(self, content, protocol, raw_headers, properties, payload, incoming, base):
        self.content, self.protocol, self.raw_headers = content, protocol, raw_headers
        self.properties, self.payload, self.incoming, self.base = properties, payload, incoming, base


def _protocol_version(headers: Mapping) -> int:
    try:
        return int(headers.get("protocolVersion") or 1)
    except (TypeError, ValueError):
        return 1


def _is_trigger(function: str) -> bool:
    return function in component().get("triggers", {})


def check_function(settings: Settings) -> None:
    """ELASTICIO_FUNCTION must name one of our actions or triggers."""
    if settings.function not in component()["actions"] and not _is_trigger(settings.function):
        raise ConfigurationError(f"ELASTICIO_FUNCTION {settings.function!r} is not an action or trigger of this "
                                 "component (`jobs-connector list` shows the actions, docs/actions.md the triggers)",
                                 field="ELASTICIO_FUNCTION", rule="unknown-action")


def load_step(settings: Settings) -> msgs.StepData:
    data = retrieve_step(settings.api_uri, settings.api_username, settings.api_key, settings.flow_id,
                         settings.step_id, attempts=settings.api_retry_attempts, delay_ms=settings.api_retry_delay)
    return msgs.StepData.from_api(data)


def report_startup_error(settings: Settings, link: AmqpLink, error: Mapping) -> None:
    """As the sailors: a step that cannot start says why on its error route before exiting."""
    headers = {**settings.additional_headers, "execId": settings.exec_id, "taskId": settings.flow_id,
               "workspaceId": settings.workspace_id, "containerId": settings.container_id,
               "userId": settings.user_id, "stepId": settings.step_id, "compId": settings.comp_id,
               "function": settings.function, "messageId": str(uuid.uuid4())}
    cipher = MessageCipher(settings.crypto_password, settings.crypto_iv)
    for message in msgs.error_messages(settings, cipher, error, headers, None, 1):
        link.publish(message)
