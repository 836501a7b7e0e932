"""CancelJobExecution: cancel one thing's execution of a job (an IN_PROGRESS one only with force)."""

METHOD = "PUT"
PATH = "/things/{thingName}/jobs/{jobId}/cancel"
QUERY = {"force": "force"}
# Not idempotent unless the caller sets expectedVersion: a repeat finds the execution already CANCELED
# and is refused as a state conflict.
IDEMPOTENT = False
# After an answer that never came, look with this action (the execution's status and version) before trying again.
CHECK_WITH = "iot.DescribeJobExecution"

EXAMPLE = {"thingName": "demo-thing", "jobId": "firmware-2-1-rollout", "statusDetails": {"reason": "rollback"}}
