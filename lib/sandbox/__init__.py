"""The sandbox: a local, stateful emulator of the five APIs on 127.0.0.1 (`jobs-connector sandbox`).

One HTTP server answers all of them on one port, telling them apart the way the real services are told
apart: the AWS ones by the service name in the SigV4 credential scope (and X-Amz-Target for json-1.1),
SpaceONE and EmbedThis by their paths. Modules:

- `defaults`: the documented port, region, fake key pair and token;
- `server`: the HTTP server, routing, request ids;
- `sigv4`: signature verification (reusing jobs_connector.auth.sigv4's canonicalisation, never a second signer);
- `wire`: requests, error answers in each protocol's shape, path routes;
- `state`: the in-memory state, seeded demo data, `--state FILE` persistence;
- `iot_jobs_data`, `panorama`, `codepipeline`, `spaceone`, `embedthis`: one emulated service each;
- `cli`: `jobs-connector sandbox`.
"""

from __future__ import annotations

from jobs_connector.sandbox.defaults import (
    DEFAULT_PORT,
    DEFAULT_REGION,
    SANDBOX_ACCESS_KEY,
    SANDBOX_SECRET_KEY,
    SANDBOX_TOKEN,
)
from jobs_connector.sandbox.server import Sandbox

__all__ = ["DEFAULT_PORT", "DEFAULT_REGION", "SANDBOX_ACCESS_KEY", "SANDBOX_SECRET_KEY", "SANDBOX_TOKEN", "Sandbox"]
