"""The spaceone-api protobuf messages of the identity v2 Job service, and a request read into them as SpaceONE reads
one: its REST gateway builds the method's message from the JSON body (`JobsQuery(**body)`), so a field the message
does not have, an enum label it does not know or a value of the wrong kind is refused before the service runs, in
protobuf's words ('Protocol message JobsQuery has no "colour" field.', 'unknown enum label "DONE"'). The sandbox
answers that as 400 ERROR_INVALID_ARGUMENT ("the request body could not be read as the method's message").

The tables are written from the `spaceone-api` package (spaceone/api/identity/v2/job.proto, core/v2/query.proto);
tests/conformance/test_spaceone_protobuf.py proves them equal to its descriptors. A kind is a scalar (string,
bool, int32, uint32), an enum (in ENUMS), `value` / `struct` / `list` (google.protobuf.Value, Struct, ListValue: any
JSON, an object, an array) or a message of MESSAGES; `[]` marks a repeated field.
"""

from __future__ import annotations

from jobs_connector.sandbox.wire import ApiError

MESSAGES: dict[str, dict[str, str]] = {
    # requests
    "JobRequest": {"job_id": "string"},
    "JobsQuery": {"query": "Query", "job_id": "string", "status": "JobsQuery.JobStatus", "workspace_id": "string",
                  "trusted_account_id": "string", "plugin_id": "string"},
    "JobStatQuery": {"query": "StatisticsQuery"},
    "Query": {"filter": "Filter[]", "filter_or": "Filter[]", "sort": "Sort[]", "page": "Page", "minimal": "bool",
              "count_only": "bool", "only": "string[]", "keyword": "string", "unwind": "Unwind", "lookup": "list",
              "add_fields": "struct"},
    "Filter": {"key": "string", "k": "string", "value": "value", "v": "value", "operator": "string", "o": "string"},
    "Sort": {"key": "string", "desc": "bool"},
    "Page": {"start": "uint32", "limit": "uint32"},
    "Unwind": {"path": "string", "filter": "Filter[]"},
    "StatisticsQuery": {"filter": "Filter[]", "filter_or": "Filter[]", "aggregate": "StatisticsAggregate[]",
                        "page": "Page", "distinct": "string", "keyword": "string"},
    "StatisticsAggregate": {"unwind": "Unwind", "group": "AggregateGroup", "count": "AggregateCount", "sort": "list",
                            "project": "AggregateProject", "limit": "int32", "skip": "int32"},
    "AggregateGroup": {"keys": "AggregateGroupKey[]", "fields": "AggregateGroupField[]"},
    "AggregateGroupKey": {"key": "string", "k": "string", "name": "string", "n": "string", "date_format": "string"},
    "AggregateGroupField": {"key": "string", "k": "string", "name": "string", "n": "string", "operator": "string",
                            "o": "string", "fields": "AggregateGroupSubField[]",
                            "conditions": "AggregateSubCondition[]"},
    "AggregateGroupSubField": {"key": "string", "k": "string", "name": "string", "n": "string"},
    "AggregateSubCondition": {"key": "string", "k": "string", "value": "value", "v": "value", "operator": "string",
                              "o": "string"},
    "AggregateCount": {"name": "string"},
    "AggregateProject": {"fields": "AggregateProjectField[]", "exclude_keys": "bool"},
    "AggregateProjectField": {"key": "string", "k": "string", "name": "string", "n": "string", "operator": "string",
                              "o": "string"},
    # answers
    "JobInfo": {"job_id": "string", "status": "JobInfo.Status", "options": "struct",
                "resource_group": "JobInfo.ResourceGroup", "error_message": "string", "domain_id": "string",
                "workspace_id": "string", "trusted_account_id": "string", "plugin_id": "string",
                "created_at": "string", "updated_at": "string", "finished_at": "string"},
    "JobsInfo": {"results": "JobInfo[]", "total_count": "int32"},
}
ENUMS: dict[str, tuple[str, ...]] = {
    "JobsQuery.JobStatus": ("NONE", "PENDING", "IN_PROGRESS", "FAILURE", "SUCCESS", "CANCELED"),
    "JobInfo.Status": ("NONE", "PENDING", "IN_PROGRESS", "FAILURE", "SUCCESS", "CANCELED"),
    "JobInfo.ResourceGroup": ("RESOURCE_GROUP_NONE", "DOMAIN", "WORKSPACE"),
}
REQUESTS = {"delete": "JobRequest", "get": "JobRequest", "list": "JobsQuery", "stat": "JobStatQuery"}
# The fields `query.minimal` answers: the Job model's minimal_fields in the identity service.
MINIMAL_FIELDS = ("job_id", "trusted_account_id", "status", "created_at", "finished_at")
_INT_RANGES = {"int32": (-2 ** 31, 2 ** 31 - 1), "uint32": (0, 2 ** 32 - 1)}


def _refused(message: str) -> ApiError:
    return ApiError(400, "ERROR_INVALID_ARGUMENT", message)


def read(verb: str, body: dict) -> dict:
    """The body as the method's message reads it (None is unset, an enum's zero label is unset, a string given to a
    repeated string field is its characters, as protobuf takes it); ApiError when the message refuses it."""
    return _message(REQUESTS[verb], body)


def _message(name: str, value) -> dict:
    if not isinstance(value, dict):
        raise _refused(f"Parameter to initialize message field must be dict or instance of same class: expected "
                       f"{name} got {type(value).__name__}.")
    fields = MESSAGES[name]
    out = {}
    for key, item in value.items():
        if key not in fields:
            raise _refused(f'Protocol message {name} has no "{key}" field.')
        if item is None:
            continue
        kind = fields[key]
        if kind.endswith("[]"):
            if isinstance(item, str) and kind == "string[]":
                item = list(item)  # protobuf iterates the string
            if not isinstance(item, list):
                raise _refused(f"{name}.{key} is a repeated field: expected a list, got {type(item).__name__}")
            read_item = [_field(kind[:-2], element) for element in item]
        else:
            read_item = _field(kind, item)
        if read_item is not None:
            out[key] = read_item
    return out


def _field(kind: str, value):
    if kind in MESSAGES:
        return _message(kind, value)
    if kind in ENUMS:
        labels = ENUMS[kind]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(labels):
            value = labels[value]
        if not isinstance(value, str) or value not in labels:
            raise _refused(f'unknown enum label "{value}"' if isinstance(value, str)
                           else f"Unknown enum value: {value}")
        return None if value == labels[0] else value  # the zero label is the unset field
    if kind == "string":
        if not isinstance(value, str):
            raise _refused(f"{value!r} has type {type(value).__name__}, but expected one of: bytes, str")
        return value
    if kind == "bool":
        if not isinstance(value, bool | int):
            raise _refused(f"{value!r} has type {type(value).__name__}, but expected one of: bool, int")
        return bool(value)
    if kind in _INT_RANGES:
        if isinstance(value, float) or not isinstance(value, int):
            raise _refused(f"'{type(value).__name__}' object cannot be interpreted as an integer")
        low, high = _INT_RANGES[kind]
        if not low <= value <= high:
            raise _refused(f"Value out of range: {value}")
        return int(value)
    if kind == "struct" and not isinstance(value, dict):
        raise _refused(f"{kind}: expected an object, got {type(value).__name__}")
    if kind == "list" and not isinstance(value, list):
        raise _refused(f"{kind}: expected a list, got {type(value).__name__}")
    return value  # value: any JSON
