"""Performance benchmark of the connector's runtime: cold start, warm overhead, memory, paging, growth.

    python benchmarks/run.py [--quick] [--only SECTION ...] [--json FILE]

Every figure is measured side by side in the same run, the contenders alternating run by run (a noisy
machine slows them alike), and reported as medians. Everything talks to a keep-alive HTTP/1.1 server on
127.0.0.1 that this script starts in a background thread and always stops; it answers like the IoT Jobs
data plane (GetPendingJobExecutions) and a paged Panorama ListDevicesJobs, does not check signatures,
and answers `{}` to anything else. Credentials are obviously fake.

Sections (`--only` picks some):
  cold    one `jobs-connector run iot-jobs-data.GetPendingJobExecutions` in a fresh process, beside a bare
          `python -c pass` and the AWS CLI making the same call;
  warm    per-call time of `Runtime().run` in one process, beside requests + aws-requests-auth doing the
          same signed GET, boto3, and a plain http.client GET (the server's and the loopback's share);
  memory  peak RSS of the cold call, of `python -c pass`, of the AWS CLI, and of one process that ran
          every action of component.json once;
  paging  items/s through a 100-page listing with each emit behaviour, beside a requests loop;
  growth  warm per-call time at 1 KiB, 100 KiB and 5 MiB answers, with json parsing and output
          validation timed alone to show where the extra time goes;
  sandbox one kept-alive request to the sandbox, and paging 10,000 and 2,500 seeded SpaceONE jobs;
  batch   `run --each` against separate runs, and `--concurrency 8` against 1 on a slow server;
  webhook events/s end to end through `serve --worker-processes 2` for a one-step flow against the
          sandbox, alternating with the granian layout (granian serving the intake, 2 `serve --worker-only`)
          and serve's layout again with the sandbox answering 50 ms late (a remote service's latency)
          (benchmarks/webhook_flow.py, median of 3 runs each; the sandbox, not the loopback server);
          the p99 from the 202 to the step done with events sent at 100 a second and the sandbox 50 ms
          late (webhook_flow.py --rate 100 --latency 50), and the intake alone on a redis-server of its
          own with appendfsync always (webhook_intake.py --redis).
  hosts   completed events/s of two worker hosts against one, a one-step flow whose service answers after
          50 ms, around one Redis with appendfsync always (benchmarks/multihost_workers.py: the test hosts
          are network namespaces, so it needs root and `ip netns`; unavailable otherwise).

--quick runs small counts (a smoke test, figures too noisy to quote).
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ACCESS_KEY = "AKIDBENCHFAKEKEY0001"
SECRET_KEY = "bench-secret-not-real"
REGION = "us-east-1"
THING = "demo-thing"
PENDING = "iot-jobs-data.GetPendingJobExecutions"
LISTING = "panorama.ListDevicesJobs"
PAGES, PAGE_ITEMS = 100, 50
SECTIONS = ("cold", "warm", "memory", "paging", "growth", "sandbox", "batch", "webhook", "hosts")
CHILD_TIMEOUT = 120.0  # seconds: a child process that hangs is killed, and the benchmark stops

# The goals of the performance issues: (comparison, threshold).
GOALS = {
    "ours / minimal requests+auth script": ("<=", 1.10),
    "AWS CLI / ours": (">=", 3.0),
    "ours / raw requests+auth": ("<=", 1.0),
    "ours / boto3": ("<=", 0.8),
    "ours / raw requests+auth at 100 KiB": ("<=", 1.2),
    "ours / raw requests+auth at 5 MiB": ("<=", 1.2),
    "cold call peak RSS (MiB)": ("<=", 40.0),
    "kept-alive request (ms)": ("<", 1.0),
    "10,000 jobs paged (s)": ("<", 1.0),
    "10,000 / 2,500 jobs paging time per job": ("<=", 1.25),
    "separate runs / --each, per call": (">=", 10.0),
    "--concurrency 1 / --concurrency 8": (">=", 3.0),
    "completed webhook events/s": (">=", 300.0),
    "two worker hosts / one, events/s": (">=", 1.8),
    "completed webhook events/s, service 50 ms late": (">=", 300.0),
    "p99 202 to step done (ms), 100 events/s, service 50 ms late": ("<=", 150.0),
    "intake events/s, Redis appendfsync always": (">=", 1000.0),
    "intake accept p99 (ms), Redis appendfsync always": ("<=", 20.0),
}
# The rows of issue 20's table, in its order (section, ratio), printed together at the end.
ISSUE_ROWS = [("cold", "ours / minimal requests+auth script"), ("cold", "AWS CLI / ours"),
              ("warm", "ours / raw requests+auth"), ("warm", "ours / boto3"),
              ("growth", "ours / raw requests+auth at 100 KiB"), ("growth", "ours / raw requests+auth at 5 MiB"),
              ("sandbox", "kept-alive request (ms)"), ("sandbox", "10,000 jobs paged (s)"),
              ("sandbox", "10,000 / 2,500 jobs paging time per job"), ("batch", "separate runs / --each, per call"),
              ("batch", "--concurrency 1 / --concurrency 8"), ("webhook", "completed webhook events/s"),
              ("webhook", "completed webhook events/s, granian web role"),
              ("hosts", "two worker hosts / one, events/s"),
              ("webhook", "completed webhook events/s, service 50 ms late"),
              ("webhook", "p99 202 to step done (ms), 100 events/s, service 50 ms late"),
              ("webhook", "intake events/s, Redis appendfsync always"),
              ("webhook", "intake accept p99 (ms), Redis appendfsync always")]
SLOW_THING = "bench-slow-20"  # the server answers this thing 20 ms late (the batch concurrency figure)


# -- the loopback server ---------------------------------------------------------------------------

def job_summary(i: int, in_progress: bool) -> dict:
    """A JobExecutionSummary as the out-schema describes it (fixed-width fields: predictable sizes)."""
    job = {"jobId": f"bench-job-{i:07d}", "queuedAt": 1700000000 + i % 1000, "lastUpdatedAt": 1700003600}
    if in_progress:
        job["startedAt"] = 1700001800
    job.update(versionNumber=1 + i % 9, executionNumber=1 + i % 9)
    return job


def pending_jobs(size: int | None) -> dict:
    """GetPendingJobExecutions' answer: three jobs, or as many as fill `size` bytes (a quarter in progress)."""
    if size is None:
        return {"inProgressJobs": [job_summary(1, True)], "queuedJobs": [job_summary(2, False), job_summary(3, False)]}
    per_item = (len(json.dumps(job_summary(0, True))) + 3 * len(json.dumps(job_summary(0, False)))) / 4 + 2
    count = max(1, round((size - 40) / per_item))
    split = count // 4
    return {"inProgressJobs": [job_summary(i, True) for i in range(split)],
            "queuedJobs": [job_summary(i, False) for i in range(split, count)]}


def thing_for_size(size: int) -> str:
    """The thing name that asks the server for an answer of about `size` bytes."""
    return f"bench-size-{size}"


def devices_jobs_page(page: int) -> dict:
    """Page `page` (1-based) of a Panorama ListDevicesJobs listing of PAGES pages."""
    jobs = [{"DeviceId": "device-bench-0001", "DeviceName": "bench-device", "JobId": f"job-{page:03d}-{i:02d}",
             "JobType": "OTA", "CreatedTime": 1700000000.5} for i in range(PAGE_ITEMS)]
    body = {"DeviceJobs": jobs}
    if page < PAGES:
        body["NextToken"] = f"page-{page + 1}"
    return body


class BenchServer:
    """ThreadingHTTPServer on 127.0.0.1 (HTTP/1.1 keep-alive); `with BenchServer() as server:`."""

    def __init__(self):
        self.bodies: dict[tuple[str, str], bytes] = {}
        self.verified = None  # the cold commands, once checked (see cold_commands)
        bench = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60  # an idle keep-alive connection is dropped eventually

            # Headers and body leave in separate writes: without this, Nagle's algorithm holds the body
            # back until the client's delayed ACK (40 ms on Linux) and every call looks 40 ms long.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if SLOW_THING in self.path:
                    time.sleep(0.020)  # a remote service's latency
                body = bench.body_for(self.command, self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", "bench-request-0001")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def body_for(self, method: str, path: str) -> bytes:
        cached = self.bodies.get((method, path))
        if cached is not None:
            return cached
        parts = urlsplit(path)
        segments = parts.path.strip("/").split("/")
        if method == "GET" and len(segments) == 3 and segments[0] == "things" and segments[2] == "jobs":
            thing = segments[1]
            size = int(thing.rsplit("-", 1)[1]) if thing.startswith("bench-size-") else None  # bench-slow-: 3 jobs
            data = pending_jobs(size)
        elif method == "GET" and parts.path == "/jobs":
            token = (parse_qs(parts.query).get("NextToken") or ["page-1"])[0]
            data = devices_jobs_page(int(token.split("-")[1]))
        else:
            data = {}
        body = json.dumps(data).encode()
        self.bodies[method, path] = body
        return body

    def expected(self, path: str) -> dict:
        return json.loads(self.body_for("GET", path))

    def __enter__(self) -> BenchServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def bench_environment(url: str) -> dict:
    """This process's environment without the user's AWS settings or proxies, with fake credentials and
    every service pointed at the loopback server."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SPACEONE_", "EMBEDTHIS_")) and k.lower() not in ("http_proxy", "https_proxy",
                                                                                         "all_proxy", "no_proxy")}
    env.update({
        "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": url,
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "", "NO_PROXY": "127.0.0.1,localhost",
        "SPACEONE_ENDPOINT": url, "SPACEONE_API_KEY": "bench-spaceone-key-not-real",
        "EMBEDTHIS_ENDPOINT": url, "EMBEDTHIS_TOKEN": "bench-embedthis-token-not-real",
    })
    return env


# -- measuring -------------------------------------------------------------------------------------

@dataclass
class Child:
    seconds: float
    cpu_seconds: float
    code: int
    stdout: str
    stderr: str
    maxrss_kib: float | None


# Starts the measured command from a small process and reports its wall time and rusage. Why not
# measure from here: on Linux a child's peak RSS starts at its parent's RSS when forked (the fork, or
# subprocess's vfork, is charged with the parent's pages before exec), so a child of this process, which
# holds boto3 and the connector, could never look smaller than this process. The launcher is a bare
# interpreter (-I -S), smaller than anything it starts.
LAUNCHER = """
import json, os, sys, time
argv, report = json.loads(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(report, "w") as fh:
    json.dump({"seconds": seconds, "code": os.waitstatus_to_exitcode(status), "maxrss": usage.ru_maxrss,
               "cpu": usage.ru_utime + usage.ru_stime}, fh)
"""


def run_child(argv: list[str]) -> Child:
    """Run a process from the repository root: its wall time, exit code, output and (POSIX) peak RSS and
    CPU time."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "report.json")
        measured = hasattr(os, "fork") and hasattr(os, "wait4")
        command = [sys.executable, "-I", "-S", "-c", LAUNCHER, json.dumps(argv), report] if measured else argv
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err,  # noqa: S603
                              timeout=CHILD_TIMEOUT, check=False)
        seconds, cpu, rss, code = time.perf_counter() - started, 0.0, None, proc.returncode
        if measured:
            with open(report, encoding="utf-8") as fh:
                usage = json.load(fh)
            seconds, cpu, code = usage["seconds"], usage["cpu"], usage["code"]
            # ru_maxrss is KiB on Linux, bytes on macOS.
            rss = usage["maxrss"] / 1024 if sys.platform == "darwin" else float(usage["maxrss"])
        out.seek(0)
        err.seek(0)
        return Child(seconds, cpu, code, out.read().decode("utf-8", "replace"),
                     err.read().decode("utf-8", "replace"), rss)


def rotated(items: list, turn: int) -> list:
    """The contenders in a different order each turn, so none always runs first (or last)."""
    k = turn % len(items)
    return items[k:] + items[:k]


def per_call_rounds(contenders: dict[str, Callable[[], object]], rounds: int, calls: int,
                    warmup: int = 0) -> dict[str, float]:
    """Median seconds per call of each contender over `rounds` alternating batches of `calls` calls."""
    for call in contenders.values():
        for _ in range(warmup):
            call()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for turn in range(rounds):
        for name in rotated(list(contenders), turn):
            call = contenders[name]
            started = time.perf_counter()
            for _ in range(calls):
                call()
            samples[name].append((time.perf_counter() - started) / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


# -- reporting -------------------------------------------------------------------------------------

@dataclass
class Section:
    name: str
    title: str
    figures: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, dict] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def ratio(self, name: str, value: float, goal_name: str | None = None, note: str = "") -> None:
        goal = GOALS.get(goal_name or name)
        verdict = "-"
        if goal:
            op, threshold = goal
            passed = {"<=": value <= threshold, "<": value < threshold, ">=": value >= threshold}[op]
            verdict = "PASS" if passed else "MISS"
        self.ratios[name] = {"value": value, "goal": f"{goal[0]} {goal[1]:g}" if goal else None,
                             "verdict": verdict, "note": note}

    def render(self) -> str:
        out = [self.title, *self.lines]
        if self.ratios:
            rows = [(name, f"{r['value']:.2f}", r["goal"] or "-", r["verdict"], r["note"])
                    for name, r in self.ratios.items()]
            out += [""] + table(("ratio", "value", "goal", "verdict", ""), rows)
        for name, why in self.unavailable.items():
            out.append(f"  {name}: unavailable ({why})")
        return "\n".join(out)

    def as_json(self) -> dict:
        return {"figures": self.figures, "ratios": self.ratios, "unavailable": self.unavailable}


NUMERIC = re.compile(r"^-?[\d.,]+(x|%)?$")
PLACEHOLDER = ("n/a", "-")


def table(header: tuple, rows: list[tuple]) -> list[str]:
    """Aligned columns: the first and text columns to the left, numeric ones to the right."""
    cells = [tuple(str(c) for c in row) for row in rows]
    columns = list(zip(*cells, strict=True)) if cells else [() for _ in header]
    widths = [max([len(h)] + [len(c) for c in col]) for h, col in zip(header, columns, strict=True)]
    right = [i > 0 and any(NUMERIC.match(c) for c in col) and all(NUMERIC.match(c) or c in PLACEHOLDER for c in col)
             for i, col in enumerate(columns)]

    def line(row):
        return ("  " + "  ".join(c.rjust(w) if r else c.ljust(w)
                                 for c, w, r in zip(row, widths, right, strict=True))).rstrip()

    return [line(tuple(header))] + [line(row) for row in cells]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}"


def mib(kib: float | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


# -- the commands measured cold --------------------------------------------------------------------

BARE = [sys.executable, "-c", "pass"]
# What any call must import, whatever the connector does: the HTTP stack and the signer of our core
# dependencies, and the fast validator: the floor of a cold call that starts up as a plain script does (the
# collector on; its exit walks all that start-up built).
FLOOR = [sys.executable, "-c", "import requests, aws_requests_auth.aws_auth, jsonschema_rs"]
OURS = [sys.executable, "-m", "lib", "run", PENDING, "-i", json.dumps({"thingName": THING})]
# The floor of one call (issue 20): the least a program can do for it with the card's libraries, requests
# and aws-requests-auth: import them, sign the same GET, read the JSON answer, print it.
MINIMAL_SCRIPT = """
import json, os, sys
import requests
from aws_requests_auth.aws_auth import AWSRequestsAuth
url = os.environ["AWS_ENDPOINT_URL"]
auth = AWSRequestsAuth(aws_access_key=os.environ["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"], aws_host=url.split("://", 1)[1],
                       aws_region=os.environ["AWS_REGION"], aws_service="iot-jobs-data")
response = requests.get(url + "/things/" + sys.argv[1] + "/jobs", auth=auth, timeout=30)
response.raise_for_status()
print(json.dumps(json.loads(response.content)))
"""
MINIMAL = [sys.executable, "-c", MINIMAL_SCRIPT, THING]
# The same script with our start-up (lib/cli/startup.py): the collector paused while it imports, then frozen. It
# shows how much of the difference is that alone: an interpreter's exit walks every live object in several
# full collections, and a cold call's start-up leaves tens of thousands of them.
MINIMAL_FROZEN_SCRIPT = "import gc\ngc.disable()\n" + MINIMAL_SCRIPT.replace(
    "url = os.environ", "gc.freeze()\ngc.enable()\nurl = os.environ", 1)
MINIMAL_FROZEN = [sys.executable, "-c", MINIMAL_FROZEN_SCRIPT, THING]


def aws_cli(url: str) -> list[str]:
    return [sys.executable, "-m", "awscli", "iot-jobs-data", "get-pending-job-executions",
            "--thing-name", THING, "--endpoint-url", url]


def check_output(name: str, child: Child, expected: dict) -> str | None:
    """Why a verification run of `name` is not good, or None."""
    if child.code != 0:
        return f"exit {child.code}: {child.stderr.strip().splitlines()[-1:] or ''}"
    try:
        lines = [json.loads(line) for line in child.stdout.splitlines() if line.strip()] if name == "ours" \
            else [json.loads(child.stdout)]
    except ValueError:
        return f"output is not JSON: {child.stdout[:80]!r}"
    if lines != [expected]:
        return f"unexpected output {child.stdout[:80]!r}"
    return None


def cold_commands(server: BenchServer, section: Section) -> dict[str, list[str]]:
    """The commands to time, each verified once per run (exit 0, the right answer), which also warms file
    caches; the AWS CLI is left out, and said to be unavailable, when it is missing or fails."""
    if server.verified is None:
        server.verified = _verified_commands(server)
    commands, unavailable = server.verified
    section.unavailable.update(unavailable)
    return dict(commands)


def _verified_commands(server: BenchServer) -> tuple[dict[str, list[str]], dict[str, str]]:
    section = Section("", "")
    expected = server.expected(f"/things/{THING}/jobs")
    # Bytecode as after `pip install` or any earlier run (which a PYTHONDONTWRITEBYTECODE setting prevents):
    # compiling our sources is a one-off cost, not the cold call's.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "lib", "actions"], cwd=ROOT,  # noqa: S603
                   stdout=subprocess.DEVNULL, check=True, timeout=CHILD_TIMEOUT)
    commands = {"python -c pass": BARE, "import requests+auth+jsonschema_rs": FLOOR,
                "minimal requests+auth script": MINIMAL, "minimal script, collector frozen": MINIMAL_FROZEN,
                "jobs-connector run": OURS}
    for name, command, kind in (("jobs-connector run", OURS, "ours"), ("minimal requests+auth script", MINIMAL, "aws"),
                                ("minimal script, collector frozen", MINIMAL_FROZEN, "aws")):
        problem = check_output(kind, run_child(command), expected)
        if problem:
            raise SystemExit(f"benchmark: `{name}` failed its check: {problem}")
    if importlib.util.find_spec("awscli") is None:
        section.unavailable["AWS CLI"] = "awscli is not installed"
        return commands, section.unavailable
    cli = run_child(aws_cli(server.url))
    problem = check_output("aws", cli, expected)
    if problem:
        section.unavailable["AWS CLI"] = problem
    else:
        commands["AWS CLI"] = aws_cli(server.url)
    return commands, section.unavailable


def alternate_children(commands: dict[str, list[str]], runs: int) -> dict[str, list[Child]]:
    results: dict[str, list[Child]] = {name: [] for name in commands}
    for turn in range(runs):
        for name in rotated(list(commands), turn):
            child = run_child(commands[name])
            if child.code != 0:
                raise SystemExit(f"benchmark: {name} failed during timing: exit {child.code}")
            results[name].append(child)
    return results


def section_cold(server: BenchServer, quick: bool) -> Section:
    runs = 3 if quick else 15
    section = Section("cold", f"1. Cold call: one GetPendingJobExecutions in a fresh process (median of {runs} "
                              "alternating runs)")
    commands = cold_commands(server, section)
    results = alternate_children(commands, runs)
    rows = []
    for name, children in results.items():
        wall = statistics.median(c.seconds for c in children)
        cpu = statistics.median(c.cpu_seconds for c in children)
        section.figures[f"{name} ms"] = wall * 1000
        if cpu:
            section.figures[f"{name} cpu ms"] = cpu * 1000
        rows.append((name, ms(wall), ms(min(c.seconds for c in children)), ms(cpu) if cpu else "n/a"))
    section.lines = table(("command", "median ms", "min ms", "cpu ms"), rows)
    ours = section.figures["jobs-connector run ms"]
    section.ratio("ours / minimal requests+auth script", ours / section.figures["minimal requests+auth script ms"],
                  note="the same signed call, cold")
    frozen = section.figures["minimal script, collector frozen ms"]
    section.ratio("ours / minimal script, collector frozen", ours / frozen, note="both start up as lib/cli/startup.py")
    section.ratio("ours / bare interpreter", ours / section.figures["python -c pass ms"])
    section.ratio("dependency imports alone / bare", section.figures["import requests+auth+jsonschema_rs ms"]
                  / section.figures["python -c pass ms"], note="a plain script's floor: the collector on")
    if "AWS CLI ms" in section.figures:
        section.ratio("AWS CLI / ours", section.figures["AWS CLI ms"] / ours)
    return section


# -- warm ------------------------------------------------------------------------------------------

def raw_client(server: BenchServer):
    """requests + aws-requests-auth: the least a signed call can do (GET, sign, parse)."""
    import requests
    from aws_requests_auth.aws_auth import AWSRequestsAuth

    session = requests.Session()
    auth = AWSRequestsAuth(aws_access_key=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                           aws_host=f"127.0.0.1:{server.port}", aws_region=REGION, aws_service="iot-jobs-data")

    def get(path: str) -> dict:
        response = session.get(server.url + path, auth=auth, timeout=30)
        response.raise_for_status()
        return json.loads(response.content)

    return get


def plain_client(server: BenchServer):
    """http.client, unsigned: the server's and the loopback's share of every call."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def get(path: str) -> dict:
        conn.request("GET", path)
        response = conn.getresponse()
        return json.loads(response.read())

    return get


def ours_client():
    from jobs_connector.runtime import Runtime

    runtime = Runtime()

    def run(key: str, body: dict, cfg: dict | None = None) -> list[dict]:
        return list(runtime.run(key, body, cfg or {}))

    return run


def section_warm(server: BenchServer, quick: bool) -> Section:
    # Many short rounds: a burst of load from elsewhere on the machine then falls on both contenders.
    rounds, calls = (2, 50) if quick else (40, 25)
    section = Section("warm", f"2. Warm per-call time in one process ({rounds} alternating rounds of {calls} calls "
                              "each; median of the rounds)")
    path = f"/things/{THING}/jobs"
    expected = server.expected(path)
    ours, raw, plain = ours_client(), raw_client(server), plain_client(server)
    contenders: dict[str, Callable[[], object]] = {
        "jobs-connector Runtime().run": lambda: ours(PENDING, {"thingName": THING}),
        "requests + aws-requests-auth": lambda: raw(path),
        "http.client, unsigned": lambda: plain(path),
    }
    checks = {"jobs-connector Runtime().run": lambda: ours(PENDING, {"thingName": THING}) == [expected],
              "requests + aws-requests-auth": lambda: raw(path) == expected,
              "http.client, unsigned": lambda: plain(path) == expected}
    try:
        import boto3

        client = boto3.client("iot-jobs-data", endpoint_url=server.url, region_name=REGION,
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

        def boto3_call():
            answer = client.get_pending_job_executions(thingName=THING)
            answer.pop("ResponseMetadata", None)
            return answer

        contenders["boto3"] = boto3_call
        checks["boto3"] = lambda: boto3_call() == expected
    except ImportError:
        section.unavailable["boto3"] = "boto3 is not installed"
    for name, check in checks.items():
        if not check():
            raise SystemExit(f"benchmark: {name} did not return the expected answer")
    times = per_call_rounds(contenders, rounds, calls, warmup=10)
    ours_t = times["jobs-connector Runtime().run"]
    section.lines = table(("client", "us/call", "vs ours"),
                          [(name, us(t), f"{t / ours_t:.2f}x") for name, t in times.items()])
    section.figures = {f"{name} us/call": t * 1e6 for name, t in times.items()}
    section.ratio("ours / raw requests+auth", ours_t / times["requests + aws-requests-auth"],
                  note=f"ours adds {us(ours_t - times['requests + aws-requests-auth'])} us/call")
    if "boto3" in times:
        section.ratio("ours / boto3", ours_t / times["boto3"])
    section.ratio("server+loopback share of ours", times["http.client, unsigned"] / ours_t,
                  note="http.client unsigned / ours")
    return section


# -- memory ----------------------------------------------------------------------------------------

# Runs every action of component.json once against the loopback server (errors are fine: the point is
# that every module and schema is loaded), then prints what it did.
EVERY_ACTION = """
import json
from jobs_connector.base.errors import ConnectorError
from jobs_connector.component.registry import action_keys, get_action
from jobs_connector.runtime import Runtime

runtime, done, failed = Runtime(), 0, 0
for key in action_keys():
    action = get_action(key)
    example = action.spec("EXAMPLE") or {}
    action.out_schema
    try:
        for _ in runtime.run(key, example, {"maxPages": 1}):
            pass
        done += 1
    except ConnectorError:
        failed += 1
print(json.dumps({"actions": len(action_keys()), "answered": done, "refused": failed}))
"""


def section_memory(server: BenchServer, quick: bool) -> Section:
    runs = 1 if quick else 3
    section = Section("memory", f"3. Memory: peak RSS of the child process (median of {runs} alternating runs)")
    commands = cold_commands(server, section)
    every = [sys.executable, "-c", EVERY_ACTION]
    commands["every action once"] = every
    results = alternate_children(commands, runs)
    summary = json.loads(results["every action once"][0].stdout)
    rows = []
    for name, children in results.items():
        rss = [c.maxrss_kib for c in children if c.maxrss_kib is not None]
        if not rss:
            section.unavailable[name] = "peak RSS needs os.wait4 (POSIX)"
            continue
        peak = statistics.median(rss)
        section.figures[f"{name} MiB"] = peak / 1024
        label = name if name != "every action once" else f"every action once ({summary['actions']} actions)"
        rows.append((label, mib(peak)))
    section.lines = table(("process", "peak RSS MiB"), rows)
    section.lines.append(f"  (every action once: {summary['answered']} answered, {summary['refused']} raised a "
                         "ConnectorError on the minimal answers; all modules and schemas loaded)")
    figures = section.figures
    if "jobs-connector run MiB" in figures:
        section.ratio("cold call peak RSS (MiB)", figures["jobs-connector run MiB"])
        section.ratio("ours / bare interpreter RSS", figures["jobs-connector run MiB"] / figures["python -c pass MiB"])
        if "AWS CLI MiB" in figures:
            section.ratio("AWS CLI / ours RSS", figures["AWS CLI MiB"] / figures["jobs-connector run MiB"])
    return section


# -- paging ----------------------------------------------------------------------------------------

def section_paging(server: BenchServer, quick: bool) -> Section:
    rounds = 1 if quick else 5
    total = PAGES * PAGE_ITEMS
    section = Section("paging", f"4. Paging: {LISTING} through {PAGES} pages of {PAGE_ITEMS} items ({total} items; "
                                f"median of {rounds} alternating rounds)")
    ours, raw = ours_client(), raw_client(server)

    def emitted(behaviour: str) -> int:
        return sum(len(m["DeviceJobs"]) if "DeviceJobs" in m else 1
                   for m in ours(LISTING, {}, {"emitBehaviour": behaviour, "maxPages": PAGES}))

    def page_by_page() -> int:
        """fetchPage: one page per call, its NextToken passed back as the next call's input."""
        body, count = {}, 0
        while True:
            [page] = ours(LISTING, body, {"emitBehaviour": "fetchPage"})
            count += len(page["DeviceJobs"])
            if "NextToken" not in page:
                return count
            body = {"NextToken": page["NextToken"]}

    def raw_loop() -> int:
        path, count = "/jobs", 0
        while True:
            page = raw(path)
            count += len(page["DeviceJobs"])
            if "NextToken" not in page:
                return count
            path = f"/jobs?NextToken={page['NextToken']}"

    contenders = {"fetchAll": lambda: emitted("fetchAll"), "fetchPage (cursor passed back)": page_by_page,
                  "emitIndividually": lambda: emitted("emitIndividually"),
                  "requests + aws-requests-auth loop": raw_loop}
    for name, listing in contenders.items():
        got = listing()
        if got != total:
            raise SystemExit(f"benchmark: paging with {name} read {got} items, not {total}")
    times = per_call_rounds(contenders, rounds, 1)
    raw_t = times["requests + aws-requests-auth loop"]
    section.lines = table(("emit behaviour", "items/s", "ms/page", "vs raw loop"),
                          [(name, f"{total / t:.0f}", f"{t / PAGES * 1000:.2f}", f"{t / raw_t:.2f}x")
                           for name, t in times.items()])
    section.figures = {f"{name} items/s": total / t for name, t in times.items()}
    for name in ("fetchAll", "fetchPage (cursor passed back)", "emitIndividually"):
        section.ratio(f"{name.split()[0]} time / raw loop", times[name] / raw_t)
    return section


# -- growth ----------------------------------------------------------------------------------------

def section_growth(server: BenchServer, quick: bool) -> Section:
    sizes = [(1024, "1 KiB", 20 if quick else 200), (100 * 1024, "100 KiB", 5 if quick else 50),
             (5 * 1024 * 1024, "5 MiB", 1 if quick else 10)]
    section = Section("growth", "5. Growth: warm per-call time by answer size, ours vs requests + aws-requests-auth "
                                "(raw);\n   json.loads and the drift check "
                                "(jobs_connector.validation.answer_drift, as the "
                                "runtime calls it) timed alone on the same answer, beside the extra (ours - raw)")
    from jobs_connector.component.registry import get_action
    from jobs_connector.http.protocols import parse_json
    from jobs_connector.validation import answer_drift

    out_schema = get_action(PENDING).out_schema
    ours, raw = ours_client(), raw_client(server)
    rows = []
    for size, label, calls in sizes:
        thing = thing_for_size(size)
        path = f"/things/{thing}/jobs"
        content = server.body_for("GET", path)
        expected, integral_floats = parse_json(content, 200)
        items = len(expected["inProgressJobs"]) + len(expected["queuedJobs"])
        if ours(PENDING, {"thingName": thing}) != [expected] or raw(path) != expected:
            raise SystemExit(f"benchmark: the {label} answer did not come back intact")
        rounds = min(25, calls)
        # The parts timed alone alternate with the whole calls too, so the same noise falls on all.
        times = per_call_rounds({"ours": lambda t=thing: ours(PENDING, {"thingName": t}),
                                 "raw": lambda p=path: raw(p),
                                 "json.loads": lambda c=content: json.loads(c),
                                 "drift check": lambda e=expected, f=integral_floats: answer_drift(out_schema, e, f)},
                                rounds, calls // rounds)
        parse, validate = times["json.loads"], times["drift check"]
        extra = times["ours"] - times["raw"]
        share = f"{validate / extra * 100:.0f}%" if extra > 0 else "n/a"
        rows.append((label, f"{len(content):,}", f"{items:,}", us(times["ours"]), us(times["raw"]),
                     f"{times['ours'] / times['raw']:.2f}", us(parse), us(validate), share))
        section.figures.update({
            f"{label} ours us/call": times["ours"] * 1e6, f"{label} raw us/call": times["raw"] * 1e6,
            f"{label} json.loads us": parse * 1e6, f"{label} drift check us": validate * 1e6,
            f"{label} bytes": float(len(content))})
        section.ratio(f"ours / raw requests+auth at {label}", times["ours"] / times["raw"],
                      note=f"drift check {us(validate / items)} us/item")
    section.lines = table(("answer", "bytes", "items", "ours us", "raw us", "ours/raw", "json.loads us",
                           "drift us", "drift/extra"), rows)
    return section


# -- sandbox ---------------------------------------------------------------------------------------

class SandboxProcess:
    """`jobs-connector sandbox --port 0 --spaceone-jobs N` in a process of its own (as a developer runs
    it: no GIL shared with the client); always stopped."""

    def __init__(self, jobs: int):
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "lib", "sandbox", "--port", "0", "--print-env", "--quiet",
             "--spaceone-jobs", str(jobs)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = None
        deadline = time.monotonic() + CHILD_TIMEOUT
        while self.port is None and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("export SPACEONE_ENDPOINT="):
                self.port = int(line.strip().rsplit(":", 1)[1].strip("'\""))
        if self.port is None:
            self.stop()
            raise SystemExit("benchmark: the sandbox did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def spaceone_client(port: int):
    """http.client POSTs with a bearer token on one kept-alive connection (body and headers in one write)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": "Bearer bench-token-not-real", "Content-Type": "application/json"}

    def post(verb: str, body: dict) -> dict:
        conn.request("POST", f"/identity/v2/job/{verb}", body=json.dumps(body).encode(), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"benchmark: the sandbox answered {response.status}: {data[:200]!r}")
        return json.loads(data)

    return post


def page_all(post, limit: int = 100) -> int:
    start, seen = 1, 0
    while True:
        page = post("list", {"query": {"page": {"start": start, "limit": limit}}})
        seen += len(page["results"])
        start += limit
        if start > page["total_count"]:
            return seen


def section_sandbox(server: BenchServer, quick: bool) -> Section:
    small, large = (500, 2000) if quick else (2500, 10000)
    requests_n, rounds = (30, 1) if quick else (300, 5)
    section = Section("sandbox", f"6. Sandbox (each in its own process): one kept-alive request, and paging SpaceONE's "
                                 f"{large:,} and {small:,} seeded jobs 100 a page (median of {rounds} rounds, the two "
                                 "sandboxes alternating)")
    from jobs_connector.runtime import Runtime

    with SandboxProcess(small) as few, SandboxProcess(large) as many:
        sandboxes = {small: few, large: many}
        posts = {count: spaceone_client(box.port) for count, box in sandboxes.items()}
        job = posts[large]("list", {"query": {"page": {"start": 1, "limit": 1}}})["results"][0]["job_id"]
        for count, post in posts.items():  # the first listing sorts; every later page reuses the selection
            if page_all(post) != count + 7:  # the seven demo jobs too
                raise SystemExit(f"benchmark: paging did not read {count + 7} jobs")

        def requests_in_a_row():
            for _ in range(requests_n):
                posts[large]("get", {"job_id": job})

        def small_listings():  # as many jobs in all as the large listing: the same work if paging is linear
            for _ in range(large // small):
                page_all(posts[small])

        contenders = {"request": requests_in_a_row, small: small_listings, large: lambda: page_all(posts[large])}
        times = per_call_rounds(contenders, rounds, 1)
        times[small] /= large // small
        request = times["request"] / requests_n
        ours = {}
        for count, box in sandboxes.items():
            cfg = {"spaceoneEndpoint": box.url, "spaceoneApiKey": "bench-token-not-real", "emitBehaviour": "fetchAll",
                   "maxPages": 1000}
            started = time.perf_counter()
            [merged] = Runtime().run("spaceone.ListJobs", {}, cfg)
            ours[count] = time.perf_counter() - started
            if len(merged["results"]) != count + 7:
                raise SystemExit("benchmark: spaceone.ListJobs did not read every job")
    section.lines = table(("jobs", "paging ms (http.client)", "paging ms (spaceone.ListJobs, once)"),
                          [(f"{count + 7:,}", f"{times[count] * 1000:.0f}", f"{ours[count] * 1000:.0f}")
                           for count in (small, large)])
    section.lines.append(f"  one kept-alive request (POST /identity/v2/job/get, {requests_n} in a row): "
                         f"{request * 1000:.2f} ms")
    section.figures = {"kept-alive request ms": request * 1000,
                       **{f"{count} jobs paged http.client s": times[count] for count in (small, large)},
                       **{f"{count} jobs paged ours s": ours[count] for count in (small, large)}}
    section.ratio("kept-alive request (ms)", request * 1000, note="POST /identity/v2/job/get")
    section.ratio("10,000 jobs paged (s)", times[large], note=f"{large:,} jobs, http.client")
    section.ratio("10,000 / 2,500 jobs paging time per job", times[large] / large / (times[small] / small),
                  note=f"linear: about 1; quadratic: about {large // small}")
    return section


# -- batch -----------------------------------------------------------------------------------------

def each_command(concurrency: int = 1) -> list[str]:
    return [sys.executable, "-m", "lib", "run", PENDING, "--each", "--concurrency", str(concurrency)]


def run_with_input(argv: list[str], lines: list[str]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, input="".join(lines), capture_output=True, text=True,  # noqa: S603
                          timeout=CHILD_TIMEOUT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(argv[2:6])} ... failed: {done.stderr.strip()[-300:]}")
    return seconds, done.stdout.splitlines()


def output_span(argv: list[str], lines: list[str]) -> tuple[float, list[str]]:
    """Seconds from the first output line to the last (the process's start left out), and the lines."""
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # noqa: S603
                            stderr=subprocess.DEVNULL, text=True)
    try:
        proc.stdin.write("".join(lines))  # small: fits the pipe's buffer
        proc.stdin.close()
        out, stamps = [], []
        for line in proc.stdout:
            stamps.append(time.perf_counter())
            out.append(line)
        proc.wait(timeout=CHILD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or len(stamps) < 2:
        raise SystemExit(f"benchmark: {' '.join(argv[2:6])} ... failed (exit {proc.returncode})")
    return stamps[-1] - stamps[0], out


def section_batch(server: BenchServer, quick: bool) -> Section:
    calls, separate, slow_calls = (100, 5, 40) if quick else (1000, 20, 200)
    section = Section("batch", f"7. Batch mode: {calls:,} calls with `run --each` vs separate `run` invocations "
                               f"({separate} timed, extrapolated per call); --concurrency 8 vs 1 over {slow_calls} "
                               "calls to a server adding 20 ms")
    line = json.dumps({"thingName": THING}) + "\n"
    each_s, out = run_with_input(each_command(), [line] * calls)
    if len(out) != calls or json.loads(out[-1]) != server.expected(f"/things/{THING}/jobs"):
        raise SystemExit("benchmark: --each did not write one right answer per input")
    singles = [run_child(OURS) for _ in range(separate)]
    if any(c.code for c in singles):
        raise SystemExit("benchmark: a separate run failed")
    single = statistics.median(c.seconds for c in singles)
    slow = json.dumps({"thingName": SLOW_THING}) + "\n"
    # Timed from the first output line to the last: the process's start, the same with 1 or 8 and nothing
    # concurrency can save, is left out.
    one_s, _ = output_span(each_command(1), [slow] * slow_calls)
    eight_s, out8 = output_span(each_command(8), [slow] * slow_calls)
    if len(out8) != slow_calls:
        raise SystemExit("benchmark: --concurrency 8 lost an output line")
    section.lines = table(("how", "calls", "seconds", "ms/call"), [
        ("run --each", f"{calls:,}", f"{each_s:.2f}", f"{each_s / calls * 1000:.2f}"),
        (f"separate runs ({separate} timed)", f"{calls:,} (extrapolated)", f"{single * calls:.1f}",
         f"{single * 1000:.1f}"),
        ("--each --concurrency 1, +20 ms (first to last line)", f"{slow_calls}", f"{one_s:.2f}",
         f"{one_s / (slow_calls - 1) * 1000:.1f}"),
        ("--each --concurrency 8, +20 ms (first to last line)", f"{slow_calls}", f"{eight_s:.2f}",
         f"{eight_s / (slow_calls - 1) * 1000:.1f}")])
    section.figures = {"--each s": each_s, "separate run s": single, "concurrency 1 s": one_s,
                       "concurrency 8 s": eight_s}
    section.ratio("separate runs / --each, per call", single * calls / each_s)
    section.ratio("--concurrency 1 / --concurrency 8", one_s / eight_s)
    return section


def issue_rows(results: dict) -> str:
    """Issue 20's table, each row from this run."""
    rows = []
    for section, name in ISSUE_ROWS:
        ratio = results["sections"].get(section, {}).get("ratios", {}).get(name)
        if ratio:
            rows.append((name, f"{ratio['value']:.2f}", ratio["goal"] or "-", ratio["verdict"]))
    if not rows:
        return ""
    return "\n".join(["Issue 20's rows, from this run", ""]
                     + table(("row", "value", "goal", "verdict"), rows))


# -- webhook flows ---------------------------------------------------------------------------------

def section_webhook(server: BenchServer, quick: bool) -> Section:
    from jobs_connector.cli.serve import DEFAULT_WORKERS

    events, clients, runs = (200, 2, 1) if quick else (4000, 4, 3)
    paced_events, intake_events = (250, 400) if quick else (1500, 3000)
    section = Section("webhook", f"8. Webhook flows end to end: {events:,} signed events from {clients} clients "
                                 f"through `serve --worker-processes 2` ({DEFAULT_WORKERS} threads each, SQLite queue) "
                                 f"to a one-step flow against the sandbox; beside it, run by run, the other "
                                 f"documented layout: granian serving the intake's WSGI entry point and 2 "
                                 f"`serve --worker-only` processes; serve's layout with the sandbox 50 ms late, as "
                                 f"fast as it goes and {paced_events} events sent at 100 a second; the intake alone "
                                 f"on a Redis that syncs each write, {intake_events} events (median of {runs} "
                                 f"run{'s' * (runs > 1)} each)")
    results: dict[str, list[dict]] = {"serve": [], "granian": [], "serve-50ms": []}
    paced: list[dict] = []  # 100 events/s, the sandbox 50 ms late: 202 to step done
    intake: list[dict] = []  # benchmarks/webhook_intake.py --redis
    with tempfile.TemporaryDirectory() as tmp:
        for turn in range(runs):
            for web, done_runs in results.items():  # alternating: a slow stretch of the machine slows all
                loop_ms = reference_loop_ms()  # how fast the machine is just now, beside the run
                latency = 50.0 if web == "serve-50ms" else 0.0  # the sandbox answers as a remote service would
                done_runs.append(webhook_flow_run(os.path.join(tmp, f"flow-{web}-{turn}.json"), events, clients,
                                                  web.split("-")[0], latency))
                done_runs[-1]["reference_loop_ms"] = loop_ms
            paced.append(webhook_flow_run(os.path.join(tmp, f"paced-{turn}.json"), paced_events, clients, "serve",
                                          50.0, rate=100.0))
            if shutil.which("redis-server"):
                intake.append(webhook_intake_run(os.path.join(tmp, f"intake-{turn}.json"), intake_events, 4))
    rows, servers = [], {"serve": "serve", "granian": "granian + worker processes",
                         "serve-50ms": "serve, the sandbox 50 ms late"}
    for web, done_runs in results.items():
        rows += [(f"{servers[web]}, run {i + 1}", f"{r['completed_per_s']:.0f}", f"{r['accepted_per_s']:.0f}",
                  f"{r['accept_p99_ms']:.1f}", f"{web_cpu(r):.2f}",
                  *(f"{r['cpu_ms_per_event'][k]:.2f}" if r["cpu_ms_per_event"].get(k) is not None else "n/a"
                    for k in ("sandbox", "clients")), f"{r['reference_loop_ms']:.0f}") for i, r in enumerate(done_runs)]
    section.lines = table(("layout", "completed events/s", "accepted events/s", "accept p99 ms",
                           "CPU ms/event: connector", "sandbox", "clients", "reference loop ms"), rows)
    section.lines.append("  (reference loop: the CPU time of one fixed pure-Python loop just before the run; the "
                         "same code takes longer when the machine is slow)")
    middle = {web: sorted(done_runs, key=lambda r: r["completed_per_s"])[len(done_runs) // 2]
              for web, done_runs in results.items()}
    serve_cpu = middle["serve"]["cpu_ms_per_event"]
    section.figures = {"completed events/s": middle["serve"]["completed_per_s"],
                       "accepted events/s": middle["serve"]["accepted_per_s"],
                       **{f"CPU ms/event {k}": v for k, v in serve_cpu.items() if v is not None},
                       "granian layout completed events/s": middle["granian"]["completed_per_s"],
                       "granian layout CPU ms/event connector": web_cpu(middle["granian"]),
                       "50 ms service completed events/s": middle["serve-50ms"]["completed_per_s"],
                       "reference loop ms": statistics.median(r["reference_loop_ms"] for done in results.values()
                                                              for r in done)}
    section.ratio("completed webhook events/s", middle["serve"]["completed_per_s"], note="2 worker processes, 2 cores")
    section.ratio("completed webhook events/s, granian web role", middle["granian"]["completed_per_s"],
                  goal_name="completed webhook events/s", note="the same, the web role on granian")
    section.ratio("completed webhook events/s, service 50 ms late", middle["serve-50ms"]["completed_per_s"],
                  note="serve's row, the sandbox answering 50 ms late (--concurrency default)")
    section.lines += ["", *table(("paced run (100 events/s sent, the sandbox 50 ms late)", "202 to done p50 ms",
                                  "p99 ms", "first second's slowest ms"),
                                 [(f"run {i + 1}", f"{r['done_p50_ms']:.1f}", f"{r['done_p99_ms']:.1f}",
                                   f"{r['warm_up_done_max_ms'] or 0:.0f}") for i, r in enumerate(paced)])]
    p99s = [r["done_p99_ms"] for r in paced]
    section.figures["paced 202 to done p99 ms"] = statistics.median(p99s)
    section.ratio("p99 202 to step done (ms), 100 events/s, service 50 ms late", statistics.median(p99s),
                  note=f"median of {len(p99s)}, spread {min(p99s):.0f} to {max(p99s):.0f}; after the first second")
    if not intake:
        section.unavailable["intake events/s, Redis appendfsync always"] = "redis-server is not installed"
        return section
    section.lines += ["", *table(("intake run (Redis, appendfsync always)", "accepted events/s", "accept p50 ms",
                                  "p99 ms"),
                                 [(f"run {i + 1}", f"{r['rate']:.0f}", f"{r['p50']:.2f}", f"{r['p99']:.2f}")
                                  for i, r in enumerate(intake)])]
    rates, accept_p99s = [r["rate"] for r in intake], [r["p99"] for r in intake]
    section.figures.update({"Redis intake events/s": statistics.median(rates),
                            "Redis intake accept p99 ms": statistics.median(accept_p99s)})
    section.ratio("intake events/s, Redis appendfsync always", statistics.median(rates),
                  note=f"median of {len(rates)}, spread {min(rates):.0f} to {max(rates):.0f}")
    section.ratio("intake accept p99 (ms), Redis appendfsync always", statistics.median(accept_p99s),
                  note=f"median of {len(rates)}, spread {min(accept_p99s):.1f} to {max(accept_p99s):.1f}")
    return section


def webhook_flow_run(out: str, events: int, clients: int, web: str, latency_ms: float = 0.0,
                     rate: float = 0.0) -> dict:
    """One benchmarks/webhook_flow.py run in its own small process, as when run alone (its clients are
    forked from it, not from this one)."""
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "webhook_flow.py"),  # noqa: S603
                           "--events", str(events), "--clients", str(clients), "--worker-processes", "2",
                           "--web", web, "--latency", repr(latency_ms), "--rate", repr(rate), "--json", out],
                          cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          check=False)
    if done.returncode not in (0, 1):  # 1: not every event succeeded, said below with the counts
        raise SystemExit(f"benchmark: the webhook flow ({web}) failed: {done.stderr.strip()[-300:]}")
    with open(out, encoding="utf-8") as fh:
        result = json.load(fh)
    if result["counts"] != {"succeeded": events}:
        raise SystemExit(f"benchmark: the webhook flow ({web}) finished {result['counts']} of {events} events")
    return result


def webhook_intake_run(out: str, events: int, clients: int) -> dict:
    """One benchmarks/webhook_intake.py --redis run (a redis-server of its own, appendfsync always)."""
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "webhook_intake.py"),  # noqa: S603
                           "--redis", "--events", str(events), "--clients", str(clients), "--json", out], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode not in (0, 1):  # 1: a goal missed, said in the section
        raise SystemExit(f"benchmark: the Redis intake run failed: {done.stderr.strip()[-300:]}")
    with open(out, encoding="utf-8") as fh:
        result = json.load(fh)
    if result["failures"]:
        raise SystemExit(f"benchmark: the Redis intake refused {result['failures']} of {events} events")
    return result


def reference_loop_ms(iterations: int = 1_000_000) -> float:
    """The process CPU time of a fixed loop: the same work each time, so it shows the machine's speed."""
    started = time.process_time()
    total = 0
    for i in range(iterations):
        total += i
    return (time.process_time() - started) * 1000


def web_cpu(result: dict) -> float:
    """CPU ms per event of the connector's own processes: serve, or granian and the worker processes."""
    return sum(v for k, v in result["cpu_ms_per_event"].items() if k not in ("sandbox", "clients") and v is not None)


# -- worker hosts ----------------------------------------------------------------------------------

def section_hosts(server: BenchServer, quick: bool) -> Section:
    pairs, events = (1, 60) if quick else (5, 400)
    section = Section("hosts", f"9. Worker hosts: {events} events per run through one intake and one Redis "
                               "(appendfsync always) to a one-step flow whose service answers after 50 ms, "
                               "`serve --worker-only --workers 4` on one test host, then on two (network "
                               f"namespaces), alternating, {pairs} pair{'s' * (pairs > 1)}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "hosts.json")
        done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "multihost_workers.py"),  # noqa: S603
                               "--pairs", str(pairs), "--events", str(events), "--json", out], cwd=ROOT,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode == 2:  # no namespaces here
            section.unavailable["two worker hosts / one, events/s"] = done.stderr.strip()[-200:]
            return section
        if done.returncode != 0:
            raise SystemExit(f"benchmark: the worker hosts run failed: {done.stderr.strip()[-300:]}")
        with open(out, encoding="utf-8") as fh:
            result = json.load(fh)
    rows = [(f"pair {i + 1}", f"{one['events_per_s']:.1f}", f"{two['events_per_s']:.1f}", f"{ratio:.2f}")
            for i, ((one, two), ratio) in enumerate(zip(result["runs"], result["ratios"], strict=True))]
    section.lines = table(("pair", "one host events/s", "two hosts events/s", "ratio"), rows)
    section.figures = {"one host events/s": statistics.median(one["events_per_s"] for one, _ in result["runs"]),
                       "two hosts events/s": statistics.median(two["events_per_s"] for _, two in result["runs"])}
    section.ratio("two worker hosts / one, events/s", result["median_ratio"],
                  note=f"median of {pairs} pair{'s' * (pairs > 1)}, spread {min(result['ratios']):.2f} to "
                       f"{max(result['ratios']):.2f}")
    return section


# -- main ------------------------------------------------------------------------------------------

RUNNERS = {"cold": section_cold, "warm": section_warm, "memory": section_memory, "paging": section_paging,
           "growth": section_growth, "sandbox": section_sandbox, "batch": section_batch,
           "webhook": section_webhook, "hosts": section_hosts}


def machine() -> dict:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "implementation": platform.python_implementation()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test, not figures to quote")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                        help=f"run only this section (repeatable): {', '.join(SECTIONS)}")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    chosen = [name for name in SECTIONS if not args.only or name in args.only]

    started = time.perf_counter()
    results: dict = {"machine": machine(), "quick": args.quick, "sections": {}}
    with BenchServer() as server:
        environment = bench_environment(server.url)
        os.environ.clear()  # for this process (the runtime reads it) and every child
        os.environ.update(environment)
        run_child(BARE)  # warms the file cache
        bare = statistics.median(run_child(BARE).seconds for _ in range(3 if args.quick else 5))
        info = results["machine"]
        results["bare_interpreter_ms"] = bare * 1000
        print(f"jobs-connector benchmark{' (--quick: smoke test, not figures to quote)' if args.quick else ''}\n"
              f"machine: {info['platform']}, {info['cpus']} CPUs, {info['implementation']} {info['python']}; "
              f"bare interpreter (python -c pass) {ms(bare)} ms\n", flush=True)
        for name in chosen:
            section = RUNNERS[name](server, args.quick)
            results["sections"][name] = section.as_json()
            print(section.render() + "\n", flush=True)
    summary = issue_rows(results)
    if summary:
        print(summary + "\n")
    results["seconds"] = time.perf_counter() - started
    print(f"({results['seconds']:.0f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
