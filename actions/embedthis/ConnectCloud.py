"""ConnectCloud: pass the device cloud's IAM role back to the Builder when its CloudFormation template completes."""

METHOD = "POST"
PATH = "/cloud/connect"
# Not idempotent: the device cloud calls it once when its template completes.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether the cloud is connected) before trying again.
CHECK_WITH = "embedthis.GetCloud"
ROLE = "cloud"  # the Builder user role the token must have

EXAMPLE = {
    "cloud": "cloud-0001",
    "awsAccount": "123456789012",
    "roleArn": "arn:aws:iam::123456789012:role/builder-access",
    "connected": True,
}
