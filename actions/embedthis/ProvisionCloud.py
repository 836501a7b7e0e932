"""ProvisionCloud: provision a device cloud's AWS resources."""

METHOD = "POST"
PATH = "/cloud/provision"
QUERY = {"invoke": "invoke"}
# Not idempotent: provisioning changes the cloud's AWS resources; a repeat is not known to be harmless.
IDEMPOTENT = False
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
