"""The credential chain, in the order the AWS CLI and SDKs use: the step config, the environment, the named
profile (its keys in ~/.aws/credentials, its credential_process, its keys in ~/.aws/config), then the role
sources (web identity, assume-role and SSO profiles, container credentials, instance metadata: roles.py). And the
token services' endpoint and token (SpaceONE, EmbedThis)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from jobs_connector.auth.endpoints import checked_base_url, resolve_region
from jobs_connector.auth.keys import AwsCredentials, CredentialCache, TokenCredentials, config_text
from jobs_connector.base.errors import ConfigurationError
from jobs_connector.component.services import TokenService


def resolve_aws_credentials(cfg: Mapping, environ: Mapping = os.environ,
                            cache: CredentialCache | None = None) -> AwsCredentials:
    key, secret = config_text(cfg, "accessKeyId"), config_text(cfg, "secretAccessKey")
    if key and secret:
        return AwsCredentials(key, secret, config_text(cfg, "sessionToken"), "config")
    if key or secret:
        missing = "secretAccessKey" if key else "accessKeyId"
        raise ConfigurationError(f"configuration field '{missing}' is required when the other AWS key is given",
                                 field=missing, rule="required")
    if not config_text(cfg, "profile"):
        key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            return AwsCredentials(key, secret, environ.get("AWS_SESSION_TOKEN") or None, "environment")
    return _from_profile_or_roles(cfg, environ, cache or CredentialCache())


def _from_profile_or_roles(cfg: Mapping, environ: Mapping, cache: CredentialCache) -> AwsCredentials:
    # Loaded only when no key was given: a call with keys reads no file and starts faster (three modules fewer).
    from jobs_connector.auth.credential_process import run_credential_process
    from jobs_connector.auth.profiles import profile_files, profile_keys, profile_name, shared_file

    name = profile_name(cfg, environ)
    from_config, from_credentials = profile_files(cfg, environ)
    if not _needs_role_chain(cfg, {**from_config, **from_credentials}, environ):
        # The AWS SDKs' order for a profile: keys in ~/.aws/credentials, its credential_process, keys in ~/.aws/config.
        found = profile_keys(from_credentials, name)
        if found:
            return found
        command = from_credentials.get("credential_process") or from_config.get("credential_process")
        if command:
            source = (shared_file(environ, "AWS_CONFIG_FILE", "config"), name, command)
            return cache.get(source, lambda: run_credential_process(command, name, environ))
        found = profile_keys(from_config, name)
        if found:
            return found
    return _role_credentials(cfg, environ, cache)


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
    web_identity = environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN")
    return not config_text(cfg, "profile") and bool(web_identity)


def _role_credentials(cfg: Mapping, environ: Mapping, cache: CredentialCache) -> AwsCredentials:
    """Web identity, assume-role and SSO profiles, container credentials, IMDS: botocore's chain (the
    aws-roles extra), imported only here, when nothing static resolved. Kept in `cache` like the
    credentials of a credential_process, and asked again before they expire."""
    from jobs_connector.auth import roles  # botocore's chain, only when nothing static resolved

    if not roles.is_process_environment(environ):
        raise _no_credentials()
    profile = config_text(cfg, "profile")
    try:
        region = resolve_region(cfg, environ)
    except ConfigurationError:
        region = None  # STS then uses its global endpoint, as botocore does

    def load() -> AwsCredentials:
        found = roles.resolve(profile, region)
        if found is None:
            raise _no_credentials()
        return found

    return cache.get(("role-chain", profile, region), load)


_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")


def resolve_token(service: TokenService, cfg: Mapping, environ: Mapping = os.environ) -> TokenCredentials:
    base = config_text(cfg, service.endpoint_cfg) or environ.get(service.endpoint_env)
    if not base:
        raise ConfigurationError(
            f"no {service.title} endpoint: set '{service.endpoint_cfg}' in the step config or {service.endpoint_env}",
            field=service.endpoint_cfg, rule="required")
    token = config_text(cfg, service.token_cfg) or environ.get(service.token_env)
    if not token:
        raise ConfigurationError(
            f"no {service.title} token: set '{service.token_cfg}' in the step config or {service.token_env}",
            field=service.token_cfg, rule="required")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in token):
        raise ConfigurationError(f"'{service.token_cfg}' contains control characters",
                                 field=service.token_cfg, rule="header-value")
    header = (service.header_cfg and config_text(cfg, service.header_cfg)) or service.default_header
    if not _HEADER_NAME.match(header):
        raise ConfigurationError(f"'{service.header_cfg}' must be an HTTP header name",
                                 field=service.header_cfg, rule="pattern")
    value = f"Bearer {token}" if header.lower() == "authorization" and not token.startswith("Bearer ") else token
    return TokenCredentials(checked_base_url(base, service.endpoint_cfg), header, value)


AWS_SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def environment_secrets(environ: Mapping = os.environ) -> list[str]:
    """The credentials this process's environment holds (AWS keys, each token service's token), for the log
    handler to mask (lib/base/logs.py) whatever a line quotes."""
    from jobs_connector.component.services import SERVICES  # the table: only when logging is set up

    found = [environ.get(name) for name in AWS_SECRET_ENV]
    for service in SERVICES.values():
        if isinstance(service, TokenService):
            token = environ.get(service.token_env)
            if token:
                found += TokenCredentials("", "", token).secrets()
    return [value for value in found if value]
