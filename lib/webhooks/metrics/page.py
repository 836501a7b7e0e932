"""GET /metrics: the registry in Prometheus's text format (or OpenMetrics, when the scraper asks for it)."""

from __future__ import annotations

from prometheus_client.exposition import choose_encoder


class MetricsPage:
    """A WSGI application answering with `registry`'s samples."""

    def __init__(self, registry):
        self.registry = registry

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        data = encoder(self.registry)
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(data))),
                                  ("Cache-Control", "no-store")])
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [data]
