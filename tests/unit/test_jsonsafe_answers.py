"""A service's answer is checked with a shortcut (lib/base/jsonsafe.py: the text shows no NaN, Infinity or
surrogate escape, and only the containers are walked for depth); it must refuse exactly what the full walk
over every value refuses, with the same message. So must the runtime's parser (protocols.parse_json),
which tells the check whether it met NaN or Infinity instead of the text being searched for them."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs_connector.base.errors import UnexpectedResponse
from jobs_connector.base.jsonsafe import MAX_DEPTH, check_answer
from jobs_connector.http.protocols import parse_json
from tests.support.fuzzing import json_values, nested


def verdict(data, text: bytes | None):
    try:
        check_answer(data, 200, text)
    except UnexpectedResponse as exc:
        return exc.message
    return None


def parser_verdict(text: bytes):
    """What the runtime's parser says about an answer's text: the refusal's message, or None."""
    try:
        parse_json(text, 200)
    except UnexpectedResponse as exc:
        return exc.message
    return None


def as_text(data) -> bytes:
    return json.dumps(data).encode()  # NaN as the bare word, lone surrogates as \\udXXX escapes


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(json_values(), st.dictionaries(st.text(max_size=4), json_values(), max_size=4)))
def test_the_shortcut_refuses_what_the_full_walk_refuses(data):
    try:
        text = as_text(data)
    except (ValueError, RecursionError):
        return  # not writable as JSON text: no service could have sent it
    assert verdict(data, text) == verdict(data, None)
    if isinstance(data, dict):  # what parse_json takes
        assert parser_verdict(text) == verdict(data, None)


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2])
@pytest.mark.parametrize("leaf", [None, 1, "x", [], {}])
def test_depth_at_the_limit(depth, leaf):
    data = {"root": nested(depth, leaf)}
    assert verdict(data, as_text(data)) == verdict(data, None)
    assert parser_verdict(as_text(data)) == verdict(data, None)


def test_nan_inside_a_string_is_text_and_the_bare_words_are_refused():
    assert parser_verdict(b'{"note": "NaN and Infinity"}') is None
    for word in (b"NaN", b"Infinity", b"-Infinity"):
        assert "finite" in parser_verdict(b'{"a": [1, {"note": ' + word + b"}]}")


@pytest.mark.parametrize("depth", [MAX_DEPTH - 4, MAX_DEPTH - 3, MAX_DEPTH - 2])
def test_one_deep_member_among_many_shallow_ones_is_found(depth):
    # the depth rule is checked for every item and member, not only the first
    items = [{"id": n, "tags": ["a"]} for n in range(50)]
    items[37]["extra"] = nested(depth, "leaf")
    data = {"items": items, "more": {"k": 1}}
    assert verdict(data, as_text(data)) == verdict(data, None)
    assert (verdict(data, None) is None) == (depth <= MAX_DEPTH - 3)  # the leaf sits 3 levels down


def test_the_shortcut_is_taken_only_for_plain_text():
    bad = {"a": [1, {"b": float("nan")}]}
    assert verdict(bad, as_text(bad)) is not None
    surrogate = {"a": "x\ud800"}
    assert "a lone surrogate" in verdict(surrogate, as_text(surrogate))
    deep = {"a": nested(MAX_DEPTH + 3, 1)}
    assert "nested more than" in verdict(deep, as_text(deep))


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1.5e309"])
def test_a_number_beyond_a_doubles_range_is_refused_like_infinity_not_written_out_as_it(number):
    """json.loads reads it as infinity; emitted, it would be the bare word Infinity, which is not JSON."""
    refusal = parser_verdict(b'{"a": [1, {"n": ' + number + b"}]}")
    assert refusal is not None and "a[1].n" in refusal and "finite" in refusal
    assert parser_verdict(b'{"a": [1, {"n": 1e308}]}') is None  # large, but a double holds it


@pytest.mark.parametrize("text, integral", [(b'{"a": 2}', False), (b'{"a": 1.5, "b": [0.25]}', False),
                                            (b'{"a": 1.5, "b": [5.0]}', True), (b'{"a": 1e3}', True),
                                            (b'{"a": -0.0}', True), (b'{"a": "5.0"}', False)])
def test_the_parser_says_whether_a_float_could_pass_for_an_integer(text, integral):
    """Only then does the answer's check need the strict integer rule (lib/validation/fast.py)."""
    assert parse_json(text, 200)[1] is integral
