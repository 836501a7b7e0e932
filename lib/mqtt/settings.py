"""Where and how the MQTT transport connects, read from the step's config (else the environment):

- `transport`: "mqtt" sends the IoT Jobs data-plane actions over MQTT ("https", the default, over HTTPS);
- `mqttEndpoint` (else AWS_IOT_MQTT_ENDPOINT): the account's `iot:Data-ATS` endpoint, as `host`, `host:port`,
  `mqtts://host:8883` (X.509 device certificate), `wss://host/mqtt` (SigV4 over WebSocket, port 443), or
  `mqtt://127.0.0.1:1883` or `ws://127.0.0.1:9001/mqtt` (no TLS: loopback only, for the sandbox and tests);
- `certificateFile`, `privateKeyFile` (PEM files; mutual TLS) and `caFile` (else the system's CAs);
- `mqttClientId`: the MQTT client id (AWS IoT policies often require the thing name);
- `mqttTimeout`: seconds to wait for a connection or an answer (default 10, 1 to 120).

Nothing is connected here: a bad setting is a ConfigurationError naming the field, before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from jobs_connector.auth.endpoints import is_loopback
from jobs_connector.base.errors import ConfigurationError
from jobs_connector.base.record import Frozen

ENDPOINT_ENV = "AWS_IOT_MQTT_ENDPOINT"
# The config fields read here (component.json's credentials form has each).
CONFIG_FIELDS = ("transport", "mqttEndpoint", "certificateFile", "privateKeyFile", "caFile", "mqttClientId",
                 "mqttTimeout")
TRANSPORTS = ("https", "mqtt")
DEFAULT_TIMEOUT = 10.0
TIMEOUT_RANGE = (1.0, 120.0)
# scheme: (auth, default port, over WebSocket); mqtt:// and ws:// (no TLS) are for loopback addresses only.
SCHEMES = {"mqtts": ("certificate", 8883, False), "wss": ("sigv4", 443, True), "mqtt": ("none", 1883, False),
           "ws": ("none", 80, True)}


def wants_mqtt(cfg: Mapping) -> bool:
    transport = cfg.get("transport") or "https"
    if transport not in TRANSPORTS:
        raise ConfigurationError(f"config field 'transport' must be one of {', '.join(TRANSPORTS)}, not "
                                 f"'{transport}'", field="transport", rule="enum")
    return transport == "mqtt"


class MqttSettings(Frozen):
    __slots__ = _fields = ("host", "port", "auth", "websockets", "path", "certificate", "private_key", "ca_file",
                           "client_id", "timeout")

    def __init__(self, host: str, port: int, auth: str, websockets: bool = False, path: str = "/mqtt",
                 certificate: str | None = None, private_key: str | None = None, ca_file: str | None = None,
                 client_id: str | None = None, timeout: float = DEFAULT_TIMEOUT):
        self._set(host=host, port=port, auth=auth, websockets=websockets, path=path, certificate=certificate,
                  private_key=private_key, ca_file=ca_file, client_id=client_id, timeout=timeout)

    @property
    def key(self) -> tuple:
        """What makes two connections the same one (the client id aside)."""
        return (self.host, self.port, self.auth, self.websockets, self.path, self.certificate, self.private_key,
                self.ca_file)


def _text(cfg: Mapping, name: str) -> str | None:
    value = cfg.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"config field '{name}' must be text", field=name, rule="type")
    return value.strip()


def _file(cfg: Mapping, name: str) -> str | None:
    path = _text(cfg, name)
    if path is not None and not os.path.isfile(path):
        raise ConfigurationError(f"config field '{name}' names a file that does not exist", field=name, rule="file")
    return path


def mqtt_settings(cfg: Mapping, environ: Mapping = os.environ) -> MqttSettings:
    raw = _text(cfg, "mqttEndpoint") or (environ.get(ENDPOINT_ENV) or "").strip() or None
    if raw is None:
        raise ConfigurationError(
            f"transport mqtt needs the broker: config field 'mqttEndpoint' or {ENDPOINT_ENV} (your account's "
            "endpoint: aws iot describe-endpoint --endpoint-type iot:Data-ATS)", field="mqttEndpoint",
            rule="required")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in raw):
        raise ConfigurationError("config field 'mqttEndpoint' contains spaces or control characters",
                                 field="mqttEndpoint", rule="url")
    parts = urlsplit(raw if "://" in raw else f"mqtts://{raw}")
    if parts.scheme not in SCHEMES:
        raise ConfigurationError(f"config field 'mqttEndpoint' must start with {', '.join(s + '://' for s in SCHEMES)}"
                                 f" (or be a host name)", field="mqttEndpoint", rule="url")
    if parts.username or parts.password:
        raise ConfigurationError("config field 'mqttEndpoint' must not hold credentials", field="mqttEndpoint",
                                 rule="url")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigurationError("config field 'mqttEndpoint' has a port that is not a number", field="mqttEndpoint",
                                 rule="url") from None
    if not host:
        raise ConfigurationError("config field 'mqttEndpoint' has no host", field="mqttEndpoint", rule="url")
    auth, default_port, websockets = SCHEMES[parts.scheme]
    certificate, private_key = _file(cfg, "certificateFile"), _file(cfg, "privateKeyFile")
    if bool(certificate) != bool(private_key):
        field = "privateKeyFile" if certificate else "certificateFile"
        raise ConfigurationError(f"a device certificate needs both 'certificateFile' and 'privateKeyFile' "
                                 f"(missing: {field})", field=field, rule="required")
    if auth == "none" and not is_loopback(host):
        raise ConfigurationError("plain mqtt:// or ws:// (no TLS) is for loopback addresses only (the sandbox); use "
                                 "mqtts:// with a device certificate or wss:// with SigV4", field="mqttEndpoint",
                                 rule="tls")
    if auth == "certificate" and not certificate:
        raise ConfigurationError("mqtts:// needs the device certificate: 'certificateFile' and 'privateKeyFile' "
                                 "(or wss:// for SigV4 over WebSocket)", field="certificateFile", rule="required")
    timeout = cfg.get("mqttTimeout", DEFAULT_TIMEOUT)
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        timeout = -1.0
    low, high = TIMEOUT_RANGE
    if not low <= timeout <= high:
        raise ConfigurationError(f"config field 'mqttTimeout' must be seconds from {low:g} to {high:g}",
                                 field="mqttTimeout", rule="range")
    return MqttSettings(host, port or default_port, auth, websockets, parts.path or "/mqtt", certificate, private_key,
                        _file(cfg, "caFile"), _text(cfg, "mqttClientId"), timeout)
