"""How the intake's listeners answer: a JSON body, its length, and no caching (the intake's routes and a
worker-only process's health listener say it the same way)."""

from __future__ import annotations

import json

REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 411: "Length Required", 413: "Content Too Large",
           503: "Service Unavailable"}


def send(start_response, status: int, payload: dict) -> list[bytes]:
    data = json.dumps(payload, separators=(",", ":")).encode()
    start_response(f"{status} {REASONS.get(status, '')}".rstrip(), [
        ("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Cache-Control", "no-store")])
    return [data]
