"""DeleteJob: delete a job and its executions (IN_PROGRESS jobs only with force)."""

METHOD = "DELETE"
PATH = "/jobs/{jobId}"
QUERY = {"force": "force", "namespaceId": "namespaceId"}
# Not idempotent: a repeat after the job is gone answers ResourceNotFoundException, and the job is deleted
# asynchronously (status DELETION_IN_PROGRESS) while a repeat may be refused as a conflict.
IDEMPOTENT = False
# After an answer that never came, look with this action (not found, or DELETION_IN_PROGRESS) before trying again.
CHECK_WITH = "iot.DescribeJob"

EXAMPLE = {"jobId": "firmware-2-1-rollout"}
