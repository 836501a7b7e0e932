"""What serve's Prometheus metrics cost: the intake's accepted events/s (benchmarks/webhook_intake.py, `serve
--web-only`) and the end-to-end completed events/s (benchmarks/webhook_flow.py, one serve with its worker
threads, or --worker-processes N) with metrics on (the default) and with --no-metrics, run in pairs, the
order alternating within each pair. Prints each pair's ratio on/off and the median and spread of the
ratios: the noise of this shared machine is in the spread, the verdict in the median (goal: within 5%).
First it prints what the recorder itself costs per event (its calls alone, in a fresh interpreter, in
one-process and in multi-process mode), the part of the difference that the noise cannot hide.

    python benchmarks/webhook_metrics.py [--pairs 5] [--events 1000] [--worker-processes N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import webhook_flow  # noqa: E402
import webhook_intake  # noqa: E402

GOAL = 0.95  # metrics on at least 95% of metrics off
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One event's recorder calls as serve makes them (intake, step, end), in a fresh interpreter, in one-process
# or multi-process mode (file-backed values): CPU microseconds per event.
RECORDER_PROBE = """
import os, sys, tempfile, time
if sys.argv[1] == "multi-process":
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()
from jobs_connector.webhooks.metrics import start
metrics = start(None, ["f"], multiprocess_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR"), expose=False)
n = 20000
began = time.process_time()
for _ in range(n):
    metrics.accepted("f")
    metrics.step("f", "iot-jobs-data.GetPendingJobExecutions", "", 0.003)
    metrics.finished("f", "succeeded", 0.02)
print((time.process_time() - began) / n * 1e6)
"""


def recorder_cost(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", RECORDER_PROBE, mode], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=120, check=True)
    return float(done.stdout.strip())


def pair(index: int, measure) -> dict[str, float]:
    """One measurement each way, the order alternating from pair to pair."""
    order = ("on", "off") if index % 2 == 0 else ("off", "on")
    return {way: measure(() if way == "on" else ("--no-metrics",)) for way in order}


def summary(name: str, pairs: list[dict[str, float]]) -> dict:
    ratios = [p["on"] / p["off"] for p in pairs]
    median = statistics.median(ratios)
    print(f"{name}: on/off per pair " + ", ".join(f"{r:.3f}" for r in ratios))
    on, off = statistics.median(p["on"] for p in pairs), statistics.median(p["off"] for p in pairs)
    print(f"  median {median:.3f} (spread {min(ratios):.3f} to {max(ratios):.3f}); on {on:.0f}/s, off {off:.0f}/s "
          f"(medians); goal >= {GOAL}: {'PASS' if median >= GOAL else 'MISS'}")
    return {"ratios": ratios, "median": median, "pairs": pairs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5, help="pairs of runs for each rate (default 5)")
    parser.add_argument("--events", type=int, default=1000, help="events per run (default 1000)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--worker-processes", type=int, default=0, metavar="N",
                        help="end to end with serve --worker-processes N (multi-process metrics)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    pairs, events = max(1, min(args.pairs, 20)), max(100, min(args.events, 20000))
    clients = max(1, min(args.clients, 16))
    costs = {mode: statistics.median(recorder_cost(mode) for _ in range(3))
             for mode in ("one-process", "multi-process")}
    print("recorder CPU per event (accepted, one step, finished): "
          + ", ".join(f"{mode} {us:.1f} us" for mode, us in costs.items()))
    intake = [pair(i, lambda extra: webhook_intake.run(events * 3, clients, 300, serve_args=extra)["rate"])
              for i in range(pairs)]
    flow = [pair(i, lambda extra: webhook_flow.run(events, clients, webhook_flow.DEFAULT_WORKERS,
                                                   worker_processes=max(0, min(args.worker_processes, 8)),
                                                   serve_args=extra)["completed_per_s"])
            for i in range(pairs)]
    layout = f"{args.worker_processes} worker processes" if args.worker_processes else "one serve"
    results = {"recorder us per event": costs,
               "intake accepted events/s": summary("intake (serve --web-only), accepted events/s", intake),
               "end to end completed events/s": summary(f"end to end ({layout}), completed events/s", flow)}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
