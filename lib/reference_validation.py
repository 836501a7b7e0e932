"""JSON Schema validation with errors a person can act on: the field, the rule, and a fix.

Patterns are evaluated with the `regex` module, which understands the Unicode classes the AWS models
use (`\\p{C}`), and a final `$` means the true end of the string: Python's `$` would also accept a
trailing newline, which is exactly the CR/LF smuggling an anchored pattern must refuse.
"""

from __future__ import annotations

import base64
import binascii
import difflib
from functools import lru_cache

import regex
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import SchemaError

from .errors import BadInput, UnexpectedResponse
from .jsonsafe import check_body


@lru_cache(maxsize=512)
def compiled_pattern(pattern: str) -> regex.Pattern:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return regex.compile(pattern)


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not compiled_pattern(pattern).search(instance):
        yield ValidationError(f"does not match {pattern}")


def _content_encoding(validator, encoding, instance, schema):
    # An assertion here, not only an annotation: a blob must be the canonical base64 of its bytes, the
    # string an SDK would send for them (no whitespace, padding, or stray bits a service may read otherwise).
    if encoding == "base64" and validator.is_type(instance, "string"):
        try:
            canonical = base64.b64encode(base64.b64decode(instance, validate=True)).decode("ascii") == instance
        except (binascii.Error, ValueError):
            canonical = False
        if not canonical:
            yield ValidationError("is not base64 encoded")


def _is_integer(checker, instance) -> bool:
    # JSON Schema counts 5.0 as an integer; the AWS SDKs refuse it for an integer or long member, and
    # serialising it would send '5.0' where the service expects 5.
    return isinstance(instance, int) and not isinstance(instance, bool)


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


@lru_cache(maxsize=512)
def _validator_for(schema_json: str):
    import json

    schema = json.loads(schema_json)
    return _Validator(schema)


def validator_for(schema: dict):
    """A compiled validator, cached by the schema's text so each schema compiles once per process."""
    import json

    return _validator_for(json.dumps(schema, sort_keys=True))


def field_path(path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _holds_secret(schema) -> bool:
    if isinstance(schema, dict):
        return bool(schema.get("x-secret")) or any(_holds_secret(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_holds_secret(v) for v in schema)
    return False


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
    return _holds_secret(error.schema)


def _shown(error: ValidationError, root: dict | None = None) -> str:
    """A short view of the refused value, never for (or around) a secret field."""
    if _secret_involved(error, root):
        return ""
    text = repr(error.instance)
    return f" (got {text[:60]}{'...' if len(text) > 60 else ''})"


def _explain(error: ValidationError, where: str, root: dict | None = None) -> tuple[str, str, str]:
    """(field, rule, sentence) for one jsonschema error."""
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
        name = extra[0] if extra else "?"
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
    return sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))


def validate_input(schema: dict, body) -> None:
    """Refuse a message body that breaks the action's in-schema; nothing is sent."""
    check_body(body)  # first what JSON cannot carry (NaN, lone surrogates, ...), which no schema can say
    if not isinstance(body, dict):
        raise BadInput(f"the message body must be a JSON object, not {type(body).__name__}",
                       field="(body)", rule="type")
    errors = _sorted_errors(validator_for(schema), body)
    if errors:
        field, rule, sentence = _explain(errors[0], "input", schema)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise BadInput(sentence + more, field=field, rule=rule)


def validate_output(schema: dict, body) -> None:
    """The service's answer must have the shape the API documents."""
    errors = _sorted_errors(validator_for(schema), body)
    if errors:
        field, rule, sentence = _explain(errors[0], "response", schema)
        raise UnexpectedResponse(f"the service answered with an unexpected shape: {sentence}")
