"""The flows file: which webhooks exist and what each one runs. Loaded and checked at start, so a broken
flow fails when the server starts, not when its first event arrives at 3 a.m.

Checked at load time: the file's shape, that every action exists (component.json), that every JSONata
expression compiles, that no secret is written inline, and each step's input against the action's
in-schema as far as it can be known before an event arrives: field names always; static values
always; values computed from the event when the flow declares an `example_event`.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field

from jsonschema import Draft202012Validator

from jobs_connector.base.errors import BadInput, ConnectorError
from jobs_connector.base.jsonsafe import field_path
from jobs_connector.component.registry import Action, component, get_action
from jobs_connector.http.retry import RetryPolicy
from jobs_connector.triggers.interval import seconds
from jobs_connector.triggers.trigger import get_trigger
from jobs_connector.validation import validate_input
from jobs_connector.webhooks.mapping.input_mapping import Mapping, MappingError
from jobs_connector.webhooks.signatures.schemes import JOBS, SCHEMES

FLOW_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z"
ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}\Z"
MIN_SECRET_LENGTH = 16
# Keys that would put a secret in the file; refused with a pointer to secret_env.
_INLINE_SECRET_KEYS = ("secret", "webhook_secret", "signing_secret", "secret_value")
SECRET_FIELD_PATH = r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$"  # noqa: S105 - a path pattern
_EMIT_FOR_FLOWS = ("fetchAll", "fetchPage")  # one message per step

_RETRY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
        "delay": {"type": "number", "minimum": 0, "maximum": 86400},
        "max_delay": {"type": "number", "minimum": 0, "maximum": 86400},
    },
}

FILE_SCHEMA = {
    "type": "object",
    "required": ["flows"],
    "additionalProperties": False,
    "properties": {
        "flows": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "steps"],  # and secret_env (a webhook) or trigger (a poll)
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": FLOW_NAME},
                    "description": {"type": "string"},
                    "secret_env": {"type": "string", "pattern": ENV_NAME},
                    "signing": {"enum": list(SCHEMES)},
                    # Fields of the webhook body that are secrets: sealed before the event is stored.
                    "secret_event_fields": {"type": "array", "maxItems": 50, "uniqueItems": True,
                                            "items": {"type": "string", "pattern": SECRET_FIELD_PATH}},
                    "config": {"type": "object"},
                    "retry": _RETRY_SCHEMA,
                    "example_event": {"type": "object"},
                    "trigger": {"type": "object"},  # {poll, every, config}: lib/webhooks/poll.py checks it
                    "steps": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 50,
                        "items": {
                            "type": "object",
                            "required": ["action"],
                            "additionalProperties": False,
                            "properties": {
                                "action": {"type": "string"},
                                "description": {"type": "string"},
                                "input": {"type": ["string", "object"]},
                                "config": {"type": "object"},
                            },
                        },
                    },
                },
            },
        }
    },
}


class FlowFileError(BadInput):
    """The flows file cannot be used; the message names the flow, the step and the field."""

    def __init__(self, message: str, *, where: str = "", rule: str = "flows-file"):
        super().__init__(f"{where}: {message}" if where else message, field=where or "flows", rule=rule)


def flow_retry(max_attempts: int = 5, delay: float = 5.0, max_delay: float = 300.0) -> RetryPolicy:
    """A flow's `retry:` (attempts in all, the first delay, the longest): the connector's one retry policy with
    equal jitter (never at once) and no budget but the attempts."""
    return RetryPolicy(max_attempts=max_attempts, base_delay=delay, max_delay=max_delay, total_budget=None,
                       jitter="equal")


@dataclass
class Step:
    index: int
    action: Action
    input: Mapping
    config: dict

    @property
    def key(self) -> str:
        return self.action.key


@dataclass
class Flow:
    name: str
    secret_env: str
    steps: list[Step]
    retry: RetryPolicy = field(default_factory=flow_retry)
    example_event: dict | None = None
    description: str = ""
    secret: bytes | None = field(default=None, repr=False)
    trigger: PollTrigger | None = None  # when the flow starts from a poll (run by poll.py)
    signing: str = JOBS  # the signature scheme its senders use (signing.py)
    secret_event_fields: tuple = ()  # dotted paths in the webhook body sealed at rest (sealing.py)


@dataclass
class Flows:
    flows: dict[str, Flow]
    path: str = ""

    def get(self, name: str) -> Flow | None:
        return self.flows.get(name)

    def __iter__(self):
        return iter(self.flows.values())

    def __len__(self) -> int:
        return len(self.flows)

    def secrets(self) -> list[str]:
        return [f.secret.decode("utf-8", "replace") for f in self if f.secret]


# -- reading ----------------------------------------------------------------------------------------


def read_file(path: str):
    """The file's data: JSON, or YAML when PyYAML is installed (it is in requirements.txt)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise FlowFileError(f"cannot read the flows file {path}: {exc.strerror}", rule="file") from None
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise FlowFileError(f"{path} is not valid JSON: {exc}", rule="json") from None
    try:
        import yaml  # optional: a JSON flows file needs no YAML parser
    except ImportError:  # JSON is a subset of YAML, so JSON content still loads
        try:
            return json.loads(text)
        except ValueError:
            raise FlowFileError(f"{path} looks like YAML but PyYAML is not installed "
                                "(pip install PyYAML, or write the flows file as JSON)", rule="yaml") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlowFileError(f"{path} is not valid YAML: {exc}", rule="yaml") from None


def _where(path) -> str:
    return field_path(path) or "(file)"


def _refuse_inline_secrets(data) -> None:
    """Before the schema check, whose messages would echo the refused value."""
    flows = data.get("flows") if isinstance(data, dict) else None
    for i, flow in enumerate(flows if isinstance(flows, list) else []):
        if not isinstance(flow, dict):
            continue
        for key in _INLINE_SECRET_KEYS:
            if key in flow:
                raise FlowFileError(
                    "an inline webhook secret is refused: put the secret in an environment variable "
                    "and name that variable with secret_env (e.g. secret_env: DEVICE_HOOK_SECRET)",
                    where=f"flows[{i}].{key}", rule="inline-secret")
        env = flow.get("secret_env")
        if isinstance(env, str) and not re.match(ENV_NAME, env):
            raise FlowFileError(
                "secret_env must be the NAME of an environment variable (upper-case letters, digits "
                "and _), e.g. DEVICE_HOOK_SECRET; the secret itself is never written in the flows file",
                where=f"flows[{i}].secret_env", rule="inline-secret")


def _check_shape(data) -> None:
    _refuse_inline_secrets(data)
    errors = sorted(Draft202012Validator(FILE_SCHEMA).iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        error = errors[0]
        where = _where(error.absolute_path)
        if error.validator == "additionalProperties":
            known = sorted(error.schema.get("properties", {}))
            extra = sorted(set(error.instance) - set(known))
            raise FlowFileError(f"unknown field '{extra[0]}' (known fields: {', '.join(known)})",
                                where=where, rule="unknown-field")
        if error.validator == "required":
            raise FlowFileError(error.message.replace("is a required property", "is required"),
                                where=where, rule="required")
        raise FlowFileError(error.message, where=where, rule=str(error.validator))


def _secret_config_fields() -> set[str]:
    fields = component().get("credentials", {}).get("fields", {})
    return {name for name, spec in fields.items() if spec.get("viewClass") == "PasswordFieldView"}


def _check_config(cfg: dict, where: str) -> dict:
    for key, value in cfg.items():
        if key in _secret_config_fields():
            raise FlowFileError(f"'{key}' is a secret: set it in the environment of the worker "
                                "(see the configuration table in docs/cli.md), never in the flows file",
                                where=f"{where}.{key}", rule="inline-secret")
        if key == "emitBehaviour" and value not in _EMIT_FOR_FLOWS:
            raise FlowFileError(f"must be one of {', '.join(_EMIT_FOR_FLOWS)} in a flow (a step emits one message)",
                                where=f"{where}.{key}", rule="enum")
    return dict(cfg)


# -- checking a step's input before any event arrives ----------------------------------------------------


def example_context(flow_name: str, example_event: dict | None) -> dict:
    return {"event": example_event, "steps": [], "headers": {},
            "meta": {"eventId": "0" * 32, "flow": flow_name, "deliveryId": None, "receivedAt": 0}}


def _relaxed(schema: dict, unknown: set[str]) -> dict:
    """The in-schema accepting anything where a field's value only run time can know (the field's name
    is still checked: a misspelt one is not among the properties)."""
    schema = copy.deepcopy(schema)
    for where in unknown:
        node = schema
        for part in where.split(".")[1:]:
            properties = node.get("properties") or {}
            if part in properties:
                parent, key, node = properties, part, properties[part]
            elif isinstance(node.get("additionalProperties"), dict):
                parent, key, node = node, "additionalProperties", node["additionalProperties"]
            else:
                break
        else:
            parent[key] = {}
    return schema


def _refuse_bare_words(mapping: Mapping, where: str) -> None:
    """`status: SUCCEEDED` reads a member SUCCEEDED of the context, which has none: always empty."""
    for expr in mapping.expressions():
        if expr.bare_words:
            word = expr.bare_words[0]
            raise FlowFileError(
                f"'{word}' in {expr.source!r} is read as a path, and the context has only event, steps, "
                f"headers and meta, so it is always empty; for the text, quote it: \"'{word}'\"",
                where=f"{where}.{expr.where}", rule="bare-word")


def _check_input(step: Step, flow_name: str, example_event: dict | None, where: str) -> None:
    has_example = example_event is not None
    try:
        value, unknown = step.input.evaluate_known(example_context(flow_name, example_event), has_example)
    except MappingError as exc:
        raise FlowFileError(f"{exc.message} (evaluated against example_event)", where=f"{where}.{exc.where}",
                            rule="mapping") from None
    if "input" in unknown:
        return  # one expression that only run time can evaluate
    try:
        validate_input(_relaxed(step.action.in_schema, unknown) if unknown else step.action.in_schema, value)
    except BadInput as exc:
        hint = " (evaluated against example_event)" if has_example else ""
        raise FlowFileError(f"{exc.message}{hint}; action {step.key}", where=f"{where}.input",
                            rule=exc.rule or "schema") from None


# -- loading -------------------------------------------------------------------------------------------------


_TRIGGER_FIELDS = ("poll", "every", "config")


@dataclass(frozen=True)
class PollTrigger:
    key: str
    every: float
    config: dict = field(default_factory=dict)


def poll_trigger(spec, where: str, secret_fields=()) -> PollTrigger:
    """The flow's `trigger:` checked as the flows file is loaded (FlowFileError names the field)."""
    if not isinstance(spec, dict):
        raise FlowFileError("must be an object {poll, every, config}", where=where, rule="type")
    unknown = sorted(set(spec) - set(_TRIGGER_FIELDS))
    if unknown:
        raise FlowFileError(f"unknown field '{unknown[0]}' (known fields: {', '.join(_TRIGGER_FIELDS)})",
                            where=where, rule="unknown-field")
    if not isinstance(spec.get("poll"), str):
        raise FlowFileError("'poll' names the trigger, e.g. iot-jobs-data.newPendingJobExecution", where=where,
                            rule="required")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise FlowFileError("must be an object", where=f"{where}.config", rule="type")
    try:
        trigger = get_trigger(spec["poll"])
        secrets = set(secret_fields) | set(getattr(trigger.module, "SECRET_CONFIG", ()))
        for name in config:
            if name in secrets:
                raise FlowFileError(f"'{name}' is a secret: set it in the environment of `serve`, never in the "
                                    "flows file", where=f"{where}.config.{name}", rule="inline-secret")
        trigger.check_config(config)
        every = seconds(spec.get("every", "30s"), "every")
    except FlowFileError:
        raise
    except BadInput as exc:
        field_name = exc.field if exc.field in ("every", "trigger") else f"config.{exc.field}"
        raise FlowFileError(exc.message, where=f"{where}.{'poll' if exc.field == 'trigger' else field_name}",
                            rule=exc.rule or "trigger") from None
    return PollTrigger(trigger.key, every, dict(config))


def _poll_trigger(spec: dict, where: str):
    """A flow starts from a webhook (secret_env) or from a polling trigger (trigger), never both."""
    if ("trigger" in spec) == ("secret_env" in spec):
        raise FlowFileError("give either secret_env (a webhook starts the flow) or trigger (a poll starts it)",
                            where=where, rule="required")
    if "trigger" not in spec:
        return None
    return poll_trigger(spec["trigger"], f"{where}.trigger", secret_fields=_secret_config_fields())


def build(data, *, path: str = "", environ: MappingABC | None = None, need_secrets: bool = True) -> Flows:
    """Flows from parsed file data; raises FlowFileError naming the flow, the step and the field."""
    environ = os.environ if environ is None else environ
    _check_shape(data)
    flows: dict[str, Flow] = {}
    for spec in data["flows"]:
        name = spec["name"]
        where = f"flow '{name}'"
        if name in flows:
            raise FlowFileError("a second flow has this name", where=where, rule="duplicate")
        flow_cfg = _check_config(spec.get("config", {}), f"{where}.config")
        retry = flow_retry(**spec.get("retry", {}))
        if retry.max_delay < retry.base_delay:
            raise FlowFileError("retry.max_delay must not be less than retry.delay", where=where, rule="retry")
        example = spec.get("example_event")
        trigger = _poll_trigger(spec, where)
        steps = []
        for j, step_spec in enumerate(spec["steps"]):
            step_where = f"{where} step {j + 1}"
            try:
                action = get_action(step_spec["action"])
            except ConnectorError as exc:
                raise FlowFileError(exc.message, where=f"{step_where}.action", rule="unknown-action") from None
            try:
                mapping = Mapping(step_spec.get("input", {}), "input")
            except MappingError as exc:
                raise FlowFileError(exc.message, where=f"{step_where}.{exc.where}", rule="mapping") from None
            _refuse_bare_words(mapping, step_where)
            cfg = {**flow_cfg, **_check_config(step_spec.get("config", {}), f"{step_where}.config")}
            cfg.setdefault("emitBehaviour", "fetchAll")
            step = Step(j, action, mapping, cfg)
            _check_input(step, name, example, step_where)
            steps.append(step)
        secret = None
        if need_secrets and trigger is None:
            value = environ.get(spec["secret_env"])
            if not value:
                raise FlowFileError(f"the environment variable {spec['secret_env']} (secret_env) is not set",
                                    where=where, rule="secret-missing")
            if len(value) < MIN_SECRET_LENGTH:
                raise FlowFileError(f"the webhook secret in {spec['secret_env']} is shorter than "
                                    f"{MIN_SECRET_LENGTH} characters", where=where, rule="secret-weak")
            secret = value.encode("utf-8")
        flows[name] = Flow(name, spec.get("secret_env", ""), steps, retry, example, spec.get("description", ""),
                           secret, trigger, spec.get("signing", JOBS), tuple(spec.get("secret_event_fields", ())))
    return Flows(flows, path)


def load(path: str, *, environ: MappingABC | None = None, need_secrets: bool = True) -> Flows:
    return build(read_file(path), path=path, environ=environ, need_secrets=need_secrets)
