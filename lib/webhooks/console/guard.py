"""What every console request must pass before any page is rendered, and the headers every answer carries.

- Host: only the names the console is reached by (its loopback address and `localhost`, or the origin
  given in JOBS_CONNECTOR_CONSOLE_ORIGIN), so a rebinding DNS name cannot make a browser talk to it.
- A POST: its `Origin` must be the console's own, and `Sec-Fetch-Site`, when the browser sends it, must say
  same-origin; one of the two must be there (every current browser sends both). The per-session CSRF token
  is checked on top of this (sessions.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
from urllib.parse import urlsplit

from jobs_connector.base.errors import ConfigurationError

ORIGIN_ENV = "JOBS_CONNECTOR_CONSOLE_ORIGIN"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Origins:
    def __init__(self, host: str, port: int, public_origin: str | None = None):
        names = {host} | ({"localhost"} if host in _LOOPBACK else set())
        self.hosts = {_netloc(name, port) for name in names}
        self.origins = {f"http://{netloc}" for netloc in self.hosts}
        if public_origin:
            parts = urlsplit(public_origin)
            self.hosts.add(parts.netloc.lower())
            self.origins.add(f"{parts.scheme}://{parts.netloc}".lower())

    @staticmethod
    def public_origin(host: str, environ=os.environ) -> str | None:
        """The origin the console is reached at through a proxy; required when it listens beyond loopback."""
        origin = environ.get(ORIGIN_ENV) or None
        if origin is not None:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ConfigurationError(f"{ORIGIN_ENV} must be an origin, scheme://host[:port], like "
                                         "https://ops.example.com", field=ORIGIN_ENV, rule="origin")
        elif host not in _LOOPBACK:
            raise ConfigurationError(f"the console listens on {host}, beyond this machine: set {ORIGIN_ENV} to the "
                                     "origin it is reached at (behind a TLS proxy), or keep --console-host 127.0.0.1",
                                     field=ORIGIN_ENV, rule="required")
        return origin

    def host_ok(self, environ) -> bool:
        return environ.get("HTTP_HOST", "").lower() in self.hosts

    def post_refusal(self, environ) -> str | None:
        """Why a POST is refused as possibly cross-site (None when it comes from the console's own page)."""
        site = environ.get("HTTP_SEC_FETCH_SITE")
        origin = environ.get("HTTP_ORIGIN")
        if site is not None and site != "same-origin":
            return f"a {site} request cannot change anything here"
        if origin is not None and origin.lower() not in self.origins:
            return "the request comes from another origin"
        if site is None and origin is None:
            return "a change needs the Origin header a browser sends"
        return None


def style_hash(css: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii") + "'"


def security_headers(css: str) -> list[tuple[str, str]]:
    """Nothing but the page's own inline style (by its hash) and forms posting to itself; never framed,
    never cached, no referrer leaves it. (`same-origin`, not `no-referrer`: under no-referrer a browser
    sends `Origin: null` with the console's own forms, and the Origin check could not tell them apart.)"""
    policy = (f"default-src 'none'; style-src {style_hash(css)}; form-action 'self'; frame-ancestors 'none'; "
              "base-uri 'none'")
    return [("Content-Security-Policy", policy), ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"), ("Cache-Control", "no-store"),
            ("Cross-Origin-Opener-Policy", "same-origin"), ("Cross-Origin-Resource-Policy", "same-origin")]
