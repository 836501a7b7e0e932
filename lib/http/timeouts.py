"""Per-step timeouts: how long to wait for a connection and for the answer.

The step config's `connectTimeout` and `readTimeout` (seconds; the CLI's `--timeout READ` or
`--timeout CONNECT,READ`), else the action's own READ_TIMEOUT (a call that waits on the server side,
such as EmbedThis WaitForTemplate), else the transport's defaults (5 s to connect, 30 s to read)."""

from __future__ import annotations

from collections.abc import Mapping

from jobs_connector.base.errors import ConfigurationError

MAX_SECONDS = 3600.0


def _seconds(cfg: Mapping, field: str) -> float | None:
    value = cfg.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigurationError(f"configuration field '{field}' must be a number of seconds", field=field,
                                 rule="type")
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigurationError(f"configuration field '{field}' must be a number of seconds", field=field,
                                 rule="type") from None
    if not 0 < seconds <= MAX_SECONDS:
        raise ConfigurationError(f"configuration field '{field}' must be more than 0 and at most {MAX_SECONDS:g} "
                                 "seconds", field=field, rule="range")
    return seconds


def step_timeout(cfg: Mapping, action_read_timeout: float | None,
                 default: tuple[float, float]) -> tuple[float, float]:
    """(connect, read) seconds for one step's requests."""
    connect = _seconds(cfg, "connectTimeout") or default[0]
    read = _seconds(cfg, "readTimeout") or action_read_timeout or default[1]
    return connect, read


def parse_cli_timeout(text: str) -> dict:
    """--timeout READ or CONNECT,READ, as step-config fields (checked with the config)."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) == 1:
        return {"readTimeout": parts[0]}
    if len(parts) == 2:
        return {"connectTimeout": parts[0], "readTimeout": parts[1]}
    raise ConfigurationError("--timeout is READ or CONNECT,READ in seconds", field="timeout", rule="format")
