"""Pointing any action at a test server, whatever its service: the step config that sends it there, and
the actions that stand for each service and idempotency class in tests that need not run every action."""

from __future__ import annotations

import json

from jobs_connector.component.registry import Action, action_keys, get_action
from tests.support.cli import CliResult, run_cli

FAKE_TOKEN = "test-api-token-not-real-0000"


def is_idempotent(action: Action) -> bool:
    """The runtime's rule: declared idempotent, or made so by an idempotency token; for an action that binds
    its own request (http.Request), its binding's answer for the input the tests send."""
    binding = action.spec("BINDING")
    if binding:
        from tests.support.inputs import input_for

        return binding.idempotent(input_for(action))
    return action.safe_to_repeat


def service_of(action: Action):
    """The service a test call of `action` goes to (http.Request: the one its test input names)."""
    binding = action.spec("BINDING")
    if binding:
        from tests.support.inputs import input_for

        return binding.service(input_for(action))
    return action.service


def config_for(action: Action, base_url: str, token: str = FAKE_TOKEN) -> dict:
    """The step config that sends `action` to `base_url` (AWS keys come from the environment: aws_env)."""
    service = service_of(action)
    if service.auth == "sigv4":
        return {"endpoint": base_url}
    return {service.endpoint_cfg: base_url, service.token_cfg: token}


def all_actions() -> list[Action]:
    return [get_action(key) for key in action_keys()]


def representatives() -> list[Action]:
    """For each service, its first idempotent and its first non-idempotent action (registry order)."""
    chosen: dict[tuple[str, bool], Action] = {}
    for action in all_actions():
        chosen.setdefault((action.service_name, is_idempotent(action)), action)
    return list(chosen.values())


def run_action(action: Action, body, cfg: dict, *extra: str) -> CliResult:
    return run_cli("run", action.key, "--input", json.dumps(body), "--config", json.dumps(cfg), *extra)
