"""What every transport says about an answer and an unknown outcome, in the same words (HTTPS and MQTT)."""

from __future__ import annotations

from collections.abc import Callable

from jobs_connector.base.errors import OutcomeUnknown
from jobs_connector.base.redact import Redactor
from jobs_connector.component.registry import Action
from jobs_connector.validation import answer_drift


def warn_of_drift(action: Action, page, integral_floats: bool, redactor: Redactor,
                  warn: Callable[[str], object]) -> None:
    """A 2xx answer is the service's word: drift from the output schema is a warning, never a failure."""
    for sentence in answer_drift(action.out_schema, page, integral_floats):
        warn(redactor.scrub(f"{action.key}: the answer differs from the documented shape ({sentence}); "
                            "emitted as sent"))


def point_to_check(action: Action, error: OutcomeUnknown) -> OutcomeUnknown:
    """An unknown outcome names the read that tells what happened, where the action declares one."""
    check_with = action.spec("CHECK_WITH")
    if check_with:
        error.check_with = check_with
        error.message += f"; look with {check_with} before trying again"
        error.args = (error.message,)
    return error
