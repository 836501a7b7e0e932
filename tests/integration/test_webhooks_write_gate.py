"""The SQLite queue's write gate (lib/webhooks/store/write_gate.py): every write transaction of huey and of the
event store waits for it and reads do not; the intake's wait for it is bounded by the store timeout (503,
nothing stored); a killed holder frees it; a gate that cannot be opened leaves SQLite's lock in charge.
The other holder is always a separate process, as it is in `serve --worker-processes`."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

from jobs_connector.webhooks.store.queue import Queue
from jobs_connector.webhooks.store.write_gate import WriteGate
from tests.integration.test_webhooks_flushes import new_event
from tests.support.webhooks import UPDATE_STEP, InProcess, flow

HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


class Holder:
    """Another process holding the gate file until stopped."""

    def __init__(self, gate_path: str):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, gate_path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def queue(tmp_path):
    q = Queue(f"sqlite:///{tmp_path / 'queue.db'}")
    q.huey.storage._timeout = 0.3  # huey's own bound for a write's wait (30 s in serve)
    yield q
    q.close()


def pending(queue) -> int:
    return len(queue.huey.pending())


def test_writes_wait_for_the_gate_and_reads_do_not(queue, tmp_path):
    event = new_event()
    queue.accept(event)
    holder = Holder(str(tmp_path / "queue.db-gate"))
    try:
        assert queue.store.get(event.id).status == "queued"  # a read goes ahead
        began = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="write gate"):
            queue.dispatch("another-event")  # huey's enqueue
        assert 0.25 < time.monotonic() - began < 5
        with pytest.raises(sqlite3.OperationalError, match="write gate"):
            queue.store.save(queue.store.get(event.id), flush=False)  # a relaxed write
        with pytest.raises(sqlite3.OperationalError, match="write gate"):
            queue.huey.dequeue()
        # What stopped them is the gate, not SQLite's lock: a plain connection writes meanwhile.
        with sqlite3.connect(tmp_path / "queue.db") as plain:
            plain.execute("create table other_writer (n integer)")
        assert pending(queue) == 1
    finally:
        holder.release()
    queue.dispatch("another-event")
    assert pending(queue) == 2
    assert queue.huey.dequeue() is not None


def test_the_gate_of_a_killed_holder_is_free_at_once(queue, tmp_path):
    holder = Holder(str(tmp_path / "queue.db-gate"))
    holder.kill()
    queue.dispatch("an-event")
    assert pending(queue) == 1


def test_the_gate_file_is_private(queue, tmp_path):
    queue.dispatch("an-event")
    assert stat.S_IMODE(os.stat(tmp_path / "queue.db-gate").st_mode) & 0o077 == 0


def test_a_gate_that_cannot_be_opened_leaves_sqlite_in_charge(tmp_path, caplog):
    (tmp_path / "queue.db-gate").mkdir()  # not a file: opening it fails, whoever we run as
    queue = Queue(f"sqlite:///{tmp_path / 'queue.db'}")
    try:
        queue.accept(new_event())
        queue.dispatch("another-event")
        assert pending(queue) == 2
        warnings = [r.getMessage() for r in caplog.records if "write gate" in r.getMessage()]
        assert len(warnings) == 1 and "busy handler" in warnings[0]  # said once, not per write
    finally:
        queue.close()


def test_acquire_gives_up_at_its_timeout_and_release_lets_the_next_in(tmp_path):
    path = str(tmp_path / "q.db")
    mine, theirs = WriteGate(path), Holder(path + "-gate")
    try:
        assert mine.acquire(0.2) is False
    finally:
        theirs.release()
    assert mine.acquire(0.2) is True
    mine.release()
    again = Holder(path + "-gate")  # released: another process gets it
    again.release()
    mine.close()


def test_a_held_gate_gets_503_within_the_store_timeout_and_nothing_is_stored(tmp_path):
    queue_dir = tmp_path / "queue"
    queue_dir.mkdir()
    db = queue_dir / "q.db"
    flows = {"flows": [flow("device-status", [UPDATE_STEP])]}
    event = {"thing": "sensor-1", "job": "fw-42"}
    with InProcess(tmp_path, flows, f"sqlite:///{db}", work=False, store_timeout=0.5) as web:
        holder = Holder(str(db) + "-gate")  # a worker process of ours, stalled between BEGIN and COMMIT
        try:
            began = time.monotonic()
            status, answer = web.post("device-status", event, headers={"X-Delivery-Id": "gate-1"}, timeout=10)
            waited = time.monotonic() - began
        finally:
            holder.release()
        assert status == 503 and "busy" in answer["error"], answer
        assert waited < 5
        with sqlite3.connect(db) as conn:
            assert conn.execute("select count(*) from webhook_events").fetchone()[0] == 0
        assert web.post("device-status", event, headers={"X-Delivery-Id": "gate-1"})[0] == 202
