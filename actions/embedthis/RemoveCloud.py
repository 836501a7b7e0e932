"""RemoveCloud: remove a device cloud."""

METHOD = "POST"
PATH = "/cloud/remove"
QUERY = {"invoke": "invoke"}
# Not idempotent: once removed, a repeat is refused.
IDEMPOTENT = False
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
