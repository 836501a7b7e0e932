"""A private RabbitMQ node for tests: free loopback ports, its own directories, cookie and epmd, no
plugins; started within a bound and always stopped (rabbitmqctl stop, then the process groups killed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

from tests.support.rawhttp import free_port

SERVER_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmq-server",)  # the real script, not the su wrapper
CTL_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmqctl",)
START_TIMEOUT = 30.0


def _find(candidates: tuple[str, ...], name: str) -> str | None:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def available() -> bool:
    return bool(_find(SERVER_CANDIDATES, "rabbitmq-server") and shutil.which("epmd"))


class RabbitNode:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jc-rabbit-")
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        self.nodename = f"jc-test-{os.getpid()}@localhost"
        self.server: subprocess.Popen | None = None
        self.epmd: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F?heartbeat=30"

    def env(self) -> dict:
        d = self.dir
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": d,  # the Erlang cookie lives here
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": os.path.join(d, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(d, "log"),
            "RABBITMQ_CONFIG_FILE": os.path.join(d, "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(d, "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(d, "rabbitmq-env.conf"),  # not the system one
            "RABBITMQ_PID_FILE": os.path.join(d, "rabbit.pid"),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _write_config(self) -> None:
        for sub in ("mnesia", "log"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as fh:
            fh.write(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
                     "loopback_users = none\n"
                     "disk_free_limit.absolute = 1MB\n"
                     "log.console = false\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as fh:
            fh.write("[].\n")  # no management plugin, no others
        open(os.path.join(self.dir, "rabbitmq-env.conf"), "w").close()

    def start(self) -> RabbitNode:
        server = _find(SERVER_CANDIDATES, "rabbitmq-server")
        epmd = shutil.which("epmd")
        if not server or not epmd:
            raise RuntimeError("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        self._write_config()
        env = self.env()
        log = open(os.path.join(self.dir, "server.log"), "wb")
        # Our own epmd on a private port, in the foreground, so it is ours to stop.
        self.epmd = subprocess.Popen([epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"], env=env,
                                     stdout=log, stderr=log, start_new_session=True)
        self.server = subprocess.Popen([server], env=env, stdout=log, stderr=log, cwd=self.dir,
                                       start_new_session=True)
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        import logging

        import pika

        logging.getLogger("pika").setLevel(logging.CRITICAL)  # refused connections are expected until it is up
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited ({self.server.returncode}):\n{self.log_tail()}")
            try:
                pika.BlockingConnection(pika.URLParameters(self.url)).close()
                return
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"rabbitmq-server did not answer within {START_TIMEOUT:.0f} s ({last!r}):\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return ""

    def ctl(self, *args: str, timeout: float = 15) -> subprocess.CompletedProcess:
        """rabbitmqctl against this node."""
        ctl = _find(CTL_CANDIDATES, "rabbitmqctl")
        return subprocess.run([ctl, *args], env=self.env(), capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        ctl = _find(CTL_CANDIDATES, "rabbitmqctl")
        if self.server is not None and self.server.poll() is None and ctl:
            try:
                subprocess.run([ctl, "stop"], env=self.env(), capture_output=True, timeout=15)
            except subprocess.TimeoutExpired:
                pass
        for proc in (self.server, self.epmd):
            if proc is None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the server's group holds beam and its helpers
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.server = self.epmd = None
        shutil.rmtree(self.dir, ignore_errors=True)
