"""The step-config keys the command line knows, so a misspelt one (`regoin`) is refused, not silently ignored.

The config a person writes for `run` and `watch` (`--config`) is read by the connector alone; a key it does
not know has no effect, which is never what was meant. So an unknown key is bad input (exit 2, before
anything is sent), named with the closest known key. The platform's step config is not checked here: the
platform adds keys of its own to it.
"""

from __future__ import annotations

import difflib

from jobs_connector.base.errors import BadInput

# Read by the runtime besides the credentials form's fields (lib/auth, lib/http/timeouts.py, paging).
RUNTIME_KEYS = ("profile", "emitBehaviour", "maxPages", "connectTimeout", "readTimeout")


def known_keys(extra=()) -> list[str]:
    from jobs_connector.component.registry import component
    from jobs_connector.component.services import SERVICES

    entry = component()
    keys = list(entry.get("credentials", {}).get("fields", {}))
    for service in SERVICES.values():
        keys += [getattr(service, name, None) for name in ("endpoint_cfg", "token_cfg", "header_cfg")]
    for action in entry["actions"].values():  # the platform's step fields (emitBehaviour, cloudId, ...)
        keys += list(action.get("fields") or {})
    keys += [*RUNTIME_KEYS, *extra]
    return [key for key in dict.fromkeys(keys) if key]


def check_config_keys(cfg: dict, extra=(), what: str = "config") -> None:
    """Refuse every key of `cfg` that is not known, naming each and the closest known key."""
    known = known_keys(extra)
    unknown = [key for key in cfg if key not in known]
    if not unknown:
        return
    problems = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or [k for k in known if k.lower() == key.lower()]
        problems.append(f"{what} key '{key}' is not a known key" + (f" (did you mean '{close[0]}'?)" if close else ""))
    if len(problems) == 1:
        message = problems[0] + "; `jobs-connector describe ACTION` and docs/cli.md list the keys"
    else:
        message = f"{len(problems)} unknown keys in the {what}:" + "".join(f"\n  - {p}" for p in problems)
    raise BadInput(message, field=unknown[0], rule="unknown-key")
