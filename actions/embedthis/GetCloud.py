"""GetCloud: one device cloud object."""

METHOD = "POST"
PATH = "/cloud/get"
IDEMPOTENT = True
ROLE = "user"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
