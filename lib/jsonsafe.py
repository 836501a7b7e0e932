"""What a message body must be before its schema is even consulted: something the JSON wire can carry.

JSON Schema cannot say these, and Python's json module lets them through, so they are refused here,
before validation, naming the field:
- nesting deeper than MAX_DEPTH (no API here nests that deep; deeper input would exhaust the recursion
  of the validator, of repr() in error messages and of json.dumps);
- NaN and Infinity (json.dumps writes them as bare words, which is not JSON);
- integers too long to write as JSON text (more digits than Python converts, sys.get_int_max_str_digits);
- strings or keys that are not valid Unicode text (lone surrogates cannot be encoded as UTF-8);
- values JSON has no type for (bytes, sets, objects), and object keys that are not strings.
"""

from __future__ import annotations

import math
import sys

from .errors import BadInput

MAX_DEPTH = 32
_LOG10_2 = math.log10(2)


def _where(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _refuse(path: list, rule: str, sentence: str) -> BadInput:
    field = _where(path)
    return BadInput(f"input field '{field}' {sentence}", field=field, rule=rule)


def _check_text(text: str, path: list, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse(path, "unicode", f"{what} is not valid Unicode text (it holds a lone surrogate)") from None


def check_body(body) -> None:
    """Raise BadInput for the first part of `body` the JSON wire cannot carry; walks without recursion."""
    stack = [(body, [], 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _refuse(path, "depth", f"is nested more than {MAX_DEPTH} levels deep")
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            _check_text(value, path, "is a string that")
        elif isinstance(value, int):
            limit = sys.get_int_max_str_digits()
            if limit and value.bit_length() * _LOG10_2 > limit - 1:
                raise _refuse(path, "integer-range", f"is an integer of more than {limit - 1} digits")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _refuse(path, "finite", "must be a finite number (NaN and Infinity are not JSON)")
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _refuse(path, "key-type", "has a key that is not a string")
                _check_text(key, path, "has a key that")
                stack.append((item, path + [key], depth + 1))
        elif isinstance(value, list):
            stack.extend((item, path + [i], depth + 1) for i, item in enumerate(value))
        else:
            raise _refuse(path, "type", f"is a {type(value).__name__}, which JSON cannot carry")
