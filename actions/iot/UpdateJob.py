"""UpdateJob: change a job's description, rollout, abort, timeout, retry or presigned-URL configuration."""

METHOD = "PATCH"
PATH = "/jobs/{jobId}"
QUERY = {"namespaceId": "namespaceId"}
# Safe to repeat: the same fields set to the same values leave the job as the first call left it.
IDEMPOTENT = True

EXAMPLE = {
    "jobId": "firmware-2-1-rollout",
    "description": "firmware 2.1, widened rollout",
    "jobExecutionsRolloutConfig": {"maximumPerMinute": 100},
}
