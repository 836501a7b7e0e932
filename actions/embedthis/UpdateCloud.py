"""UpdateCloud: update a device cloud's settings."""

METHOD = "POST"
PATH = "/cloud/update"
# Safe to retry: it sets the fields given to the values given, so a repeat leaves the same cloud.
IDEMPOTENT = True
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001", "name": "renamed-cloud", "enable": True}
