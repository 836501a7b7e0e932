"""RemoveCloud: remove a device cloud."""

METHOD = "POST"
PATH = "/cloud/remove"
QUERY = {"invoke": "invoke"}
# Not idempotent: once removed, a repeat is refused.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether the cloud is still listed) before trying again.
CHECK_WITH = "embedthis.FindClouds"
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
