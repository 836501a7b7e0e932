"""Validation of message bodies and answers against an action's schemas, in two stages.

The fast stage (jsonschema-rs, lib/validation/fast.py) passes a valid message in microseconds; whatever
it does not pass goes to the reference validator (jsonschema, lib/validation/reference.py), which
decides and names the field and the rule. The reference is imported only then, which keeps it off the
start-up path of a call.
"""

from __future__ import annotations

from jobs_connector.base.errors import BadInput
from jobs_connector.base.jsonsafe import check_body
from jobs_connector.validation import fast as fast_validation


def validate_input(schema: dict, body) -> None:
    """Refuse a message body that breaks the action's in-schema; nothing is sent."""
    check_body(body)  # first what JSON cannot carry (NaN, lone surrogates, ...), which no schema can say
    if not isinstance(body, dict):
        raise BadInput(f"the message body must be a JSON object, not {type(body).__name__}",
                       field="(body)", rule="type")
    if not fast_validation.is_valid(schema, body):
        from jobs_connector.validation.reference import refuse_input  # jsonschema, only to explain a refusal

        refuse_input(schema, body)


def answer_drift(schema: dict, body, integral_floats: bool = True) -> list[str]:
    """How an answer differs from the output schema (a new enum value, a longer string, a missing or an extra
    member): one sentence each, empty when it matches. Never a failure: a 2xx answer is the service's word
    and is emitted as sent, so drift is only reported. integral_floats=False: the parser saw no float with
    an integral value (protocols.FloatReader)."""
    if fast_validation.is_valid(schema, body, integral_floats):
        return []
    from jobs_connector.validation.reference import output_drift  # jsonschema, only to explain drift

    return output_drift(schema, body)


def validate_output(schema: dict, body, integral_floats: bool = True) -> None:
    """Strict: the answer must have the documented shape (tests and tools; the runtime only warns)."""
    if not fast_validation.is_valid(schema, body, integral_floats):
        from jobs_connector.validation.reference import refuse_output  # jsonschema, only to explain

        refuse_output(schema, body)
