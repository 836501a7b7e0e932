"""UpdateCloudStack: update a device cloud's CloudFormation stack."""

METHOD = "POST"
PATH = "/cloud/updateStack"
# Not idempotent: it changes the cloud's CloudFormation stack; a repeat is not known to be harmless.
IDEMPOTENT = False
# After an answer that never came, look with this action (the cloud's stack) before trying again.
CHECK_WITH = "embedthis.GetCloud"
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"id": "cloud-0001"}
