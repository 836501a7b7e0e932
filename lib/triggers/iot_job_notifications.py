"""IoT Jobs: job notifications pushed over MQTT (`notify-next` or `notify`), for one thing or a list of things.

Where the polling trigger (newPendingJobExecution) asks every interval, this one holds an MQTT subscription to
`$aws/things/{thingName}/jobs/notify-next` (the next execution changed) or `.../notify` (the pending list
changed) and emits each execution a notification names, deduplicated by the snapshot as the polling triggers
are (an execution once per status). The connection is persistent (clean session off, QoS 1), and after every
connect and reconnect the trigger asks once (`$next/get`, or `get`) for what it may have missed meanwhile.

A run listens for `listenSeconds` (default 20) and then ends with its snapshot, in all three runtimes: the
platform calls the trigger again on its schedule, `watch` and the flows file run it again after `every`. The
subscription outlives a run within one process (the runtime keeps the connection), so between runs the broker
and the catch-up rule keep what arrives.
"""

from __future__ import annotations

import queue
import threading
import time

from jobs_connector.kit import NOTIFY, NOTIFY_NEXT, BadInput, Item, answer_body, jobs_topic, mqtt_jobs_client

NAME_PATTERN = "^[a-zA-Z0-9:_-]+$"
DEFAULT_LISTEN_SECONDS = 20
MAX_THINGS = 1000
QUEUE_BOUND = 10000  # notifications held between runs; past it they are dropped and a catch-up is asked instead
CONFIG = {
    "properties": {
        "thingName": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": NAME_PATTERN},
        "thingNames": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 128,
                                                  "pattern": NAME_PATTERN},
                       "minItems": 1, "maxItems": MAX_THINGS, "uniqueItems": True},
        "notification": {"enum": [NOTIFY_NEXT, NOTIFY]},
        "listenSeconds": {"type": "integer", "minimum": 1, "maximum": 900},
        "mqttEndpoint": {"type": "string", "minLength": 1},
        "mqttTimeout": {"type": "number", "minimum": 1, "maximum": 120},
    },
    "required": [],
}
EXAMPLE_CONFIG = {"thingName": "demo-thing", "notification": NOTIFY_NEXT, "listenSeconds": 20}


def things_of(cfg: dict) -> list[str]:
    things = list(cfg.get("thingNames") or [])
    if cfg.get("thingName") and cfg["thingName"] not in things:
        things.insert(0, cfg["thingName"])
    if not things:
        raise BadInput("trigger iot-jobs-data.jobNotification needs the config field 'thingName' (or 'thingNames')",
                       field="thingName", rule="required")
    return things


class Listener:
    """The subscription of one trigger config in one process: notifications and catch-up requests queue here
    (from paho's thread) until a run takes them."""

    def __init__(self, runtime, cfg: dict, things: list[str], kind: str):
        self.kind, self.things = kind, things
        self.queue: queue.Queue = queue.Queue(QUEUE_BOUND)
        self._overflow = threading.Event()
        self.connection = mqtt_jobs_client.connect(runtime, {**cfg, "transport": "mqtt"}, things)
        for thing in things:
            self.connection.listen(jobs_topic(thing, kind), self._heard)
        self.connection.on_connect(lambda reconnected: self.catch_up())
        self.connection.subscribe([jobs_topic(thing, kind) for thing in things])
        self.catch_up()  # what was pending before we subscribed

    def _heard(self, topic: str, payload: dict) -> None:
        thing = topic.split("/")[2]
        try:
            self.queue.put_nowait(("notification", thing, payload))
        except queue.Full:
            self._overflow.set()

    def catch_up(self) -> None:
        for thing in self.things:
            try:
                self.queue.put_nowait(("catch-up", thing, None))
            except queue.Full:
                self._overflow.set()
                return

    def take(self, timeout: float):
        if self._overflow.is_set() and self.queue.empty():
            self._overflow.clear()
            self.catch_up()
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


def _listener(ctx, things: list[str], kind: str) -> Listener:
    held = getattr(ctx.runtime, "mqtt_listeners", None)
    if held is None:
        held = ctx.runtime.mqtt_listeners = {}
    key = (kind, tuple(things), ctx.cfg.get("mqttEndpoint"), ctx.cfg.get("mqttClientId"))
    if key not in held:
        held[key] = Listener(ctx.runtime, ctx.cfg, things, kind)
    return held[key]


def _ask(ctx, listener: Listener, key: str, body: dict) -> dict:
    # Through the listener's own connection: one connection for all the things it watches, not one a thing.
    cfg = {**ctx.cfg, "transport": "mqtt", "emitBehaviour": "fetchPage", "mqttClientId": listener.connection.client_id}
    return next(iter(ctx.runtime.run(key, body, cfg)))


def _execution_item(thing: str, execution) -> Item | None:
    if not isinstance(execution, dict) or not execution.get("jobId"):
        return None
    body = {"thingName": thing, "notification": NOTIFY_NEXT, **execution}
    return Item(id=f"{thing}/{execution['jobId']}#{execution.get('executionNumber')}",
                version=str(execution.get("status")), body=body, updated=execution.get("lastUpdatedAt"))


def _list_items(thing: str, lists: dict) -> list[Item]:
    found = []
    for status in ("IN_PROGRESS", "QUEUED"):
        for summary in lists.get(status) or []:
            if isinstance(summary, dict) and summary.get("jobId"):
                found.append(Item(id=f"{thing}/{summary['jobId']}#{summary.get('executionNumber')}", version=status,
                                  body={"thingName": thing, "notification": NOTIFY, "status": status, **summary},
                                  updated=summary.get("lastUpdatedAt")))
    found.sort(key=lambda item: (item.updated or 0, item.id))
    return found


def _items_of(ctx, listener: Listener, kind: str, event) -> list[Item]:
    what, thing, payload = event
    if kind == NOTIFY_NEXT:
        if what == "catch-up":
            payload = _ask(ctx, listener, "iot-jobs-data.DescribeJobExecution",
                           {"thingName": thing, "jobId": "$next", "includeJobDocument": True})
        else:
            payload = answer_body(payload)
        item = _execution_item(thing, payload.get("execution"))
        return [item] if item else []
    if what == "catch-up":
        answer = _ask(ctx, listener, "iot-jobs-data.GetPendingJobExecutions", {"thingName": thing})
        lists = {"IN_PROGRESS": answer.get("inProgressJobs"), "QUEUED": answer.get("queuedJobs")}
    else:
        lists = payload.get("jobs") if isinstance(payload.get("jobs"), dict) else {}
    return _list_items(thing, lists)


def items(ctx):
    things = things_of(ctx.cfg)
    kind = ctx.cfg.get("notification") or NOTIFY_NEXT
    listen = ctx.cfg.get("listenSeconds") or DEFAULT_LISTEN_SECONDS
    listener = _listener(ctx, things, kind)
    stop = getattr(ctx, "stop", None)
    deadline = time.monotonic() + listen
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (stop is not None and stop.is_set()):
            return
        event = listener.take(min(remaining, 0.2))
        if event is not None:
            yield from _items_of(ctx, listener, kind, event)
