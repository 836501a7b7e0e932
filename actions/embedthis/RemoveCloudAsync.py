"""RemoveCloudAsync: remove a device cloud in the background (a service call)."""

METHOD = "POST"
PATH = "/cloud/removeAsync"
# Not idempotent: once removed, a repeat is refused.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether the cloud is still listed) before trying again.
CHECK_WITH = "embedthis.FindClouds"
ROLE = "service"  # the Builder user role the token must have

EXAMPLE = {"accountId": "account-0001", "id": "cloud-0001"}
