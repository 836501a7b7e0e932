"""WaitForTemplate: wait for a device cloud's CloudFormation template to complete."""

METHOD = "POST"
PATH = "/cloud/waitForTemplate"
# Safe to retry: it waits and reads, changing nothing.
IDEMPOTENT = True
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
