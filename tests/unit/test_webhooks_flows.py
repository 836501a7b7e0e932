"""The flows file is checked when it is loaded: a broken flow fails at start, naming flow, step and field."""

import json
import re

import pytest

from jobs_connector.webhooks.flows import FlowFileError, build, flow_retry, load
from jobs_connector.webhooks.mapping.input_mapping import Expression, Mapping, MappingError
from tests.support.cli import run_cli
from tests.support.webhooks import HOOK_SECRET, SECRET_ENV

ENV = {SECRET_ENV: HOOK_SECRET}
UPDATE = "iot-jobs-data.UpdateJobExecution"
DESCRIBE = "iot-jobs-data.DescribeJobExecution"
GOOD_INPUT = {"thingName": "event.thing", "jobId": "event.job", "status": "event.ok ? 'SUCCEEDED' : 'FAILED'"}


def one_flow(steps=None, **extra):
    spec = {"name": "device-status", "secret_env": SECRET_ENV,
            "steps": steps or [{"action": UPDATE, "input": GOOD_INPUT}], **extra}
    return {"flows": [spec]}


def refused(data, environ=ENV, **kw) -> FlowFileError:
    with pytest.raises(FlowFileError) as info:
        build(data, environ=environ, **kw)
    return info.value


def test_a_good_flow_loads_with_its_settings():
    flows = build(one_flow(retry={"max_attempts": 3, "delay": 1, "max_delay": 10},
                           config={"region": "eu-west-1"}), environ=ENV)
    flow = flows.get("device-status")
    assert [s.key for s in flow.steps] == [UPDATE]
    assert flow.retry == flow_retry(3, 1, 10)
    assert flow.secret == HOOK_SECRET.encode()
    assert flow.steps[0].config == {"region": "eu-west-1", "emitBehaviour": "fetchAll"}


def test_yaml_and_json_files_load_alike(tmp_path):
    yaml_file = tmp_path / "flows.yaml"
    yaml_file.write_text(f"""
flows:
  - name: device-status
    secret_env: {SECRET_ENV}
    steps:
      - action: {UPDATE}
        input:
          thingName: event.thing
          jobId: event.job
          status: "'SUCCEEDED'"
""")
    json_file = tmp_path / "flows.json"
    json_file.write_text(json.dumps(one_flow()))
    for path in (yaml_file, json_file):
        assert [s.key for s in load(str(path), environ=ENV).get("device-status").steps] == [UPDATE]


def test_unknown_action_is_named_with_a_suggestion():
    error = refused(one_flow([{"action": "iot-jobs-data.UpdateJobExecutions", "input": {}}]))
    assert error.field == "flow 'device-status' step 1.action"
    assert "did you mean iot-jobs-data.UpdateJobExecution" in error.message


def test_jsonata_that_does_not_compile_is_refused():
    error = refused(one_flow([{"action": UPDATE, "input": {**GOOD_INPUT, "jobId": "event.job["}}]))
    assert error.rule == "mapping"
    assert "step 1.input.jobId" in error.message and "does not compile" in error.message


def test_a_misspelt_input_field_is_refused_even_without_an_example():
    steps = [{"action": UPDATE, "input": {"thingName": "event.thing", "jobid": "event.job", "status": "'QUEUED'"}}]
    error = refused(one_flow(steps))
    assert "'jobid' is not a known field (did you mean 'jobId'?)" in error.message
    assert error.rule == "unknown-field"


def test_a_static_value_is_checked_against_the_schema():
    error = refused(one_flow([{"action": UPDATE, "input": {**GOOD_INPUT, "status": "'DONE'"}}]))
    assert error.rule == "enum" and "status" in error.message and "SUCCEEDED" in error.message


def test_a_required_field_missing_from_the_mapping_is_refused():
    error = refused(one_flow([{"action": UPDATE, "input": {"thingName": "event.thing", "status": "'QUEUED'"}}]))
    assert error.rule == "required" and "'jobId' is required" in error.message


def test_values_from_the_example_event_are_checked():
    data = one_flow(example_event={"thing": "sensor 1", "job": "fw-42", "ok": True})
    error = refused(data)
    assert error.rule == "pattern" and "thingName" in error.message and "example_event" in error.message
    data = one_flow(example_event={"thing": "sensor-1", "job": "fw-42", "ok": True})
    assert build(data, environ=ENV).get("device-status").example_event["thing"] == "sensor-1"


def test_a_mapping_that_yields_nothing_for_the_example_is_refused():
    data = one_flow(example_event={"thing": "sensor-1", "ok": True})  # no job
    error = refused(data)
    assert "'jobId' is required" in error.message


def test_fields_from_earlier_steps_are_not_required_at_load_time():
    steps = [{"action": DESCRIBE, "input": {"thingName": "event.thing", "jobId": "event.job"}},
             {"action": UPDATE, "input": {"thingName": "event.thing", "jobId": "steps[0].execution.jobId",
                                          "status": "'SUCCEEDED'",
                                          "expectedVersion": "steps[0].execution.versionNumber"}}]
    flows = build(one_flow(steps, example_event={"thing": "t-1", "job": "j-1"}), environ=ENV)
    assert len(flows.get("device-status").steps) == 2
    # ...but the fields that are known are still checked.
    steps[1]["input"]["status"] = "'FINISHED'"
    assert refused(one_flow(steps)).rule == "enum"


def test_an_inline_secret_is_refused_with_a_clear_error():
    data = one_flow()
    data["flows"][0]["secret"] = HOOK_SECRET
    error = refused(data)
    assert error.rule == "inline-secret" and "environment variable" in error.message
    assert HOOK_SECRET not in error.message

    data = one_flow()
    data["flows"][0]["secret_env"] = "whsec_0123456789abcdef"
    error = refused(data)
    assert error.rule == "inline-secret" and "NAME of an environment variable" in error.message
    assert "whsec_0123456789abcdef" not in error.message


def test_a_secret_in_step_config_is_refused():
    error = refused(one_flow(config={"secretAccessKey": "test-secret-key-not-real-0000"}))
    assert error.rule == "inline-secret" and "secretAccessKey" in error.message
    assert "test-secret-key-not-real" not in error.message


def test_the_secret_variable_must_be_set_and_long_enough_where_webhooks_are_received():
    assert refused(one_flow(), environ={}).rule == "secret-missing"
    assert refused(one_flow(), environ={SECRET_ENV: "short"}).rule == "secret-weak"
    # A worker-only process needs no webhook secret.
    assert build(one_flow(), environ={}, need_secrets=False).get("device-status").secret is None


@pytest.mark.parametrize("mutate, rule, where", [
    (lambda f: f.update(name="bad name"), "pattern", "flows[0].name"),
    (lambda f: f.update(colour="blue"), "unknown-field", "flows[0]"),
    (lambda f: f.update(steps=[]), "minItems", "flows[0].steps"),
    (lambda f: f.update(retry={"max_attempts": 0}), "minimum", "flows[0].retry.max_attempts"),
    (lambda f: f["steps"][0].update(config={"emitBehaviour": "emitIndividually"}), "enum", ""),
])
def test_shape_errors_name_the_field(mutate, rule, where):
    data = one_flow()
    mutate(data["flows"][0])
    error = refused(data)
    assert error.rule == rule and where in error.message


def test_duplicate_flow_names_are_refused():
    data = one_flow()
    data["flows"].append(dict(data["flows"][0]))
    assert refused(data).rule == "duplicate"


def test_serve_refuses_a_broken_flows_file_at_start(tmp_path):
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(one_flow([{"action": UPDATE, "input": {**GOOD_INPUT, "status": "'DONE'"}}])))
    result = run_cli("serve", "--flows", str(path), "--queue", f"sqlite:///{tmp_path / 'q.db'}", "--port", "0")
    assert result.code == 2
    assert "flow 'device-status' step 1.input" in result.stderr and "must be one of" in result.stderr
    assert not (tmp_path / "q.db").exists()  # nothing was started


def test_readme_example_flows_load(monkeypatch):
    """The README's IoT flows file is the documented format: it must load as written."""
    import os

    from tests.support.webhooks import ROOT

    readme = open(os.path.join(ROOT, "docs", "webhooks.md"), encoding="utf-8").read()
    blocks = re.findall(r"```yaml\n(flows:.*?)```", readme, re.S)
    iot = [b for b in blocks if "iot-jobs-data." in b and "codepipeline." not in b]
    assert iot, "the README shows an IoT flows file"
    import yaml

    for block in iot:
        data = yaml.safe_load(block)
        environ = {f["secret_env"]: HOOK_SECRET for f in data["flows"]}
        assert len(build(data, environ=environ)) == len(data["flows"])


# -- the mapping language --------------------------------------------------------------------------------


def test_mapping_builds_input_from_event_and_earlier_steps():
    mapping = Mapping({"thingName": "event.thing", "expectedVersion": "steps[0].execution.versionNumber",
                       "statusDetails": {"by": "'webhook'", "delivery": "meta.deliveryId"},
                       "includeJobDocument": False, "missing": "event.nothing"})
    context = {"event": {"thing": "t-1"}, "steps": [{"execution": {"versionNumber": 7}}], "headers": {},
               "meta": {"deliveryId": "d-1"}}
    assert mapping.evaluate(context) == {"thingName": "t-1", "expectedVersion": 7,
                                         "statusDetails": {"by": "webhook", "delivery": "d-1"},
                                         "includeJobDocument": False}


def test_whole_input_as_one_expression():
    mapping = Mapping('{"thingName": event.thing, "jobId": $string(event.n)}')
    assert mapping.evaluate({"event": {"thing": "t", "n": 4}}) == {"thingName": "t", "jobId": "4"}


@pytest.mark.parametrize("source, static, known_with_example", [
    ("'SUCCEEDED'", True, True),
    ("1 + 2", True, True),
    ("event.thing", False, True),
    ("steps[0].x", False, False),
    ("headers.`x-request-id`", False, False),
    ("$$.event.thing", False, False),
    ("$uppercase(event.thing)", False, True),
])
def test_expression_dependencies(source, static, known_with_example):
    expr = Expression.compile(source, "input.x")
    assert expr.static is static
    assert expr.known_at_load(True) is known_with_example
    assert expr.known_at_load(False) is static


def test_an_evaluation_error_names_the_field():
    with pytest.raises(MappingError) as info:
        Mapping({"jobId": "$number('x') + 1"}).evaluate({"event": {}})
    assert info.value.where == "input.jobId"


def test_retry_backoff_doubles_is_capped_and_honours_retry_after():
    policy = flow_retry(max_attempts=5, delay=2, max_delay=10)
    assert [policy.backoff(n, rng=lambda: 1.0) for n in (1, 2, 3, 4)] == [2, 4, 8, 10]
    assert policy.backoff(1, rng=lambda: 0.0) == 1  # jitter stays in the upper half
    assert policy.backoff(1, retry_after=7, rng=lambda: 1.0) == 7
    assert policy.backoff(1, retry_after=99999999999, rng=lambda: 1.0) == 10  # never beyond max_delay


def test_mappings_evaluate_correctly_from_many_threads_at_once():
    import concurrent.futures

    first = Mapping({"thingName": "event.thing", "n": "event.n * 2"})
    second = Mapping({"jobId": "$join([event.thing, $string(event.n)], '-')", "at": "steps[0].at"})

    def run(i):
        context = {"event": {"thing": f"t{i}", "n": i}, "steps": [{"at": i}]}
        return first.evaluate(context), second.evaluate(context)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, range(400)))
    assert results == [({"thingName": f"t{i}", "n": i * 2}, {"jobId": f"t{i}-{i}", "at": i}) for i in range(400)]
