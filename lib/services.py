"""What each service is: its protocol, how it authenticates and where it lives.

Action modules say what is specific to one operation; everything a service's operations share is here,
once, as data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AwsService:
    """An AWS API signed with SigV4."""

    name: str
    protocol: str  # "rest-json" or "json-1.1"
    signing_name: str
    endpoint_template: str  # "https://data.jobs.iot.{region}.amazonaws.com"
    endpoint_env: str  # suffix of AWS_ENDPOINT_URL_<SERVICE>
    api_version: str
    target_prefix: str | None = None  # json-1.1: "CodePipeline_20150709"
    retired_on: str | None = None  # the date AWS shut the service down

    auth = "sigv4"


@dataclass(frozen=True)
class TokenService:
    """A JSON-over-HTTPS POST API authenticated by an API key or token in a header."""

    name: str
    title: str
    endpoint_env: str
    token_env: str
    endpoint_cfg: str  # the step-config field holding the base URL
    token_cfg: str  # the step-config field holding the key
    header_cfg: str | None = None  # the step-config field naming another header, if configurable
    default_header: str = "Authorization"

    auth = "token"
    protocol = "token-json"


@dataclass(frozen=True)
class PerCallService:
    """Not an API of its own: each call names the configured service it goes to (http.Request)."""

    name: str
    title: str

    auth = "per-call"
    protocol = "per-call"


SERVICES: dict[str, AwsService | TokenService | PerCallService] = {
    "iot-jobs-data": AwsService(
        name="iot-jobs-data",
        protocol="rest-json",
        signing_name="iot-jobs-data",
        endpoint_template="https://data.jobs.iot.{region}.amazonaws.com",
        endpoint_env="IOT_JOBS_DATA",
        api_version="2017-09-29",
    ),
    "iot": AwsService(  # the control plane of IoT Jobs: create, watch and cancel jobs for a fleet
        name="iot",
        protocol="rest-json",
        signing_name="iot",
        endpoint_template="https://iot.{region}.amazonaws.com",
        endpoint_env="IOT",
        api_version="2015-05-28",
    ),
    "panorama": AwsService(
        name="panorama",
        protocol="rest-json",
        signing_name="panorama",
        endpoint_template="https://panorama.{region}.amazonaws.com",
        endpoint_env="PANORAMA",
        api_version="2019-07-24",
        retired_on="2026-05-31",
    ),
    "codepipeline": AwsService(
        name="codepipeline",
        protocol="json-1.1",
        signing_name="codepipeline",
        endpoint_template="https://codepipeline.{region}.amazonaws.com",
        endpoint_env="CODEPIPELINE",
        api_version="2015-07-09",
        target_prefix="CodePipeline_20150709",
    ),
    "spaceone": TokenService(
        name="spaceone",
        title="SpaceONE",
        endpoint_env="SPACEONE_ENDPOINT",
        token_env="SPACEONE_API_KEY",
        endpoint_cfg="spaceoneEndpoint",
        token_cfg="spaceoneApiKey",
    ),
    "embedthis": TokenService(
        name="embedthis",
        title="EmbedThis Builder",
        endpoint_env="EMBEDTHIS_ENDPOINT",
        token_env="EMBEDTHIS_TOKEN",
        endpoint_cfg="embedthisEndpoint",
        token_cfg="embedthisToken",
        header_cfg="embedthisAuthHeader",
    ),
    "http": PerCallService(name="http", title="Raw request to a configured service"),
}
