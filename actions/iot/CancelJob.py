"""CancelJob: cancel a job; its QUEUED executions are cancelled, IN_PROGRESS ones too when force is true."""

METHOD = "PUT"
PATH = "/jobs/{jobId}/cancel"
QUERY = {"force": "force"}
# Not idempotent: a repeat finds the job already CANCELED (or being cancelled) and may be refused, and a
# repeat with force reaches executions the first call left alone.
IDEMPOTENT = False
# After an answer that never came, look with this action (job.status CANCELED, the counts) before trying again.
CHECK_WITH = "iot.DescribeJob"

EXAMPLE = {"jobId": "firmware-2-1-rollout", "reasonCode": "FAILURE_RATE", "comment": "too many failures"}
NOTES = """\
Without force, only QUEUED executions are cancelled; IN_PROGRESS ones run on and may still report a
terminal status. With force (the query parameter force=true) IN_PROGRESS executions are cancelled too:
AWS warns that a device may then be left in an inconsistent state, so use it when the device handles it.
"""
