"""GetBrowserKeys: temporary AWS IAM credentials for the device cloud's AWS account, for use in a browser."""

METHOD = "POST"
PATH = "/cloud/getBrowserKeys"
# Safe to retry: it only issues temporary credentials, changing nothing.
IDEMPOTENT = True
ROLE = "user"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
NOTES = """\
The answer holds temporary AWS credentials: they are kept in the data message for the next step and
redacted from logs, errors, --verbose and --dry-run."""
