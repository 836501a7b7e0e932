"""The IoT Jobs data-plane actions over MQTT: the runtime's hook for `transport: mqtt`.

The input was validated against the action's schema before this is reached (as over HTTPS); then the request is
published once to its reserved topic and the answer awaited (bounded by mqttTimeout). What can happen:
- `accepted`: the HTTPS API's answer (topics.answer_body), drift from the output schema a warning;
- `rejected`: the typed error the HTTPS API's error would be (topics.rejected_error);
- no answer in time: for a read (GetPendingJobExecutions, DescribeJobExecution) a retryable NetworkError; for
  StartNextPendingJobExecution and UpdateJobExecution the outcome is unknown and nothing is sent again. Those
  two are published at QoS 0 for the same reason: a QoS 1 publish that loses its PUBACK is sent again by the
  client library itself when it reconnects.
Connections are kept per runtime (one per broker, credentials and client id), so a process that calls often
or holds a push trigger connects once.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping

from jobs_connector.auth import chain
from jobs_connector.auth.endpoints import resolve_region
from jobs_connector.base.errors import ConfigurationError, NetworkError, OutcomeUnknown
from jobs_connector.mqtt.connection import MqttConnection
from jobs_connector.mqtt.settings import MqttSettings, mqtt_settings
from jobs_connector.mqtt.topics import OPERATIONS, Operation, answer_body, check_topic_level, rejected_error


class MqttPool:
    """The MQTT connections of one runtime, made on first use and kept (paho reconnects them)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._connections: dict[tuple, MqttConnection] = {}

    def connection(self, settings: MqttSettings, client_id: str, credentials: Callable | None,
                   region: str | None) -> MqttConnection:
        key = (*settings.key, client_id)
        with self._lock:
            connection = self._connections.get(key)
            if connection is None:
                connection = MqttConnection(settings, client_id, credentials=credentials, region=region).connect()
                self._connections[key] = connection
        return connection

    def __len__(self) -> int:
        return len(self._connections)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()


def pool_of(runtime) -> MqttPool:
    pool = getattr(runtime, "mqtt_pool", None)
    if pool is None:
        pool = runtime.mqtt_pool = MqttPool()
    return pool


def client_id_for(settings: MqttSettings, things: list[str]) -> str:
    """The configured client id; else the thing's name (what AWS IoT policies usually allow), or for several
    things one id made from their names (stable, so the persistent session is found again)."""
    if settings.client_id:
        return settings.client_id
    if len(things) == 1:
        return things[0]
    return "jobs-connector-" + hashlib.sha256("\n".join(sorted(things)).encode()).hexdigest()[:16]


def operation_of(action) -> Operation:
    operation = OPERATIONS.get(action.operation)
    if operation is None:
        raise ConfigurationError(f"{action.key} has no MQTT API; use transport https for it (the MQTT API has "
                                 f"{', '.join(OPERATIONS)})", field="transport", rule="mqtt-operation")
    return operation


def connect(runtime, cfg: Mapping, things: list[str], redactor=None) -> MqttConnection:
    settings = mqtt_settings(cfg, runtime.environ)
    credentials = region = None
    if settings.auth == "sigv4":
        def credentials():
            aws = chain.resolve_aws_credentials(cfg, runtime.environ, runtime.credential_cache)
            if redactor is not None:
                redactor.add(*aws.secrets())
            return aws

        credentials()  # resolved now, so missing credentials are a clear error before connecting
        region = resolve_region(cfg, runtime.environ)
    return pool_of(runtime).connection(settings, client_id_for(settings, things), credentials, region)


def request_for(action, body: dict) -> tuple[Operation, str, dict]:
    operation = operation_of(action)
    check_topic_level("thingName", body["thingName"])
    if "jobId" in body:
        check_topic_level("jobId", body["jobId"])
    return operation, operation.request_topic(body), operation.request_payload(body, str(uuid.uuid4()))


def call(runtime, action, body: dict, cfg: Mapping, redactor) -> dict:
    """One operation over MQTT: the answer as the HTTPS API gives it, or a typed error."""
    operation, topic, payload = request_for(action, body)
    connection = connect(runtime, cfg, [body["thingName"]], redactor)
    try:
        outcome, answer = connection.request(topic, payload, qos=1 if operation.idempotent else 0)
    except TimeoutError:
        waited = connection.settings.timeout
        if operation.idempotent:
            raise NetworkError(f"no answer on {topic}/accepted or /rejected within {waited:g}s",
                               code="read-timeout") from None
        error = OutcomeUnknown(f"the request may have been carried out: it was published to {topic}, then no "
                               f"answer came within {waited:g}s; it was not sent again", code="no-answer")
        error.attempts = 1
        raise error from None
    if outcome == "rejected":
        error = rejected_error(operation, answer)
        error.attempts = 1
        raise error
    return answer_body(answer)


def dry_run(action, body: dict, cfg: Mapping, environ: Mapping) -> dict:
    """What would be published (nothing is connected or sent)."""
    settings = mqtt_settings(cfg, environ)
    operation, topic, payload = request_for(action, body)
    return {"transport": "mqtt", "broker": f"{settings.host}:{settings.port}", "topic": topic,
            "qos": 1 if operation.idempotent else 0, "payload": payload,
            "answers": [f"{topic}/accepted", f"{topic}/rejected"]}


def run(runtime, action, body: dict, cfg: Mapping, redactor, warn=None, log=None) -> dict:
    """The runtime's `call` for MQTT: the answer, its secrets known to the redactor, its drift a warning."""
    from jobs_connector.base.redact import secret_values
    from jobs_connector.component.answers import point_to_check, warn_of_drift

    try:
        page = call(runtime, action, body, cfg, redactor)
    except OutcomeUnknown as exc:
        point_to_check(action, exc)
        raise
    redactor.add(*secret_values(page, action.out_schema))
    warn_of_drift(action, page, True, redactor, warn or log.warning)
    return page
