"""ProvisionCloudAsync: provision a device cloud in the background (a service call)."""

METHOD = "POST"
PATH = "/cloud/provisionAsync"
# Not idempotent: provisioning changes the cloud's AWS resources; a repeat is not known to be harmless.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether provisioning started) before trying again.
CHECK_WITH = "embedthis.GetCloud"
ROLE = "service"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001", "accountId": "account-0001"}
