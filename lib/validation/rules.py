"""Our readings of three schema rules, written once for both validators (lib/validation/reference.py, the
reference with explanations, and lib/validation/fast.py, the fast first stage):

- a pattern is evaluated with the `regex` module, which understands the Unicode classes the AWS models use
  (`\\p{C}`), and a final `$` means the true end of the string: Python's `$` would also accept a trailing
  newline, which is exactly the CR/LF smuggling an anchored pattern must refuse. (`re` is not a drop-in:
  its `\\w` also matches characters such as '\\u00b2' that `regex` refuses.);
- `contentEncoding: base64` is an assertion, not only an annotation: a blob must be the canonical base64 of
  its bytes, the string an SDK would send for them (no whitespace, padding or stray bits a service may
  read otherwise);
- an integer is an int and not a bool: JSON Schema counts 5.0 as an integer, the AWS SDKs refuse it for an
  integer or long member, and serialising it would send '5.0' where the service expects 5.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache


@lru_cache(maxsize=512)
def compiled_pattern(pattern: str):
    """The `regex` Pattern; `regex` is imported on the first pattern that needs it (the fast validation
    stage leaves plain ASCII patterns to jsonschema-rs, so many calls need none)."""
    import regex

    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return regex.compile(pattern)


def is_canonical_base64(text: str) -> bool:
    try:
        return base64.b64encode(base64.b64decode(text, validate=True)).decode("ascii") == text
    except (binascii.Error, ValueError):
        return False


def is_strict_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
