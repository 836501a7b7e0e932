"""CreateJob: roll a job document out to things and thing groups (the control plane's side of IoT Jobs)."""

METHOD = "PUT"
PATH = "/jobs/{jobId}"
# Not idempotent: the model gives CreateJob no clientToken. The jobId you choose is unique per account, so
# a repeat cannot create a second job, but after an answer that never came it is refused with
# ResourceAlreadyExistsException (or, once the first job is deleted, creates it again).
IDEMPOTENT = False
# After an answer that never came, look with this action (does the jobId exist, with your document?)
CHECK_WITH = "iot.DescribeJob"

EXAMPLE = {
    "jobId": "firmware-2-1-rollout",
    "targets": ["arn:aws:iot:eu-west-1:123456789012:thinggroup/demo-fleet"],
    "document": "{\"operation\": \"install\", \"firmware\": \"2.1\"}",
    "targetSelection": "SNAPSHOT",
    "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
}
NOTES = """\
targets holds thing and thing-group ARNs. A SNAPSHOT job queues one execution per thing at creation and
is COMPLETED once every execution is terminal; a CONTINUOUS job also reaches things added to a group later.
Give either document (the JSON text, at most 32 kB) or documentSource (an S3 URL) or jobTemplateArn.

Retries: CreateJob has no idempotency token, so the connector sends it once. A read timeout, a reset
connection or a 5xx after the request left ends the step with OutcomeUnknown (exit 5): the job may exist.
Look with iot.DescribeJob {jobId}; only when it answers ResourceNotFoundException is it safe to create it
again with the same jobId. Because jobId is unique per account, choosing it yourself (not a fresh one per
attempt) is what keeps a hand-made retry from rolling out twice.
"""
