"""component.json is the one registry: the CLI, the webhook server, the platform runner and the tests all
find actions and their schemas through here."""

from __future__ import annotations

import importlib.util
import json
import os
from functools import cached_property, lru_cache
from importlib.resources import files
from types import ModuleType

from .errors import BadInput
from .record import Record
from .services import SERVICES


def _component_root() -> str:
    """Where component.json, actions/ and schemas/ are: shipped inside the installed package as its
    `_component` folder (pyproject maps the repository's top level there), else, in a checkout or an
    editable install, the repository's top level next to lib/."""
    shipped = files(__package__).joinpath("_component")
    if shipped.joinpath("component.json").is_file():
        return str(shipped)
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


ROOT = _component_root()
COMPONENT_FILE = os.path.join(ROOT, "component.json")


@lru_cache(maxsize=1)
def component() -> dict:
    with open(COMPONENT_FILE, encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=256)
def load_json(relative_path: str) -> dict:
    with open(os.path.join(ROOT, relative_path), encoding="utf-8") as fh:
        return json.load(fh)


class Entry(Record):
    """What every entry of component.json (an action or a trigger) has: a key '<service>.<Name>', a title,
    a description, perhaps a deprecation, and an output schema."""

    _fields = ("key", "entry")  # no __slots__: cached_property needs a __dict__
    _hidden = ("entry",)

    def __init__(self, key: str, entry: dict):
        self.key, self.entry = key, entry

    @property
    def service_name(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def title(self) -> str:
        return self.entry.get("title", self.key.split(".", 1)[-1])

    @property
    def description(self) -> str:
        return self.entry.get("description", "")

    @property
    def deprecated(self) -> str | None:
        return self.entry.get("deprecated")

    @cached_property
    def out_schema(self) -> dict:
        return load_json(self.entry["metadata"]["out"])


class Action(Entry):
    """One step of the component: its descriptor entry, its service, its module and its schemas."""

    @property
    def operation(self) -> str:
        return self.key.split(".", 1)[1]

    @property
    def service(self):
        return SERVICES[self.service_name]

    @cached_property
    def in_schema(self) -> dict:
        return load_json(self.entry["metadata"]["in"])

    @cached_property
    def module(self) -> ModuleType:
        path = os.path.join(ROOT, self.entry["main"])
        # Service folders have dashes ('iot-jobs-data'), so modules load by path, not by package name. They
        # load as members of this runtime package (`lib` in a checkout, `jobs_connector` when installed), so
        # an action's `from .paging import Cursor` is this runtime's lib/paging.py whatever its name.
        name = f"{__package__}.action__{self.service_name.replace('-', '_')}__{self.operation}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def spec(self, name: str, default=None):
        """A declaration of the action module (METHOD, PATH, QUERY, IDEMPOTENT, PAGING, ...)."""
        return getattr(self.module, name, default)

    @property
    def safe_to_repeat(self) -> bool:
        """Declared idempotent, or made so by an idempotency token: the one rule every layer that could
        send a request again (transport, event retries, rebounds, handbacks) asks."""
        return bool(self.spec("IDEMPOTENT", False) or self.spec("IDEMPOTENCY_TOKEN"))


def action_keys() -> list[str]:
    return list(component()["actions"])


@lru_cache(maxsize=256)
def get_action(key: str) -> Action:
    actions = component()["actions"]
    if key not in actions:
        import difflib

        close = difflib.get_close_matches(key, actions, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; `jobs-connector list` shows them all"
        raise BadInput(f"unknown action '{key}'{hint}", field="action", rule="unknown-action")
    return Action(key, actions[key])
