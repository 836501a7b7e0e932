"""What each service is: its protocol, how it authenticates and where it lives.

Action modules say what is specific to one operation; everything a service's operations share is here,
once, as data.
"""

from __future__ import annotations

from jobs_connector.base.record import Frozen


class AwsService(Frozen):
    """An AWS API signed with SigV4."""

    __slots__ = _fields = ("name", "protocol", "signing_name", "endpoint_template", "endpoint_env", "api_version",
                           "target_prefix", "retired_on")
    auth = "sigv4"

    def __init__(self, name: str, protocol: str, signing_name: str, endpoint_template: str, endpoint_env: str,
                 api_version: str, target_prefix: str | None = None, retired_on: str | None = None):
        # protocol: "rest-json" or "json-1.1"; endpoint_template: "https://data.jobs.iot.{region}.amazonaws.com";
        # endpoint_env: the suffix of AWS_ENDPOINT_URL_<SERVICE>; target_prefix (json-1.1):
        # "CodePipeline_20150709"; retired_on: the date AWS shut the service down.
        self._set(name=name, protocol=protocol, signing_name=signing_name, endpoint_template=endpoint_template,
                  endpoint_env=endpoint_env, api_version=api_version, target_prefix=target_prefix,
                  retired_on=retired_on)


class TokenService(Frozen):
    """A JSON-over-HTTPS POST API authenticated by an API key or token in a header."""

    __slots__ = _fields = ("name", "title", "endpoint_env", "token_env", "endpoint_cfg", "token_cfg", "header_cfg",
                           "default_header")

    def __init__(self, name: str, title: str, endpoint_env: str, token_env: str, endpoint_cfg: str, token_cfg: str,
                 header_cfg: str | None = None, default_header: str = "Authorization"):
        # endpoint_cfg / token_cfg: the step-config fields holding the base URL and the key; header_cfg: the
        # one naming another header, if configurable.
        self._set(name=name, title=title, endpoint_env=endpoint_env, token_env=token_env, endpoint_cfg=endpoint_cfg,
                  token_cfg=token_cfg, header_cfg=header_cfg, default_header=default_header)

    auth = "token"
    protocol = "token-json"


class PerCallService(Frozen):
    """Not an API of its own: each call names the configured service it goes to (http.Request)."""

    __slots__ = _fields = ("name", "title")
    auth = "per-call"
    protocol = "per-call"

    def __init__(self, name: str, title: str):
        self._set(name=name, title=title)


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
