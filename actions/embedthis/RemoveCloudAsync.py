"""RemoveCloudAsync: remove a device cloud in the background (a service call)."""

METHOD = "POST"
PATH = "/cloud/removeAsync"
# Not idempotent: once removed, a repeat is refused.
IDEMPOTENT = False
ROLE = "service"  # the Builder user role the token must have

EXAMPLE = {"accountId": "account-0001", "id": "cloud-0001"}
