"""The IoT Jobs MQTT API of the sandbox: the second front door to the one IoT Jobs state.

A paho client inside the sandbox (the "service") subscribes to the reserved request topics on the sandbox's
broker. Each request is turned into the HTTPS request it stands for and answered by the same handlers
(iot_jobs_data.handle, under the store's lock), so HTTPS and MQTT read and change the same executions; the
HTTPS answer becomes the MQTT `accepted` payload (job documents as JSON objects, with clientToken and
timestamp), an HTTPS error the `rejected` payload with the MQTT API's code.

Notifications: after every request to the sandbox (HTTPS or MQTT, the control plane's CreateJob, CancelJob,
... included) each thing's pending list and next execution are compared with what was last published:
`notify` when the pending list changed, `notify-next` when the next execution is another one (AWS does not
send it when only the next execution's details change).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from urllib.parse import quote, urlencode

from jobs_connector.mqtt.connection import send_at_once
from jobs_connector.mqtt.topics import HTTP_AS_REJECTED, NOTIFY, NOTIFY_NEXT, OPERATIONS, jobs_topic, parse_jobs_topic
from jobs_connector.sandbox import iot_jobs_data
from jobs_connector.sandbox.wire import ApiError, Request

log = logging.getLogger("jobs_connector.sandbox")
SERVICE_CLIENT_ID = "jobs-connector-sandbox-iot-jobs"
REQUEST_FILTERS = ("$aws/things/+/jobs/get", "$aws/things/+/jobs/start-next", "$aws/things/+/jobs/+/get",
                   "$aws/things/+/jobs/+/update")
API_NAMES = {"get": "GetPendingJobExecutions", "start-next": "StartNextPendingJobExecution"}


def _millis(now: float) -> int:
    return int(now * 1000)


def http_request_for(thing: str, api: str, payload: dict) -> Request | None:
    """The HTTPS request an MQTT request stands for; None for a topic that maps to no API (InvalidTopic)."""
    base = f"/things/{quote(thing, safe='')}/jobs"
    if api == "get":
        return Request("GET", base, "", {}, b"")
    members = {k: v for k, v in payload.items() if k != "clientToken"}
    if api == "start-next":
        return Request("PUT", f"{base}/$next", "", {}, json.dumps(members).encode())
    job_id, sep, verb = api.rpartition("/")
    if not sep or not job_id or "/" in job_id:
        return None
    path = f"{base}/{quote(job_id, safe='$')}"
    if verb == "get":
        query = {k: json.dumps(v) if isinstance(v, bool) else str(v)
                 for k, v in members.items() if k in OPERATIONS["DescribeJobExecution"].payload}
        return Request("GET", path, urlencode(query), {}, b"")
    if verb == "update":
        return Request("POST", path, "", {}, json.dumps(members).encode())
    return None


def _objects(answer: dict) -> dict:
    """Job documents travel as JSON objects over MQTT (text over HTTPS)."""
    def parsed(text):
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            return text

    out = dict(answer)
    if isinstance(out.get("jobDocument"), str):
        out["jobDocument"] = parsed(out["jobDocument"])
    if isinstance(out.get("execution"), dict) and isinstance(out["execution"].get("jobDocument"), str):
        out["execution"] = {**out["execution"], "jobDocument": parsed(out["execution"]["jobDocument"])}
    return out


def rejected_payload(error: ApiError) -> dict:
    code = HTTP_AS_REJECTED.get(error.code, "InvalidRequest")
    if error.code == "InvalidStateTransitionException" and error.message.startswith("VersionMismatch"):
        code = "VersionMismatch"
    out = {"code": code, "message": error.message}
    if "executionState" in error.extra:
        out["executionState"] = error.extra["executionState"]
    return out


def _summary_lists(pending: list[dict]) -> dict:
    jobs: dict[str, list] = {}
    for execution in pending:
        jobs.setdefault(execution["status"], []).append(iot_jobs_data._summary(execution))
    return jobs


class IotJobsMqtt:
    """The sandbox's IoT Jobs service on its broker: answers requests, publishes notifications."""

    def __init__(self, sandbox, broker_port: int):
        import paho.mqtt.client as mqtt

        self.sandbox = sandbox
        self.published: dict[str, tuple] = {}  # thing -> (pending list identity, next identity)
        self.requests = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=SERVICE_CLIENT_ID, clean_session=True)
        self.client.reconnect_delay_set(0.05, 1)  # the broker restarts in tests: back quickly
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self._ready.clear()
        self.client.on_message = self._on_message
        self.client.on_socket_open = send_at_once
        self.client.connect("127.0.0.1", broker_port)
        self.client.loop_start()
        if not self._ready.wait(10):
            self.close()
            raise RuntimeError(f"the sandbox's IoT Jobs service could not connect to its broker (port {broker_port})")

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        client.subscribe([(topic, 1) for topic in REQUEST_FILTERS])
        self._ready.set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # -- requests ---------------------------------------------------------------------------------

    def _on_message(self, client, userdata, message):
        parsed = parse_jobs_topic(message.topic)
        if parsed is None:
            return
        thing, api = parsed
        try:
            self._answer(thing, api, message.payload)
        except Exception:  # a sandbox bug: keep serving; the client's bounded wait reports it
            log.exception("sandbox MQTT: the request on %s failed", message.topic)

    def _answer(self, thing: str, api: str, raw: bytes) -> None:
        store, now = self.sandbox.store, self.sandbox.clock()
        topic = jobs_topic(thing, api)
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return self._reply(topic, "rejected", {"code": "InvalidJson", "message": "the payload is not JSON"}, None,
                               now)
        if not isinstance(payload, dict):
            return self._reply(topic, "rejected", {"code": "InvalidJson", "message": "the payload is not an object"},
                               None, now)
        token = payload.get("clientToken")
        request = http_request_for(thing, api, payload)
        if request is None:
            return self._reply(topic, "rejected", {"code": "InvalidTopic",
                                                   "message": f"{topic} maps to no IoT Jobs API"}, token, now)
        with store.lock:
            self.requests += 1
            try:
                reply = iot_jobs_data.handle(request, store.data[iot_jobs_data.NAME], now)
                outcome, body = "accepted", _objects(reply.body or {})
            except ApiError as error:
                outcome, body = "rejected", rejected_payload(error)
            store.save_if_changed()
        if self.sandbox.log:
            self.sandbox.log(f"MQTT {topic} -> {outcome}{'' if outcome == 'accepted' else ' ' + body['code']}")
        self._reply(topic, outcome, body, token, now)
        self.notify_changes()

    def _reply(self, topic: str, outcome: str, body: dict, token, now: float) -> None:
        out = {**body, "timestamp": _millis(now) // 1000}
        if isinstance(token, str):
            out["clientToken"] = token
        self.client.publish(f"{topic}/{outcome}", json.dumps(out), qos=1)

    # -- notifications ----------------------------------------------------------------------------

    def notify_changes(self) -> int:
        """Publish notify / notify-next for each thing whose pending list or next execution changed."""
        store, now = self.sandbox.store, self.sandbox.clock()
        messages = []
        with store.lock, self._lock:
            state = store.data[iot_jobs_data.NAME]
            iot_jobs_data._expire_steps(state, now)
            for thing in state["things"]:
                pending = iot_jobs_data._pending(state, thing)
                listed = tuple((e["jobId"], e["executionNumber"], e["status"]) for e in pending)
                following = (pending[0]["jobId"], pending[0]["executionNumber"]) if pending else None
                before = self.published.get(thing, ((), None))
                if listed != before[0]:
                    messages.append((jobs_topic(thing, NOTIFY), {"timestamp": int(now),
                                                                  "jobs": _summary_lists(pending)}))
                if following != before[1]:
                    body = {"timestamp": int(now)}
                    if pending:
                        view = iot_jobs_data._view(state, pending[0], now, include_document=True)
                        body["execution"] = _objects({"execution": view})["execution"]
                    messages.append((jobs_topic(thing, NOTIFY_NEXT), body))
                self.published[thing] = (listed, following)
        for topic, body in messages:
            self.client.publish(topic, json.dumps(body), qos=1)
        return len(messages)

    def prime(self) -> None:
        """What is pending now counts as told: a sandbox that starts publishes only later changes."""
        store = self.sandbox.store
        with store.lock, self._lock:
            state = store.data[iot_jobs_data.NAME]
            for thing in state["things"]:
                pending = iot_jobs_data._pending(state, thing)
                self.published[thing] = (tuple((e["jobId"], e["executionNumber"], e["status"]) for e in pending),
                                         (pending[0]["jobId"], pending[0]["executionNumber"]) if pending else None)


def wait_until(predicate, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
