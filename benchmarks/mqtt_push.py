"""IoT Jobs over MQTT against polling: notification latency, and what watching a fleet costs.

    python benchmarks/mqtt_push.py [--quick] [--things N] [--jobs-per-minute R] [--json FILE]

Runs `jobs-connector sandbox --mqtt` (mosquitto must be installed) in a child process, and in this process:

  latency  the push trigger `iot-jobs-data.jobNotification` watching 100 things; one `iot.CreateJob` at a
           time for one of them (then cancelled, so its next execution is empty again): the time from the
           CreateJob request to the trigger emitting the execution, p50 and p99;
  fleet    N watched things (default 1,000), side by side: polling every 10 s with
           `iot-jobs-data.GetPendingJobExecutions` (one request per thing per interval, measured over whole
           cycles) against the push trigger holding one subscription for all of them while a second process
           creates jobs: requests per minute to the service, and this process's CPU per notification
           (polling: the CPU of a minute of cycles over the notifications a minute has at --jobs-per-minute,
           default 60 across the fleet; push: measured while jobs are created 20 a second, less what the
           subscription costs at rest, which is printed a minute).

The sandbox and the job creator are other processes, so the CPU figures are the watcher's alone. --quick runs
small counts (a smoke test, figures too noisy to quote).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

POLL_INTERVAL = 10.0
ACCOUNT_ARN = "arn:aws:iot:us-east-1:123456789012:thing/"
CREATOR = """
import json, sys, time
from jobs_connector.runtime import Runtime
rt, things, pause = Runtime(), json.loads(sys.argv[1]), float(sys.argv[2])
for n, thing in enumerate(things):
    next(iter(rt.run("iot.CreateJob", {"jobId": f"push-{n}", "document": '{"op": "reboot"}',
                                       "targets": [f"ARN{thing}"]}, {})))
    time.sleep(pause)
"""


def start_sandbox() -> tuple[subprocess.Popen, dict]:
    process = subprocess.Popen([sys.executable, "-m", "jobs_connector", "sandbox", "--mqtt", "--port", "0",
                                "--print-env", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, start_new_session=True)
    env: dict = {}
    for line in process.stdout:
        if line.startswith("export "):
            name, _, value = line[len("export "):].strip().partition("=")
            env[name] = shlex.split(value)[0] if value else ""
        elif line.startswith("unset "):
            env.update({name: None for name in line.split()[1:]})
        if "AWS_IOT_MQTT_ENDPOINT" in env and "EMBEDTHIS_TOKEN" in env:
            break
    if "AWS_IOT_MQTT_ENDPOINT" not in env:
        process.kill()
        raise SystemExit("the sandbox did not start its MQTT side (is mosquitto installed?)")
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return process, env


def stop_sandbox(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


class Watch:
    """The push trigger for `things` in a thread of this process: (monotonic time, body) of every emit."""

    def __init__(self, runtime, things: list[str]):
        from jobs_connector.triggers.engine import Poll

        self.got: list[tuple[float, dict]] = []
        self.arrived = threading.Condition()
        self.stop = threading.Event()
        self.poll = Poll("iot-jobs-data.jobNotification", {"thingNames": things, "listenSeconds": 900}, {},
                         runtime=runtime, stop=self.stop)
        self.thread = threading.Thread(target=self._consume, daemon=True)
        self.thread.start()
        self.runtime = runtime
        self._wait_ready()

    def _consume(self) -> None:
        for body in self.poll.items():
            with self.arrived:
                self.got.append((time.monotonic(), body))
                self.arrived.notify_all()

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listeners = getattr(self.runtime, "mqtt_listeners", None)
            if listeners and all(listener.queue.empty() for listener in listeners.values()):
                time.sleep(0.5)  # the last catch-up answered
                return
            time.sleep(0.05)
        raise SystemExit("the push trigger did not finish its catch-up in time")

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        with self.arrived:  # a condition, not a busy wait: this process's CPU is what the fleet row measures
            return self.arrived.wait_for(lambda: len(self.got) >= count, timeout)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def latency(runtime, rounds: int, watched: int = 100) -> dict:
    things = [f"lat-{n:03d}" for n in range(watched)]
    watch = Watch(runtime, things)
    delays = []
    try:
        for n in range(rounds):
            thing = things[n % watched]
            sent = time.monotonic()
            next(iter(runtime.run("iot.CreateJob", {"jobId": f"lat-{n}", "document": '{"op": "reboot"}',
                                                    "targets": [ACCOUNT_ARN + thing]}, {})))
            if not watch.wait_for(n + 1):
                raise SystemExit(f"notification {n + 1} did not arrive")
            delays.append(watch.got[n][0] - sent)
            next(iter(runtime.run("iot.CancelJob", {"jobId": f"lat-{n}"}, {})))
    finally:
        watch.close()
    return {"things": watched, "notifications": rounds, "p50_ms": percentile(delays, 0.5) * 1000,
            "p99_ms": percentile(delays, 0.99) * 1000}


def polling_cycle(runtime, things: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one polling cycle: a GetPendingJobExecutions for every thing."""
    cpu, wall = time.process_time(), time.monotonic()
    for thing in things:
        next(iter(runtime.run("iot-jobs-data.GetPendingJobExecutions", {"thingName": thing}, {})))
    return time.process_time() - cpu, time.monotonic() - wall


def fleet(runtime, watched: int, notifications: int, cycles: int, jobs_per_minute: float) -> dict:
    things = [f"dev-{n:04d}" for n in range(watched)]
    cycle_cpu, cycle_wall = zip(*(polling_cycle(runtime, things) for _ in range(cycles)), strict=True)
    connect_cpu = time.process_time()
    watch = Watch(runtime, things)
    connect_cpu = time.process_time() - connect_cpu
    idle_cpu, idle_wall = time.process_time(), time.monotonic()
    time.sleep(3.0)  # the subscription at rest: what holding it costs a minute
    idle_cpu, idle_wall = time.process_time() - idle_cpu, time.monotonic() - idle_wall
    targets = [things[n * watched // notifications] for n in range(notifications)]
    pause = 0.05
    script = CREATOR.replace("ARN", ACCOUNT_ARN)
    cpu, wall = time.process_time(), time.monotonic()
    creator = subprocess.run([sys.executable, "-c", script, json.dumps(targets), str(pause)], check=True,
                             env=os.environ.copy())
    ok = watch.wait_for(notifications)
    push_cpu, push_wall = time.process_time() - cpu, time.monotonic() - wall
    watch.close()
    if creator.returncode or not ok:
        raise SystemExit(f"the push run saw {len(watch.got)} of {notifications} notifications")
    cycle = statistics.median(cycle_cpu)
    polls_per_minute = 60 / POLL_INTERVAL
    return {
        "things": watched, "notifications": notifications, "jobs_per_minute": jobs_per_minute,
        "polling": {"requests_per_minute": watched * polls_per_minute, "cycle_cpu_s": cycle,
                    "cycle_wall_s": statistics.median(cycle_wall),
                    "cpu_s_per_minute": cycle * polls_per_minute,
                    "cpu_s_per_notification": cycle * polls_per_minute / jobs_per_minute},
        "push": {"requests_per_minute": 0, "connect_requests": watched, "connect_cpu_s": connect_cpu,
                 "idle_cpu_s_per_minute": idle_cpu / idle_wall * 60,
                 "cpu_s_per_notification": max(0.0, push_cpu - idle_cpu / idle_wall * push_wall) / notifications},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--things", type=int, default=1000)
    parser.add_argument("--jobs-per-minute", type=float, default=60.0)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    process, _env = start_sandbox()
    try:
        from jobs_connector.runtime import Runtime

        runtime = Runtime()
        lat = latency(runtime, 20 if args.quick else 200, 10 if args.quick else 100)
        runtime.mqtt_pool.close()
        runtime = Runtime()  # the fleet row's process holds nothing of the latency row's
        print(f"latency  {lat['notifications']} notifications, {lat['things']} things watched: "
              f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms (CreateJob request to the trigger's emit)")
        things = 50 if args.quick else args.things
        row = fleet(runtime, things, 10 if args.quick else 100, 1 if args.quick else 3, args.jobs_per_minute)
        poll, push = row["polling"], row["push"]
        print(f"fleet    {things} things, polling costed at {args.jobs_per_minute:g} jobs/min across the fleet, "
              f"push measured over {row['notifications']} jobs:")
        print(f"  polling every {POLL_INTERVAL:.0f} s  {poll['requests_per_minute']:8.0f} requests/min  "
              f"{poll['cpu_s_per_notification'] * 1000:8.2f} ms CPU/notification  ({poll['cpu_s_per_minute']:.2f} s "
              f"CPU a minute; a cycle: "
              f"{poll['cycle_cpu_s']:.2f} s CPU, {poll['cycle_wall_s']:.2f} s wall)")
        print(f"  MQTT push            {push['requests_per_minute']:8.0f} requests/min  "
              f"{push['cpu_s_per_notification'] * 1000:8.2f} ms CPU/notification  "
              f"({push['idle_cpu_s_per_minute']:.2f} s CPU a minute at rest; connect: "
              f"{push['connect_requests']} catch-up gets, {push['connect_cpu_s']:.2f} s CPU)")
        at_rest = poll["cpu_s_per_minute"] / max(push["idle_cpu_s_per_minute"], 1e-6)
        per_notification = poll["cpu_s_per_notification"] / max(push["cpu_s_per_notification"], 1e-9)
        print(f"  ratio polling/push   CPU per notification {per_notification:.0f}x, CPU a minute at rest "
              f"{at_rest:.0f}x, requests a minute {poll['requests_per_minute']:.0f} against none")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as out:
                json.dump({"latency": lat, "fleet": row}, out, indent=2)
        runtime.mqtt_pool.close()
    finally:
        stop_sandbox(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
