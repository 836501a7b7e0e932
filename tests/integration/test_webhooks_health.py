"""Honest health over real HTTP: a busy store answers 503 within its bound and stores nothing; a queue file
deleted or replaced under the server fails /readyz and intake (the process is still alive: /healthz 200);
Redis unreachable at start is exit 2 with one line; Redis lost while serving is 503 with a few log lines, not a
flood (a real redis-server)."""

import json
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.support.webhooks import (
    ROOT,
    UPDATE_STEP,
    InProcess,
    ServeProcess,
    flow,
    free_port,
    get,
    post,
    serve_env,
    wait_for,
)

EVENT = {"thing": "sensor-1", "job": "fw-42"}
FLOWS = {"flows": [flow("device-status", [UPDATE_STEP])]}


@pytest.fixture
def queue_dir(tmp_path):
    path = tmp_path / "queue"
    path.mkdir()
    return path


def count_events(db_path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("select count(*) from webhook_events").fetchone()[0]


def test_a_held_write_lock_gets_503_within_the_bound_and_nothing_is_stored(tmp_path, queue_dir):
    db = queue_dir / "q.db"
    with InProcess(tmp_path, FLOWS, f"sqlite:///{db}", work=False, store_timeout=0.5) as web:
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("begin exclusive")  # another process holding the write lock
        try:
            began = time.monotonic()
            status, answer = web.post("device-status", EVENT, headers={"X-Delivery-Id": "busy-1"}, timeout=10)
            waited = time.monotonic() - began
        finally:
            holder.execute("rollback")
            holder.close()
        assert status == 503 and "busy" in answer["error"], answer
        assert waited < 5  # bounded by the store timeout (0.5 s here), not by the 30 s busy handler
        assert count_events(db) == 0  # no stored-but-timed-out event
        # The sender's retry, once the lock is gone, is the one event.
        assert web.post("device-status", EVENT, headers={"X-Delivery-Id": "busy-1"})[0] == 202
        assert count_events(db) == 1


def test_a_deleted_queue_directory_fails_readyz_and_intake(tmp_path, queue_dir):
    with InProcess(tmp_path, FLOWS, f"sqlite:///{queue_dir / 'q.db'}", work=False) as web:
        assert web.post("device-status", EVENT)[0] == 202
        assert get(web.url, "/readyz") == (200, {"ready": True, "queue": "sqlite", "durable": True})
        shutil.rmtree(queue_dir)
        status, ready = get(web.url, "/readyz")
        assert status == 503 and ready["ready"] is False and "does not answer" in ready["reason"], ready
        assert get(web.url, "/healthz")[0] == 200  # alive: restarting it would not bring the file back
        status, answer = web.post("device-status", {**EVENT, "n": 2})
        assert status == 503 and "again" in answer["error"]


def test_a_replaced_queue_file_fails_readyz_and_intake(tmp_path, queue_dir):
    db = queue_dir / "q.db"
    with InProcess(tmp_path, FLOWS, f"sqlite:///{db}", work=False) as web:
        assert web.post("device-status", EVENT)[0] == 202
        db.rename(queue_dir / "moved-away.db")
        sqlite3.connect(db).close()  # a new, empty file at the same path
        assert get(web.url, "/readyz")[0] == 503
        status, answer = web.post("device-status", {**EVENT, "n": 2})
        assert status == 503 and "again" in answer["error"]


def write_flows(tmp_path) -> str:
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(FLOWS))
    return str(path)


def test_redis_unreachable_at_start_exits_2_with_one_line(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    proc = subprocess.run([sys.executable, "-m", "lib", "serve", "--flows", write_flows(tmp_path), "--port", "0",
                           "--queue", url], cwd=ROOT, env=serve_env(), capture_output=True, text=True, timeout=60)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "cannot reach Redis" in lines[0] and url.split("/0")[0].split("//")[1] in lines[0]


@pytest.mark.slow
def test_redis_lost_while_serving_answers_503_with_a_few_log_lines(tmp_path, private_redis):
    port = free_port()
    serve = ServeProcess(["serve", "--flows", write_flows(tmp_path), "--port", str(port), "--workers", "1",
                          "--queue", f"{private_redis.url}/0"], serve_env())
    serve.start(ready="listening on")
    url = f"http://127.0.0.1:{port}"
    try:
        assert post(url, "device-status", EVENT)[0] == 202
        private_redis.stop()
        answers = [post(url, "device-status", {**EVENT, "n": i})[0] for i in range(20)]
        assert answers == [503] * 20
        status, ready = get(url, "/readyz")
        assert status == 503 and ready == {"ready": False, "queue": "redis",
                                           "reason": "the store does not answer (ConnectionError)"}, ready
        assert get(url, "/healthz")[0] == 200
        time.sleep(2)  # huey's consumer polls the lost Redis meanwhile
        log = serve.output()
        assert log.count("could not be stored") == 1, log
        records = [line for line in log.splitlines() if line.startswith("20")]  # one per log record
        assert "Traceback" not in log and len(records) <= 8, log
    finally:
        assert serve.terminate() == 0
    wait_for(lambda: serve.proc.poll() is not None, timeout=5, what="serve to stop")


def test_repeated_log_records_are_held_back_and_stay_formattable():
    import logging

    from jobs_connector.base.log_repeats import RepeatFilter

    clock = [0.0]
    repeat = RepeatFilter(interval=10, clock=lambda: clock[0])

    def record():
        try:
            raise ConnectionRefusedError("100% refused")
        except OSError:
            return logging.LogRecord("huey", logging.ERROR, __file__, 1, "task %s failed", ("t-1",), sys.exc_info())

    first = record()
    assert repeat.filter(first) and first.exc_info is None
    assert first.getMessage() == "task t-1 failed: ConnectionRefusedError: 100% refused"
    assert not repeat.filter(record())
    clock[0] = 11
    third = record()
    assert repeat.filter(third) and third.getMessage().endswith("(1 more like this held back)")


def test_a_warning_marked_every_time_is_never_held_back():
    """A refused late result is a fact about one event (tests/integration/multihost): each one is logged."""
    import logging

    from jobs_connector.base.log_repeats import EVERY_TIME, RepeatFilter

    repeat = RepeatFilter(interval=10, clock=lambda: 0.0)

    def record(event_id: str, every_time: bool) -> logging.LogRecord:
        made = logging.LogRecord("jobs_connector.webhooks", logging.WARNING, __file__, 1,
                                 "event %s was taken over by another worker; %s refused, stopping here",
                                 (event_id, "its result of step 1"), None)
        if every_time:
            made.__dict__.update(EVERY_TIME)
        return made

    assert [repeat.filter(record(f"e-{n}", True)) for n in range(3)] == [True, True, True]
    assert [repeat.filter(record(f"e-{n}", False)) for n in range(2)] == [True, False]
