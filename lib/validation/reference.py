"""The reference validator: jsonschema (Draft 2020-12) with our rules (lib/validation/rules.py), and errors a person
can act on: the field, the rule, and a fix. It decides whenever the fast stage (lib/validation/fast.py)
does not say "valid", so it is loaded only for a refused message, and by tests and tools.

Validators are compiled once per schema object and kept (schemas are loaded once per action), so a
call costs the walk over its message and nothing more.
"""

from __future__ import annotations

import difflib

import regex
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import SchemaError

from jobs_connector.base.errors import BadInput, UnexpectedResponse
from jobs_connector.base.jsonsafe import field_path
from jobs_connector.base.redact import holds_secret
from jobs_connector.base.schema_cache import PerSchema
from jobs_connector.validation.rules import compiled_pattern, is_canonical_base64, is_strict_integer


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not compiled_pattern(pattern).search(instance):
        yield ValidationError(f"does not match {pattern}")


def _content_encoding(validator, encoding, instance, schema):
    if encoding == "base64" and validator.is_type(instance, "string") and not is_canonical_base64(instance):
        yield ValidationError("is not base64 encoded")


def _is_integer(checker, instance) -> bool:
    return is_strict_integer(instance)


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern, "contentEncoding": _content_encoding},
                               type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))

_formats = FormatChecker()


@_formats.checks("regex", raises=regex.error)
def _is_regex(value) -> bool:
    return not isinstance(value, str) or bool(regex.compile(value))


def check_schema(schema: dict) -> None:
    """Raise jsonschema.SchemaError unless `schema` is a valid 2020-12 schema (patterns by `regex` rules)."""
    for error in _Validator(Draft202012Validator.META_SCHEMA, format_checker=_formats).iter_errors(schema):
        raise SchemaError.create_from(error)


validator_for = PerSchema(_Validator)  # the compiled reference validator of a schema object, made once


def _secret_involved(error: ValidationError, root: dict | None) -> bool:
    """True when the refused value is a secret field, lies under one, or may contain one."""
    node = root
    for part in error.absolute_schema_path:
        if isinstance(node, dict) and node.get("x-secret"):
            return True
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return holds_secret(error.schema)


def _shown(error: ValidationError, root: dict | None = None) -> str:
    """A short view of the refused value, never for (or around) a secret field."""
    if _secret_involved(error, root):
        return ""
    text = repr(error.instance)
    return f" (got {text[:60]}{'...' if len(text) > 60 else ''})"


def _explain_all(error: ValidationError, where: str, root: dict | None = None) -> list[tuple[str, str, str]]:
    """(field, rule, sentence) for each problem of one jsonschema error: one per unknown field, so an input
    with three unknown fields hears of all three."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set((error.schema.get("properties") or {}).keys())
        extra = sorted(set(error.instance) - known)
        if len(extra) > 1:
            return [_explain(error, where, root, name) for name in extra]
    return [_explain(error, where, root)]


def _explain(error: ValidationError, where: str, root: dict | None = None,
             unknown: str | None = None) -> tuple[str, str, str]:
    """(field, rule, sentence) for one jsonschema error (`unknown`: which unknown field to name)."""
    rule = error.validator
    path = field_path(error.absolute_path)
    value = error.validator_value
    if rule == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        field = f"{path}.{missing}" if path else missing
        return field, "required", f"{where} field '{field}' is required"
    if rule == "additionalProperties":
        known = sorted((error.schema.get("properties") or {}).keys())
        extra = sorted(set(error.instance) - set(known)) if isinstance(error.instance, dict) else []
        name = unknown or (extra[0] if extra else "?")
        field = f"{path}.{name}" if path else name
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6) or [
            k for k in known if k.lower() == name.lower()]
        hint = f" (did you mean '{close[0]}'?)" if close else (f"; known fields: {', '.join(known)}" if known else "")
        return field, "unknown-field", f"{where} field '{field}' is not a known field{hint}"
    field = path or "(body)"
    sentences = {
        "type": f"must be of type {value}",
        "enum": f"must be one of {', '.join(map(str, value))}" if isinstance(value, list) else "is not allowed",
        "const": f"must be {value!r}",
        "minLength": f"must be at least {value} characters long",
        "maxLength": f"must be at most {value} characters long",
        "minimum": f"must be at least {value}",
        "maximum": f"must be at most {value}",
        "exclusiveMinimum": f"must be greater than {value}",
        "exclusiveMaximum": f"must be less than {value}",
        "pattern": f"must match {value}",
        "minItems": f"must have at least {value} item{'s' if value != 1 else ''}",
        "maxItems": f"must have at most {value} item{'s' if value != 1 else ''}",
        "minProperties": f"must have at least {value} entr{'ies' if value != 1 else 'y'}",
        "maxProperties": f"must have at most {value} entries",
        "format": f"must be a valid {value}",
        "contentEncoding": f"must be {value} encoded",
    }
    sentence = sentences.get(rule, error.message)
    if "propertyNames" in error.absolute_schema_path:  # a map key broke its rule
        return field, f"key-{rule}", f"{where} field '{field}' has a key that {sentence}{_shown(error, root)}"
    return field, rule, f"{where} field '{field}' {sentence}{_shown(error, root)}"


def _sorted_errors(validator, instance) -> list[ValidationError]:
    # Shallowest field first; at one field, by rule name, so the order does not hang on the order of the
    # schema's keys (and an unknown field, 'additionalProperties', is named before a missing one).
    return sorted(validator.iter_errors(instance),
                  key=lambda e: (len(e.absolute_path), list(map(str, e.path)), str(e.validator)))


# How many problems one refusal lists: enough to fix a whole message in one go, few enough to read.
MAX_LISTED_PROBLEMS = 20


def refuse_input(schema: dict, body) -> None:
    """Raise BadInput naming every problem (up to MAX_LISTED_PROBLEMS) of a body the schema refuses;
    its field and rule are the first problem's. Return if the body is valid."""
    errors = _sorted_errors(validator_for(schema), body)
    if errors:
        problems = [p for error in errors[:MAX_LISTED_PROBLEMS + 1] for p in _explain_all(error, "input", schema)]
        count = len(problems) + max(0, len(errors) - MAX_LISTED_PROBLEMS - 1)
        explained = problems[:MAX_LISTED_PROBLEMS]
        field, rule, sentence = explained[0]
        if count > 1:
            sentence = f"{count} problems in the input:" + "".join(f"\n  - {s}" for _, _, s in explained)
            if count > MAX_LISTED_PROBLEMS:
                sentence += f"\n  ... and {count - MAX_LISTED_PROBLEMS} more"
        raise BadInput(sentence, field=field, rule=rule)


def output_drift(schema: dict, body, limit: int = 10) -> list[str]:
    """Where an answer differs from the documented shape, one sentence each (at most `limit`, then a count).
    Secret fields' values are never quoted."""
    errors = _sorted_errors(validator_for(schema), body)
    sentences = [_explain(error, "response", schema)[2] for error in errors[:limit]]
    if len(errors) > limit:
        sentences.append(f"... and {len(errors) - limit} more difference{'s' if len(errors) - limit > 1 else ''}")
    return sentences


def refuse_output(schema: dict, body) -> None:
    """Raise UnexpectedResponse naming the first problem of an answer the schema refuses."""
    errors = _sorted_errors(validator_for(schema), body)
    if errors:
        field, rule, sentence = _explain(errors[0], "response", schema)
        raise UnexpectedResponse(f"the service answered with an unexpected shape: {sentence}")
