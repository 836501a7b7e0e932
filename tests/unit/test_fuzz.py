"""Hostile and random input for every action in component.json, against a raw-socket server on 127.0.0.1
that records each request's bytes.

1. Mutated inputs through the CLI: whatever the in-schema refuses is refused with exit 2 and nothing is
   sent; whatever it accepts goes out as a well-formed request (request line, headers without CR/LF and
   nothing injected, path with exactly the template's segments, every parameter percent-encoded, only
   the action's query parameters, strict JSON body), or is refused by the wire rules (NaN, lone
   surrogates, ...) with exit 2 and nothing sent.
2. Anything at all through Runtime.run (wrong types, non-objects, deep nesting, NaN, surrogates, bytes,
   sets, huge numbers and strings) and any text through the CLI: only ConnectorErrors, never a crash.
3. Header injection, path traversal and query smuggling through every string input, nested ones too.

Examples are bounded (40 per action and property; HYPOTHESIS_PROFILE=long: 1000) and derandomized in the
default run so CI is repeatable; the count is printed at the end of the module.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs_connector.base.errors import BadInput, ConnectorError
from jobs_connector.runtime import Runtime
from tests.support.cli import run_cli
from tests.support.fuzzing import (
    HOSTILE,
    hostile_strings,
    json_values,
    mutated_inputs,
    nested,
    string_leaves,
    wire_problems,
    with_value,
)
from tests.support.hypothesis_profiles import FUZZ_EXAMPLES
from tests.support.inputs import accepts, full_input, input_for, last_page, sample_output
from tests.support.rawhttp import RawServer, Respond
from tests.support.targets import all_actions, config_for

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 1000 if LONG else 25  # per action and property; 48 actions keep the default run near a minute
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not LONG,
                suppress_health_check=list(HealthCheck))
ACTIONS = all_actions()
# Refused by lib/base/jsonsafe.py or lib/http/protocols.py although the schema alone would accept them.
WIRE_RULES = ("finite", "unicode", "depth", "integer-range", "key-type", "header-value")
INJECTIONS = ("x\r\nX-Injected: 1", "../../etc/passwd", "%2e%2e", "..", "a&b=c#d?e", "\ud800", "\x00", "😀",
              "A" * 5000)
RUN = FUZZ_EXAMPLES  # printed with the action count by conftest.py


@pytest.fixture
def serving():
    """Starts a server answering every request with a valid last page of the action's output."""
    servers = []

    def start(action):
        answer = last_page(action, sample_output(action.out_schema))
        server = RawServer(lambda received: Respond(200, answer)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _key(action) -> str:
    return action.key


@pytest.mark.parametrize("action", ACTIONS, ids=_key)
def test_refused_inputs_send_nothing_and_accepted_ones_are_well_formed(action, aws_env, serving):
    server = serving(action)
    cfg = json.dumps(config_for(action, server.url))
    outcomes: Counter = Counter()

    @FUZZ
    @given(body=mutated_inputs(action))
    def check(body):
        RUN["mutated inputs (CLI)"] += 1
        outcomes["tried"] += 1
        server.requests.clear()
        text = json.dumps(body)
        sent = json.loads(text)  # exactly what the CLI reads
        result = run_cli("run", action.key, f"--input={text}", "--config", cfg)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
        if not accepts(action.in_schema, sent):
            assert result.code == 2, result.stderr
            assert server.requests == []
            outcomes["refused"] += 1
            return
        if result.code == 2:
            assert server.requests == []
            assert any(f"rule: {rule}" in result.stderr for rule in WIRE_RULES), result.stderr
            return
        assert result.code in (0, 3, 4), result.stderr
        assert server.requests, "an accepted input sent nothing"
        for request in server.requests:
            assert wire_problems(action, sent, request) == []
        outcomes["sent"] += 1

    check()
    # both sides of the property were exercised
    assert outcomes["refused"] and outcomes["sent"], outcomes


def _anything(action):
    members = sorted((action.in_schema.get("properties") or {}).keys()) or ["member"]
    base = input_for(action)
    odd = st.one_of(st.binary(max_size=8), st.sets(st.integers(), max_size=3), st.builds(object),
                    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2),
                    st.integers(10 ** 4400, 10 ** 4500), st.just(nested(100_000)), st.just(nested(5_000, "x")))
    value = st.one_of(json_values(), odd, hostile_strings())
    return st.one_of(
        value,  # the whole body: a non-object, or an object of any shape
        st.tuples(st.sampled_from(members), value).map(lambda mv: {**base, mv[0]: mv[1]}),
        st.dictionaries(st.sampled_from(members), value, max_size=4),
    )


@pytest.mark.parametrize("action", ACTIONS, ids=_key)
def test_no_input_of_any_shape_escapes_as_an_unhandled_error(action, aws_env, serving):
    server = serving(action)
    cfg = config_for(action, server.url)
    runtime = Runtime()

    @FUZZ
    @given(body=_anything(action))
    def through_the_runtime(body):
        RUN["any shape (Runtime.run)"] += 1
        server.requests.clear()
        try:
            list(runtime.run(action.key, body, cfg))
        except BadInput:
            assert server.requests == []
        except ConnectorError:
            pass

    @FUZZ
    @given(text=st.one_of(st.text(st.characters(exclude_categories=()), max_size=60),
                          st.integers(1, 200_000).map(lambda n: '{"a":' + "[" * n + "]" * n + "}"),
                          st.integers(4301, 6000).map(lambda n: '{"a": 1' + "0" * n + "}"),
                          st.sampled_from(["NaN", "-Infinity", "[]", "null", "1e999", '"\\ud800"', "{"])))
    def through_the_cli(text):
        RUN["any text (CLI)"] += 1
        server.requests.clear()
        result = run_cli("run", action.key, f"--input={text}", "--config", json.dumps(cfg))
        assert result.code in (0, 2, 3, 4), result.stderr
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
        if result.code == 2:
            assert server.requests == []

    through_the_runtime()
    through_the_cli()


def _bound_members(action) -> set[str]:
    template = action.spec("PATH") or ""
    in_path = {part.strip("{}+") for part in template.split("/") if part.startswith("{")}
    return in_path | set(action.spec("QUERY") or {}) | set(action.spec("HEADERS") or {})


@pytest.mark.parametrize("action", ACTIONS, ids=_key)
def test_injection_traversal_and_smuggling_through_every_string_input(action, aws_env, serving):
    server = serving(action)
    cfg = config_for(action, server.url)
    runtime = Runtime()
    bodies = [input_for(action)]
    try:
        bodies.append(full_input(action.in_schema))
    except ValueError:
        pass
    bound = _bound_members(action)
    tried = 0
    for body in bodies:
        for path in string_leaves(body):
            payloads = HOSTILE if path[0] in bound and len(path) == 1 else INJECTIONS
            for payload in payloads:
                attempt = with_value(body, path, payload)
                server.requests.clear()
                tried += 1
                try:
                    list(runtime.run(action.key, attempt, cfg))
                except BadInput:
                    assert server.requests == [], (path, payload)
                    continue
                except ConnectorError:
                    pass
                assert accepts(action.in_schema, attempt), (path, payload)
                assert server.requests, (path, payload)
                for request in server.requests:
                    assert wire_problems(action, attempt, request) == [], (path, payload)
    RUN["hostile strings (Runtime.run)"] += tried
    assert tried or not any(string_leaves(b) for b in bodies)
