"""ProvisionCloudAsync: provision a device cloud in the background (a service call)."""

METHOD = "POST"
PATH = "/cloud/provisionAsync"
# Not idempotent: provisioning changes the cloud's AWS resources; a repeat is not known to be harmless.
IDEMPOTENT = False
ROLE = "service"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001", "accountId": "account-0001"}
