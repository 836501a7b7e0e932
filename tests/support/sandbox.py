"""Helpers for tests against the sandbox over real HTTP: start one (always stopped), point the client
environment at it, and send requests signed with jobs_connector.auth.sigv4.SigV4 or a bearer token."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time

import pytest
import requests

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.auth.sigv4 import SigV4
from jobs_connector.sandbox import DEFAULT_REGION, SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY, SANDBOX_TOKEN, Sandbox


class FakeClock:
    """The sandbox's clock, moved by hand (step timers, job progress); it starts at the real time."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.contextmanager
def running_sandbox(monkeypatch=None, **kwargs):
    """A sandbox on a free port with the documented key pair; with `monkeypatch`, the client environment
    (endpoints, keys, tokens) points at it for the test."""
    if "credentials" not in kwargs:  # credentials=None: the sandbox reads its environment, as the CLI does
        kwargs["credentials"] = AwsCredentials(SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY, source="sandbox default")
    sandbox = Sandbox(0, **kwargs).start()
    try:
        if monkeypatch is not None:
            for name, value in sandbox.client_environment().items():
                if value is None:
                    monkeypatch.delenv(name, raising=False)
                else:
                    monkeypatch.setenv(name, value)
        yield sandbox
    finally:
        sandbox.stop()


def aws(sandbox: Sandbox, service: str, method: str, path: str, body=None, *, query=None, target: str | None = None,
        secret: str = SANDBOX_SECRET_KEY, key: str = SANDBOX_ACCESS_KEY, signed_at: dt.datetime | None = None
        ) -> requests.Response:
    """One SigV4-signed request (json-1.1 when `target` names the operation)."""
    clock = {"clock": (lambda: signed_at)} if signed_at else {}
    auth = SigV4(AwsCredentials(key, secret), DEFAULT_REGION, service, **clock)
    headers = {}
    if target:
        headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    elif body is not None:
        headers = {"Content-Type": "application/json"}
    data = None if body is None else json.dumps(body)
    return requests.request(method, sandbox.url + path, params=query, data=data, headers=headers, auth=auth,
                            timeout=10, allow_redirects=False)


def token_post(sandbox: Sandbox, path: str, body: dict, *, query=None, token: str | None = SANDBOX_TOKEN
               ) -> requests.Response:
    """One POST to SpaceONE / EmbedThis with `Authorization: Bearer <token>` (no header when token is None)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.post(sandbox.url + path, params=query, json=body, headers=headers, timeout=10,
                         allow_redirects=False)


# Fixtures for the tests that move the sandbox's clock by hand (import them by name into a test module).
@pytest.fixture(name="clock")
def fake_clock():
    return FakeClock()


@pytest.fixture(name="sandbox")
def sandbox_on_the_fake_clock(monkeypatch, clock):
    """The sandbox on `clock`, the client environment pointing at it."""
    with running_sandbox(monkeypatch, clock=clock) as server:
        yield server
