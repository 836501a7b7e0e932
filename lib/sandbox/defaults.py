"""The sandbox's documented defaults: port, region, the fake key pair and the demo token."""

DEFAULT_PORT = 8766
DEFAULT_REGION = "us-east-1"
# Used when AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set: documented, printed, not a secret.
SANDBOX_ACCESS_KEY = "AKIDSANDBOX000000000"
SANDBOX_SECRET_KEY = "sandbox-secret-key-not-a-real-secret"  # noqa: S105 - a published demo value
# Printed for SpaceONE and EmbedThis; the sandbox accepts any non-empty bearer token.
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - a published demo value
# How far X-Amz-Date may be from the sandbox's clock, as AWS allows.
MAX_CLOCK_SKEW_SECONDS = 15 * 60
# Request bodies above this are refused (413): the APIs' own inputs are far smaller.
MAX_BODY_BYTES = 1024 * 1024
