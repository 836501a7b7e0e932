"""DeleteJob: delete one SpaceONE identity job."""

METHOD = "POST"
PATH = "/identity/v2/job/delete"
# Not idempotent: once the first delete has reached the service, a repeat is refused as not found.
IDEMPOTENT = False
# After an answer that never came, look with this action (whether the job still exists) before trying again.
CHECK_WITH = "spaceone.GetJob"

EXAMPLE = {"job_id": "job-123456789012"}
