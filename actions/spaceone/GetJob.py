"""GetJob: one SpaceONE identity job with its status, plugin, trusted account and timestamps."""

METHOD = "POST"
PATH = "/identity/v2/job/get"
IDEMPOTENT = True

EXAMPLE = {"job_id": "job-123456789012"}
