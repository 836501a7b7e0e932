"""Where credentials, regions and endpoints come from: the step config, else the environment, else the
AWS shared files, the order the AWS CLI and SDKs use.

A profile's keys are read from the shared files afresh for every call, so a rotated file is used from
the next call on. A profile's `credential_process` (as the AWS CLI runs it) gives credentials that may
expire: they are kept in a `CredentialCache` and fetched again from the process when they are within
REFRESH_WINDOW of their Expiration, before a request is signed with them, never after a failure.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .record import Frozen
from .services import AwsService, TokenService

if TYPE_CHECKING:  # imported where used: most calls read neither an AWS file nor a credential_process
    import configparser

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\Z")


REFRESH_WINDOW = _dt.timedelta(minutes=5)
PROCESS_TIMEOUT_SECONDS = 60


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


class AwsCredentials(Frozen):
    __slots__ = _fields = ("access_key", "secret_key", "token", "source", "expires_at")

    def __init__(self, access_key: str, secret_key: str, token: str | None = None, source: str = "config",
                 expires_at: _dt.datetime | None = None):  # expires_at None: they do not expire (static keys)
        self._set(access_key=access_key, secret_key=secret_key, token=token, source=source, expires_at=expires_at)

    def __repr__(self) -> str:  # never let a secret reach a log through repr()
        return f"AwsCredentials(access_key=<redacted>, source={self.source!r}, expires_at={self.expires_at})"

    def secrets(self) -> list[str]:
        return [s for s in (self.access_key, self.secret_key, self.token) if s]

    def expires_within(self, window: _dt.timedelta, now: _dt.datetime) -> bool:
        return self.expires_at is not None and self.expires_at - now <= window


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
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(os.path.expanduser(path), encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigurationError(f"cannot read AWS file {path}: {type(exc).__name__}") from None
    return parser


def _shared_file(environ: Mapping, env_name: str, default: str) -> str:
    return environ.get(env_name) or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".aws", default)


def _shown(path: str, environ: Mapping) -> str:
    """A shared file's name as the user knows it: as they set it, else ~-relative."""
    home = environ.get("HOME") or os.path.expanduser("~")
    return "~" + path[len(home):] if home and path.startswith(home.rstrip("/") + "/") else path


def _profile_files(cfg: Mapping, environ: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    """The named profile's section in ~/.aws/config and in ~/.aws/credentials. A profile named explicitly
    (config, --profile, AWS_PROFILE) that is in neither file is an error, as in the AWS CLI."""
    name = _profile_name(cfg, environ)
    from_config: dict[str, str] = {}
    config_file = _shared_file(environ, "AWS_CONFIG_FILE", "config")
    config = _read_ini(config_file)
    section = "default" if name == "default" else f"profile {name}"
    for candidate in (section, name):
        if config.has_section(candidate):
            from_config = dict(config.items(candidate))
            break
    credentials_file = _shared_file(environ, "AWS_SHARED_CREDENTIALS_FILE", "credentials")
    creds = _read_ini(credentials_file)
    if name != "default" and not from_config and not creds.has_section(name):
        shown = environ.get("AWS_CONFIG_FILE") or _shown(config_file, environ)
        also = environ.get("AWS_SHARED_CREDENTIALS_FILE") or _shown(credentials_file, environ)
        raise ConfigurationError(f"profile '{name}' not found in {shown} (nor in {also})", field="profile",
                                 rule="profile")
    return from_config, dict(creds.items(name)) if creds.has_section(name) else {}


def profile_settings(cfg: Mapping, environ: Mapping) -> dict[str, str]:
    """The named profile's settings: ~/.aws/config first, ~/.aws/credentials on top (as the CLI does)."""
    from_config, from_credentials = _profile_files(cfg, environ)
    return {**from_config, **from_credentials}


def _process_error(profile: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"the credential_process of AWS profile '{profile}' {problem}",
                              field="credential_process", rule="credential-process")


def _expiration(value, profile: str) -> _dt.datetime | None:
    if value is None:
        return None
    try:
        when = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _process_error(profile, "printed an Expiration that is not an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=_dt.UTC)


def run_credential_process(command: str, profile: str, environ: Mapping = os.environ) -> AwsCredentials:
    """Run the profile's credential_process as the AWS CLI does (no shell) and read the JSON it prints:
    {"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}. Its output is
    never quoted in an error: it holds the keys."""
    import shlex
    import subprocess  # nosec B404 # runs the profile's own credential_process, see the comment below

    try:
        argv = shlex.split(command)
    except ValueError:
        raise _process_error(profile, "is not a command line that can be split into words") from None
    if not argv:
        raise _process_error(profile, "is empty")
    try:
        # The command the user configured for this profile, run without a shell, as the AWS CLI does.
        done = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, env=dict(environ),
                              timeout=PROCESS_TIMEOUT_SECONDS, check=False)  # nosec B603
    except subprocess.TimeoutExpired:
        raise _process_error(profile, f"did not finish within {PROCESS_TIMEOUT_SECONDS} s") from None
    except OSError as exc:
        raise _process_error(profile, f"could not be started ({exc.strerror or type(exc).__name__})") from None
    if done.returncode != 0:
        # Its stderr is not shown: it is another program's output and may hold secrets.
        raise _process_error(profile, f"failed with exit code {done.returncode} (run it yourself to see why)")
    try:
        data = json.loads(done.stdout)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _process_error(profile, "did not print a JSON object")
    if data.get("Version") != 1:
        raise _process_error(profile, "printed a Version other than 1")
    key, secret, token = data.get("AccessKeyId"), data.get("SecretAccessKey"), data.get("SessionToken")
    if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
        raise _process_error(profile, "did not print AccessKeyId and SecretAccessKey")
    if token is not None and not isinstance(token, str):
        raise _process_error(profile, "printed a SessionToken that is not a string")
    return AwsCredentials(key, secret, token or None, f"profile {profile} (credential_process)",
                          _expiration(data.get("Expiration"), profile))


class CredentialCache:
    """Credentials that expire, kept until REFRESH_WINDOW before their Expiration, then fetched again from
    their source before they are used: never handed out expired. One lock, so many threads that need
    them at once start the source once. Credentials without an Expiration are kept (they do not expire)."""

    def __init__(self, clock: Callable[[], _dt.datetime] = utcnow):
        self.clock = clock
        self._kept: dict[tuple, AwsCredentials] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], AwsCredentials]) -> AwsCredentials:
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and not kept.expires_within(REFRESH_WINDOW, self.clock()):
                return kept
            self._kept.pop(key, None)
            fresh = load()
            if fresh.expires_within(_dt.timedelta(0), self.clock()):
                raise ConfigurationError(f"the AWS credentials from {fresh.source} have already expired "
                                         f"({fresh.expires_at:%Y-%m-%dT%H:%M:%SZ})", field="credential_process",
                                         rule="expired")
            self._kept[key] = fresh
            return fresh


def resolve_aws_credentials(cfg: Mapping, environ: Mapping = os.environ,
                            cache: CredentialCache | None = None) -> AwsCredentials:
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
    name = _profile_name(cfg, environ)
    from_config, from_credentials = _profile_files(cfg, environ)
    if not _needs_role_chain(cfg, {**from_config, **from_credentials}, environ):
        # The AWS SDKs' order for a profile: keys in ~/.aws/credentials, its credential_process, keys in ~/.aws/config.
        found = _profile_keys(from_credentials, name)
        if found:
            return found
        command = from_credentials.get("credential_process") or from_config.get("credential_process")
        if command:
            cache = cache or CredentialCache()
            source = (_shared_file(environ, "AWS_CONFIG_FILE", "config"), name, command)
            return cache.get(source, lambda: run_credential_process(command, name, environ))
        found = _profile_keys(from_config, name)
        if found:
            return found
    return _role_credentials(cfg, environ, cache or CredentialCache())


def _no_credentials() -> ConfigurationError:
    return ConfigurationError(
        "no AWS credentials: set accessKeyId/secretAccessKey in the step config, AWS_ACCESS_KEY_ID/"
        "AWS_SECRET_ACCESS_KEY in the environment, a profile in ~/.aws/credentials (keys or a "
        "credential_process), or a role source (web identity, assume-role or SSO profile, container "
        "credentials, instance metadata)", field="accessKeyId", rule="required")


# Profile settings that make botocore's chain resolve the profile before its own keys would be read.
_ROLE_SETTINGS = ("role_arn", "web_identity_token_file", "sso_session", "sso_start_url", "sso_account_id")


def _needs_role_chain(cfg: Mapping, settings: Mapping, environ: Mapping) -> bool:
    """True when, in the AWS SDKs' order, a role source comes before the profile's keys: the profile
    assumes a role or uses SSO, or (no profile given in the config) the environment names a web identity."""
    if any(settings.get(name) for name in _ROLE_SETTINGS):
        return True
    return not _cfg(cfg, "profile") and bool(environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"))


def _role_credentials(cfg: Mapping, environ: Mapping, cache: CredentialCache) -> AwsCredentials:
    """Web identity, assume-role and SSO profiles, container credentials, IMDS: botocore's chain (the
    aws-roles extra), imported only here, when nothing static resolved. Kept in `cache` like the
    credentials of a credential_process, and asked again before they expire."""
    from . import role_credentials

    if not role_credentials.is_process_environment(environ):
        raise _no_credentials()
    profile = _cfg(cfg, "profile")
    try:
        region = resolve_region(cfg, environ)
    except ConfigurationError:
        region = None  # STS then uses its global endpoint, as botocore does

    def load() -> AwsCredentials:
        found = role_credentials.resolve(profile, region)
        if found is None:
            raise _no_credentials()
        return found

    return cache.get(("role-chain", profile, region), load)


def _profile_keys(settings: Mapping, name: str) -> AwsCredentials | None:
    key, secret = settings.get("aws_access_key_id"), settings.get("aws_secret_access_key")
    if key and secret:
        return AwsCredentials(key, secret, settings.get("aws_session_token") or None, f"profile {name}")
    return None


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


@functools.lru_cache(maxsize=64)  # asked on every call, about a handful of hosts
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress

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
    for field, value in (("endpoint", _cfg(cfg, "endpoint")),
                         (f"AWS_ENDPOINT_URL_{service.endpoint_env}",
                          environ.get(f"AWS_ENDPOINT_URL_{service.endpoint_env}")),
                         ("AWS_ENDPOINT_URL", environ.get("AWS_ENDPOINT_URL"))):
        if value:
            return checked_base_url(value, field)
    return service.endpoint_template.format(region=region)


class TokenCredentials(Frozen):
    __slots__ = _fields = ("base_url", "header", "value")

    def __init__(self, base_url: str, header: str, value: str):
        self._set(base_url=base_url, header=header, value=value)

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
