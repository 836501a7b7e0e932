"""The errors each action can return (schemas/<service>/errors.json) agree with the botocore models, and the
platform mapping examples evaluate to inputs that carry every required field."""

from __future__ import annotations

import json

import pytest
from jsonata import Jsonata

from jobs_connector.cli.mapping_example import mapping
from jobs_connector.cli.skeleton import sample
from jobs_connector.component.error_catalog import errors_for
from jobs_connector.component.registry import action_keys, get_action
from tools.aws_errors import aws_operations, service_errors

AWS = aws_operations()


@pytest.mark.parametrize("service", sorted(AWS))
def test_aws_error_files_are_the_botocore_model(service):
    with open(f"schemas/{service}/errors.json", encoding="utf-8") as fh:
        checked_in = json.load(fh)
    assert checked_in == json.loads(json.dumps(service_errors(service, AWS[service]))), \
        f"schemas/{service}/errors.json drifted from botocore: run python tools/aws_errors.py"


def test_every_action_lists_errors_with_a_meaning_and_what_the_connector_reports():
    for key in action_keys():
        action = get_action(key)
        if action.service.auth == "per-call":  # http.Request: the chosen service's errors (docs say so)
            continue
        errors = errors_for(action)
        assert errors, key
        for error in errors:
            assert error["meaning"] and error["exit"] in (2, 3, 4, 5), (key, error)


def test_the_invalid_nonce_on_acknowledge_is_a_conflict_with_its_meaning():
    by_code = {e["code"]: e for e in errors_for(get_action("codepipeline.AcknowledgeThirdPartyJob"))}
    nonce = by_code["InvalidNonceException"]
    assert nonce["type"] == "Conflict" and nonce["exit"] == 3 and not nonce["retryable"]
    assert "another worker holds the job" in nonce["meaning"]
    update = {e["code"]: e for e in errors_for(get_action("iot-jobs-data.UpdateJobExecution"))}
    throttled = update["ThrottlingException"]
    assert throttled["type"] == "Throttled" and throttled["retryable"] and throttled["status"] == 429


@pytest.mark.parametrize("key", action_keys())
def test_mapping_example_gives_every_required_field(key):
    action = get_action(key)
    source, expression = mapping(action)
    previous = sample(get_action(source).out_schema) if source else {}
    result = Jsonata(expression).evaluate(previous)
    assert set(action.in_schema.get("required", [])) <= set(result or {}), (expression, result)


def test_mapping_takes_ids_from_the_step_before_and_choices_from_the_example():
    source, expression = mapping(get_action("iot-jobs-data.UpdateJobExecution"))
    assert source == "iot-jobs-data.StartNextPendingJobExecution"
    result = Jsonata(expression).evaluate({"execution": {"jobId": "job-7", "thingName": "pump-3", "status": "QUEUED"}})
    assert result == {"jobId": "job-7", "thingName": "pump-3", "status": "SUCCEEDED"}


def test_a_server_failure_of_a_call_not_safe_to_repeat_is_an_unknown_outcome():
    create = {e["code"]: e for e in errors_for(get_action("panorama.CreateJobForDevices"))}["InternalServerException"]
    assert create["type"] == "OutcomeUnknown" and create["exit"] == 5 and not create["retryable"]
    listing = {e["code"]: e for e in errors_for(get_action("panorama.ListDevicesJobs"))}  # idempotent: retried
    assert listing["InternalServerException"]["type"] == "ServiceUnavailable"
    assert listing["InternalServerException"]["retryable"]
