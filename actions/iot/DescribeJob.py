"""DescribeJob: a job's status, targets, configuration and its execution counts (jobProcessDetails)."""

METHOD = "GET"
PATH = "/jobs/{jobId}"
QUERY = {"beforeSubstitution": "beforeSubstitution"}
# A read: asking again changes nothing.
IDEMPOTENT = True

EXAMPLE = {"jobId": "firmware-2-1-rollout"}
NOTES = """\
job.jobProcessDetails counts the executions by status (numberOfQueuedThings, numberOfInProgressThings,
numberOfSucceededThings, numberOfFailedThings, numberOfRejectedThings, numberOfCanceledThings,
numberOfTimedOutThings, numberOfRemovedThings). iot.WatchJobProgress polls this action and says whether
the status or the counts changed since the last look.
"""
