"""Poll intervals as people write them: 30s, 5m, 1h, 500ms, or a plain number of seconds."""

from __future__ import annotations

import re

from jobs_connector.base.errors import BadInput

MIN_SECONDS = 0.05
MAX_SECONDS = 86400.0
_FORM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def seconds(value, where: str = "every") -> float:
    match = _FORM.match(str(value)) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if not match:
        raise BadInput(f"'{where}' must be a duration such as 30s, 5m, 1h or 500ms", field=where, rule="format")
    result = float(match.group(1)) * _UNIT[match.group(2)]
    if not MIN_SECONDS <= result <= MAX_SECONDS:
        raise BadInput(f"'{where}' must be from 50ms to 24h", field=where, rule="range")
    return result
