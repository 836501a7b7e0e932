"""The jobs connector's runtime: loading, validation, auth, HTTP, errors, CLI, webhooks, sandbox."""

__version__ = "0.1.0"
