"""A profile's `credential_process`, run as the AWS CLI runs it (no shell, bounded in time): credentials that may
expire, kept in a CredentialCache (keys.py) and fetched again within REFRESH_WINDOW of their Expiration, before a
request is signed with them, never after a failure. The process's output is never quoted: it holds the keys."""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import subprocess  # nosec B404 # runs the profile's own credential_process, see run_credential_process
from collections.abc import Mapping

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.base.errors import ConfigurationError

PROCESS_TIMEOUT_SECONDS = 60


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
