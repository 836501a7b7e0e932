"""CreateCloud: create a device cloud object, ready for the CloudFormation template that builds its AWS resources."""

METHOD = "POST"
PATH = "/cloud/create"
# Not idempotent: each call creates another cloud object.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether a cloud of that name now exists) before trying again.
CHECK_WITH = "embedthis.FindClouds"
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"name": "demo-cloud", "region": "us-east-1", "type": "dedicated"}
