"""PutThirdPartyJobFailureResult: report that a partner job failed, with the failure type and a message."""

# Retried: a job takes one result. A repeat after a lost answer cannot record a second one: CodePipeline
# refuses it with InvalidJobStateException (Conflict), which after a retry means "already reported".
IDEMPOTENT = True
EXAMPLE = {
    "jobId": "11111111-2222-3333-4444-555555555555",
    "clientToken": "your-client-token",
    "failureDetails": {"type": "JobFailed", "message": "Deployment of build 42 failed: health check timed out",
                       "externalExecutionId": "deploy-42"},
}
NOTES = """\
Step 5 of the third-party job worker loop, on failure:

  1. PollForThirdPartyJobs {actionTypeId}               -> jobs[].jobId, jobs[].clientId
  2. GetThirdPartyJobDetails {jobId, clientToken}       -> jobDetails.nonce, jobDetails.data
  3. AcknowledgeThirdPartyJob {jobId, nonce, clientToken} -> status InProgress
  4. do the work (data.artifactCredentials open the pipeline's S3 artifacts)
  5. PutThirdPartyJobSuccessResult {jobId, clientToken[, continuationToken, executionDetails]}
     or PutThirdPartyJobFailureResult {jobId, clientToken, failureDetails}   <- this step

failureDetails.type says who can fix it: JobFailed, ConfigurationError, PermissionError,
RevisionOutOfSync, RevisionUnavailable or SystemUnavailable. The message is shown in the pipeline's
console; keep secrets out of it.
"""
