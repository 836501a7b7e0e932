"""Running the triggers of the flows file: a flow may start from a poll instead of a webhook (its `trigger:`
is checked with the rest of the file, in flows.py).

    flows:
      - name: new-device-jobs
        trigger: {poll: iot-jobs-data.newPendingJobExecution, every: 30s, config: {thingName: demo-thing}}
        steps: [...]

`serve` runs a `Poller` thread beside its workers. Each new item becomes an event of the flow in the same
durable queue as webhook events, with a delivery id made of the trigger, the item and its version, so an
item polled again (after a crash between storing the event and keeping the snapshot) is the same event
and is not queued twice. The snapshot is kept in the queue itself (huey's key-value store: the SQLite
file, or Redis), after the events it covers. The events then run under the flow's retry and dead-letter
rules, as webhook events do. Fields the trigger's out-schema marks secret (CodePipeline's artifact
credentials) are redacted before an event is stored: a flow step that needs them asks for the job's
details again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time

from huey.constants import EmptyData

from jobs_connector.base.errors import ConnectorError
from jobs_connector.base.redact import redact_by_schema
from jobs_connector.triggers.engine import Poll
from jobs_connector.triggers.trigger import get_trigger
from jobs_connector.webhooks.events import Event, new_id
from jobs_connector.webhooks.metrics import OFF, NoMetrics

log = logging.getLogger("jobs_connector.triggers")
SNAPSHOT_KEY = "jobs-connector:poll-snapshot:{flow}"


def delivery_id(trigger: str, item_id: str, version: str) -> str:
    """The same item in the same version is the same delivery (the store refuses it a second time)."""
    digest = hashlib.sha256(f"{trigger}\n{item_id}\n{version}".encode()).hexdigest()[:40]
    return f"poll-{digest}"


class Poller:
    """Polls every flow that starts from a trigger, each at its own interval, on one thread."""

    def __init__(self, flows, queue, *, runtime=None, clock=time.time, metrics: NoMetrics = OFF):
        self.flows = [f for f in flows if f.trigger is not None]
        self.queue, self.runtime, self.clock = queue, runtime, clock
        self.metrics = metrics
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def __bool__(self) -> bool:
        return bool(self.flows)

    # -- the snapshot, kept in the queue's key-value store ---------------------------------------

    def snapshot(self, flow_name: str) -> dict:
        value = self.queue.huey.storage.peek_data(SNAPSHOT_KEY.format(flow=flow_name))
        if value is EmptyData or value is None:
            return {}
        try:
            data = json.loads(value)
        except ValueError:
            log.warning("poll flow %s: its stored snapshot is unreadable; starting afresh", flow_name)
            return {}
        return data if isinstance(data, dict) else {}

    def keep(self, flow_name: str, snapshot: dict) -> None:
        text = json.dumps(snapshot, separators=(",", ":")).encode("utf-8")
        self.queue.huey.storage.put_data(SNAPSHOT_KEY.format(flow=flow_name), text)

    # -- one poll ---------------------------------------------------------------------------------

    def poll_once(self, flow) -> int:
        """Poll one flow's trigger; each new item becomes a queued event. Returns how many were new."""
        trigger = get_trigger(flow.trigger.key)
        poll = Poll(trigger.key, flow.trigger.config, self.snapshot(flow.name), runtime=self.runtime,
                    stop=self.stopping)
        created = 0
        try:
            for item in poll.entries():
                now = self.clock()
                event = Event(id=new_id(), flow=flow.name, body=redact_by_schema(item.body, trigger.out_schema),
                              received_at=now, headers={"x-poll-trigger": trigger.key},
                              delivery_id=delivery_id(trigger.key, item.id, item.version), due_at=now,
                              updated_at=now)
                _event_id, new = self.queue.accept(event)  # durable before the snapshot moves past it
                created += int(new)
                if self.stopping.is_set():
                    break
        finally:
            if poll.emitted or poll.finished:
                self.keep(flow.name, poll.snapshot())
        return created

    # -- the thread -------------------------------------------------------------------------------

    def run(self) -> None:
        due = {f.name: 0.0 for f in self.flows}
        while not self.stopping.is_set():
            now = time.monotonic()
            for flow in self.flows:
                if due[flow.name] > now or self.stopping.is_set():
                    continue
                try:
                    created = self.poll_once(flow)
                    self.metrics.polled(flow.name, True, created)
                    if created:
                        log.info("poll flow %s: %d new event(s)", flow.name, created, extra={"flow": flow.name})
                except ConnectorError as exc:
                    self.metrics.polled(flow.name, False, 0)
                    log.warning("poll flow %s: %s", flow.name, exc.describe(),
                                extra={"flow": flow.name, "request_id": exc.request_id})
                except Exception:  # keep polling the other flows; the next interval tries again
                    self.metrics.polled(flow.name, False, 0)
                    log.exception("poll flow %s failed", flow.name, extra={"flow": flow.name})
                due[flow.name] = time.monotonic() + flow.trigger.every
            self.stopping.wait(max(0.01, min(due.values()) - time.monotonic()))

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="poll-triggers", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout)
