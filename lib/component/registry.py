"""component.json is the one registry: the CLI, the webhook server, the platform runner and the tests all
find actions and their schemas through here."""

from __future__ import annotations

import importlib.util
import json
import os
from functools import cached_property, lru_cache
from importlib.resources import files
from types import ModuleType

from jobs_connector.base.errors import BadInput
from jobs_connector.base.record import Record
from jobs_connector.component.services import SERVICES
from jobs_connector.component.spec import OperationSpec, read_spec


def _component_root() -> str:
    """Where component.json, actions/ and schemas/ are: shipped inside the installed package as its
    `_component` folder (pyproject maps the repository's top level there), else, in a checkout or an
    editable install, the repository's top level next to lib/."""
    shipped = files("jobs_connector").joinpath("_component")
    if shipped.joinpath("component.json").is_file():
        return str(shipped)
    package_folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # lib/
    return os.path.dirname(package_folder)


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
        # Service folders have dashes ('iot-jobs-data'), so modules load by path, not by package name, under a
        # name of their own; they import only from jobs_connector.kit.
        name = f"jobs_connector_actions.{self.service_name.replace('-', '_')}.{self.operation}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    @cached_property
    def declarations(self) -> OperationSpec:
        """The module's declarations, checked when it loads (jobs_connector.component.spec)."""
        return read_spec(self.module, self.entry["main"])

    def spec(self, name: str, default=None):
        """One declaration (METHOD, PATH, QUERY, IDEMPOTENT, PAGING, ...), or default when not made; a name that
        is not a declaration at all raises AttributeError, so a typo in the runtime fails too."""
        value = getattr(self.declarations, name.lower())
        return default if value is None or value == {} and default is not None else value

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
        import difflib  # only to suggest a name after a typo: 2 ms at start

        close = difflib.get_close_matches(key, actions, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; `jobs-connector list` shows them all"
        raise BadInput(f"unknown action '{key}'{hint}", field="action", rule="unknown-action")
    return Action(key, actions[key])
