"""Fixtures for the integration-platform runner: a private RabbitMQ node shared by the session, and a
`Platform` per test with its own exchange and queues, laid out as the platform lays out a step's."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass

import pika
import pytest

from jobs_connector.sailor.crypto import MessageCipher
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION
from tests.support import rabbitmq
from tests.support.object_store import FakeObjectStore

CRYPTO_PASSWORD = "test-crypto-password-not-real"
CRYPTO_IV = "iv=any16_symbols"  # 16 bytes
FUNCTION = "iot-jobs-data.GetPendingJobExecutions"


@pytest.fixture(scope="session")
def rabbit():
    if not rabbitmq.available():
        message = "rabbitmq-server is not installed (.ci/run installs it: apt-get install rabbitmq-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    node = rabbitmq.RabbitNode().start()
    try:
        yield node
    finally:
        node.stop()


@dataclass
class Delivered:
    headers: dict
    properties: pika.BasicProperties
    body: bytes
    value: object  # the decrypted / decoded content
    redelivered: bool = False


class Platform:
    """One step's queues and exchange on the test broker, and the platform's side of the protocol."""

    KINDS = ("data", "error", "rebound", "snapshot")

    def __init__(self, url: str, rebound_loop: bool = False):
        self.url = url
        self.cipher = MessageCipher(CRYPTO_PASSWORD, CRYPTO_IV)
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        sfx = uuid.uuid4().hex[:10]
        self.exchange = f"jc-out-{sfx}"
        self.input = f"jc-in-{sfx}"
        self.dead = f"jc-dead-{sfx}"  # rejected input messages end here
        self.keys = {kind: f"{kind}.{sfx}" for kind in self.KINDS}
        self.queues = {kind: f"jc-{kind}-{sfx}" for kind in self.KINDS}
        ch = self.channel
        ch.exchange_declare(self.exchange, "direct")
        ch.queue_declare(self.dead)
        ch.queue_declare(self.input, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dead})
        for kind in self.KINDS:
            args = None
            if kind == "rebound" and rebound_loop:
                # As the platform: a rebound waits out its expiration, then goes back to the step's queue.
                args = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.input}
            ch.queue_declare(self.queues[kind], arguments=args)
            ch.queue_bind(self.queues[kind], self.exchange, self.keys[kind])

    def env(self, api_uri: str = "http://127.0.0.1:9", **extra) -> dict:
        return {
            "ELASTICIO_FLOW_ID": "flow-1", "ELASTICIO_EXEC_ID": "exec-1", "ELASTICIO_STEP_ID": "step_2",
            "ELASTICIO_CONTAINER_ID": "container-1", "ELASTICIO_WORKSPACE_ID": "workspace-1",
            "ELASTICIO_USER_ID": "user-1", "ELASTICIO_COMP_ID": "comp-1", "ELASTICIO_FUNCTION": FUNCTION,
            "ELASTICIO_API_URI": api_uri, "ELASTICIO_API_USERNAME": "api-user@example.com",
            "ELASTICIO_API_KEY": "test-api-key-not-real",
            "ELASTICIO_AMQP_URI": self.url, "ELASTICIO_LISTEN_MESSAGES_ON": self.input,
            "ELASTICIO_PUBLISH_MESSAGES_TO": self.exchange,
            "ELASTICIO_DATA_ROUTING_KEY": self.keys["data"], "ELASTICIO_ERROR_ROUTING_KEY": self.keys["error"],
            "ELASTICIO_REBOUND_ROUTING_KEY": self.keys["rebound"],
            "ELASTICIO_SNAPSHOT_ROUTING_KEY": self.keys["snapshot"],
            "ELASTICIO_MESSAGE_CRYPTO_PASSWORD": CRYPTO_PASSWORD, "ELASTICIO_MESSAGE_CRYPTO_IV": CRYPTO_IV,
            "ELASTICIO_AMQP_RECONNECT_ATTEMPTS": "0",
            **extra,
        }

    def send(self, payload: dict, headers: dict | None = None, protocol: int = 1, raw: bytes | None = None) -> str:
        message_id = str(uuid.uuid4())
        headers = {"messageId": message_id, "threadId": "thread-1", "stepId": "step_1", "execId": "exec-1",
                   **({"protocolVersion": protocol} if protocol != 1 else {}), **(headers or {})}
        body = raw if raw is not None else self.cipher.encode(payload, protocol)
        self.channel.basic_publish("", self.input, body, pika.BasicProperties(
            headers=headers, content_type="application/json", content_encoding="utf8", delivery_mode=2))
        return message_id

    def _decode(self, kind: str, body: bytes, headers: dict):
        if kind == "data":
            return self.cipher.decode(body, int(headers.get("protocolVersion") or 1))
        if kind == "error":
            payload = json.loads(body)
            payload["error"] = self.cipher.decode(payload["error"].encode(), 1)
            if "errorInput" in payload:
                payload["errorInput"] = self.cipher.decode(payload["errorInput"].encode(), 1)
            return payload
        if kind == "snapshot":
            return json.loads(body)
        return self.cipher.decode(body, int(headers.get("protocolVersion") or 1))  # a rebound: the input as it was

    def take(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[Delivered]:
        """Exactly `count` messages from one output (or the dead-letter / input queue), waiting for them."""
        queue = {"dead": self.dead, "input": self.input}.get(kind) or self.queues[kind]
        got: list[Delivered] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            method, props, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
                continue
            headers = dict(props.headers or {})
            decoded_kind = "data" if kind in ("dead", "input") else kind
            got.append(Delivered(headers, props, body, self._decode(decoded_kind, body, headers), method.redelivered))
        assert len(got) == count, f"expected {count} message(s) on {kind}, got {len(got)}"
        return got

    def ready(self, kind: str) -> int:
        queue = {"dead": self.dead, "input": self.input}.get(kind) or self.queues[kind]
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def close(self) -> None:
        try:
            for queue in (self.input, self.dead, *self.queues.values()):
                self.channel.queue_delete(queue)
            self.channel.exchange_delete(self.exchange)
            self.connection.close()
        except pika.exceptions.AMQPError:
            pass


@pytest.fixture
def platform(rabbit):
    p = Platform(rabbit.url)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def looping_platform(rabbit):
    p = Platform(rabbit.url, rebound_loop=True)
    try:
        yield p
    finally:
        p.close()


def step_config(endpoint: str) -> dict:
    return {"accessKeyId": FAKE_ACCESS_KEY, "secretAccessKey": FAKE_SECRET_KEY, "region": REGION,
            "endpoint": endpoint}


@pytest.fixture
def store():
    """A loopback object store (lightweight messages' bodies)."""
    fake = FakeObjectStore(MessageCipher(CRYPTO_PASSWORD, CRYPTO_IV))
    fake.server.start()
    try:
        yield fake
    finally:
        fake.server.stop()
