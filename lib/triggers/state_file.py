"""The state file of `jobs-connector watch`: the trigger's snapshot, rewritten atomically (a temporary
file in the same directory, fsync, rename, fsync of the directory) after every emitted item, so a crash
leaves either the old or the new snapshot, never half of one. It holds item ids and versions only (no
message bodies, no secrets) and is created readable by its owner only."""

from __future__ import annotations

import json

from jobs_connector.base.atomic_file import write_atomically
from jobs_connector.base.errors import BadInput

FORMAT = "jobs-connector-watch/1"


def load(path: str, trigger: str) -> dict:
    """The snapshot kept in `path` for `trigger` ({} when the file does not exist yet)."""
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BadInput(f"cannot read the state file {path}: {exc.strerror}", field="state", rule="file") from None
    except ValueError:
        raise BadInput(f"the state file {path} is not valid JSON", field="state", rule="json") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BadInput(f"{path} is not a watch state file (expected \"format\": \"{FORMAT}\")", field="state",
                       rule="format")
    if document.get("trigger") != trigger:
        raise BadInput(f"{path} keeps the state of trigger {document.get('trigger')!r}, not {trigger!r}: "
                       "use one state file per trigger", field="state", rule="trigger")
    snapshot = document.get("snapshot")
    return snapshot if isinstance(snapshot, dict) else {}


def save(path: str, trigger: str, snapshot: dict) -> None:
    text = json.dumps({"format": FORMAT, "trigger": trigger, "snapshot": snapshot}, separators=(",", ":"))
    write_atomically(path, text, prefix=".watch-state-")
