"""ReportUsage: report a device cloud's monthly device usage to the Builder."""

METHOD = "POST"
PATH = "/cloud/report"
# Not idempotent: a repeat could count the usage twice.
IDEMPOTENT = False
# After an answer that never came, look with this action (the cloud's usage figures) before trying again.
CHECK_WITH = "embedthis.GetCloud"
ROLE = "cloud"  # the Builder user role the token must have

EXAMPLE = {
    "accountId": "account-0001",
    "cloudId": "cloud-0001",
    "count": 1,
    "load": 0.5,
    "usage": [{"devices": 12, "tenants": 2, "load": 0.5}],
}
