"""InitCloud: the Builder's cloud init call (the API document gives no description); answers a cloud object."""

METHOD = "POST"
PATH = "/cloud/init"
# Not idempotent: the API document does not say that a repeat is harmless.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether the cloud was initialised) before trying again.
CHECK_WITH = "embedthis.GetCloud"
ROLE = "user"  # the Builder user role the token must have

EXAMPLE = {}
