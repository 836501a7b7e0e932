"""The SpaceONE emulation against the official `spaceone-api` protobuf messages (identity v2 Job service): the
sandbox's message tables are the package's descriptors; a request the message refuses (a field it does not have,
at any depth, an enum label it does not know, a value of the wrong kind) is refused by the sandbox over HTTP in
the words protobuf uses, one a message accepts is not; every answer parses strictly as the method's reply
message (JobInfo, JobsInfo); `only`, `minimal` and `count_only` answer what the service answers, and a `max` over
a date is the date."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from spaceone.api.identity.v2 import job_pb2

from jobs_connector.sandbox.spaceone_messages import ENUMS, MESSAGES, MINIMAL_FIELDS, REQUESTS
from tests.support.hypothesis_profiles import GENERATED_CASES
from tests.support.sandbox import running_sandbox, token_post

PACKAGE = "spaceone.api.identity.v2."
SCALARS = {FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BOOL: "bool",
           FieldDescriptor.TYPE_INT32: "int32", FieldDescriptor.TYPE_UINT32: "uint32"}
WELL_KNOWN = {"google.protobuf.Value": "value", "google.protobuf.Struct": "struct",
              "google.protobuf.ListValue": "list"}
ROOTS = {"JobRequest": job_pb2.JobRequest, "JobsQuery": job_pb2.JobsQuery, "JobStatQuery": job_pb2.JobStatQuery}
VERB_OF = {"JobRequest": "get", "JobsQuery": "list", "JobStatQuery": "stat"}
# A value of the wrong kind for each scalar kind (what a message refuses).
WRONG = {"string": 7, "bool": "yes", "int32": "7", "uint32": -1, "struct": 7}


def descriptor_tables():
    """MESSAGES and ENUMS as the package's descriptors say, from the reply and request messages down."""
    messages, enums = {}, {}

    def kind(field):
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            name = WELL_KNOWN.get(field.message_type.full_name)
            if name is None:
                name = field.message_type.name
                walk(field.message_type)
        elif field.type == FieldDescriptor.TYPE_ENUM:
            name = field.enum_type.full_name.removeprefix(PACKAGE)
            enums[name] = tuple(value.name for value in field.enum_type.values)
        else:
            name = SCALARS[field.type]
        return name + ("[]" if field.is_repeated else "")

    def walk(descriptor):
        if descriptor.name not in messages:
            messages[descriptor.name] = {}
            messages[descriptor.name] = {field.name: kind(field) for field in descriptor.fields}

    for message in (*ROOTS.values(), job_pb2.JobInfo, job_pb2.JobsInfo):
        walk(message.DESCRIPTOR)
    return messages, enums


def test_the_sandbox_reads_the_messages_the_package_defines():
    messages, enums = descriptor_tables()
    assert MESSAGES == messages
    assert ENUMS == enums
    methods = {method.name: method.input_type.name for method in job_pb2.DESCRIPTOR.services_by_name["Job"].methods}
    assert REQUESTS == methods


def nested_paths():
    """(root message, steps to one message inside it) for every message a request can carry; a step is a field
    name, and a repeated message field is entered through a list of one."""
    out = []

    def walk(root, name, steps, seen):
        out.append((root, name, steps))
        for field, kind in MESSAGES[name].items():
            child = kind.removesuffix("[]")
            if child in MESSAGES and child not in seen:
                walk(root, child, [*steps, (field, kind.endswith("[]"))], seen | {child})

    for root in ROOTS:
        walk(root, root, [], {root})
    return out


def body_with(steps, leaf: dict) -> dict:
    body = leaf
    for field, repeated in reversed(steps):
        body = {field: [body] if repeated else body}
    return body


def protobuf_refusal(root: str, body: dict) -> str | None:
    try:
        ROOTS[root](**body)
    except (ValueError, TypeError, AttributeError) as error:
        return str(error)
    return None


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


def call(sandbox, verb: str, body: dict):
    return token_post(sandbox, f"/identity/v2/job/{verb}", body)


PATHS = nested_paths()


def test_an_unknown_field_at_any_depth_is_refused_in_protobufs_words(sandbox):
    failures = []
    for root, name, steps in PATHS:
        body = body_with(steps, {"colour": "blue"})
        expected = protobuf_refusal(root, body)
        assert expected == f'Protocol message {name} has no "colour" field.'  # the reference refuses it
        answer = call(sandbox, VERB_OF[root], body)
        if answer.status_code != 400 or answer.json() != {"detail": {"code": "ERROR_INVALID_ARGUMENT",
                                                                      "message": expected}}:
            failures.append(f"{root} {body}: {answer.status_code} {answer.text[:200]}")
    GENERATED_CASES["spaceone protobuf: unknown fields"] += len(PATHS)
    assert failures == [] and len(PATHS) >= 15


def test_a_value_of_the_wrong_kind_is_refused_as_the_message_refuses_it(sandbox):
    failures, count = [], 0
    for root, name, steps in PATHS:
        for field, kind in MESSAGES[name].items():
            if kind not in WRONG:
                continue
            body = body_with(steps, {field: WRONG[kind]})
            assert protobuf_refusal(root, body) is not None, body  # the reference refuses it
            answer = call(sandbox, VERB_OF[root], body)
            count += 1
            if answer.status_code != 400 or answer.json()["detail"]["code"] != "ERROR_INVALID_ARGUMENT":
                failures.append(f"{root} {body}: {answer.status_code} {answer.text[:200]}")
    GENERATED_CASES["spaceone protobuf: wrong kinds"] += count
    assert failures == [] and count > 40


@pytest.mark.parametrize("status", ["DONE", "success", "ERROR"])
def test_a_status_outside_the_enum_is_refused(sandbox, status):
    expected = protobuf_refusal("JobsQuery", {"status": status})
    assert expected == f'unknown enum label "{status}"'
    answer = call(sandbox, "list", {"status": status})
    assert answer.status_code == 400
    assert answer.json() == {"detail": {"code": "ERROR_INVALID_ARGUMENT", "message": expected}}


def test_what_the_messages_accept_the_sandbox_accepts(sandbox):
    bodies = [
        ("list", {"status": "SUCCESS", "query": {"filter": [{"key": "plugin_id", "value": "x", "operator": "eq"}],
                                                 "sort": [{"key": "created_at", "desc": True}],
                                                 "page": {"start": 1, "limit": 2}, "only": ["job_id"]}}),
        ("list", {"status": "NONE"}),  # the enum's zero: the field unset
        ("list", {"query": {"minimal": True, "count_only": False}, "workspace_id": None}),
        ("stat", {"query": {"distinct": "status"}}),
        ("stat", {"query": {"aggregate": [{"group": {"keys": [{"k": "status", "n": "status"}],
                                                     "fields": [{"o": "count", "n": "jobs"}]}}]}}),
    ]
    for verb, body in bodies:
        root = next(name for name, method_verb in VERB_OF.items() if method_verb == verb)
        assert protobuf_refusal(root, {k: v for k, v in body.items() if k != "query"}) is None
        answer = call(sandbox, verb, body)
        assert answer.status_code == 200, (body, answer.text)
    assert call(sandbox, "list", {"status": "NONE"}).json()["total_count"] == call(sandbox, "list", {}).json()[
        "total_count"]


def strictly(message, answer: dict):
    """The answer parsed as the reply message, refusing any field the message does not have."""
    return json_format.ParseDict(answer, message(), ignore_unknown_fields=False)


def test_every_answer_is_the_reply_message(sandbox):
    listed = call(sandbox, "list", {}).json()
    parsed = strictly(job_pb2.JobsInfo, listed)
    assert parsed.total_count == len(parsed.results) == len(listed["results"]) >= 7
    assert {key for job in listed["results"] for key in job} <= set(MESSAGES["JobInfo"])
    job = call(sandbox, "get", {"job_id": listed["results"][0]["job_id"]}).json()
    assert strictly(job_pb2.JobInfo, job).job_id == job["job_id"]
    failed = [j for j in listed["results"] if j["status"] == "FAILURE"]
    assert failed and strictly(job_pb2.JobInfo, failed[0]).error_message


def test_only_minimal_and_count_only_answer_what_the_service_answers(sandbox):
    everything = call(sandbox, "list", {}).json()
    only = call(sandbox, "list", {"query": {"only": ["job_id", "plugin_id"]}}).json()
    assert [set(job) for job in only["results"]] == [{"job_id", "plugin_id"}] * len(everything["results"])
    assert [job["job_id"] for job in only["results"]] == [job["job_id"] for job in everything["results"]]
    minimal = call(sandbox, "list", {"query": {"minimal": True}}).json()
    for full, small in zip(everything["results"], minimal["results"], strict=True):
        assert small == {key: value for key, value in full.items() if key in MINIMAL_FIELDS}
    assert {"job_id", "status", "created_at"} <= set(minimal["results"][0])
    counted = call(sandbox, "list", {"query": {"count_only": True}, "status": "SUCCESS"}).json()
    succeeded = [job for job in everything["results"] if job["status"] == "SUCCESS"]
    assert counted == {"total_count": len(succeeded)} and succeeded
    assert strictly(job_pb2.JobsInfo, counted).total_count == len(succeeded)


def test_a_max_over_a_date_is_the_date(sandbox):
    everything = call(sandbox, "list", {}).json()["results"]
    fields = [{"operator": "max", "key": "created_at", "name": "last"},
              {"operator": "min", "key": "created_at", "name": "first"},
              {"operator": "count", "name": "jobs"}]
    stat = call(sandbox, "stat", {"query": {"aggregate": [{"group": {"keys": [{"key": "status", "name": "status"}],
                                                                     "fields": fields}}]}}).json()
    for row in stat["results"]:
        dates = [job["created_at"] for job in everything if job["status"] == row["status"]]
        assert row["last"] == max(dates) and row["first"] == min(dates) and row["jobs"] == len(dates)
