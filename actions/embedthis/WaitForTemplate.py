"""WaitForTemplate: wait for a device cloud's CloudFormation template to complete."""

METHOD = "POST"
PATH = "/cloud/waitForTemplate"
# Safe to retry: it waits and reads, changing nothing.
IDEMPOTENT = True
# The server holds the request until the template completes (minutes): the read timeout allows for it.
READ_TIMEOUT = 600.0
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
