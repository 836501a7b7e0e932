"""The connector's one retry policy (jobs_connector.http.retry), as the transport and the webhook worker use it."""

from __future__ import annotations

import pytest

from jobs_connector.http.retry import RetryPolicy


def test_full_jitter_waits_anywhere_up_to_the_doubling_ceiling():
    policy = RetryPolicy(base_delay=0.25, max_delay=20.0)
    assert [policy.backoff(n, rng=lambda: 1.0) for n in (1, 2, 3, 8, 9)] == [0.25, 0.5, 1.0, 20.0, 20.0]
    assert policy.backoff(3, rng=lambda: 0.0) == 0.0


def test_equal_jitter_never_retries_at_once():
    policy = RetryPolicy(base_delay=2, max_delay=10, jitter="equal")
    assert policy.backoff(1, rng=lambda: 0.0) == 1 and policy.backoff(1, rng=lambda: 1.0) == 2


def test_retry_after_is_a_floor_under_the_cap():
    policy = RetryPolicy(base_delay=1, max_delay=10)
    assert policy.backoff(1, rng=lambda: 0.0, retry_after=7) == 7


@pytest.mark.parametrize("kwargs, failed, reason", [
    ({"retryable": False}, 1, "not-retryable"),
    ({"retryable": True}, 4, "attempts"),
    ({"retryable": True, "retry_after": 21}, 1, "retry-after-over-max-delay"),
    ({"retryable": True, "elapsed": 119.9}, 1, "budget"),
])
def test_decide_says_why_it_does_not_retry(kwargs, failed, reason):
    decision = RetryPolicy(max_attempts=4, base_delay=0.25, max_delay=20, total_budget=120).decide(
        failed, rng=lambda: 1.0, **kwargs)
    assert (decision.delay, decision.reason) == (None, reason)


def test_decide_gives_the_wait_when_it_retries():
    decision = RetryPolicy(max_attempts=4, base_delay=0.25).decide(2, retryable=True, retry_after=3, rng=lambda: 0.5)
    assert decision.delay == 3 and decision.reason is None


def test_no_budget_means_attempts_alone_bound_it():
    policy = RetryPolicy(max_attempts=3, base_delay=100, max_delay=300, total_budget=None)
    assert policy.decide(2, retryable=True, elapsed=10**6, rng=lambda: 1.0).delay == 200


def test_an_unknown_jitter_is_refused():
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter="none")
