"""The sandbox's MQTT broker: Debian's `mosquitto`, run as a child process on 127.0.0.1.

An embedded Python broker was the first choice, so that the quick start needs nothing else; amqtt 0.12.1 runs
on Python 3.11 but closes the connection of any client that publishes to a topic beginning with '$' (its
reading of MQTT-4.7.2-1), and every IoT Jobs request is published to `$aws/things/...`. So the sandbox starts
`mosquitto` when it is installed (apt-get install mosquitto), and says so plainly when it is not.

The broker keeps persistent sessions in its own temporary folder (persistence on), so a restart of the broker
keeps what it queued for a client with a persistent session, as AWS IoT Core does for an hour.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess  # nosec B404: the sandbox's own mosquitto, a fixed argv without a shell
import tempfile
import time

from jobs_connector.base.errors import ConfigurationError

HOST = "127.0.0.1"
CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
START_TIMEOUT = 10.0


def find_mosquitto() -> str:
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise ConfigurationError("the sandbox's MQTT side needs the mosquitto broker, which is not installed "
                             "(Debian/Ubuntu: apt-get install mosquitto; macOS: brew install mosquitto); the "
                             "HTTPS APIs work without it", field="mqtt", rule="mosquitto")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class MutualTls:
    """A listener that wants a device certificate, as AWS IoT Core's port 8883 does: the broker's own
    certificate and key, and the CA that device certificates must be signed by (PEM files)."""

    def __init__(self, port: int, certificate: str, private_key: str, device_ca: str):
        self.port, self.certificate, self.private_key, self.device_ca = port, certificate, private_key, device_ca

    def config_lines(self, folder: str) -> list[str]:
        """The listener, with copies of the files in the broker's folder (see _hand_to_broker_user)."""
        copies = {}
        for name, path in (("certfile", self.certificate), ("keyfile", self.private_key), ("cafile", self.device_ca)):
            copies[name] = os.path.join(folder, f"tls-{name}.pem")
            shutil.copyfile(path, copies[name])
        return [f"listener {self.port} {HOST}", *(f"{name} {path}" for name, path in copies.items()),
                "require_certificate true", "tls_version tlsv1.2"]


def _hand_to_broker_user(folder: str) -> None:
    """Started as root, mosquitto drops to its own user once its config is read: that user must write the
    persistence file and read the TLS files in the folder (else sessions are silently not persisted)."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam("mosquitto")
    except KeyError:  # no such user: mosquitto then stays the user that started it
        return
    for path in [folder, *(os.path.join(folder, name) for name in os.listdir(folder))]:
        os.chown(path, user.pw_uid, user.pw_gid)


class MosquittoBroker:
    """mosquitto on 127.0.0.1: `start()`, `stop()`, `restart()` (same ports, same persisted sessions)."""

    def __init__(self, port: int = 0, websocket_port: int | None = None, mutual_tls: MutualTls | None = None):
        self.binary = find_mosquitto()
        self.port = port or free_port()
        self.websocket_port = websocket_port
        self.mutual_tls = mutual_tls
        self.folder = tempfile.mkdtemp(prefix="jobs-connector-mqtt-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    @property
    def websocket_url(self) -> str | None:
        return f"ws://{HOST}:{self.websocket_port}/mqtt" if self.websocket_port else None

    def _config(self) -> str:
        lines = [f"listener {self.port} {HOST}", "allow_anonymous true", "persistence true",
                 f"persistence_location {self.folder}/", "autosave_interval 1", "max_queued_messages 10000",
                 "log_type error", "log_type warning",
                 "set_tcp_nodelay true"]  # answers leave at once, as AWS IoT Core's do (see send_at_once)
        if self.websocket_port:
            lines += [f"listener {self.websocket_port} {HOST}", "protocol websockets"]
        if self.mutual_tls:
            lines += self.mutual_tls.config_lines(self.folder)
        path = os.path.join(self.folder, "mosquitto.conf")
        with open(path, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        return path

    def start(self) -> MosquittoBroker:
        config = self._config()
        log = open(os.path.join(self.folder, "mosquitto.log"), "ab")  # noqa: SIM115 - the child keeps it
        _hand_to_broker_user(self.folder)
        self.process = subprocess.Popen(  # nosec B603: mosquitto found on PATH, our config file, no shell
            [self.binary, "-c", config], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            ports = [self.port, self.websocket_port, self.mutual_tls and self.mutual_tls.port]
            if all(_listening(port) for port in ports if port):
                return self
            time.sleep(0.05)
        self.stop()
        raise ConfigurationError(f"mosquitto did not start on {HOST}:{self.port} within {START_TIMEOUT:g}s "
                                 f"(is the port taken?)", field="mqtt", rule="broker")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # mosquitto saves its persistence file on SIGTERM
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
