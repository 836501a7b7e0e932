"""The triggers of component.json: their modules, out-schemas and config, found through the one registry."""

from __future__ import annotations

import importlib
import os
from functools import cached_property, lru_cache
from types import ModuleType

from jobs_connector.base.errors import BadInput
from jobs_connector.component.registry import Entry, component
from jobs_connector.triggers.snapshot import DEFAULT_LIMIT, MAX_LIMIT
from jobs_connector.validation import validate_input

FIRST_RUN = ("emitExisting", "startFromNow")

# Config every trigger takes (the snapshot's options), besides its own fields.
COMMON_CONFIG = {
    "firstRun": {"enum": list(FIRST_RUN)},
    "startTime": {"type": ["string", "number"]},
    "snapshotLimit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "skipSnapshot": {"type": "boolean"},
    "maxPages": {"type": "integer", "minimum": 1, "maximum": 1000},
}


class Trigger(Entry):
    """One polling trigger of the component: its descriptor entry, its module and its config."""

    @cached_property
    def module(self) -> ModuleType:
        # Trigger modules are part of this package (lib/triggers/, `jobs_connector.triggers` when installed):
        # imported by name, so their relative imports work whatever the package is called.
        name = os.path.splitext(os.path.basename(self.entry["main"]))[0]
        return importlib.import_module(f"{__package__}.{name}")

    @property
    def config_schema(self) -> dict:
        own = getattr(self.module, "CONFIG", {})
        return {"type": "object", "properties": {**COMMON_CONFIG, **own.get("properties", {})},
                "required": list(own.get("required", []))}

    def check_config(self, cfg) -> dict:
        """The config with form strings read as numbers or booleans; BadInput names a bad field."""
        cfg = dict(cfg or {})
        schema = self.config_schema
        for name, rule in schema["properties"].items():
            cfg[name] = _coerced(cfg.get(name), rule)
            if cfg[name] is None:
                cfg.pop(name)
        missing = [name for name in schema["required"] if name not in cfg]
        if missing:
            raise BadInput(f"trigger {self.key} needs the config field '{missing[0]}'", field=missing[0],
                           rule="required")
        known = {name: cfg[name] for name in schema["properties"] if name in cfg}
        validate_input({**schema, "required": []}, known)  # BadInput names the field and the rule
        if cfg.get("firstRun") == "startFromNow" and not getattr(self.module, "FIRST_RUN_OPTION", True):
            raise BadInput(f"trigger {self.key} emits every waiting job; firstRun startFromNow does not apply",
                           field="firstRun", rule="enum")
        cfg.setdefault("snapshotLimit", DEFAULT_LIMIT)
        return cfg


def _coerced(value, rule: dict):
    """Form fields arrive as text: '25' for an integer, 'true' for a boolean; '' means not set."""
    if value == "":
        return None
    kinds = rule.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if isinstance(value, str):
        if "integer" in kinds and value.strip().lstrip("-").isdigit():
            return int(value)
        if "boolean" in kinds and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if "array" in kinds:
            return [part.strip() for part in value.split(",") if part.strip()]
    return value


@lru_cache(maxsize=64)
def get_trigger(key: str) -> Trigger:
    triggers = component().get("triggers", {})
    if key not in triggers:
        import difflib  # only to suggest a name after a typo: 2 ms at start

        close = difflib.get_close_matches(key, triggers, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; the triggers are {', '.join(triggers)}"
        raise BadInput(f"unknown trigger '{key}'{hint}", field="trigger", rule="unknown-trigger")
    return Trigger(key, triggers[key])
