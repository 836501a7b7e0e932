"""Literals and plain paths in a step's mapping are read without the evaluator process
(lib/webhooks/mapping._direct_reader): the same values as the bounded JSONata evaluator gives, held to it
by a differential test over generated contexts; anything else still goes to the evaluator."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs_connector.webhooks.mapping.input_mapping import _NOT_DIRECT, Expression, Mapping
from jobs_connector.webhooks.mapping.jsonata_box import shared

DIRECT = ["'SUCCEEDED'", '"double quoted"', "1", "-3", "2.0", "1.5", "1e3", "true", "false", "null",
          "event", "event.thing", "event.a.b", "event.a.b.c", "event.`user-agent`", "headers.`x-id`",
          "steps", "meta.eventId", "nothing.here"]
NOT_DIRECT = ["event.a[0]", "event.a[]", "event.*", "$.event", "$$.event", "event.a#$i", "event.a@$x",
              "$string(event.a)", "event.a = 1", "event.(a)", "event.**", "event.a.%.b", "event.a ? 1 : 2",
              "'a' & 'b'", "[1, 2]", "{'a': 1}", "event.a[b = 1]", "event{a: b}", "event^(a)"]

scalars = (st.none() | st.booleans() | st.integers(-10**15, 10**15)
           | st.floats(allow_nan=False, allow_infinity=False, width=64)
           | st.text(st.characters(exclude_categories=("Cs",)), max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["a", "b", "c", "thing", "user-agent"]), inner, max_size=3),
                      max_leaves=12)
contexts = st.fixed_dictionaries({
    "event": values, "steps": st.lists(values, max_size=2),
    "headers": st.dictionaries(st.sampled_from(["x-id", "user-agent"]), st.text(max_size=5), max_size=2),
    "meta": st.fixed_dictionaries({"eventId": st.text(min_size=1, max_size=5)})})


def as_json(value) -> str:
    return json.dumps(value, sort_keys=True)  # tells 2 from 2.0


@pytest.mark.parametrize("source", DIRECT)
def test_literals_and_plain_paths_are_read_directly(source):
    assert Expression.compile(source, "input.x").direct is not None


@pytest.mark.parametrize("source", NOT_DIRECT)
def test_everything_else_goes_to_the_evaluator(source):
    assert Expression.compile(source, "input.x").direct is None


@given(context=contexts)
def test_a_direct_reading_gives_what_the_evaluator_gives(context):
    expressions = [Expression.compile(source, "input.x") for source in DIRECT]
    boxed = shared().evaluate([e.source for e in expressions], context)
    for expression, theirs in zip(expressions, boxed, strict=True):
        ours = expression.direct(context)
        if ours is not _NOT_DIRECT:  # an array on the way: the evaluator decides
            assert as_json(ours) == as_json(theirs), expression.source


class NoEvaluator:
    def __init__(self):
        self.calls: list[list[str]] = []

    def evaluate(self, sources, context):
        self.calls.append(sources)
        return [f"boxed {source}" for source in sources]


def test_a_mapping_of_direct_fields_makes_no_round_trip_and_the_others_one():
    evaluator = NoEvaluator()
    mapping = Mapping({"thingName": "event.thing", "status": "'SUCCEEDED'", "n": 3,
                       "details": {"by": "headers.`user-agent`", "first": "event.list[0]"}},
                      evaluator=evaluator)
    context = {"event": {"thing": "sensor-1", "list": [1, 2]}, "headers": {"user-agent": "gw/2"}}
    assert mapping.evaluate(context) == {"thingName": "sensor-1", "status": "SUCCEEDED", "n": 3,
                                         "details": {"by": "gw/2", "first": "boxed event.list[0]"}}
    assert evaluator.calls == [["event.list[0]"]]
    evaluator.calls.clear()
    assert Mapping({"a": "event.thing"}, evaluator=evaluator).evaluate(context) == {"a": "sensor-1"}
    assert evaluator.calls == []


def test_a_path_through_an_array_is_left_to_the_evaluator():
    evaluator = NoEvaluator()
    mapping = Mapping({"names": "event.items.name"}, evaluator=evaluator)
    assert mapping.evaluate({"event": {"items": [{"name": "a"}, {"name": "b"}]}}) == {"names": "boxed event.items.name"}
    assert evaluator.calls == [["event.items.name"]]
