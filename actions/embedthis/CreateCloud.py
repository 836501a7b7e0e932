"""CreateCloud: create a device cloud object, ready for the CloudFormation template that builds its AWS resources."""

METHOD = "POST"
PATH = "/cloud/create"
# Not idempotent: each call creates another cloud object.
IDEMPOTENT = False
ROLE = "admin"  # the Builder user role the token must have

EXAMPLE = {"name": "demo-cloud", "region": "us-east-1", "type": "dedicated"}
