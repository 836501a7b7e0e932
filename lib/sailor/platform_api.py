"""The platform's own HTTP API, as the sailors use it: the step's data (its config, snapshot and
pass-through flag) at start-up, and the answer of a service call.

These addresses come from the platform (ELASTICIO_API_URI, ELASTICIO_POST_RESULT_URL), often a plain-HTTP
address inside its cluster, so the HTTPS-only rule for the services' endpoints does not apply to them.
"""

from __future__ import annotations

import time
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from jobs_connector import __version__
from jobs_connector.base.errors import ConnectorError

TIMEOUT = (5.0, 30.0)


class PlatformApiError(ConnectorError):
    """The platform's API could not be reached or refused the request."""

    exit_code = 4


def _shown(url: str) -> str:
    """The URL without any credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _request(method: str, url: str, *, auth, attempts: int, delay_ms: int, sleep=time.sleep, **kw) -> requests.Response:
    """Retry connection failures and 5xx answers (`attempts` retries, delay doubling from `delay_ms`)."""
    headers = {"User-Agent": f"jobs-connector/{__version__} (sailor)", **kw.pop("headers", {})}
    tries = 0
    while True:
        tries += 1
        try:
            response = requests.request(method, url, auth=auth, timeout=TIMEOUT, allow_redirects=False,
                                        headers=headers, **kw)
            if response.status_code < 500 or tries > attempts:
                return response
        except requests.RequestException as exc:
            if tries > attempts:
                raise PlatformApiError(f"the platform API at {_shown(url)} cannot be reached "
                                       f"({type(exc).__name__})", retryable=True) from None
        sleep(delay_ms * 2 ** (tries - 1) / 1000)


def retrieve_step(api_uri: str, username: str, key: str, flow_id: str, step_id: str, *,
                  attempts: int = 3, delay_ms: int = 100, sleep=time.sleep) -> dict:
    """GET {API_URI}/v1/tasks/{flow}/steps/{step} with the platform's basic auth."""
    url = f"{api_uri.rstrip('/')}/v1/tasks/{quote(flow_id, safe='')}/steps/{quote(step_id, safe='')}"
    response = _request("GET", url, auth=(username, key), attempts=attempts, delay_ms=delay_ms, sleep=sleep,
                        headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise PlatformApiError(f"the platform API answered HTTP {response.status_code} for the step's data "
                               f"at {_shown(url)}", status=response.status_code)
    try:
        data = response.json()
    except ValueError:
        raise PlatformApiError(f"the platform API's step data at {_shown(url)} is not JSON") from None
    if not isinstance(data, dict):
        raise PlatformApiError(f"the platform API's step data at {_shown(url)} is not a JSON object")
    return data


def post_result(url: str, payload: dict, *, attempts: int = 3, delay_ms: int = 100, sleep=time.sleep) -> None:
    """POST a service call's answer; credentials in the URL become basic auth, as the sailors do."""
    parts = urlsplit(url)
    auth = None
    if parts.username and parts.password:
        auth = (unquote(parts.username), unquote(parts.password))
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        url = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    response = _request("POST", url, auth=auth, attempts=attempts, delay_ms=delay_ms, sleep=sleep, json=payload)
    if not 200 <= response.status_code < 300:
        raise PlatformApiError(f"failed to POST the result to {_shown(url)} (HTTP {response.status_code})",
                               status=response.status_code)
