"""Two worker hosts against one: completed events/s where the service's latency dominates.

Makes the multi-host tests' test hosts (tests/support/multihost.py: network namespaces on private links, so
it needs root and `ip netns`): one durable redis-server (appendonly yes, appendfsync always), an intake
(`serve --web-only`), worker hosts running `serve --worker-only --workers W`, and a target answering the
one-step flow's DescribeJobExecution over HTTPS after 50 ms. Each run fills the queue with the events first
(through the intake), then starts its worker hosts and times from the moment they are all ready to the last
event done; the one-host and the two-host runs alternate, pair by pair (a noisy machine slows both alike), and
the verdict is the median of the pairs' ratios, with their spread. Every process and namespace is removed.

    python benchmarks/multihost_workers.py [--pairs 3] [--events 400] [--workers 4] [--latency 0.05] [--json FILE]

Goal (issue 34): >= 1.8x the events/s of one worker host with two.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support import multihost  # noqa: E402  (after the path: the benchmark runs from a checkout)

GOAL_RATIO = 1.8
ONE_STEP = [multihost.TWO_STEPS[0]]  # DescribeJobExecution


def one_run(network: multihost.Network, workdir: str, hosts: tuple[str, ...], events: int, workers: int,
            latency: float) -> dict:
    cluster = multihost.Cluster(network, workdir, steps=ONE_STEP, latency=latency, workers=workers,
                                worker_hosts=())
    try:
        cluster.start()
        sender = multihost.Sender(cluster.intake_url, events, threads=4).start()
        sender.join(timeout=120)
        if len(sender.accepted) != events:
            raise SystemExit(f"benchmark: the intake acknowledged {len(sender.accepted)} of {events} events")
        store = cluster.store()
        started = [cluster.start_worker(role) for role in hosts]
        for process in started:
            process.wait_ready("workers:")
        began, done_before = time.monotonic(), store.counts().get("succeeded", 0)
        deadline = began + 300
        while (done := store.counts().get("succeeded", 0)) < events:
            if time.monotonic() > deadline:
                raise SystemExit(f"benchmark: {done} of {events} events done after 300 s ({store.counts()})")
            time.sleep(0.02)
        seconds = time.monotonic() - began
        return {"hosts": len(hosts), "events": events, "timed_events": events - done_before, "seconds": seconds,
                "events_per_s": (events - done_before) / seconds, "counts": store.counts()}
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="paired runs, one host and two (default 3)")
    parser.add_argument("--events", type=int, default=400, help="events per run (default 400, at most 5000)")
    parser.add_argument("--workers", type=int, default=4, help="worker threads per host (default 4)")
    parser.add_argument("--latency", type=float, default=0.05, help="the target's added seconds per call")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    reason = multihost.netns_unavailable()
    if reason:
        print(f"benchmark: cannot make the test hosts: {reason}", file=sys.stderr)
        return 2
    events, pairs = max(20, min(args.events, 5000)), max(1, min(args.pairs, 10))
    network = multihost.Network().create()
    runs: list[tuple[dict, dict]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="jobs-connector-hosts-") as tmp:
            for pair in range(pairs):
                order = (("w1",), ("w1", "w2")) if pair % 2 == 0 else (("w1", "w2"), ("w1",))
                done = {}
                for hosts in order:
                    workdir = os.path.join(tmp, f"run-{pair}-{len(hosts)}")
                    os.makedirs(workdir)
                    done[len(hosts)] = one_run(network, workdir, hosts, events, args.workers, args.latency)
                runs.append((done[1], done[2]))
    finally:
        network.destroy()
    ratios = [two["events_per_s"] / one["events_per_s"] for one, two in runs]
    median = statistics.median(ratios)
    print(f"one-step flow (DescribeJobExecution, target +{args.latency * 1000:.0f} ms), {events} events per run, "
          f"{args.workers} worker threads per host, Redis appendfsync always; {pairs} pairs")
    for n, (one, two) in enumerate(runs, 1):
        print(f"  pair {n}: one host {one['events_per_s']:6.1f} events/s, two hosts {two['events_per_s']:6.1f}"
              f"  ratio {two['events_per_s'] / one['events_per_s']:.2f}")
    print(f"  median ratio {median:.2f} (spread {min(ratios):.2f} to {max(ratios):.2f}); one host "
          f"{statistics.median(o['events_per_s'] for o, _ in runs):.1f}, two hosts "
          f"{statistics.median(t['events_per_s'] for _, t in runs):.1f} events/s (medians); goal >= {GOAL_RATIO}: "
          f"{'PASS' if median >= GOAL_RATIO else 'MISS'}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"runs": runs, "ratios": ratios, "median_ratio": median}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
