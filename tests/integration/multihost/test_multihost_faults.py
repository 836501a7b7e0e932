"""`serve` on several hosts around one Redis, and hosts that die: the hosts are network namespaces the test makes
(tests/support/multihost.py), on private links between them only. One durable redis-server (appendonly yes,
appendfsync always), an intake, two worker hosts, and a target that counts every step request. A flow of two
steps: DescribeJobExecution (safe to repeat), then UpdateJobExecution (not safe to repeat: sent at most once).

Each fault lands while 200 events are being sent and run: a worker host killed (kill -9 of all its processes), a
worker host cut off from Redis for longer than its lease and then reconnected, Redis killed and started again
from its append-only file, the intake killed and started again. Per event: accepted, succeeded, dead, and the
step requests the target saw; nothing accepted is lost, no UpdateJobExecution is sent twice, a worker cut off
has its late writes refused (a save is a compare-and-set on the event's version), and what it held is taken
over by the other host. The counts are printed at the end of the run (tests/conftest.py)."""

from __future__ import annotations

import time

import pytest

from tests.support import multihost
from tests.support.multihost import Cluster, Network, Sender
from tests.support.webhooks import need_redis_server, wait_for

pytestmark = pytest.mark.slow
N_EVENTS = 200
LEASE = 2.0
PACE = 0.05  # each of the sender's 4 threads: about 80 events/s, so the sending spans the run


@pytest.fixture(scope="module")
def network():
    reason = multihost.netns_unavailable()
    if reason:
        pytest.skip(f"the multi-host tests make network namespaces: {reason}")
    need_redis_server()
    net = Network().create()
    try:
        yield net
    finally:
        net.destroy()


@pytest.fixture
def cluster(network, tmp_path):
    hosts = Cluster(network, str(tmp_path), lease=LEASE, latency=0.03)
    try:
        yield hosts.start()
    finally:
        hosts.stop()


def posts_seen(cluster) -> int:
    return sum(seen["POST"] for seen in cluster.target_counts().values())


def wait_finished(store, timeout: float = 30.0) -> dict:
    def finished():
        counts = store.counts()
        return counts if counts.get("succeeded", 0) + counts.get("dead", 0) == N_EVENTS else None
    return wait_for(finished, timeout=timeout, interval=0.2, what=f"all {N_EVENTS} events to finish")


TAKEN_OVER = ("WorkerStopped", "OutcomeUnknown")


def taken_over_line(line: dict) -> bool:
    """A history line of the sweeper taking the event from a worker that stopped renewing its lease."""
    error = line.get("error") or {}
    return error.get("type") in TAKEN_OVER and "stopped" in error.get("message", "")


def taken_over(event) -> bool:
    return any(taken_over_line(line) for line in event.history)


def check_and_count(fault: str, cluster: Cluster, sender: Sender) -> dict:
    """Nothing lost, no step not safe to repeat sent twice; the counts of the run (also kept for the summary)."""
    sender.join(timeout=40)
    assert len(sender.accepted) == N_EVENTS, f"{fault}: acknowledged {len(sender.accepted)} of {N_EVENTS}"
    assert len(set(sender.accepted.values())) == N_EVENTS, "a delivery sent again made a second event"
    store = cluster.store()
    wait_finished(store)
    events = {event.id: event for event in store.list(limit=N_EVENTS * 2)}
    assert set(events) == set(sender.accepted.values()), "every accepted event is there, and nothing else"
    seen = cluster.target_counts()
    counts = {"accepted": N_EVENTS, "succeeded": 0, "dead": 0, "describe requests": 0, "update requests": 0,
              "taken over": 0, "resent by the sender": sender.resent}
    for number, event_id in sender.accepted.items():
        event = events[event_id]
        at_target = seen.get(f"thing-{number}", {"GET": 0, "POST": 0})
        assert at_target["POST"] <= 1, f"{fault}: UpdateJobExecution of event {number} sent {at_target['POST']} times"
        assert event.status in ("succeeded", "dead"), event
        if event.status == "succeeded":
            assert at_target["POST"] == 1 and at_target["GET"] >= 1, (event, at_target)
        else:  # the only failure this target causes: a worker stopped while the update may have been on the wire
            assert event.error["type"] == "OutcomeUnknown" and event.error["step"] == 2, event.error
        counts[event.status] += 1
        counts["describe requests"] += at_target["GET"]
        counts["update requests"] += at_target["POST"]
        counts["taken over"] += taken_over(event)
    assert counts["succeeded"] + counts["dead"] == counts["accepted"]
    multihost.FAULT_COUNTS[fault] = counts
    print(f"\n{fault}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    return {**counts, "events": events, "seen": seen}


def test_a_worker_host_killed_mid_run_loses_nothing_and_the_other_host_takes_its_events_over(cluster):
    w1 = cluster.network.hosts["w1"]
    sender = Sender(cluster.intake_url, N_EVENTS, pace=PACE).start()
    wait_for(lambda: posts_seen(cluster) >= N_EVENTS // 4, timeout=30, what="a quarter of the events to run")
    killed = w1.kill_all()
    assert killed and not multihost.namespace_pids(w1.ns)
    from_w1 = sum(seen["GET_from"].count(w1.svc) + seen["POST_from"].count(w1.svc)
                  for seen in cluster.target_counts().values())
    result = check_and_count("worker host killed", cluster, sender)
    assert result["taken over"] >= 1, "the host held events when it was killed"
    assert result["succeeded"] + result["dead"] > 0
    after = sum(seen["GET_from"].count(w1.svc) + seen["POST_from"].count(w1.svc) for seen in result["seen"].values())
    assert after == from_w1 > 0, "the dead host sent nothing more"


def test_a_worker_host_cut_off_from_redis_past_its_lease_has_its_late_results_refused(cluster):
    """The cut-off host's step calls still reach the target, whose answers it gets only once it is back: by
    then the other host has taken its events over, and every late result it tries to write is refused."""
    network = cluster.network
    sender = Sender(cluster.intake_url, N_EVENTS, pace=PACE).start()
    wait_for(lambda: posts_seen(cluster) >= N_EVENTS // 4, timeout=30, what="a quarter of the events to run")
    cluster.hold_answers("w1")
    wait_for(lambda: cluster.target_held(), timeout=5, what="a step of the host to be cut off in flight")
    network.partition("w1")
    cut_at = time.time()
    try:
        time.sleep(2 * LEASE + 0.5)  # longer than the lease, and the other host's sweeps
    finally:
        # Its requests held back so far were sent while it held the event: the later ones, under claims it makes
        # once back, are its own to finish.
        held_things = cluster.target_held()
        network.heal("w1")
        healed_at = time.time()
        time.sleep(0.5)  # its link is back before the answers are
        cluster.hold_answers("w1", on=False)
    result = check_and_count("worker host cut off from Redis", cluster, sender)
    worker = cluster.processes["w1"]
    held = len(held_things)
    refused = "refused, stopping here"  # "event E was taken over by another worker; its result of step N refused"
    deadline = time.monotonic() + 10
    while worker.output().count(refused) < held and time.monotonic() < deadline:
        time.sleep(0.05)
    late = worker.output().count(refused)
    # The events whose answers it waited for were taken over while it was cut off: by the other host's sweeper.
    for thing in held_things:
        event = result["events"][sender.accepted[int(thing.split("-")[1])]]
        assert any(cut_at <= line["at"] <= healed_at for line in event.history if taken_over_line(line)), \
            (cut_at, healed_at, event, worker.output())
    assert late == held >= 1, f"every late result refused ({late} of {held})\n{worker.output()[-3000:]}"
    assert result["taken over"] >= held
    assert worker.proc.poll() is None, "the cut-off worker lives on"
    multihost.FAULT_COUNTS["worker host cut off from Redis"]["late results refused"] = late
    print(f"late results refused: {late}")


def test_redis_killed_and_started_again_from_its_append_only_file_loses_nothing(cluster):
    redis = cluster.network.hosts["redis"]
    sender = Sender(cluster.intake_url, N_EVENTS, pace=PACE).start()
    wait_for(lambda: posts_seen(cluster) >= N_EVENTS // 4, timeout=30, what="a quarter of the events to run")
    accepted_before = len(sender.accepted)
    assert redis.kill_all(), "redis-server was running"
    time.sleep(1.0)  # the intake answers 503 meanwhile, the workers cannot reach their queue
    cluster.start_redis()  # the same directory: the append-only file, fsynced on every write, is read back
    result = check_and_count("Redis killed and started again", cluster, sender)
    assert accepted_before < N_EVENTS, "the kill landed mid-run"
    assert result["resent by the sender"] >= 1, "the sender met the outage"


def test_the_intake_killed_and_started_again_loses_nothing_and_makes_no_second_event(cluster):
    intake = cluster.network.hosts["intake"]
    sender = Sender(cluster.intake_url, N_EVENTS, pace=PACE).start()
    wait_for(lambda: len(sender.accepted) >= N_EVENTS // 4, timeout=30, what="a quarter of the events accepted")
    assert intake.kill_all(), "the intake was running"
    accepted_before = len(sender.accepted)
    time.sleep(0.5)
    cluster.start_intake().wait_ready("listening on")
    result = check_and_count("intake killed and started again", cluster, sender)
    assert accepted_before < N_EVENTS, "the kill landed mid-run"
    assert result["resent by the sender"] >= 1, "the sender met the outage"
