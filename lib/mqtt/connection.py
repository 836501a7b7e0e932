"""One MQTT connection to AWS IoT Core (or the sandbox's broker) with paho-mqtt: connect with a bounded wait,
subscribe and wait for the broker's SUBACK, publish a request and wait for the answer that carries its
clientToken, and hand every other message (notifications) to the listeners of its topic.

paho reconnects on its own after a connection is lost (backoff from 1 s to 30 s); the session is persistent
(clean_session false, QoS 1 subscriptions), so the broker keeps what was published for us meanwhile, and each
(re)connect calls the `on_connect` hooks, which is where a trigger catches up with what it may have missed.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import uuid
from collections.abc import Callable

from jobs_connector.base.errors import AuthError, NetworkError
from jobs_connector.base.limits import MAX_DOCUMENT_BYTES
from jobs_connector.mqtt.presign import presigned_path
from jobs_connector.mqtt.settings import MqttSettings

log = logging.getLogger("jobs_connector.mqtt")
KEEPALIVE_SECONDS = 60
RECONNECT_DELAY = (1, 30)
# ALPN for mutual TLS on port 443 (AWS IoT Core: "x-amzn-mqtt-ca"); port 8883 needs none.
MTLS_443_ALPN = "x-amzn-mqtt-ca"


def _paho():
    try:
        import paho.mqtt.client as mqtt
    except ModuleNotFoundError as exc:
        from jobs_connector.base.errors import ConfigurationError
        from jobs_connector.base.extras import missing_extra

        raise ConfigurationError(missing_extra(exc, "transport mqtt") or str(exc), field="transport",
                                 rule="extra") from None
    return mqtt


class _Waiter:
    __slots__ = ("event", "outcome", "payload")

    def __init__(self):
        self.event = threading.Event()
        self.outcome: str | None = None  # "accepted" | "rejected"
        self.payload: dict = {}


def send_at_once(client, userdata, sock) -> None:
    """paho's socket hook: MQTT's small packets leave at once. With Nagle's algorithm a second small write
    waits for the peer's delayed ACK (40 ms on Linux): every request/answer round trip cost 44 to 89 ms."""
    raw = getattr(sock, "_socket", sock)  # paho's WebSocket wrapper holds the TCP socket there
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a TCP socket: nothing to tune
        pass


class MqttConnection:
    def __init__(self, settings: MqttSettings, client_id: str, *, credentials: Callable | None = None,
                 region: str | None = None):
        self.settings, self.client_id = settings, client_id
        self.credentials, self.region = credentials, region  # SigV4 over WebSocket: signed afresh per connect
        self._lock = threading.Lock()
        self._waiters: dict[str, _Waiter] = {}
        self._acks: dict[int, threading.Event] = {}
        self._subscribed: set[str] = set()
        self._listeners: dict[str, list[Callable[[str, dict], None]]] = {}
        self._connect_hooks: list[Callable[[bool], None]] = []
        self._connected = threading.Event()
        self._connack: object = None
        self._answered = threading.Event()  # a CONNACK came, or the broker closed the connection before one
        self._closed_before_connack = False
        self.connects = 0  # how many times a CONNACK accepted us (1 + reconnects)
        self._client = None

    # -- life cycle -------------------------------------------------------------------------------

    def _new_client(self):
        mqtt = _paho()
        websockets = self.settings.websockets
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False,
                             protocol=mqtt.MQTTv311, transport="websockets" if websockets else "tcp",
                             reconnect_on_failure=True)
        client.connect_timeout = self.settings.timeout
        client.reconnect_delay_set(*RECONNECT_DELAY)
        client.max_inflight_messages_set(20)
        if self.settings.auth != "none":
            context = ssl.create_default_context(cafile=self.settings.ca_file)
            if self.settings.certificate:
                context.load_cert_chain(self.settings.certificate, self.settings.private_key)
                if self.settings.port == 443:
                    context.set_alpn_protocols([MTLS_443_ALPN])
            client.tls_set_context(context)
        if websockets:
            self._sign(client)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_socket_open = send_at_once
        client.on_message, client.on_subscribe, client.on_publish = self._on_message, self._on_ack, self._on_ack_pub
        return client

    def _sign(self, client) -> None:
        path = self.settings.path
        if self.settings.auth == "sigv4":
            path = presigned_path(self.credentials(), self.settings.host, self.region)
        client.ws_set_options(path=path)

    def connect(self) -> MqttConnection:
        """Connect and wait (bounded) for the broker to accept us; NetworkError / AuthError otherwise."""
        client = self._client = self._new_client()
        where = f"{self.settings.host}:{self.settings.port}"
        try:
            client.connect(self.settings.host, self.settings.port, keepalive=KEEPALIVE_SECONDS)
        except ssl.SSLError as exc:
            error = NetworkError(f"the TLS handshake with the MQTT broker failed ({where}: {exc.reason})",
                                 code="tls")
            error.retryable = False
            raise error from None
        except ConnectionRefusedError:
            raise NetworkError(f"the MQTT broker refused the connection ({where})", code="refused") from None
        except TimeoutError:
            raise NetworkError(f"connecting to the MQTT broker timed out ({where})", code="connect-timeout") from None
        except OSError as exc:
            raise NetworkError(f"cannot reach the MQTT broker ({where}: {exc.strerror or exc})", code="dns") from None
        client.loop_start()
        self._answered.wait(self.settings.timeout)
        if not self._connected.is_set():
            self.close()
            if self._closed_before_connack and self.settings.auth == "certificate":
                # With TLS 1.3 a broker refuses a client certificate after the handshake: it closes the connection.
                error = NetworkError(f"the MQTT broker closed the TLS connection before accepting it ({where}): it "
                                     "did not accept the device certificate; check certificateFile and privateKeyFile "
                                     "and that the certificate is registered and active", code="tls")
                error.retryable = False
                raise error
            if self._connack is not None:
                raise AuthError(f"the MQTT broker refused the connection: {self._connack} ({where}, client id "
                                f"{self.client_id})", code="ConnectionRefused")
            raise NetworkError(f"the MQTT broker did not accept the connection within {self.settings.timeout:g}s "
                               f"({where})", code="connect-timeout")
        return self

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- paho's callbacks (its network thread) ----------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self._connack = str(reason_code)
            self._answered.set()
            return
        with self._lock:
            self.connects += 1
            again = self.connects > 1
            topics = sorted(self._subscribed)
            hooks = list(self._connect_hooks)
        if again and topics and not flags.session_present:
            client.subscribe([(topic, 1) for topic in topics])  # a lost session: subscribe again
        self._connected.set()
        self._answered.set()
        for hook in hooks:
            hook(again)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        if not self._connected.is_set() and not self._answered.is_set():
            self._closed_before_connack = True
            self._answered.set()
        self._connected.clear()
        if self.settings.auth == "sigv4" and self._client is not None:
            try:
                self._sign(client)  # the next reconnect opens a freshly signed URL
            except Exception as exc:  # noqa: BLE001 - credentials that cannot renew: paho keeps trying
                log.warning("MQTT: cannot sign the WebSocket URL again (%s)", type(exc).__name__)

    def _on_ack(self, client, userdata, mid, *rest):
        with self._lock:
            event = self._acks.pop(mid, None)
        if event:
            event.set()

    _on_ack_pub = _on_ack

    def _on_message(self, client, userdata, message):
        topic = message.topic
        if len(message.payload) > MAX_DOCUMENT_BYTES:
            log.warning("MQTT: a message on %s is larger than the %d-byte bound; dropped", topic, MAX_DOCUMENT_BYTES)
            return
        try:
            payload = json.loads(message.payload)
        except (ValueError, RecursionError):
            payload = None
        if not isinstance(payload, dict):
            log.warning("MQTT: a message on %s is not a JSON object; dropped", topic)
            return
        kind = topic.rsplit("/", 1)[-1]
        if kind in ("accepted", "rejected"):
            token = payload.get("clientToken")
            with self._lock:
                waiter = self._waiters.pop(token, None) if isinstance(token, str) else None
            if waiter is not None:
                waiter.outcome, waiter.payload = kind, payload
                waiter.event.set()
                return
        with self._lock:
            listeners = list(self._listeners.get(topic, ()))
        for listener in listeners:
            listener(topic, payload)

    # -- what callers use -------------------------------------------------------------------------

    def on_connect(self, hook: Callable[[bool], None]) -> None:
        """hook(reconnected) after every CONNACK that accepted us (paho's thread: the hook must not block)."""
        with self._lock:
            self._connect_hooks.append(hook)

    def listen(self, topic: str, listener: Callable[[str, dict], None]) -> None:
        with self._lock:
            self._listeners.setdefault(topic, []).append(listener)

    def unlisten(self, topic: str, listener) -> None:
        with self._lock:
            if listener in self._listeners.get(topic, []):
                self._listeners[topic].remove(listener)

    def subscribe(self, topics: list[str]) -> None:
        """Subscribe (QoS 1) to the topics not subscribed yet, and wait for the broker's SUBACK."""
        mqtt = _paho()
        with self._lock:
            new = [t for t in topics if t not in self._subscribed]
        if not new:
            return
        event = threading.Event()
        with self._lock:
            rc, mid = self._client.subscribe([(topic, 1) for topic in new])
            if rc == mqtt.MQTT_ERR_SUCCESS:
                self._acks[mid] = event
        if rc != mqtt.MQTT_ERR_SUCCESS or not event.wait(self.settings.timeout):
            raise NetworkError(f"the MQTT broker did not confirm the subscription within {self.settings.timeout:g}s",
                               code="read-timeout")
        with self._lock:
            self._subscribed.update(new)

    def request(self, topic: str, payload: dict, *, qos: int) -> tuple[str, dict]:
        """Publish a request and wait for its answer on `<topic>/accepted` or `/rejected` (subscribed first).
        Returns ("accepted" or "rejected", payload). Raises NetworkError when it was never sent (`sent` False),
        and TimeoutError when it was sent and no answer came in time: the caller decides what that means."""
        mqtt = _paho()
        self.subscribe([f"{topic}/accepted", f"{topic}/rejected"])
        token = payload.get("clientToken") or str(uuid.uuid4())
        payload = {**payload, "clientToken": token}
        waiter = _Waiter()
        with self._lock:
            self._waiters[token] = waiter
        try:
            info = self._client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=qos)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                error = NetworkError("the MQTT connection is down; the request was not sent", code="refused")
                error.sent = False
                raise error
            if not waiter.event.wait(self.settings.timeout):
                raise TimeoutError(self.settings.timeout)
        finally:
            with self._lock:
                self._waiters.pop(token, None)
        return waiter.outcome, waiter.payload

    def publish(self, topic: str, payload: dict, qos: int = 1) -> None:
        self._client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=qos)
