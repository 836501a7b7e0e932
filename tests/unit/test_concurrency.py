"""One Runtime used from 16 threads at once, as an iPaaS runs steps concurrently: every call gets its own
answer (matched by a marker the server echoes back), and connections are pooled and reused (the server
counts TCP connections by client port)."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from jobs_connector.runtime import Runtime
from tests.support.inputs import accepts, input_for, last_page, sample_output
from tests.support.rawhttp import RawServer, Respond
from tests.support.targets import all_actions, config_for

THREADS = 16
CALLS_PER_THREAD = 25
MARKER = re.compile(r"m\d{2}x\d{3}")


def _marked(action):
    """(action, the input member that carries a marker, the answer that echoes one) or None."""
    base = input_for(action)
    props = action.in_schema.get("properties") or {}
    for member in sorted(props, key=lambda name: name not in (action.in_schema.get("required") or [])):
        if not accepts(action.in_schema, {**base, member: "m00x000"}):
            continue
        try:
            answer = sample_output(action.out_schema, text="m00x000")
        except ValueError:
            continue
        if "m00x000" in json.dumps(answer) and not action.spec("PAGING"):
            return action, member
    return None


def pick_action():
    found = [hit for hit in map(_marked, all_actions()) if hit]
    return found[0] if found else None


def test_sixteen_threads_share_one_runtime_and_few_connections(aws_env):
    picked = pick_action()
    assert picked, "no action can carry a marker from its input to its answer"
    action, member = picked
    base = input_for(action)

    def answer(request):
        raw = request.target + request.body.decode("utf-8", "replace")
        [marker] = set(MARKER.findall(raw))
        return Respond(200, last_page(action, sample_output(action.out_schema, text=marker)))

    runtime = Runtime()
    results: dict[str, list] = {}
    lock = threading.Lock()

    def worker(thread: int) -> None:
        for call in range(CALLS_PER_THREAD):
            marker = f"m{thread:02d}x{call:03d}"
            messages = list(runtime.run(action.key, {**base, member: marker}, config_for(action, server.url)))
            with lock:
                results[marker] = messages

    with RawServer(answer) as server:
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [pool.submit(worker, t) for t in range(THREADS)]
            done, pending = wait(futures, timeout=120)
            assert not pending, "the calls did not finish in time"
            for future in done:
                future.result()  # re-raises a thread's failure
        calls = THREADS * CALLS_PER_THREAD
        assert len(server.requests) == calls
        assert server.connections <= 2 * THREADS  # one pool per thread, each connection kept alive
        assert server.connections < calls / 10

    assert len(results) == calls
    for marker, messages in results.items():
        assert len(messages) == 1
        echoed = set(MARKER.findall(json.dumps(messages[0])))
        assert echoed == {marker}  # its own answer, nobody else's

