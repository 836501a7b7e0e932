"""Who may use the console: a token, or a user name and password (basic auth), from the environment only.

  JOBS_CONNECTOR_CONSOLE_TOKEN      a bearer token (at least 24 characters): `Authorization: Bearer ...`
                                    or typed into the login form
  JOBS_CONNECTOR_CONSOLE_USER       with JOBS_CONNECTOR_CONSOLE_PASSWORD (at least 12 characters):
  JOBS_CONNECTOR_CONSOLE_PASSWORD   basic auth, or the login form

The console refuses to start without either. Every comparison is constant-time (hmac.compare_digest).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from dataclasses import dataclass

from jobs_connector.base.errors import ConfigurationError

TOKEN_ENV = "JOBS_CONNECTOR_CONSOLE_TOKEN"
USER_ENV = "JOBS_CONNECTOR_CONSOLE_USER"
PASSWORD_ENV = "JOBS_CONNECTOR_CONSOLE_PASSWORD"
MIN_TOKEN = 24
MIN_PASSWORD = 12


def _same(given: str, expected: str | None) -> bool:
    if expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    user: str | None = None
    password: str | None = None

    @classmethod
    def from_environment(cls, environ=os.environ) -> Credentials:
        token = environ.get(TOKEN_ENV) or None
        user, password = environ.get(USER_ENV) or None, environ.get(PASSWORD_ENV) or None
        if token is None and user is None and password is None:
            raise ConfigurationError(f"the console needs credentials: set {TOKEN_ENV}, or {USER_ENV} and "
                                     f"{PASSWORD_ENV}", field=TOKEN_ENV, rule="required")
        if token is not None and len(token) < MIN_TOKEN:
            raise ConfigurationError(f"{TOKEN_ENV} must be at least {MIN_TOKEN} characters",
                                     field=TOKEN_ENV, rule="min-length")
        if (user is None) != (password is None):
            missing = PASSWORD_ENV if password is None else USER_ENV
            raise ConfigurationError(f"basic auth needs both {USER_ENV} and {PASSWORD_ENV}: set {missing}",
                                     field=missing, rule="required")
        if password is not None and len(password) < MIN_PASSWORD:
            raise ConfigurationError(f"{PASSWORD_ENV} must be at least {MIN_PASSWORD} characters",
                                     field=PASSWORD_ENV, rule="min-length")
        return cls(token, user, password)

    @property
    def basic(self) -> bool:
        return self.user is not None

    def secrets(self) -> list[str]:
        return [value for value in (self.token, self.password) if value]

    def token_ok(self, given: str) -> bool:
        return _same(given, self.token)

    def password_ok(self, user: str, password: str) -> bool:
        # Both compared, always: how long it takes says nothing about which one was wrong.
        return _same(user, self.user) & _same(password, self.password)

    def header_ok(self, header: str) -> bool:
        """An `Authorization` header: `Bearer <token>` or `Basic <base64 user:password>`."""
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return self.token_ok(value.strip())
        if scheme.lower() == "basic" and self.basic:
            try:
                user, colon, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return bool(colon) and self.password_ok(user, password)
        return False
