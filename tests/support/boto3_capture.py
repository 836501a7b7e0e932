"""The request boto3 would send for an input, captured at its `before-send` event: a fake answer is
returned there, so nothing leaves the process.
"""

from __future__ import annotations

import base64
from functools import cache

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from tests.support.aws_model import botocore_name, operation_model

# Loopback, and a port nothing listens on: even a missed capture could not reach anything.
ENDPOINT = "http://127.0.0.1:9"


class _Raw:
    def __init__(self, content: bytes):
        self.content = content

    def stream(self, **_):
        yield self.content


class Boto3Capture:
    def __init__(self, access_key: str, secret_key: str, region: str, token: str | None = None):
        self.session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                             aws_session_token=token, region_name=region)
        self.captured = []

    def _answer(self, request, **_):
        self.captured.append(request)
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(b"{}"))

    @cache  # noqa: B019 - one client per service for the life of the capture
    def client(self, service: str):
        client = self.session.client(botocore_name(service), endpoint_url=ENDPOINT,
                                     config=Config(retries={"max_attempts": 1}))
        client.meta.events.register("before-send", self._answer)
        return client

    def request(self, key: str, params: dict):
        """boto3's prepared request (AWSPreparedRequest) for our input `params` of action `key`."""
        op = operation_model(key)
        service = key.split(".", 1)[0]
        client = self.client(service)
        del self.captured[:]
        getattr(client, _python_name(client, op.name))(**to_boto3(op.input_shape, params))
        [request] = self.captured
        return request


def _python_name(client, operation: str) -> str:
    for python_name, api_name in client.meta.method_to_api_mapping.items():
        if api_name == operation:
            return python_name
    raise LookupError(operation)


def to_boto3(shape, value):
    """Our JSON input as boto3 takes it: blobs as the bytes our base64 strings stand for."""
    kind = shape.type_name
    if kind == "blob":
        return base64.b64decode(value)
    if kind == "structure":
        return {name: to_boto3(shape.members[name], item) for name, item in value.items()}
    if kind == "list":
        return [to_boto3(shape.member, item) for item in value]
    if kind == "map":
        return {name: to_boto3(shape.value, item) for name, item in value.items()}
    return value
