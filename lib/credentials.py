"""Where credentials, regions and endpoints come from: the step config, else the environment, else the
AWS shared files, the order the AWS CLI and SDKs use."""

from __future__ import annotations

import configparser
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .services import AwsService, TokenService

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\Z")


@dataclass(frozen=True)
class AwsCredentials:
    access_key: str
    secret_key: str
    token: str | None = None
    source: str = "config"

    def __repr__(self) -> str:  # never let a secret reach a log through repr()
        return f"AwsCredentials(access_key=<redacted>, source={self.source!r})"

    def secrets(self) -> list[str]:
        return [s for s in (self.access_key, self.secret_key, self.token) if s]


def _cfg(cfg: Mapping, key: str) -> str | None:
    value = cfg.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"configuration field '{key}' must be a string", field=key, rule="type")
    return value


def _profile_name(cfg: Mapping, environ: Mapping) -> str:
    return _cfg(cfg, "profile") or environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"


def _read_ini(path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(os.path.expanduser(path), encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigurationError(f"cannot read AWS file {path}: {type(exc).__name__}") from None
    return parser


def _shared_file(environ: Mapping, env_name: str, default: str) -> str:
    return environ.get(env_name) or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".aws", default)


def profile_settings(cfg: Mapping, environ: Mapping) -> dict[str, str]:
    """The named profile's settings: ~/.aws/config first, ~/.aws/credentials on top (as the CLI does)."""
    name = _profile_name(cfg, environ)
    settings: dict[str, str] = {}
    config = _read_ini(_shared_file(environ, "AWS_CONFIG_FILE", "config"))
    section = "default" if name == "default" else f"profile {name}"
    for candidate in (section, name):
        if config.has_section(candidate):
            settings.update(config.items(candidate))
            break
    creds = _read_ini(_shared_file(environ, "AWS_SHARED_CREDENTIALS_FILE", "credentials"))
    if creds.has_section(name):
        settings.update(creds.items(name))
    return settings


def resolve_aws_credentials(cfg: Mapping, environ: Mapping = os.environ) -> AwsCredentials:
    key, secret = _cfg(cfg, "accessKeyId"), _cfg(cfg, "secretAccessKey")
    if key and secret:
        return AwsCredentials(key, secret, _cfg(cfg, "sessionToken"), "config")
    if key or secret:
        missing = "secretAccessKey" if key else "accessKeyId"
        raise ConfigurationError(f"configuration field '{missing}' is required when the other AWS key is given",
                                 field=missing, rule="required")
    if not _cfg(cfg, "profile"):
        key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            return AwsCredentials(key, secret, environ.get("AWS_SESSION_TOKEN") or None, "environment")
    settings = profile_settings(cfg, environ)
    key, secret = settings.get("aws_access_key_id"), settings.get("aws_secret_access_key")
    if key and secret:
        return AwsCredentials(key, secret, settings.get("aws_session_token") or None,
                              f"profile {_profile_name(cfg, environ)}")
    raise ConfigurationError(
        "no AWS credentials: set accessKeyId/secretAccessKey in the step config, AWS_ACCESS_KEY_ID/"
        "AWS_SECRET_ACCESS_KEY in the environment, or a profile in ~/.aws/credentials",
        field="accessKeyId", rule="required")


def resolve_region(cfg: Mapping, environ: Mapping = os.environ) -> str:
    region = (_cfg(cfg, "region") or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
              or profile_settings(cfg, environ).get("region"))
    if not region:
        raise ConfigurationError("no AWS region: set 'region' in the step config or AWS_REGION in the environment",
                                 field="region", rule="required")
    if not _REGION.match(region):
        raise ConfigurationError(f"region {region!r} is not an AWS region name such as 'eu-central-1'",
                                 field="region", rule="pattern")
    return region


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_base_url(url: str, field: str) -> str:
    """A base URL that is HTTPS, or plain HTTP to a loopback address only; no credentials inside it."""
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise ConfigurationError(f"{field} contains spaces or control characters", field=field, rule="url")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"{field} must be an absolute https:// URL", field=field, rule="url")
    if parts.username or parts.password:
        raise ConfigurationError(f"{field} must not carry credentials in the URL", field=field, rule="url")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{field} must not have a query or fragment", field=field, rule="url")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(f"{field} must use https:// (plain http is allowed for loopback addresses only)",
                                 field=field, rule="https-only")
    return url.rstrip("/")


def resolve_aws_endpoint(service: AwsService, cfg: Mapping, region: str, environ: Mapping = os.environ) -> str:
    for field, value in (("endpoint", _cfg(cfg, "endpoint")),
                         (f"AWS_ENDPOINT_URL_{service.endpoint_env}",
                          environ.get(f"AWS_ENDPOINT_URL_{service.endpoint_env}")),
                         ("AWS_ENDPOINT_URL", environ.get("AWS_ENDPOINT_URL"))):
        if value:
            return checked_base_url(value, field)
    return service.endpoint_template.format(region=region)


@dataclass(frozen=True)
class TokenCredentials:
    base_url: str
    header: str
    value: str

    def __repr__(self) -> str:
        return f"TokenCredentials(base_url={self.base_url!r}, header={self.header!r}, value=<redacted>)"

    def secrets(self) -> list[str]:
        # The bare token too: an error message may echo it without the 'Bearer ' prefix.
        return [self.value, self.value.removeprefix("Bearer ")]


_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")


def resolve_token(service: TokenService, cfg: Mapping, environ: Mapping = os.environ) -> TokenCredentials:
    base = _cfg(cfg, service.endpoint_cfg) or environ.get(service.endpoint_env)
    if not base:
        raise ConfigurationError(
            f"no {service.title} endpoint: set '{service.endpoint_cfg}' in the step config or {service.endpoint_env}",
            field=service.endpoint_cfg, rule="required")
    token = _cfg(cfg, service.token_cfg) or environ.get(service.token_env)
    if not token:
        raise ConfigurationError(
            f"no {service.title} token: set '{service.token_cfg}' in the step config or {service.token_env}",
            field=service.token_cfg, rule="required")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in token):
        raise ConfigurationError(f"'{service.token_cfg}' contains control characters",
                                 field=service.token_cfg, rule="header-value")
    header = (service.header_cfg and _cfg(cfg, service.header_cfg)) or service.default_header
    if not _HEADER_NAME.match(header):
        raise ConfigurationError(f"'{service.header_cfg}' must be an HTTP header name",
                                 field=service.header_cfg, rule="pattern")
    value = f"Bearer {token}" if header.lower() == "authorization" and not token.startswith("Bearer ") else token
    return TokenCredentials(checked_base_url(base, service.endpoint_cfg), header, value)
