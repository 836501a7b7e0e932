"""GetJobDocument: the job document a job sends to its things."""

METHOD = "GET"
PATH = "/jobs/{jobId}/job-document"
QUERY = {"beforeSubstitution": "beforeSubstitution"}
# A read: asking again changes nothing.
IDEMPOTENT = True

EXAMPLE = {"jobId": "firmware-2-1-rollout"}
