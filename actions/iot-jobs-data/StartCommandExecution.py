"""StartCommandExecution: run a command created with CreateCommand on one device."""

METHOD = "POST"
PATH = "/command-executions"
# Filled with a fresh UUID when absent, as the AWS SDKs do, which makes retrying safe.
IDEMPOTENCY_TOKEN = "clientToken"

EXAMPLE = {
    "targetArn": "arn:aws:iot:eu-west-1:123456789012:thing/demo-thing",
    "commandArn": "arn:aws:iot:eu-west-1:123456789012:command/reboot",
    "executionTimeoutSeconds": 60,
}
