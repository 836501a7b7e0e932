"""What a message body (or a service's answer) must be before its schema is even consulted: something the
JSON wire can carry, and every consumer (stdout, the platform, the validator) can handle.

JSON Schema cannot say these, and Python's json module lets them through, so they are refused here,
naming the field:
- nesting deeper than MAX_DEPTH (no API here nests that deep; deeper data would exhaust the recursion
  of the validator, of repr() in error messages and of json.dumps);
- NaN and Infinity (json.dumps writes them as bare words, which is not JSON);
- integers too long to write as JSON text (more digits than Python converts, sys.get_int_max_str_digits);
- strings or keys that are not valid Unicode text (lone surrogates cannot be encoded as UTF-8);
- values JSON has no type for (bytes, sets, objects), and object keys that are not strings.
"""

from __future__ import annotations

import math
import re
import sys

from jobs_connector.base.errors import BadInput, UnexpectedResponse

MAX_DEPTH = 32
_NOT_FINITE = ("must be a finite number (NaN and Infinity are not JSON, and a number beyond a double's range, "
               "such as 1e400, reads as Infinity)")
_LOG10_2 = math.log10(2)


def field_path(path) -> str:
    """A field's name as messages write it: `a.b[2].c` for the keys and indexes ["a", "b", 2, "c"]."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _where(link) -> str:
    """The field's name from its (parent link, key) chain, built only for the value refused."""
    path = []
    while link is not None:
        link, part = link
        path.append(part)
    return field_path(reversed(path)) or "(body)"


def _valid_text(text: str) -> bool:
    if text.isascii():  # the common case, and a flag lookup: no copy
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def find_problem(value) -> tuple[str, str, str] | None:
    """(field, rule, what is wrong) for the first part of `value` JSON cannot carry; walks without recursion.
    Each value's place is kept as a link to its parent's, so a big answer costs no path copies."""
    limit = sys.get_int_max_str_digits()
    stack = [(value, None, 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _where(path), "depth", f"is nested more than {MAX_DEPTH} levels deep"
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            if not _valid_text(value):
                return _where(path), "unicode", "is a string that is not valid Unicode text (a lone surrogate)"
        elif isinstance(value, int):
            if limit and value.bit_length() * _LOG10_2 > limit - 1:
                return _where(path), "integer-range", f"is an integer of more than {limit - 1} digits"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return _where(path), "finite", _NOT_FINITE
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return _where(path), "key-type", "has a key that is not a string"
                if not _valid_text(key):
                    return _where(path), "unicode", "has a key that is not valid Unicode text (a lone surrogate)"
                stack.append((item, (path, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, (path, i), depth + 1) for i, item in enumerate(value))
        else:
            return _where(path), "type", f"is a {type(value).__name__}, which JSON cannot carry"
    return None


def check_body(body) -> None:
    """Refuse an input body JSON cannot carry (BadInput, naming the field): nothing is sent."""
    problem = find_problem(body)
    if problem:
        field, rule, sentence = problem
        raise BadInput(f"input field '{field}' {sentence}", field=field, rule=rule)


# In an answer json.loads has read, a lone surrogate can only come from a \\uD800-\\uDFFF escape, NaN and
# Infinity only from those bare words, and keys are strings: when the text holds none of them, only the
# depth is left to check, and that needs no look at the scalars (most of a big answer).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_CONTAINERS = (dict, list)


def _depth_schema() -> dict:
    """find_problem's depth rule as a JSON Schema: below the top, every level's items and members take the
    next level's schema, and a container at MAX_DEPTH must be empty (anything in it would be deeper)."""
    levels = {f"level{MAX_DEPTH}": {"maxItems": 0, "maxProperties": 0}}
    for depth in range(MAX_DEPTH - 1, -1, -1):
        below = {"$ref": f"#/$defs/level{depth + 1}"}
        levels[f"level{depth}"] = {"items": below, "additionalProperties": below}
    return {"$defs": levels, "$ref": "#/$defs/level0"}


_depth_validator = None


def _within_depth(value) -> bool:
    """find_problem's depth rule over the containers only, walked by jsonschema-rs (a big answer is
    mostly small objects: a walk in Python cost as much as parsing it)."""
    global _depth_validator
    if _depth_validator is None:
        import jsonschema_rs  # a runtime dependency; loaded here, not for `list` or `describe`

        _depth_validator = jsonschema_rs.validator_for(_depth_schema())
    return _depth_validator.is_valid(value)


def _plainly_safe(text: bytes, data, constants: bool | None) -> bool:
    if constants is None:  # the parser did not say whether it met NaN or Infinity: look for them
        constants = b"NaN" in text or b"Infinity" in text
    return not constants and not _SURROGATE_ESCAPE.search(text) and _within_depth(data)


def check_answer(data, status: int, text: bytes | None = None, *, constants: bool | None = None) -> None:
    """Refuse a service's answer JSON cannot carry onward (UnexpectedResponse, naming the field).
    `text`, the JSON `data` was read from, lets a plain answer skip the walk over every value; `constants`
    says whether the parser met NaN or Infinity (None: unknown, the text is searched)."""
    if text is not None and type(data) in _CONTAINERS and _plainly_safe(text, data, constants):
        return
    problem = find_problem(data)
    if problem:
        field, _, sentence = problem
        raise UnexpectedResponse(f"the service answered HTTP {status} with a field '{field}' that {sentence}",
                                 status=status)
