"""Helpers for the IoT Jobs over MQTT tests: a sandbox with its MQTT side (a real mosquitto on a free port,
always stopped), the client environment pointing at both, and a raw paho listener to see what crosses the
broker."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time

import pytest

from tests.support.sandbox import running_sandbox

needs_mosquitto = pytest.mark.skipif(shutil.which("mosquitto") is None and shutil.which("/usr/sbin/mosquitto") is None,
                                     reason="mosquitto is not installed (apt-get install mosquitto; .ci/run does)")


@contextlib.contextmanager
def mqtt_sandbox(monkeypatch, websocket: bool = False, mutual_tls=None, **kwargs):
    from jobs_connector.sandbox.mqtt_broker import free_port
    from jobs_connector.sandbox.mqtt_side import enable_mqtt

    with running_sandbox(monkeypatch, **kwargs) as sandbox:
        enable_mqtt(sandbox, websocket_port=free_port() if websocket else None, mutual_tls=mutual_tls)
        monkeypatch.setenv("AWS_IOT_MQTT_ENDPOINT", sandbox.mqtt.url)
        yield sandbox


class Tap:
    """A raw paho client subscribed to a topic filter: every message that crosses the broker there."""

    def __init__(self, port: int, topic_filter: str):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict]] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tap-{time.monotonic_ns()}")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic_filter, 1)
        assert self._subscribed.wait(5), "the tap's subscription was not confirmed"

    def on(self, topic: str) -> list[dict]:
        return [payload for t, payload in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
