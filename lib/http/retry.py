"""The one retry policy of the connector: how many attempts, how long to wait between them, and whether a
failure is retried at all. The transport uses it for the attempts inside one call (0.25 s doubling, full
jitter, a total budget); the webhook worker for an event's attempts (a flow's `retry:`, seconds to minutes
apart, "equal" jitter so a retry never comes at once). Whether a request may be repeated at all (idempotent,
never sent) is the caller's question, answered before it asks this policy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from jobs_connector.base.record import Record

# Full jitter: a wait anywhere between 0 and the ceiling. Equal jitter: between half the ceiling and the
# ceiling (AWS Architecture Blog, "Exponential Backoff And Jitter").
JITTERS = ("full", "equal")


class RetryDecision(Record):
    """Retry after `delay` seconds, or not (delay None) for `reason`: not-retryable, attempts,
    retry-after-over-max-delay or budget."""

    __slots__ = _fields = ("delay", "reason")

    def __init__(self, delay: float | None, reason: str | None = None):
        self.delay, self.reason = delay, reason


class RetryPolicy(Record):
    __slots__ = _fields = ("max_attempts", "base_delay", "max_delay", "total_budget", "jitter")

    def __init__(self, max_attempts: int = 4, base_delay: float = 0.25, max_delay: float = 20.0,
                 total_budget: float | None = 120.0, jitter: str = "full"):
        # total_budget: seconds of waiting and trying over all attempts (None: no budget but max_attempts)
        if jitter not in JITTERS:
            raise ValueError(f"jitter must be one of {JITTERS}")
        self.max_attempts, self.base_delay, self.max_delay, self.total_budget, self.jitter = \
            max_attempts, base_delay, max_delay, total_budget, jitter

    def backoff(self, failed_attempts: int, rng: Callable[[], float] = random.random,
                retry_after: float | None = None) -> float:
        """Seconds to wait after the n-th failed attempt: base * 2^(n-1), capped at max_delay, jittered; at least
        the service's Retry-After, never more than max_delay."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, failed_attempts - 1)))
        wait = ceiling * rng() if self.jitter == "full" else ceiling * (0.5 + rng() / 2)
        return min(self.max_delay, max(wait, retry_after or 0.0))

    def decide(self, failed_attempts: int, *, retryable: bool, retry_after: float | None = None,
               elapsed: float = 0.0, rng: Callable[[], float] = random.random) -> RetryDecision:
        """should_retry: whether to try again after the n-th failed attempt, and after how long."""
        if not retryable:
            return RetryDecision(None, "not-retryable")
        if retry_after is not None and retry_after > self.max_delay:
            return RetryDecision(None, "retry-after-over-max-delay")  # the service asks for a longer pause
        if failed_attempts >= self.max_attempts:
            return RetryDecision(None, "attempts")
        delay = self.backoff(failed_attempts, rng, retry_after)
        if self.total_budget is not None and elapsed + delay > self.total_budget:
            return RetryDecision(None, "budget")
        return RetryDecision(delay)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # only for the rare HTTP-date form

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())
