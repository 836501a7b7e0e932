"""What each service is: its protocol, how it authenticates and where it lives.

Action modules say what is specific to one operation; everything a service's operations share is here,
once, as data.
"""

from __future__ import annotations

from jobs_connector.base.record import Frozen


class AwsService(Frozen):
    """An AWS API signed with SigV4. As in the AWS SDKs, the service's name gives its defaults: the signing name,
    the endpoint `https://<name>.<region>.amazonaws.com` and the AWS_ENDPOINT_URL_<NAME> suffix."""

    __slots__ = _fields = ("name", "protocol", "signing_name", "endpoint_template", "endpoint_env", "api_version",
                           "target_prefix", "retired_on")
    auth = "sigv4"

    def __init__(self, name: str, protocol: str, api_version: str, *, endpoint_template: str | None = None,
                 target_prefix: str | None = None, retired_on: str | None = None):
        # protocol: "rest-json" or "json-1.1"; target_prefix (json-1.1): "CodePipeline_20150709"; retired_on: the
        # date AWS shut the service down.
        self._set(name=name, protocol=protocol, signing_name=name,
                  endpoint_template=endpoint_template or f"https://{name}.{{region}}.amazonaws.com",
                  endpoint_env=name.upper().replace("-", "_"), api_version=api_version, target_prefix=target_prefix,
                  retired_on=retired_on)


class TokenService(Frozen):
    """A JSON-over-HTTPS POST API authenticated by an API key or token in a header. Its name gives the names of its
    settings: <NAME>_ENDPOINT and <NAME>_<TOKEN> in the environment, <name>Endpoint and <name><Token> in the step
    config (token: the key's own word, "ApiKey" or "Token")."""

    __slots__ = _fields = ("name", "title", "endpoint_env", "token_env", "endpoint_cfg", "token_cfg", "header_cfg",
                           "default_header")

    def __init__(self, name: str, title: str, token: str, header_cfg: str | None = None,
                 default_header: str = "Authorization"):
        # header_cfg: the step-config field naming another header, where the service lets it be configured.
        token_snake = "".join(f"_{ch}" if ch.isupper() else ch for ch in token).lstrip("_").upper()
        self._set(name=name, title=title, endpoint_env=f"{name.upper()}_ENDPOINT",
                  token_env=f"{name.upper()}_{token_snake}", endpoint_cfg=f"{name}Endpoint", token_cfg=f"{name}{token}",
                  header_cfg=header_cfg, default_header=default_header)

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
    "iot-jobs-data": AwsService("iot-jobs-data", "rest-json", "2017-09-29",
                                endpoint_template="https://data.jobs.iot.{region}.amazonaws.com"),
    # The control plane of IoT Jobs: create, watch and cancel jobs for a fleet.
    "iot": AwsService("iot", "rest-json", "2015-05-28"),
    "panorama": AwsService("panorama", "rest-json", "2019-07-24", retired_on="2026-05-31"),
    "codepipeline": AwsService("codepipeline", "json-1.1", "2015-07-09", target_prefix="CodePipeline_20150709"),
    "spaceone": TokenService("spaceone", "SpaceONE", token="ApiKey"),
    "embedthis": TokenService("embedthis", "EmbedThis Builder", token="Token", header_cfg="embedthisAuthHeader"),
    "http": PerCallService(name="http", title="Raw request to a configured service"),
}
