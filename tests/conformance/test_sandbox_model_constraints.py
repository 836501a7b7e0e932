"""The sandbox refuses what the botocore model forbids, as the service would: for every emulated AWS operation, one
request per constraint of the model (a pattern, a length, a range, an enum, a list's or map's size, a required
member), each breaking that constraint only, is sent by boto3 with its parameter validation off over real HTTP
and must come back as a botocore ClientError with the validation error the model lists for the operation (HTTP
400) and AWS's sentence for the constraint; the same request with the constraint kept is not refused by the
validation. The cases are derived from the model's shapes, not from our schemas or the sandbox's code.

A few constraints cannot be broken over the wire and are counted, not sent: an empty path member (no longer
the operation's URL), a bound too large for any request, a pattern every value within its lengths matches.
A blob's length is checked as its base64 text's (the schemas' reading), so its sentence is matched without
the number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import Phase, find, settings

from jobs_connector.sandbox import DEFAULT_REGION, SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY
from jobs_connector.sandbox.server import AWS_SERVICES
from jobs_connector.validation.rules import compiled_pattern
from tests.support.aws_model import aws_action_keys, operation_model
from tests.support.hypothesis_profiles import GENERATED_CASES
from tests.support.sandbox import running_sandbox
from tests.support.strategies import _string

KEYS = aws_action_keys()
LARGEST_SENT = 100_000  # a bound above this is no request a client sends (the sandbox takes 1 MiB bodies)
LARGEST_LIST = 1000
DETECTED = re.compile(r"^[0-9]+ validation errors? detected: ")
# Characters a value is broken with when it must break a pattern: a space first (printable, kept in a URL,
# a query string and, inside a value, a header), then what ARN, id and name patterns rarely allow.
BREAKERS = (" ", "!", "\u00e9", "#", "*", "\\", "\u4e00", "a")


@dataclass(frozen=True)
class Case:
    key: str
    rule: str  # required, enum, min, max, pattern, range-min, range-max, items-min, ...
    where: str  # the member as AWS names it: 'abortConfig.criteriaList.1.member.thresholdPercentage'
    phrase: str  # what the message must say about it
    broken: dict
    kept: dict

    @property
    def id(self) -> str:
        return f"{self.key}:{self.where}:{self.rule}"


# --- values from the model ---------------------------------------------------------------------------------

@cache
def _patterned(shape) -> str:
    """The simplest string of a patterned shape (deterministic: hypothesis shrinks to it)."""
    return find(_string(shape), lambda _: True, settings=settings(database=None, phases=[Phase.generate,
                                                                                      Phase.shrink]))


def valid(shape):
    """The simplest value of a shape that keeps all its constraints (lists and maps hold one entry where they
    may, so that the constraints of their members can be reached)."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        return {name: valid(member) for name, member in shape.members.items() if name in shape.required_members}
    if kind == "list":
        return [valid(shape.member)] * max(meta.get("min", 0), 1 if meta.get("max", 1) >= 1 else 0)
    if kind == "map":
        return {valid(shape.key): valid(shape.value)} if meta.get("max", 1) >= 1 else {}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        if "pattern" in meta:
            return _patterned(shape)
        return "a" * max(meta.get("min", 0), 1)
    if kind in ("integer", "long"):
        return min(max(1, meta.get("min", 1)), meta.get("max", 1))
    if kind in ("float", "double"):
        return float(min(max(1, meta.get("min", 1)), meta.get("max", 1)))
    if kind == "boolean":
        return False
    if kind == "blob":
        return b"a" * max(meta.get("min", 0), 1)
    if kind == "timestamp":
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    raise AssertionError(f"no value for a {kind} shape ({shape.name}): extend the test")


def _matches(shape, text: str) -> bool:
    pattern = shape.metadata["pattern"]
    anchored = pattern if pattern.startswith("^") and pattern.endswith("$") and "|" not in pattern \
        else f"^(?:{pattern})$"
    return bool(compiled_pattern(anchored).search(text))


def _pattern_breaker(shape, good: str) -> str | None:
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", LARGEST_SENT)
    candidates = [good[:1] + c + good[2:] for c in BREAKERS] + [c * max(low, 1) for c in BREAKERS]
    return next((c for c in candidates if low <= len(c) <= high and not _matches(shape, c)), None)


# --- cases from the model -------------------------------------------------------------------------------------


def _put(root: dict, steps: list, value, *, drop: bool = False) -> dict:
    """A copy of `root` with the value at `steps` (keys and list indices) replaced, or dropped."""
    if not steps:
        return value
    head, rest = steps[0], steps[1:]
    copy = list(root) if isinstance(root, list) else dict(root)
    if drop and not rest:
        del copy[head]
    else:
        copy[head] = _put(root[head], rest, value, drop=drop)
    return copy


def _where(steps: list) -> str:
    return ".".join(f"{s + 1}.member" if isinstance(s, int) else str(s) for s in steps)


def _breaks(shape, good, skipped: Counter, where_bound: str | None):
    """(rule, phrase, broken value) for each constraint of the shape itself."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "string" and shape.enum:
        yield "enum", f"Member must satisfy enum value set: [{', '.join(shape.enum)}]", "NOT_A_MODELLED_VALUE"
        return
    if kind in ("string", "list", "map", "blob"):
        if meta.get("min", 0) >= 1:
            if where_bound == "uri" and meta["min"] == 1:
                skipped["an empty path member"] += 1
            else:
                yield (f"{kind}-min", f"Member must have length greater than or equal to "
                       f"{'' if kind == 'blob' else meta['min']}", _resized(shape, good, meta["min"] - 1))
        if "max" in meta:
            if meta["max"] + 1 > (LARGEST_LIST if kind in ("list", "map") else LARGEST_SENT):
                skipped["a bound too large to send"] += 1
            else:
                yield (f"{kind}-max", f"Member must have length less than or equal to "
                       f"{'' if kind == 'blob' else meta['max']}", _resized(shape, good, meta["max"] + 1))
    if kind == "string" and "pattern" in meta:
        broken = _pattern_breaker(shape, good)
        if broken is None:
            skipped["a pattern every value matches"] += 1
        else:
            yield "pattern", f"Member must satisfy regular expression pattern: {meta['pattern']}", broken
    if kind in ("integer", "long", "float", "double"):
        if "min" in meta:
            yield "range-min", f"Member must have value greater than or equal to {meta['min']}", meta["min"] - 1
        if "max" in meta:
            yield "range-max", f"Member must have value less than or equal to {meta['max']}", meta["max"] + 1


def _resized(shape, good, size: int):
    kind = shape.type_name
    if kind == "string":
        return (good * (size // max(len(good), 1) + 1))[:size]
    if kind == "blob":
        return b"a" * size
    if kind == "list":
        return [valid(shape.member)] * size
    keys = [f"k{i}" for i in range(size)]  # a map: distinct keys, each valid for the key shape
    return {key: valid(shape.value) for key in keys}


def cases_of(key: str, skipped: Counter) -> list[Case]:
    op = operation_model(key)
    top = op.input_shape
    base = valid(top)
    out: list[Case] = []

    def visit(shape, steps: list, location: str | None, seen: tuple):
        if shape.name in seen and shape.type_name == "structure":
            return
        good = _value_at(base_for(steps), steps)
        for rule, phrase, broken in _breaks(shape, good, skipped, location):
            kept = base_for(steps)
            out.append(Case(key, rule, _where(steps), phrase, _put(kept, steps, broken), kept))
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                where = member.serialization.get("location") if not steps else None
                if name in shape.required_members:
                    if where == "uri":
                        skipped["a required path member (always in the URL)"] += 1
                    else:
                        kept = base_for([*steps, name])
                        out.append(Case(key, "required", _where([*steps, name]), "Member must not be null",
                                        _put(kept, [*steps, name], None, drop=True), kept))
                visit(member, [*steps, name], where, (*seen, shape.name))
        elif shape.type_name == "list":
            visit(shape.member, [*steps, 0], None, seen)
        elif shape.type_name == "map":
            kept = base_for(steps)
            map_key = next(iter(_value_at(kept, steps)))
            for rule, phrase, broken in _breaks(shape.key, map_key, skipped, None):
                entries = {broken: valid(shape.value)}
                out.append(Case(key, f"key-{rule}", _where(steps), f"Map keys must satisfy constraint: [{phrase}",
                                _put(kept, steps, entries), kept))
            visit(shape.value, [*steps, map_key], None, seen)

    def base_for(steps: list) -> dict:
        """The simplest valid input that holds a (valid) value at `steps`: each structure on the way has its
        required members and the one named next."""
        root = dict(base)
        node_shape, path = top, []
        for step in steps:
            value = _value_at(root, path)
            if node_shape.type_name == "structure":
                child = node_shape.members[step]
                if step not in value:
                    root = _put(root, path, {**value, step: valid(child)})
            elif node_shape.type_name == "list":
                child = node_shape.member
            else:
                child = node_shape.value
            node_shape, path = child, [*path, step]
        return root

    visit(top, [], None, ())
    return out


def _value_at(root, steps: list):
    for step in steps:
        root = root[step]
    return root


def validation_code(key: str) -> str:
    listed = {shape.name for shape in operation_model(key).error_shapes}
    code = next((c for c in ("ValidationException", "InvalidRequestException") if c in listed), None)
    assert code, f"{key} lists no validation error in the model"
    return code


SKIPPED: Counter = Counter()
CASES = [case for key in KEYS for case in cases_of(key, SKIPPED)]


# --- over real HTTP ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clients():
    with running_sandbox() as sandbox:
        config = Config(parameter_validation=False, retries={"max_attempts": 1})
        yield {service: boto3.client(service, endpoint_url=sandbox.url, region_name=DEFAULT_REGION,
                                     aws_access_key_id=SANDBOX_ACCESS_KEY, aws_secret_access_key=SANDBOX_SECRET_KEY,
                                     config=config)
               for service in AWS_SERVICES}


def send(clients, key: str, params: dict):
    service, operation = key.split(".", 1)
    return getattr(clients[service], xform_name(operation))(**params)


def test_every_emulated_operation_is_an_action_whose_model_is_checked():
    emulated = set()
    for module in AWS_SERVICES.values():  # json-1.1 by X-Amz-Target (OPERATIONS), rest-json by route
        handlers = [xform_name(name) for name in module.OPERATIONS] if hasattr(module, "OPERATIONS") \
            else [handler.__name__ for *_, handler in module.routes._routes]
        emulated |= {f"{module.NAME}.{name}" for name in handlers}
    checked = {f"{key.split('.')[0]}.{xform_name(key.split('.', 1)[1])}" for key in KEYS}
    assert emulated == checked and len(checked) == 26  # 13 of the control plane, 5 + 5 + 3


def test_the_cases_cover_every_kind_of_constraint():
    kinds = Counter(case.rule for case in CASES)
    for kind, count in kinds.items():
        GENERATED_CASES[f"sandbox model constraints: {kind}"] += count
    for kind, count in SKIPPED.items():
        GENERATED_CASES[f"sandbox model constraints not sendable: {kind}"] += count
    assert {"required", "enum", "string-min", "string-max", "pattern", "range-min", "range-max", "list-min",
            "list-max"} <= set(kinds)
    assert {case.key for case in CASES} == set(KEYS)  # every operation has at least one
    assert len(CASES) > 200 and sum(SKIPPED.values()) < len(CASES) / 4


@pytest.mark.parametrize("key", KEYS)
def test_every_broken_constraint_is_refused_as_the_service_refuses_it(clients, key):
    code = validation_code(key)
    failures = []
    for case in (c for c in CASES if c.key == key):
        try:
            send(clients, key, case.broken)
        except ClientError as error:
            got = error.response["Error"]
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            value = "Value null" if case.rule == "required" else "Value"
            expected = f"at '{case.where}' failed to satisfy constraint: {case.phrase}"
            if got["Code"] != code or status != 400 or not DETECTED.match(got["Message"]) \
                    or expected not in got["Message"] or value not in got["Message"]:
                failures.append(f"{case.id}: {status} {got['Code']}: {got['Message'][:300]}")
        else:
            failures.append(f"{case.id}: accepted")
    assert failures == []


@pytest.mark.parametrize("key", KEYS)
def test_the_same_requests_with_the_constraint_kept_are_not_refused_by_it(clients, key):
    answered = Counter()
    for kept in {repr(c.kept): c.kept for c in CASES if c.key == key}.values():
        try:
            send(clients, key, kept)
            answered["2xx"] += 1
        except ClientError as error:  # the emulation's own answer (no such job, not a thing ARN): not validation
            assert not DETECTED.match(error.response["Error"]["Message"]), (kept, error.response["Error"])
            answered["refused by the emulation"] += 1
    for answer, count in answered.items():
        GENERATED_CASES[f"sandbox model constraints kept: {answer}"] += count
    assert answered
