"""The AWS shared files (~/.aws/config and ~/.aws/credentials, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE):
the named profile's settings and keys, read afresh on every call so a rotated file is used from the next call."""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping

from jobs_connector.auth.keys import AwsCredentials, config_text
from jobs_connector.base.errors import ConfigurationError


def profile_name(cfg: Mapping, environ: Mapping) -> str:
    return config_text(cfg, "profile") or environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"


def _read_ini(path: str) -> configparser.ConfigParser:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(os.path.expanduser(path), encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigurationError(f"cannot read AWS file {path}: {type(exc).__name__}") from None
    return parser


def shared_file(environ: Mapping, env_name: str, default: str) -> str:
    return environ.get(env_name) or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".aws", default)


def _shown(path: str, environ: Mapping) -> str:
    """A shared file's name as the user knows it: as they set it, else ~-relative."""
    home = environ.get("HOME") or os.path.expanduser("~")
    return "~" + path[len(home):] if home and path.startswith(home.rstrip("/") + "/") else path


def profile_files(cfg: Mapping, environ: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    """The named profile's section in ~/.aws/config and in ~/.aws/credentials. A profile named explicitly
    (config, --profile, AWS_PROFILE) that is in neither file is an error, as in the AWS CLI."""
    name = profile_name(cfg, environ)
    from_config: dict[str, str] = {}
    config_file = shared_file(environ, "AWS_CONFIG_FILE", "config")
    config = _read_ini(config_file)
    section = "default" if name == "default" else f"profile {name}"
    for candidate in (section, name):
        if config.has_section(candidate):
            from_config = dict(config.items(candidate))
            break
    credentials_file = shared_file(environ, "AWS_SHARED_CREDENTIALS_FILE", "credentials")
    creds = _read_ini(credentials_file)
    if name != "default" and not from_config and not creds.has_section(name):
        shown = environ.get("AWS_CONFIG_FILE") or _shown(config_file, environ)
        also = environ.get("AWS_SHARED_CREDENTIALS_FILE") or _shown(credentials_file, environ)
        raise ConfigurationError(f"profile '{name}' not found in {shown} (nor in {also})", field="profile",
                                 rule="profile")
    return from_config, dict(creds.items(name)) if creds.has_section(name) else {}


def profile_settings(cfg: Mapping, environ: Mapping) -> dict[str, str]:
    """The named profile's settings: ~/.aws/config first, ~/.aws/credentials on top (as the CLI does)."""
    from_config, from_credentials = profile_files(cfg, environ)
    return {**from_config, **from_credentials}


def profile_keys(settings: Mapping, name: str) -> AwsCredentials | None:
    key, secret = settings.get("aws_access_key_id"), settings.get("aws_secret_access_key")
    if key and secret:
        return AwsCredentials(key, secret, settings.get("aws_session_token") or None, f"profile {name}")
    return None
