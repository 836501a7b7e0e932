"""The reference side of the conformance tests: which of our actions are AWS actions, and the botocore
model of each. Nothing here reads tools/aws_schemas.py: the tests check our schemas against the model
independently of the tool that wrote them.
"""

from __future__ import annotations

from functools import cache

from jobs_connector.component import registry
from jobs_connector.component.services import SERVICES

# Our service name -> botocore's, where they differ (today they are all the same).
BOTOCORE_SERVICE: dict[str, str] = {"iot-jobs-data": "iot-jobs-data", "panorama": "panorama",
                                    "codepipeline": "codepipeline"}


def aws_action_keys() -> list[str]:
    """Every action of component.json whose service is signed with SigV4, in registry order; not the ones that
    bind their own request (lib/http/binding.py: iot.WatchJobProgress is iot.DescribeJob underneath), which are
    no operation of the model."""
    return [key for key in registry.action_keys()
            if getattr(SERVICES.get(key.split(".", 1)[0]), "auth", None) == "sigv4"
            and not registry.get_action(key).spec("BINDING")]


def botocore_name(service: str) -> str:
    return BOTOCORE_SERVICE.get(service, service)


@cache
def service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(botocore_name(service))


def operation_model(key: str):
    action = registry.get_action(key)
    return service_model(action.service_name).operation_model(action.operation)


def idempotency_token_members(shape) -> list[str]:
    if shape is None:
        return []
    return [name for name, member in shape.members.items() if member.metadata.get("idempotencyToken")]


def error_code(error_shape) -> str:
    """The code AWS puts on the wire for a modelled error (awsQueryError 'code' if the model sets one)."""
    return error_shape.metadata.get("error", {}).get("code") or error_shape.name


def error_status(error_shape) -> int:
    # The JSON protocols answer client errors with 400 unless the model says otherwise.
    return error_shape.metadata.get("error", {}).get("httpStatusCode", 400)
