"""Where a call goes: the AWS region, the endpoint (the config's `endpoint`, AWS_ENDPOINT_URL_<SERVICE>,
AWS_ENDPOINT_URL, else the service's own), and the rule every base URL obeys (HTTPS, plain HTTP to loopback only,
no credentials, query or fragment)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from jobs_connector.auth.keys import config_text
from jobs_connector.base.errors import ConfigurationError
from jobs_connector.component.services import AwsService

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\Z")


def resolve_region(cfg: Mapping, environ: Mapping = os.environ) -> str:
    region = config_text(cfg, "region") or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        from jobs_connector.auth.profiles import profile_settings  # the shared files only when needed (start-up)

        region = profile_settings(cfg, environ).get("region")
    if not region:
        raise ConfigurationError("no AWS region: set 'region' in the step config or AWS_REGION in the environment",
                                 field="region", rule="required")
    if not _REGION.match(region):
        raise ConfigurationError(f"region {region!r} is not an AWS region name such as 'eu-central-1'",
                                 field="region", rule="pattern")
    return region


@functools.lru_cache(maxsize=64)  # asked on every call, about a handful of hosts
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress  # only for a host that is not 'localhost': a few ms at start otherwise

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=64)  # the same few endpoints on every call; a refusal is not cached (it raises)
def checked_base_url(url: str, field: str) -> str:
    """A base URL that is HTTPS, or plain HTTP to a loopback address only; no credentials inside it."""
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise ConfigurationError(f"{field} contains spaces or control characters", field=field, rule="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - read for its check: a port that is not a number from 0 to 65535 raises
    except ValueError as exc:  # 'https://[::1' (an unclosed IPv6 bracket), 'http://host:99999', 'https://host:abc'
        raise ConfigurationError(f"{field} is not a valid URL ({exc})", field=field, rule="url") from None
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
    for field, value in (("endpoint", config_text(cfg, "endpoint")),
                         (f"AWS_ENDPOINT_URL_{service.endpoint_env}",
                          environ.get(f"AWS_ENDPOINT_URL_{service.endpoint_env}")),
                         ("AWS_ENDPOINT_URL", environ.get("AWS_ENDPOINT_URL"))):
        if value:
            return checked_base_url(value, field)
    return service.endpoint_template.format(region=region)
