"""Role credentials through botocore's credential provider chain (the `aws-roles` extra): web identity
(STS AssumeRoleWithWebIdentity), assume-role profiles (`role_arn` with `source_profile` or
`credential_source`, `external_id`, `duration_seconds`, `role_session_name`), SSO (`sso_session` and the
SSO token cache), container credentials and IMDSv2, in the AWS SDKs' order.

lib/auth/chain.py asks this module (which imports botocore only inside its functions) only when the config,
the environment keys and the profile's keys or credential_process do not resolve, so a call with keys never
loads botocore. botocore reads the
process environment (AWS_ENDPOINT_URL_STS, AWS_STS_REGIONAL_ENDPOINTS, AWS_EC2_METADATA_SERVICE_ENDPOINT,
AWS_EC2_METADATA_DISABLED, AWS_CONTAINER_*, ...) as the AWS CLI does.

The credentials object the chain hands out is kept per process and setting; it refreshes itself
(botocore asks the source again inside its refresh window) when the runtime's CredentialCache asks for
it again, before the credentials it holds expire.

Every call to a credential endpoint is bounded: STS gets CONNECT/READ timeouts and STS_MAX_ATTEMPTS;
the container endpoint and IMDS use botocore's own short timeouts (2 s x 3 and 1 s x 1).
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections.abc import Mapping

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.base.errors import AuthError, ConfigurationError, NetworkError
from jobs_connector.base.extras import install_hint

STS_CONNECT_TIMEOUT = 5.0
STS_READ_TIMEOUT = 10.0
STS_MAX_ATTEMPTS = 2

# The process settings a chain depends on: a change makes another chain.
_SETTINGS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
             "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_REGION",
             "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO",
             "AWS_STS_REGIONAL_ENDPOINTS", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
             "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
             "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_EC2_METADATA_DISABLED", "AWS_METADATA_SERVICE_TIMEOUT",
             "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "HOME")

_found: dict[tuple, object] = {}  # botocore's credentials objects, by setting
_lock = threading.Lock()


def _botocore():
    try:
        import botocore.credentials  # the aws-roles extra: loaded on the first role lookup only
        import botocore.session
        from botocore.config import Config
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "botocore":
            raise
        raise ConfigurationError(
            "no AWS keys in the config, the environment or the profile, and role credentials (web identity, "
            f"assume-role, SSO, container, instance metadata) need the 'aws-roles' extra: {install_hint('aws-roles')}",
            field="accessKeyId", rule="required") from None
    return botocore, Config


def _resolver(profile: str | None, region: str | None):
    botocore, config = _botocore()
    session = botocore.session.Session(profile=profile)
    session.set_default_client_config(config(
        connect_timeout=STS_CONNECT_TIMEOUT, read_timeout=STS_READ_TIMEOUT,
        retries={"max_attempts": STS_MAX_ATTEMPTS, "mode": "standard"}))
    return botocore.credentials.create_credential_resolver(session, region_name=region)


def _problem(exc: Exception) -> Exception:
    """botocore's failure as one of ours, without the answer's text (it may quote a token)."""
    from botocore import exceptions as bx

    name = type(exc).__name__
    if isinstance(exc, bx.ProfileNotFound):
        return ConfigurationError(f"AWS profile '{exc.kwargs.get('profile')}' not found", field="profile",
                                  rule="profile")
    if isinstance(exc, (bx.UnauthorizedSSOTokenError, bx.SSOTokenLoadError)):
        return ConfigurationError("the SSO session has no valid token in the SSO token cache: run "
                                  "`aws sso login` for this profile", field="profile", rule="sso-token")
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "error"
        operation = getattr(exc, "operation_name", "") or "the credential call"
        return AuthError(f"getting AWS role credentials failed: {operation} answered {code}", code=code,
                         status=exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError,
                        bx.ConnectionClosedError)):
        where = getattr(exc, "kwargs", {}).get("endpoint_url") or "its endpoint"
        return NetworkError(f"the AWS credential endpoint {where} could not be reached ({name})", code="credentials")
    if isinstance(exc, (bx.CredentialRetrievalError, bx.MetadataRetrievalError)):
        provider = getattr(exc, "kwargs", {}).get("provider") or "the credential endpoint"
        return NetworkError(f"no AWS credentials from {provider}: it failed or could not be reached",
                            code="credentials")
    if isinstance(exc, (bx.InvalidConfigError, bx.PartialCredentialsError, bx.InvalidDefaultsMode)):
        return ConfigurationError(f"the AWS profile's role settings are incomplete or invalid ({name})",
                                  field="profile", rule="role")
    return ConfigurationError(f"AWS role credentials could not be resolved ({name})", field="profile", rule="role")


def resolve(profile: str | None, region: str | None) -> AwsCredentials | None:
    """The credentials botocore's chain finds for `profile` (None: AWS_PROFILE or the default), or None.
    The credentials object it hands out is kept per setting: it refreshes itself from its source."""
    key = (profile, region, tuple(os.environ.get(name) for name in _SETTINGS))
    with _lock:
        _botocore()
        from botocore import exceptions as bx

        try:
            found = _found.get(key)
            if found is None:
                found = _resolver(profile, region).load_credentials()
                if found is None:
                    return None
                _found[key] = found
            frozen = found.get_frozen_credentials()  # asks the source again inside botocore's refresh window
        except (bx.BotoCoreError, bx.ClientError) as exc:
            raise _problem(exc) from None
    expires = getattr(found, "_expiry_time", None)
    if isinstance(expires, _dt.datetime) and expires.tzinfo is None:
        expires = expires.replace(tzinfo=_dt.UTC)
    return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token or None, f"botocore {found.method}",
                          expires if isinstance(expires, _dt.datetime) else None)


def is_process_environment(environ: Mapping) -> bool:
    """botocore reads os.environ; a runtime given another mapping does not use the role chain."""
    return environ is os.environ
