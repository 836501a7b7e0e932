"""ProvisionCloud: provision a device cloud's AWS resources."""

METHOD = "POST"
PATH = "/cloud/provision"
QUERY = {"invoke": "invoke"}
# Not idempotent: provisioning changes the cloud's AWS resources; a repeat is not known to be harmless.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether the cloud is provisioned) before trying again.
CHECK_WITH = "embedthis.GetCloud"
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
