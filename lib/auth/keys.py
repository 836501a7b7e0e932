"""Credential values (an AWS key pair, a service token), the cache that keeps expiring ones until shortly before
they expire, and the one way a config field is read: what the credential chain resolves and the signers use.
Their repr never shows a secret."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable, Mapping

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.base.record import Frozen

REFRESH_WINDOW = _dt.timedelta(minutes=5)


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def config_text(cfg: Mapping, key: str) -> str | None:
    """A string field of the step config; None when absent or empty."""
    value = cfg.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"configuration field '{key}' must be a string", field=key, rule="type")
    return value


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


class TokenCredentials(Frozen):
    __slots__ = _fields = ("base_url", "header", "value")

    def __init__(self, base_url: str, header: str, value: str):
        self._set(base_url=base_url, header=header, value=value)

    def __repr__(self) -> str:
        return f"TokenCredentials(base_url={self.base_url!r}, header={self.header!r}, value=<redacted>)"

    def secrets(self) -> list[str]:
        # The bare token too: an error message may echo it without the 'Bearer ' prefix.
        return [self.value, self.value.removeprefix("Bearer ")]


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
