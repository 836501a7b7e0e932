"""Webhook throughput end to end: events/s from the signed POST to the flow's step done, through the
workers of `jobs-connector serve`, for a one-step flow against the sandbox.

Starts the sandbox (`jobs-connector sandbox --port 0`) and `jobs-connector serve` (web and its worker
threads, SQLite queue in a temporary directory) on 127.0.0.1, sends signed events from a few client
processes (as benchmarks/webhook_intake.py does: built and signed before the clock starts, then sent
as bytes), and waits until every event has succeeded, counting them in the queue's store. Prints
accepted events/s (the intake alone), completed events/s (end to end) and the CPU time spent per event
by each process (serve with its JSONata evaluators; the clients, whole processes). Bounded in count
and time; every process it starts is stopped.

    python benchmarks/webhook_flow.py [--events 1000] [--clients 4] [--workers 4] [--split | --worker-processes N]
                                      [--web serve|granian] [--latency MS] [--rate EV/S] [--json FILE]

`--web granian --worker-processes N` measures the other documented layout: granian (a compiled server)
serving jobs_connector.webhooks.intake.wsgi:application as the web role, beside N `serve --worker-only` processes.

Goal (issue 20) on 2 cores: >= 300 completed events/s. With `--rate 100 --latency 50` (events sent at 100 a
second, the sandbox 50 ms late), issue 34's: p99 from the 202 to the step done <= 150 ms, read from the queue's
store (received_at to the step's end), after the first second (each process starting its step threads).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from webhook_intake import SECRET, TIME_LIMIT, free_port, percentile, run_clients, stop, wait_ready  # noqa: E402

from jobs_connector.cli.serve import DEFAULT_WORKERS  # noqa: E402
from jobs_connector.webhooks.lifecycle import Settings  # noqa: E402
from jobs_connector.webhooks.processes import READY_ENV  # noqa: E402

GOAL_EVENTS_PER_SECOND = 300.0
GOAL_DONE_P99_MS = 150.0  # issue 34: p99 from 202 to step done, at 100 events/s with a 50 ms service
WARM_UP = 1.0  # seconds: a paced run's first events, counted apart in the 202-to-done figures
INTAKE_THREADS = Settings.threads  # serve's --threads default
FLOWS = {"flows": [{
    "name": "bench",  # webhook_intake.client posts to /hooks/bench
    "secret_env": "BENCH_HOOK_SECRET",
    "steps": [{"action": "iot-jobs-data.GetPendingJobExecutions", "input": {"thingName": "'demo-thing'"}}],
}]}


def start_sandbox(latency_ms: float = 0.0) -> tuple[subprocess.Popen, dict[str, str | None]]:
    """The sandbox on a free port, and the client environment it prints (None: unset that variable). It
    starts without this process's AWS settings: with a key pair there, it would accept that pair instead of
    its documented one and not print the secret."""
    own_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen([sys.executable, "-m", "lib", "sandbox", "--port", "0", "--print-env", "--quiet",
                             "--latency", repr(latency_ms)],
                            cwd=ROOT, env=own_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env: dict[str, str | None] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        words = shlex.split(line)
        if words[:1] == ["unset"]:
            env.update(dict.fromkeys(words[1:]))
        elif words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            env[name] = value
            if name == "EMBEDTHIS_TOKEN":  # the last line
                return proc, env
    stop(proc)
    raise SystemExit("the sandbox did not start")


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process and its living descendants (the serve process's JSONata
    evaluators), from /proc; None where there is no /proc."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))  # ppid, utime + stime
    except (OSError, ValueError):
        return None
    if pid not in stats:
        return None
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += stats[current][1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total / ticks


def granian_web(port: int, flows_file: str, queue_url: str, env: dict) -> subprocess.Popen:
    """granian (one process, as many request threads as serve's --threads) serving the intake's WSGI entry
    point, its settings from the environment (docs/webhooks.md)."""
    return subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1", "--blocking-threads",
         str(INTAKE_THREADS), "--no-ws", "--workers-kill-timeout", "5", "--log-level", "warning", "--host",
         "127.0.0.1", "--port", str(port), "jobs_connector.webhooks.intake.wsgi:application"],
        cwd=ROOT, env={**env, "JOBS_CONNECTOR_FLOWS": flows_file, "JOBS_CONNECTOR_QUEUE": queue_url},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)  # a group: see kill_leftovers


def kill_leftovers(proc: subprocess.Popen) -> None:
    """SIGKILL to whatever is left of a stopped process's group: granian's worker process outlives a granian
    that had to be killed."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def worker_ready_pipe() -> tuple[int, int]:
    """(the worker process's end, ours): serve's own way of hearing that a worker process takes events."""
    ours, theirs = os.pipe()
    os.set_inheritable(theirs, True)
    return theirs, ours


def wait_said_ready(fd: int, timeout: float) -> bytes:
    readable, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 64) if readable else b""


def run(events: int, clients: int, workers: int, split: bool = False, worker_processes: int = 0,
        web: str = "serve", serve_args: tuple = (), latency_ms: float = 0.0, concurrency: int = 0,
        rate: float = 0.0) -> dict:
    """`serve_args`: more flags for every serve (benchmarks/webhook_metrics.py: --no-metrics). `rate`: the
    clients send that many events a second in all, each at its time (0: as fast as they are answered)."""
    from jobs_connector.webhooks.store.queue import Queue

    sandbox, sandbox_env = start_sandbox(latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            flows_file = os.path.join(tmp, "flows.json")
            with open(flows_file, "w") as fh:
                json.dump(FLOWS, fh)
            queue_url = f"sqlite:///{os.path.join(tmp, 'queue.db')}"
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update({k: v for k, v in sandbox_env.items() if v is not None})
            env.update(BENCH_HOOK_SECRET=SECRET, PYTHONPATH=ROOT)
            serve = [sys.executable, "-m", "lib", "serve", "--flows", flows_file, "--port", str(port), "--queue",
                     queue_url, "--workers", str(workers), "--log-level", "WARNING", *serve_args]
            if concurrency:
                serve += ["--concurrency", str(concurrency)]
            # --split: the web role and the workers in two processes (two interpreters, so two cores), as
            # docs/webhooks.md describes for scale-out; otherwise one process runs both.
            # --worker-processes N: one serve that starts N worker processes of its own (counted with it).
            # --web granian: the web role on granian, serving jobs_connector.webhooks.intake.wsgi:application as
            # docs/webhooks.md
            # shows, beside N `serve --worker-only` processes (what serve --worker-processes N starts).
            roles = [["--web-only"], ["--worker-only"]] if split else [[]]
            if worker_processes and web == "serve":
                serve += ["--worker-processes", str(worker_processes)]
            servers: list[subprocess.Popen] = []
            ready_pipes: list[int] = []
            try:
                if web == "granian":
                    names = ["granian"] + ["serve --worker-only"] * worker_processes
                    servers.append(granian_web(port, flows_file, queue_url, env))
                    for _ in range(worker_processes):
                        theirs, ours = worker_ready_pipe()
                        ready_pipes.append(ours)
                        servers.append(subprocess.Popen(
                            serve + ["--worker-only"], cwd=ROOT, env={**env, READY_ENV: str(theirs)},
                            pass_fds=(theirs,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
                        os.close(theirs)
                else:
                    names = [("serve " + " ".join(role)).strip() for role in roles]
                    servers += [subprocess.Popen(serve + role, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE) for role in roles]
                server = servers[0]
                wait_ready(port, server)
                if worker_processes and web == "serve":
                    # serve starts its children after it holds the port: measure once they take events.
                    wait_ready(port, server, 60.0, what="the worker processes did not become ready",
                               until=lambda health: health.get("worker_processes", {}).get("ready")
                               == worker_processes)
                for pipe in ready_pipes:  # each worker process says so once its workers take events
                    if wait_said_ready(pipe, 60.0) != b"ready\n":
                        raise SystemExit("a worker process did not become ready")
                before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the clients, once they are joined
                results, start_at = run_clients(port, events, clients, 300, rate)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                clients_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
                sent = sum(len(r[0]) - r[1] for r in results)
                accepted_at = max(r[2] for r in results)
                queue = Queue(queue_url)
                try:
                    deadline = time.monotonic() + TIME_LIMIT
                    while time.monotonic() < deadline:
                        counts = queue.store.counts()
                        if counts.get("succeeded", 0) + counts.get("dead", 0) >= sent:
                            break
                        time.sleep(0.05)
                    done_at = time.time()
                    cpu: dict[str, float | None] = {"sandbox": cpu_seconds(sandbox.pid)}
                    for name, proc in zip(names, servers, strict=True):  # worker processes: one sum
                        seconds = cpu_seconds(proc.pid)
                        cpu[name] = None if seconds is None else seconds + (cpu.get(name) or 0.0)
                    cpu["clients"] = clients_cpu
                    # From the 202 (received_at is stamped just before it) to the step done (updated_at):
                    # what the sender's event waits for, read from the store, not from the clients' clocks.
                    # Paced runs only, and apart for their first second, while every process starts its
                    # step threads and their connections (up to 2 s on 2 cores): the rest is the steady state.
                    done = {True: [], False: []}
                    for e in queue.store.list("succeeded", limit=sent) if rate else ():
                        done[e.received_at >= start_at + WARM_UP].append(e.updated_at - e.received_at)
                finally:
                    queue.close()
            finally:
                for pipe in ready_pipes:
                    os.close(pipe)
                for proc in servers:
                    stop(proc)
                if web == "granian" and servers:
                    kill_leftovers(servers[0])
    finally:
        stop(sandbox)
    latencies = [x for r in results for x in r[0]]
    return {"events": sent, "clients": clients, "workers": workers, "split": split, "web": web,
            "latency_ms": latency_ms, "concurrency": concurrency,
            "worker_processes": worker_processes, "counts": counts,
            "accepted_per_s": sent / (accepted_at - start_at), "completed_per_s": counts.get("succeeded", 0)
            / (done_at - start_at), "seconds": done_at - start_at,
            "cpu_ms_per_event": {name: None if seconds is None else seconds * 1000 / max(sent, 1)
                                 for name, seconds in cpu.items()},
            "accept_p50_ms": percentile(latencies, 0.5) * 1000, "accept_p99_ms": percentile(latencies, 0.99) * 1000,
            "rate": rate, "done_p50_ms": percentile(done[True], 0.5) * 1000 if done[True] else None,
            "done_p99_ms": percentile(done[True], 0.99) * 1000 if done[True] else None,
            "warm_up_done_max_ms": max(done[False]) * 1000 if done[False] else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events in all (default 1000, at most 20000)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"worker threads of serve, per process (default {DEFAULT_WORKERS}, serve's own)")
    parser.add_argument("--split", action="store_true",
                        help="run the web role and the workers as two processes (serve --web-only / --worker-only)")
    parser.add_argument("--worker-processes", type=int, default=0, metavar="N",
                        help="serve --worker-processes N: the workers in N processes started by serve")
    parser.add_argument("--web", choices=("serve", "granian"), default="serve",
                        help="the web role: serve's own (waitress, default), or granian serving "
                             "jobs_connector.webhooks.intake.wsgi:application beside N `serve --worker-only` processes "
                             "(needs --worker-processes N)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="the sandbox answers each call MS milliseconds late, as a remote service (default 0)")
    parser.add_argument("--concurrency", type=int, default=0, metavar="N",
                        help="serve --concurrency N: steps running at once per worker process (default: serve's)")
    parser.add_argument("--rate", type=float, default=0.0, metavar="EV/S",
                        help="send that many events a second in all, each at its time, as webhooks arrive "
                             "(default: each as soon as the last is answered)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    clients = max(1, min(args.clients, 16))
    if args.split and args.worker_processes:
        parser.error("--split and --worker-processes are two layouts: give one")
    if args.web == "granian" and (args.split or not args.worker_processes):
        parser.error("--web granian runs the workers as --worker-processes N separate processes: give N, not --split")
    r = run(max(clients, min(args.events, 20000)), clients, max(1, min(args.workers, 64)), args.split,
            max(0, min(args.worker_processes, 8)), args.web, latency_ms=max(0.0, min(args.latency, 1000.0)),
            concurrency=max(0, min(args.concurrency, 256)), rate=max(0.0, min(args.rate, 5000.0)))
    layout = ("web and workers in two processes" if r["split"] else
              f"granian web role and {r['worker_processes']} worker processes" if r["web"] == "granian" else
              f"serve with {r['worker_processes']} worker processes" if r["worker_processes"] else "one serve process")
    print(f"one-step flow (iot-jobs-data.GetPendingJobExecutions against the sandbox), {r['workers']} workers"
          f"{' each' if r['worker_processes'] else ''}, "
          f"{layout}, SQLite queue, {r['clients']} clients"
          + (f", the sandbox {r['latency_ms']:g} ms late" if r["latency_ms"] else "")
          + (f", --concurrency {r['concurrency']}" if r["concurrency"] else "")
          + (f", sent at {r['rate']:g} events/s" if r["rate"] else ""))
    print(f"  events sent and accepted   {r['events']}")
    print(f"  finished                   {r['counts']}")
    print(f"  accepted events/s (intake) {r['accepted_per_s']:.0f}  (accept p50 {r['accept_p50_ms']:.1f} ms, "
          f"p99 {r['accept_p99_ms']:.1f} ms)")
    verdict = (f"goal >= {GOAL_EVENTS_PER_SECOND:.0f}: "
               f"{'PASS' if r['completed_per_s'] >= GOAL_EVENTS_PER_SECOND else 'MISS'}" if not r["rate"]
               else "paced: the rate sent, not a throughput")
    print(f"  completed events/s         {r['completed_per_s']:.0f}  ({verdict})")
    if r["done_p50_ms"] is not None:
        print(f"  202 to step done           p50 {r['done_p50_ms']:.1f} ms, p99 {r['done_p99_ms']:.1f} ms after the "
              f"first {WARM_UP:g} s (goal p99 <= {GOAL_DONE_P99_MS:.0f} ms at 100 events/s, 50 ms late: "
              f"{'PASS' if r['done_p99_ms'] <= GOAL_DONE_P99_MS else 'MISS'}); the first second's slowest "
              f"{r['warm_up_done_max_ms'] or 0:.0f} ms")
    cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in r["cpu_ms_per_event"].items() if ms is not None)
    if cpu:
        print(f"  CPU ms per event           {cpu}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(r, fh, indent=2)
    return 0 if r["counts"].get("succeeded", 0) == r["events"] else 1


if __name__ == "__main__":
    sys.exit(main())
