"""The sandbox's MQTT side, started on demand (`jobs-connector sandbox --mqtt`, or `enable_mqtt` in a test):
the broker (mqtt_broker.py) and the IoT Jobs service on it (iot_mqtt.py), notified after every request the
sandbox answers over HTTPS so that control-plane changes reach devices as notifications."""

from __future__ import annotations

from jobs_connector.sandbox.mqtt_broker import MosquittoBroker


class MqttSide:
    def __init__(self, sandbox, port: int = 0, websocket_port: int | None = None, mutual_tls=None):
        try:
            import paho.mqtt.client  # noqa: F401 - the service's client
        except ModuleNotFoundError as exc:
            from jobs_connector.base.errors import ConfigurationError
            from jobs_connector.base.extras import missing_extra

            raise ConfigurationError(missing_extra(exc, "the sandbox's MQTT side") or str(exc), field="mqtt",
                                     rule="extra") from None
        from jobs_connector.sandbox.iot_mqtt import IotJobsMqtt

        self.sandbox = sandbox
        self.broker = MosquittoBroker(port, websocket_port, mutual_tls).start()
        try:
            self.service = IotJobsMqtt(sandbox, self.broker.port)
        except Exception:
            self.broker.close()
            raise
        self.service.prime()
        sandbox.after_request.append(self.service.notify_changes)

    @property
    def url(self) -> str:
        return self.broker.url

    def restart_broker(self, timeout: float = 10.0) -> None:
        """Stop and start the broker (same port, persisted sessions); back when the service is subscribed."""
        self.broker.restart()
        if not self.service.wait_ready(timeout):
            raise RuntimeError("the sandbox's IoT Jobs service did not reconnect to the restarted broker")

    def stop(self) -> None:
        if self.service.notify_changes in self.sandbox.after_request:
            self.sandbox.after_request.remove(self.service.notify_changes)
        self.service.close()
        self.broker.close()


def enable_mqtt(sandbox, port: int = 0, websocket_port: int | None = None, mutual_tls=None) -> MqttSide:
    sandbox.mqtt = MqttSide(sandbox, port, websocket_port, mutual_tls)
    return sandbox.mqtt
