"""Test hosts made of Linux network namespaces (`ip netns`), for `serve` on several machines around one Redis.

Every host is a namespace of its own with its own loopback, joined by veth pairs to two private links that
exist only between these namespaces (no route leads anywhere else):

  lan  10.203.K.0/24    a bridge in the redis host: redis .1, this test process (the webhook sender, the
                        root namespace) .2, the target's lan leg .3, the intake .10, worker hosts .11, .12
  svc  10.203.K+1.0/24  a bridge in the target host: the target .1, worker hosts .11, .12

A worker host reaches Redis over the lan and the target over the svc link, so cutting its lan port (on the
bridge, as a switch port goes dark: its packets vanish, nothing answers) partitions it from Redis while its
step calls still reach the target. K is picked free on this machine (the root-side veth's name is the lock),
so two test runs side by side get two networks. `Network.destroy` kills every process of every host and
deletes the namespaces (the veths go with them); `remove_stale` deletes what a killed run left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.tls import SelfSigned, make_self_signed
from tests.support.webhooks import SECRET_ENV, post, serve_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "10.203"
REDIS_PORT, INTAKE_PORT, TARGET_PORT = 6379, 8080, 8443
_NAME = re.compile(r"^jc(\d+)-(\d+)-")
FAULT_COUNTS: dict[str, dict[str, int]] = {}  # fault -> the counts of its run, printed at the end of the session


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def netns_unavailable() -> str | None:
    """Why namespaces cannot be made here (a reason to skip), or None when `ip netns` works."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed; .ci/run installs it"
    probe = f"jc0-{os.getpid()}-probe"
    done = _ip("netns", "add", probe, check=False)
    if done.returncode != 0:
        return f"ip netns is not permitted here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def remove_stale() -> None:
    """Delete the namespaces of earlier runs whose process is gone (a run killed before its teardown)."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = _NAME.match(name)
        if match and not _alive(int(match.group(2))):
            kill_namespace(name)
            _ip("netns", "del", name, check=False)
            _ip("link", "del", f"jc{match.group(1)}", check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def namespace_pids(ns: str) -> list[int]:
    return [int(pid) for pid in _ip("netns", "pids", ns, check=False).stdout.split()]


def kill_namespace(ns: str, timeout: float = 5.0) -> list[int]:
    """kill -9 every process in the namespace; returns their pids once they are gone."""
    killed = namespace_pids(ns)
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while namespace_pids(ns) and time.monotonic() < deadline:
        time.sleep(0.02)
    return killed


@dataclass
class Host:
    role: str
    ns: str
    lan: str | None  # its address on the lan
    svc: str | None = None  # its address on the svc link (worker hosts and the target)
    port: str | None = None  # its port on the lan bridge (in the redis host)

    def command(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    def kill_all(self) -> list[int]:
        """kill -9 every process of this host (the host dies)."""
        return kill_namespace(self.ns)


@dataclass
class Network:
    """The test hosts: redis, intake, target, and worker hosts w1, w2 (see the module docstring)."""

    workers: tuple[str, ...] = ("w1", "w2")
    hosts: dict[str, Host] = field(default_factory=dict)
    k: int = 0
    client: str = ""  # this process's address on the lan

    def create(self) -> Network:
        remove_stale()
        self._reserve()
        try:
            self._build()
        except BaseException:
            self.destroy()
            raise
        return self

    def _reserve(self) -> None:
        """Pick a free pair of /24s: the root-side veth jcK is created first, and its name is the lock."""
        used = _ip("-o", "-4", "addr", "show", check=False).stdout
        start = 10 + 2 * (os.getpid() % 100)
        for step in range(0, 240, 2):
            k = 10 + (start - 10 + step) % 240
            if f"{PREFIX}.{k}." in used or f"{PREFIX}.{k + 1}." in used:
                continue
            redis_ns = f"jc{k}-{os.getpid()}-redis"
            if _ip("netns", "add", redis_ns, check=False).returncode != 0:
                continue
            if _ip("link", "add", f"jc{k}", "type", "veth", "peer", "name", "p-client", "netns", redis_ns,
                   check=False).returncode != 0:
                _ip("netns", "del", redis_ns, check=False)
                continue
            self.k = k
            self.hosts["redis"] = Host("redis", redis_ns, self.lan_address(1))
            return
        raise RuntimeError(f"no free {PREFIX}.K.0/24 pair for the test hosts")

    def lan_address(self, host: int) -> str:
        return f"{PREFIX}.{self.k}.{host}"

    def svc_address(self, host: int) -> str:
        return f"{PREFIX}.{self.k + 1}.{host}"

    def _build(self) -> None:
        k, pid = self.k, os.getpid()
        redis = self.hosts["redis"]
        r = ["-n", redis.ns]
        _ip(*r, "link", "set", "lo", "up")
        _ip(*r, "link", "add", "br-lan", "type", "bridge")
        _ip(*r, "addr", "add", f"{redis.lan}/24", "dev", "br-lan")
        _ip(*r, "link", "set", "br-lan", "up")
        # This process, the sender of the webhooks and the reader of the store.
        self.client = self.lan_address(2)
        _ip("addr", "add", f"{self.client}/24", "dev", f"jc{k}")
        _ip("link", "set", f"jc{k}", "up")
        self._attach("p-client")
        target = Host("target", f"jc{k}-{pid}-target", self.lan_address(3), self.svc_address(1), "p-target")
        intake = Host("intake", f"jc{k}-{pid}-intake", self.lan_address(10), None, "p-intake")
        workers = [Host(name, f"jc{k}-{pid}-{name}", self.lan_address(11 + i), self.svc_address(11 + i),
                        f"p-{name}") for i, name in enumerate(self.workers)]
        for host in (target, intake, *workers):
            _ip("netns", "add", host.ns)
            self.hosts[host.role] = host
            _ip("-n", host.ns, "link", "set", "lo", "up")
            _ip("link", "add", "lan0", "netns", host.ns, "type", "veth", "peer", "name", host.port,
                "netns", redis.ns)
            _ip("-n", host.ns, "addr", "add", f"{host.lan}/24", "dev", "lan0")
            _ip("-n", host.ns, "link", "set", "lan0", "up")
            self._attach(host.port)
        t = ["-n", target.ns]
        _ip(*t, "link", "add", "br-svc", "type", "bridge")
        _ip(*t, "addr", "add", f"{target.svc}/24", "dev", "br-svc")
        _ip(*t, "link", "set", "br-svc", "up")
        for host in workers:
            _ip("link", "add", "svc0", "netns", host.ns, "type", "veth", "peer", "name", f"s-{host.role}",
                "netns", target.ns)
            _ip("-n", host.ns, "addr", "add", f"{host.svc}/24", "dev", "svc0")
            _ip("-n", host.ns, "link", "set", "svc0", "up")
            _ip(*t, "link", "set", f"s-{host.role}", "master", "br-svc")
            _ip(*t, "link", "set", f"s-{host.role}", "up")

    def _attach(self, port: str) -> None:
        r = ["-n", self.hosts["redis"].ns]
        _ip(*r, "link", "set", port, "master", "br-lan")
        _ip(*r, "link", "set", port, "up")

    def partition(self, role: str) -> None:
        """Cut the host's lan port: it can no longer reach Redis (nor be reached), its svc link still works."""
        _ip("-n", self.hosts["redis"].ns, "link", "set", self.hosts[role].port, "down")

    def heal(self, role: str) -> None:
        _ip("-n", self.hosts["redis"].ns, "link", "set", self.hosts[role].port, "up")

    def destroy(self) -> None:
        """Every process of every host killed, every namespace deleted (their veths with them)."""
        for host in self.hosts.values():
            kill_namespace(host.ns)
        for host in self.hosts.values():
            _ip("netns", "del", host.ns, check=False)
        if self.k:
            _ip("link", "del", f"jc{self.k}", check=False)  # gone with its peer already, unless the build failed
        self.hosts.clear()


class HostProcess:
    """A process run on a test host (`ip netns exec`), its stderr kept for the test to read."""

    def __init__(self, host: Host, argv: list[str], env: dict, name: str = ""):
        self.host, self.argv, self.env, self.name = host, argv, env, name or host.role
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self) -> HostProcess:
        self.proc = subprocess.Popen(self.host.command(self.argv), cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        return self

    def _read(self, proc) -> None:
        for line in proc.stderr:
            self.lines.append(line)

    def wait_ready(self, ready: str, timeout: float = 30.0) -> HostProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(ready in line for line in list(self.lines)):
                return self
            if self.proc.poll() is not None:
                time.sleep(0.1)  # the last lines
                raise AssertionError(f"{self.name} exited early ({self.proc.returncode}):\n{self.output()}")
            time.sleep(0.02)
        raise AssertionError(f"{self.name} did not say '{ready}' within {timeout:g} s:\n{self.output()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def output(self) -> str:
        return "".join(self.lines)


def serve_argv(*args: str) -> list[str]:
    """`jobs-connector serve ...` from this checkout, with this interpreter."""
    return [sys.executable, "-m", "lib", "serve", *args]


def redis_argv(host: Host, workdir: str) -> list[str]:
    """A durable redis-server on the redis host: append-only, fsync on every write, data in `workdir` (a
    restart on the same directory loads the AOF). Reachable only on the private lan, so no password."""
    return [shutil.which("redis-server") or "redis-server", "--bind", host.lan, "127.0.0.1",
            "--port", str(REDIS_PORT), "--dir", workdir, "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--protected-mode", "no", "--daemonize", "no",
            "--logfile", os.path.join(workdir, "redis.log")]


def target_argv(latency: float, tls: SelfSigned) -> list[str]:
    # Every address of the target's own namespace: its svc address for the workers, its lan one for the test.
    return [sys.executable, "-m", "tests.support.step_target", "--host", "0.0.0.0",  # noqa: S104
            "--port", str(TARGET_PORT),
            "--latency", repr(latency), "--cert", str(tls.cert_file), "--key", str(tls.key_file)]


# -- serve on the test hosts ---------------------------------------------------------------------------------

DESCRIBE = "iot-jobs-data.DescribeJobExecution"  # safe to repeat
UPDATE = "iot-jobs-data.UpdateJobExecution"  # not safe to repeat: sent at most once
TWO_STEPS = [{"action": DESCRIBE, "input": {"thingName": "event.thing", "jobId": "event.job"}},
             {"action": UPDATE, "input": {"thingName": "event.thing", "jobId": "event.job", "status": "'SUCCEEDED'",
                                          "expectedVersion": "steps[0].execution.versionNumber"}}]


@dataclass
class Cluster:
    """One durable redis-server, the target, an intake (`serve --web-only`) and a `serve --worker-only` on each
    worker host, all on `network`'s hosts; `stop` kills them all."""

    network: Network
    workdir: str
    steps: list = field(default_factory=lambda: TWO_STEPS)
    latency: float = 0.02  # the target's, per step request
    workers: int = 4  # threads per worker host
    lease: float = 2.0
    sweep_interval: float = 0.5
    worker_hosts: tuple[str, ...] = ("w1", "w2")
    processes: dict[str, HostProcess] = field(default_factory=dict)

    def __post_init__(self):
        self.flows_file = os.path.join(self.workdir, "flows.json")
        with open(self.flows_file, "w", encoding="utf-8") as out:
            json.dump({"flows": [{"name": "job-done", "secret_env": SECRET_ENV, "steps": self.steps,
                                  "retry": {"max_attempts": 3, "delay": 0.2, "max_delay": 1}}]}, out)
        self.redis_dir = os.path.join(self.workdir, "redis")
        os.makedirs(self.redis_dir, exist_ok=True)
        target = self.network.hosts["target"]
        self.tls = make_self_signed(Path(self.workdir), "target", (target.svc, target.lan))
        self.env = serve_env(AWS_ENDPOINT_URL_IOT_JOBS_DATA=f"https://{target.svc}:{TARGET_PORT}",
                             AWS_CA_BUNDLE=str(self.tls.cert_file),
                             XDG_CONFIG_HOME=os.path.join(self.workdir, "config"))  # one sealing key for all

    @property
    def queue_url(self) -> str:
        return f"redis://{self.network.hosts['redis'].lan}:{REDIS_PORT}/0"

    @property
    def intake_url(self) -> str:
        return f"http://{self.network.hosts['intake'].lan}:{INTAKE_PORT}"

    def _process(self, role: str, argv: list[str], name: str = "") -> HostProcess:
        process = HostProcess(self.network.hosts[role], argv, self.env, name or role).start()
        self.processes[name or role] = process
        return process

    def start_redis(self) -> HostProcess:
        redis = self._process("redis", redis_argv(self.network.hosts["redis"], self.redis_dir))
        import redis as redis_client

        client = redis_client.Redis.from_url(self.queue_url, socket_connect_timeout=1, socket_timeout=2)
        deadline = time.monotonic() + 15
        try:
            while True:
                try:
                    if client.ping():
                        return redis
                except redis_client.RedisError:
                    pass
                if time.monotonic() > deadline or redis.proc.poll() is not None:
                    raise AssertionError("redis-server did not start:\n" + redis.output())
                time.sleep(0.05)
        finally:
            client.close()

    def start_intake(self) -> HostProcess:
        return self._process("intake", serve_argv("--flows", self.flows_file, "--queue", self.queue_url, "--web-only",
                                                  "--host", self.network.hosts["intake"].lan, "--port",
                                                  str(INTAKE_PORT)))

    def start_worker(self, role: str) -> HostProcess:
        return self._process(role, serve_argv("--flows", self.flows_file, "--queue", self.queue_url, "--worker-only",
                                              "--workers", str(self.workers), "--lease", repr(self.lease),
                                              "--sweep-interval", repr(self.sweep_interval), "--log-level", "WARNING"))

    def start(self) -> Cluster:
        """Redis first; then the target, the intake and the workers, started side by side."""
        self.start_redis()
        waits = [(self._process("target", target_argv(self.latency, self.tls)), "listening on"),
                 (self.start_intake(), "listening on")]
        waits += [(self.start_worker(role), "workers:") for role in self.worker_hosts]
        for process, ready in waits:
            process.wait_ready(ready)
        return self

    def store(self):
        from jobs_connector.webhooks.store.queue import Queue

        return Queue(self.queue_url).store

    def _target(self, path: str, method: str = "GET") -> dict:
        url = f"https://{self.network.hosts['target'].lan}:{TARGET_PORT}{path}"
        context = ssl.create_default_context(cafile=str(self.tls.cert_file))
        request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
        # https to the test's own target, never another scheme
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:  # noqa: S310  # nosec B310
            return json.loads(answer.read())

    def target_counts(self) -> dict[str, dict]:
        """thing -> {"GET": n, "POST": n, "GET_from": [address...], "POST_from": [...]} seen by the target."""
        return self._target("/counts")["things"]

    def target_held(self) -> list[str]:
        """The things of the step requests the target held back (hold_answers), one per request."""
        return self._target("/counts")["held"]

    def hold_answers(self, role: str, on: bool = True) -> None:
        """The target keeps back its answers to the worker host `role` (on), or sends them now (off)."""
        self._target(f"/{'hold' if on else 'release'}/{self.network.hosts[role].svc}", "POST")

    def stop(self) -> None:
        for host in self.network.hosts.values():
            kill_namespace(host.ns)


class Sender:
    """Delivers `count` events as a webhook sender does, from `threads` threads: each until it is acknowledged
    (202, or 200 for a delivery already stored), sending it again with the same delivery id when the connection
    fails or the intake answers 503. Event i is about the thing `thing-i`."""

    def __init__(self, url: str, count: int, threads: int = 4, deadline: float = 40.0, pace: float = 0.0):
        """`pace`: seconds each thread waits after an acknowledgement (the sending then spans the run)."""
        self.url, self.count, self.deadline, self.pace = url, count, deadline, pace
        self.lock = threading.Lock()
        self.accepted: dict[int, str] = {}  # event number -> event id
        self.created = self.duplicates = self.resent = 0
        self.threads = [threading.Thread(target=self._run, args=(range(n, count, threads),), daemon=True)
                        for n in range(threads)]

    def start(self) -> Sender:
        self.ends = time.monotonic() + self.deadline
        for thread in self.threads:
            thread.start()
        return self

    def _run(self, numbers) -> None:
        for i in numbers:
            body = {"thing": f"thing-{i}", "job": f"job-{i}"}
            while time.monotonic() < self.ends:
                try:
                    status, answer = post(self.url, "job-done", body, headers={"X-Delivery-Id": f"delivery-{i}"},
                                          timeout=5)
                except OSError:
                    status, answer = None, {}
                with self.lock:
                    if status in (200, 202):
                        self.accepted[i] = answer["id"]
                        self.created += status == 202
                        self.duplicates += status == 200
                        break
                    self.resent += 1
                time.sleep(0.05)
            time.sleep(self.pace)

    def join(self, timeout: float) -> None:
        ends = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(timeout=max(0.0, ends - time.monotonic()))
