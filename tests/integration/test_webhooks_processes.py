"""`serve --worker-processes N`: the workers run in child processes that serve starts, starts again when
they exit, stops after its intake, and that stop by themselves when serve is gone. The supervision rules
are tested on WorkerProcesses with stand-in processes; the whole layout with real `serve` processes."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from jobs_connector.webhooks import processes as processes_module
from jobs_connector.webhooks.processes import (
    PARENT_ENV,
    QUICK_FAILURES,
    READY_ENV,
    WorkerProcesses,
    child_command,
    parent_gone,
    say_ready,
)
from jobs_connector.webhooks.store.queue import QUEUE_ENV, Queue
from tests.support.cli import run_cli
from tests.support.loopback import Reply
from tests.support.webhooks import (
    DESCRIBE,
    ROOT,
    STEP_INPUTS,
    ServeProcess,
    flow,
    free_port,
    get,
    post,
    serve_env,
    wait_for,
)

EXECUTION = {"execution": {"jobId": "job-1", "thingName": "thing-1", "status": "QUEUED", "versionNumber": 1}}


# -- the supervision rules, with stand-in processes ----------------------------------------------------


class FakeProc:
    _pids = iter(range(10_000, 20_000))

    def __init__(self, command, **kwargs):
        self.command, self.kwargs = command, kwargs
        self.pid = next(self._pids)
        self.code = None
        self.signals = []
        # The child's copy of its ready pipe (serve closes its own once the child has it).
        self.ready_pipe = os.dup(int(kwargs["env"][READY_ENV]))
        assert kwargs["pass_fds"] == (int(kwargs["env"][READY_ENV]),)

    def say_ready(self) -> None:
        say_ready({READY_ENV: str(self.ready_pipe)})

    def poll(self):
        return self.code

    def send_signal(self, signum):
        self.signals.append(signum)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def supervised(count=2, start_grace=10.0):
    started = []

    def popen(command, **kwargs):
        started.append(FakeProc(command, **kwargs))
        return started[-1]

    clock = Clock()
    procs = WorkerProcesses(["serve"], count, {"KEEP": "1"}, start_grace=start_grace, popen=popen, clock=clock)
    return procs, started, clock


def test_each_child_learns_its_parent_and_number_and_gets_a_session_of_its_own():
    procs, started, _ = supervised(count=2)
    procs.start()
    assert [p.kwargs["env"][processes_module.INDEX_ENV] for p in started] == ["1", "2"]
    assert all(p.kwargs["env"][PARENT_ENV] == str(os.getpid()) and p.kwargs["env"]["KEEP"] == "1" for p in started)
    assert all(p.kwargs["start_new_session"] and p.kwargs["stdin"] == subprocess.DEVNULL for p in started)


def test_a_child_that_exits_after_running_a_while_is_started_again_at_once():
    procs, started, clock = supervised(count=2)
    procs.start()
    clock.now += 60  # well past the start grace
    assert procs.check() is None
    started[0].code = -9
    assert procs.check() is None
    assert len(started) == 3 and procs.slots[0].proc is started[2] and procs.slots[1].proc is started[1]


def test_a_child_that_keeps_failing_at_start_is_retried_with_backoff_then_stops_serve():
    procs, started, clock = supervised(count=1)
    procs.start()
    waits = []
    for _ in range(QUICK_FAILURES - 1):
        started[-1].code = 2
        clock.now += 1
        assert procs.check() is None
        before = len(started)
        slot = procs.slots[0]
        waits.append(slot.not_before - clock.now)
        clock.now = slot.not_before - 0.01
        procs.check()
        assert len(started) == before, "not started again before its backoff has passed"
        clock.now = slot.not_before
        procs.check()
        assert len(started) == before + 1
    assert waits == [2.0, 4.0]
    started[-1].code = 2
    clock.now += 1
    problem = procs.check()
    assert problem and f"{QUICK_FAILURES} times in a row" in problem and "exit status 2" in problem


def test_a_child_that_started_well_is_forgiven_its_earlier_failures():
    procs, started, clock = supervised(count=1)
    procs.start()
    for _ in range(QUICK_FAILURES - 1):
        started[-1].code = 1
        clock.now += 1
        procs.check()
        clock.now = procs.slots[0].not_before
        procs.check()
    clock.now += 30  # this one runs past the start grace
    procs.check()
    started[-1].code = 1
    clock.now += 1
    assert procs.check() is None


def test_healthz_counts_children_running_and_ready_and_a_restarted_one_must_say_it_again():
    procs, started, clock = supervised(count=2)
    procs.start()
    assert procs.status() == {"processes": 2, "running": 2, "ready": 0}
    started[0].say_ready()
    procs.check()
    assert procs.status() == {"processes": 2, "running": 2, "ready": 1}
    os.close(started[1].ready_pipe)  # the second closes its pipe without a word: not ready
    procs.check()
    assert procs.status()["ready"] == 1
    clock.now += 30
    started[0].code = 1  # the ready one exits after a while: started again at once, not ready yet
    procs.check()
    assert len(started) == 3 and procs.status() == {"processes": 2, "running": 2, "ready": 0}
    started[2].say_ready()
    procs.check()
    assert procs.status()["ready"] == 1
    for proc in started:
        proc.code = 0
    procs.stop(timeout=0)
    assert all(slot.ready_pipe is None for slot in procs.slots)  # serve's ends are closed


def test_say_ready_writes_once_and_leaves_nothing_for_processes_started_later():
    ours, theirs = os.pipe()
    environ = {READY_ENV: str(theirs)}
    say_ready(environ)
    say_ready(environ)  # the second is nothing: the variable is gone
    assert READY_ENV not in environ and os.read(ours, 64) == b"ready\n"
    assert os.read(ours, 64) == b""  # its end is closed
    os.close(ours)
    say_ready({})  # outside a worker process: nothing


def test_stop_sends_sigterm_and_kills_a_child_that_outlives_the_timeout():
    ignoring = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(60)"]
    procs = WorkerProcesses(ignoring, 1, dict(os.environ))
    obeying = WorkerProcesses([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"], 1,
                              dict(os.environ))
    started = time.monotonic()
    try:
        procs.start()
        obeying.start()
        time.sleep(0.5)  # both interpreters are up (the ignoring one has set its handler)
        assert obeying.stop(timeout=10) == []
        assert procs.stop(timeout=0.5) == [1]
    finally:
        for group in (procs, obeying):
            for slot in group.slots:
                if slot.proc.poll() is None:
                    slot.proc.kill()
    assert procs.slots[0].proc.returncode == -signal.SIGKILL
    assert obeying.slots[0].proc.returncode == -signal.SIGTERM
    assert time.monotonic() - started < 10


def test_parent_gone_is_only_true_in_an_orphaned_worker_process():
    assert not parent_gone({})
    assert not parent_gone({PARENT_ENV: str(os.getppid())})
    assert parent_gone({PARENT_ENV: str(os.getppid() + 1)})


def test_the_child_command_carries_the_worker_settings_but_never_the_queue_url(tmp_path):
    command = child_command("flows.json", workers=3, lease=12.5, sweep_interval=0.5, shutdown_timeout=7.0,
                            store_timeout=2.0, log_level="WARNING")
    assert command[:4] == [sys.executable, "-m", "lib", "serve"]
    assert command[command.index("--flows") + 1] == os.path.abspath("flows.json")
    assert "--worker-only" in command and "--queue" not in command
    pairs = dict(zip(command[5::2], command[6::2], strict=False))
    assert {pairs[k] for k in ("--workers", "--lease", "--sweep-interval", "--shutdown-timeout")} == {
        "3", "12.5", "0.5", "7.0"}


def test_worker_processes_with_web_only_is_refused_naming_the_option(tmp_path):
    path = tmp_path / "flows.json"
    path.write_text(json.dumps({"flows": [flow("hook", [{"action": DESCRIBE, "input": STEP_INPUTS[DESCRIBE]}])]}))
    result = run_cli("serve", "--flows", str(path), "--web-only", "--worker-processes", "2")
    assert result.code == 2
    assert "worker-processes" in result.stderr and "--web-only" in result.stderr


# -- real serve processes ---------------------------------------------------------------------------


def children_of(pid: int) -> set[int]:
    """The living child processes of `pid`, as each of its threads lists them in /proc."""
    found = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:  # it has exited
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.update(int(child) for child in fh.read().split())
        except OSError:
            continue
    return {child for child in found if alive(child)}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in "ZX"  # a zombie has exited
    except OSError:
        return False


@pytest.fixture
def layout(tmp_path, loopback):
    """serve --worker-processes 2 (one thread each) on SQLite, its step against the loopback API."""
    loopback.default = Reply(200, EXECUTION)
    path = tmp_path / "flows.json"
    path.write_text(json.dumps({"flows": [flow("hook", [{"action": DESCRIBE, "input": STEP_INPUTS[DESCRIBE]}])]}))
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    port = free_port()
    env = serve_env(AWS_ENDPOINT_URL_IOT_JOBS_DATA=loopback.url)
    server = ServeProcess(["serve", "--flows", str(path), "--queue", queue_url, "--port", str(port),
                           "--worker-processes", "2", "--workers", "1", "--sweep-interval", "0.5"], env)
    server.start("worker processes:")
    wait_for(lambda: all(f"[worker process {i}] workers: 1 on" in server.output() for i in (1, 2)),
             what="both worker processes to start")
    wait_for(lambda: health(f"http://127.0.0.1:{port}")["worker_processes"]["ready"] == 2,
             what="both worker processes to say they are ready")
    queue = Queue(queue_url)
    started = set(announced_pids(server))
    try:
        yield server, f"http://127.0.0.1:{port}", queue
    finally:
        if server.proc.poll() is None:
            started |= children_of(server.proc.pid)  # and any it started again
        server.kill()
        for pid in started:  # a worker process must never outlive its test, whatever the test did
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        queue.close()


def health(url: str) -> dict:
    status, answer = get(url, "/healthz")
    assert status == 200, answer
    return answer


def announced_pids(server) -> list[int]:
    match = re.search(r"worker processes: 2 of 1 workers each \(pids (\d+), (\d+)\)", server.output())
    return [int(match.group(1)), int(match.group(2))]


def send(url: str, count: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + count):
        status, answer = post(url, "hook", {"thing": f"thing-{i}", "job": "job-1"})
        assert status == 202, answer
        ids.append(answer["id"])
    return ids


@pytest.mark.slow
def test_the_workers_run_in_the_children_and_stop_with_serve(layout):
    server, url, queue = layout
    pids = announced_pids(server)
    assert set(pids) == children_of(server.proc.pid)
    for pid in pids:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
        with open(f"/proc/{pid}/environ", "rb") as fh:
            environ = fh.read().split(b"\0")
        assert b"--worker-only" in argv and b"--queue" not in argv
        assert any(item.startswith(QUEUE_ENV.encode() + b"=sqlite:///") for item in environ)
    for pid in pids:  # with the children paused, nothing runs the events: serve itself has no workers
        os.kill(pid, signal.SIGSTOP)
    try:
        ids = send(url, 6)
        time.sleep(1.0)
        assert queue.store.counts() == {"queued": 6}
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    wait_for(lambda: queue.store.counts() == {"succeeded": 6}, what="the children to run the six events")
    assert all(queue.store.get(event_id).steps[0]["output"] == EXECUTION for event_id in ids)
    assert server.terminate() == 0
    assert not any(alive(pid) for pid in pids), "serve stopped its worker processes before it exited"
    stops = [line.strip() for line in server.lines if line.strip().endswith("stopped")]
    assert sorted(stops) == ["[worker process 1] stopped", "[worker process 2] stopped", "stopped"]


@pytest.mark.slow
def test_a_worker_process_killed_is_started_again(layout):
    server, url, queue = layout
    first, second = announced_pids(server)
    assert health(url)["worker_processes"] == {"processes": 2, "running": 2, "ready": 2}
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: "worker process 1 (pid" in server.output() and len(children_of(server.proc.pid)) == 2,
             what="the killed worker process to be started again")
    wait_for(lambda: health(url)["worker_processes"] == {"processes": 2, "running": 2, "ready": 2},
             what="the new worker process to say it is ready")
    assert "exited with status -9; starting it again" in server.output()
    replacement = (children_of(server.proc.pid) - {second}).pop()
    assert replacement != first
    os.kill(second, signal.SIGSTOP)  # only the new process may run these
    try:
        send(url, 3)
        wait_for(lambda: queue.store.counts() == {"succeeded": 3}, what="the new worker process to run events")
    finally:
        os.kill(second, signal.SIGCONT)
    assert server.terminate() == 0


@pytest.mark.slow
def test_worker_processes_stop_by_themselves_when_serve_is_killed(layout):
    server, url, queue = layout
    pids = announced_pids(server)
    server.kill()
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10,
             what="the orphaned worker processes to stop")


def test_a_port_in_use_stops_serve_with_a_clear_error_before_any_worker_process_starts(tmp_path):
    import socket

    path = tmp_path / "flows.json"
    path.write_text(json.dumps({"flows": [flow("hook", [{"action": DESCRIBE, "input": STEP_INPUTS[DESCRIBE]}])]}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "lib", "serve", "--flows", str(path), "--port", str(port),
                               "--queue", f"sqlite:///{tmp_path / 'queue.db'}", "--worker-processes", "2"],
                              cwd=ROOT, env=serve_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "port" in done.stderr
    assert "worker processes:" not in done.stderr and "[worker process" not in done.stderr
