"""Hypothesis settings for the property-based conformance tests, and the count of generated cases.

The default keeps CI fast (a bounded number of examples per action); `HYPOTHESIS_PROFILE=long` runs many
more. conftest.py registers the profiles and prints the counts at the end of the session.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

settings.register_profile("conformance", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def conformance_settings() -> settings:
    """The settings each conformance property runs with, per action."""
    return settings.get_profile("long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "conformance")


# kind of check -> number of generated cases run, and the fuzz examples run (printed by conftest.py at the end of
# the session; each xdist worker hands its counts to the controller)
GENERATED_CASES: Counter = Counter()
FUZZ_EXAMPLES: Counter = Counter()
