"""The model's constraints on an AWS request, checked before an emulated operation sees it.

boto3 and the AWS CLI with parameter validation off send whatever they are given; the services refuse what their
model forbids (a pattern, a length, a range, an enum, a required member) with their validation error. So does the
sandbox: each request is read back into the operation's input members (path, query string, headers and JSON body,
named as the action's declarations name them: METHOD, PATH, QUERY, HEADERS) and checked against the operation's
committed input schema, schemas/<service>/<Operation>.in.json, which the conformance tests prove equal to the
botocore model's constraints. The answer is the validation error the model lists for the operation
(ValidationException where it lists one, else InvalidRequestException), in the service's error shape, with
the message AWS writes: "1 validation error detected: Value 'a b' at 'jobId' failed to satisfy constraint:
Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+" (list items as 'criteriaList.1.member').
Two choices of ours: a value longer than QUOTED_MAX characters is cut in the message (a 33 KB document is
not echoed whole), and a secret member's value is never quoted ("Value at 'x' ...", as AWS writes it).

A member the model does not know is ignored, as the services ignore it: only the model's constraints refuse.
"""

from __future__ import annotations

import json
import re
from functools import cache

from jobs_connector.component import registry
from jobs_connector.component.services import SERVICES
from jobs_connector.sandbox.wire import ApiError, Request, Routes
from jobs_connector.validation import fast as fast_validation

VALIDATION_CODES = ("ValidationException", "InvalidRequestException")  # the first the operation lists
QUOTED_MAX = 256
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


class Operation:
    """One emulated AWS operation: where its members travel, its input schema and its validation error."""

    def __init__(self, action: registry.Action):
        self.name = action.operation
        self.path_template = action.spec("PATH")
        self.query: dict[str, str] = dict(action.spec("QUERY", {}))
        self.headers: dict[str, str] = dict(action.spec("HEADERS", {}))
        self.schema = _lenient(action.in_schema)
        errors = registry.load_json(f"schemas/{action.service_name}/errors.json")
        listed = errors["operations"].get(action.operation, [])
        self.code = next((code for code in VALIDATION_CODES if code in listed), "InvalidRequestException")

    def members(self, req: Request, path_params: dict[str, str], body: dict) -> dict:
        """The request as the input members the schema names."""
        properties = self.schema.get("properties", {})
        bound = {*path_params, *self.query, *self.headers}
        out = {name: value for name, value in _without_nulls(body).items() if name not in bound}
        out.update(path_params)
        query = req.query
        for member, key in self.query.items():
            if key in query:
                out[member] = _typed(query[key], properties.get(member, {}))
        for member, header in self.headers.items():
            value = req.header(header)
            if value is not None:
                out[member] = _typed(value, properties.get(member, {}))
        return out


def _without_nulls(value):
    """A JSON null is a member left out, to the AWS services' JSON readers."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _typed(text: str, schema: dict):
    """A query-string or header value as the member's type, when it reads as one; else the text, which the
    schema then refuses for its type (as the service refuses 'force=maybe')."""
    kind = schema.get("type")
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind == "integer" and _WHOLE_NUMBER.fullmatch(text):
        return int(text)
    return text


def _lenient(node):
    """The schema without `additionalProperties: false`: the services ignore members they do not know."""
    if isinstance(node, dict):
        return {key: _lenient(value) for key, value in node.items()
                if not (key == "additionalProperties" and value is False)}
    if isinstance(node, list):
        return [_lenient(value) for value in node]
    return node


@cache
def _operations(service: str) -> tuple[Routes, dict[str, Operation]]:
    """The service's operations, by route (rest-json) and by name (json-1.1, named by X-Amz-Target)."""
    routes, by_name = Routes(), {}
    actions = [registry.get_action(key) for key in registry.action_keys() if key.split(".", 1)[0] == service]
    operations = [Operation(action) for action in actions if not action.spec("BINDING")]
    # A literal segment ('$next') is matched before a parameter ('{jobId}') in the same place.
    for operation in sorted(operations, key=lambda o: (o.path_template or "").count("{")):
        by_name[operation.name] = operation
        if operation.path_template:
            method = registry.get_action(f"{service}.{operation.name}").spec("METHOD")
            routes.add(method, operation.path_template)(operation)
    return routes, by_name


def operation_for(service: str, req: Request, target_prefix: str = "") -> tuple[Operation, dict] | None:
    """The operation a request calls and its path parameters; None when no schema covers it."""
    routes, by_name = _operations(service)
    if SERVICES[service].protocol == "json-1.1":
        target = req.header("x-amz-target") or ""
        operation = by_name.get(target[len(target_prefix):]) if target.startswith(target_prefix) else None
        return (operation, {}) if operation else None
    return routes.match(req.method, req.raw_path)


def check(service: str, req: Request, target_prefix: str = "") -> None:
    """Raise the service's validation error (ApiError) when the request breaks its operation's constraints.
    A body that is not a JSON object is left to the operation, which answers it in its own words."""
    found = operation_for(service, req, target_prefix)
    if found is None:
        return
    operation, path_params = found
    try:
        body = req.json(lambda message: ApiError(400, "SerializationException", message))
    except ApiError:
        return
    members = operation.members(req, path_params, body)
    if fast_validation.is_valid(operation.schema, members):
        return
    problems = violations(operation.schema, members)
    if problems:
        count = len(problems)
        raise ApiError(400, operation.code, f"{count} validation error{'s' if count > 1 else ''} detected: "
                                            + "; ".join(problems))


# -- the message AWS writes -----------------------------------------------------------------------


def violations(schema: dict, members: dict) -> list[str]:
    """One "Value ... at '...' failed to satisfy constraint: ..." per broken constraint, shallowest first."""
    from jobs_connector.validation.reference import validator_for  # jsonschema: only for a refused request

    errors = sorted(validator_for(schema).iter_errors(members),
                    key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path], str(e.validator)))
    return [_sentence(error, schema) for error in errors]


def _sentence(error, root: dict) -> str:
    rule, bound, path = error.validator, error.validator_value, list(error.absolute_path)
    if rule == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return f"Value null at '{_where([*path, missing])}' failed to satisfy constraint: Member must not be null"
    keys = "propertyNames" in error.absolute_schema_path  # a map key broke its rule
    constraint = _constraint(rule, bound)
    if keys:
        constraint = f"Map keys must satisfy constraint: [{constraint}]"
    value = "" if _secret(error, root) else f" {_quoted(error.instance)}"
    return f"Value{value} at '{_where(path)}' failed to satisfy constraint: {constraint}"


_BOUNDS = {"minLength": "length greater than", "maxLength": "length less than",
           "minItems": "length greater than", "maxItems": "length less than",
           "minProperties": "length greater than", "maxProperties": "length less than",
           "minimum": "value greater than", "maximum": "value less than"}


def _constraint(rule: str, bound) -> str:
    if rule in _BOUNDS:
        return f"Member must have {_BOUNDS[rule]} or equal to {bound}"
    if rule == "pattern":
        return f"Member must satisfy regular expression pattern: {_model_pattern(bound)}"
    if rule == "enum":
        return f"Member must satisfy enum value set: [{', '.join(map(str, bound))}]"
    if rule == "type":
        return f"Member must be of type {bound}"
    if rule == "contentEncoding":
        return f"Member must be {bound} encoded"
    return f"Member must satisfy {rule}"


def _where(path: list) -> str:
    """A member's path as AWS names it: 'abortConfig.criteriaList.1.member.thresholdPercentage'."""
    return ".".join(f"{part + 1}.member" if isinstance(part, int) else str(part) for part in path)


def _model_pattern(pattern: str) -> str:
    """The model's pattern, without the anchors our schemas add (tools/aws_schemas.py: `^(?:...)$`)."""
    if pattern.startswith("^(?:") and pattern.endswith(")$"):
        return pattern[4:-2]
    return pattern


def _quoted(value) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", "="))
    if isinstance(value, bool):
        text = "true" if value else "false"
    return f"'{text[:QUOTED_MAX]}{'...' if len(text) > QUOTED_MAX else ''}'"


def _secret(error, root: dict) -> bool:
    """True when the refused value is a secret member or lies under one."""
    node = root
    for part in error.absolute_schema_path:
        if isinstance(node, dict) and node.get("x-secret"):
            return True
        node = node[part] if isinstance(node, dict | list) else None
    return isinstance(node, dict) and bool(node.get("x-secret"))
