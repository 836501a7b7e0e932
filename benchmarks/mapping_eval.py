"""Per-step cost of the bounded JSONata evaluator (lib/webhooks/mapping/jsonata_box.py) beside evaluating the same
expressions in this process, unbounded, in the same run. Prints microseconds per step and the ratio.

    python benchmarks/mapping_eval.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jsonata  # noqa: E402

from jobs_connector.webhooks.mapping.jsonata_box import Evaluator  # noqa: E402

SOURCES = ["event.thing", "event.job", "event.ok ? 'SUCCEEDED' : 'FAILED'", "steps[0].execution.versionNumber"]
CONTEXT = {"event": {"thing": "sensor-1", "job": "fw-42", "ok": True, "detail": "x" * 200},
           "steps": [{"execution": {"versionNumber": 4, "status": "IN_PROGRESS"}}], "headers": {}, "meta": {}}


def per_step(run, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        run()
    return (time.perf_counter() - started) / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    compiled = [jsonata.Jsonata(source) for source in SOURCES]
    box = Evaluator()
    box.evaluate(SOURCES, CONTEXT)  # the child is started outside the measurement
    rounds = []
    for _ in range(3):  # alternating, so other load on the machine weighs on both alike
        inline = per_step(lambda: [c.evaluate(CONTEXT) for c in compiled], args.steps)
        bounded = per_step(lambda: box.evaluate(SOURCES, CONTEXT), args.steps)
        rounds.append((inline, bounded))
    box.close()
    for inline, bounded in rounds:
        print(f"in-process (unbounded) {inline:7.0f} us/step   bounded child {bounded:7.0f} us/step   "
              f"ratio {bounded / inline:4.1f}   extra {bounded - inline:6.0f} us")


if __name__ == "__main__":
    main()
