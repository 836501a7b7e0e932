"""The request botocore itself would build and sign for the same input: the reference our requests must equal.

botocore serialises the input from its service model and signs it with its own SigV4Auth at a given
moment, so a test can compare method, URL, body and the whole Authorization header byte for byte.
"""

from __future__ import annotations

import datetime as _dt
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.serialize
import botocore.session

from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION

_SESSION = botocore.session.get_session()
_COMPARED_HEADERS = ("Content-Type", "X-Amz-Target", "X-Amz-Date", "X-Amz-Security-Token", "Authorization")


def amz_date(value: str) -> _dt.datetime:
    """The moment an X-Amz-Date header names."""
    return _dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=_dt.UTC)


def botocore_request(service: str, operation: str, params: dict, endpoint: str, when: _dt.datetime, *,
                     token: str | None = None, region: str = REGION) -> botocore.awsrequest.AWSRequest:
    model = _SESSION.get_service_model(service)
    request_dict = botocore.serialize.create_serializer(model.metadata["protocol"]).serialize_to_request(
        params, model.operation_model(operation))
    botocore.awsrequest.prepare_request_dict(request_dict, endpoint_url=endpoint)
    request = botocore.awsrequest.create_request_object(request_dict)
    credentials = botocore.credentials.Credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        botocore.auth.SigV4Auth(credentials, model.signing_name, region).add_auth(request)
    return request


def assert_same_as_botocore(method: str, url: str, headers, body, reference) -> None:
    """What we sent equals what botocore would send: method, URL, body and the signed headers."""
    assert method == reference.method
    assert url == reference.url
    assert (body or b"") == (reference.body or b"")
    ours = {name.lower(): value for name, value in headers.items()}
    theirs = {name.lower(): value for name, value in reference.headers.items()}
    for name in _COMPARED_HEADERS:
        assert ours.get(name.lower()) == theirs.get(name.lower()), name
