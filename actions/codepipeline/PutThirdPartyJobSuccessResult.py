"""PutThirdPartyJobSuccessResult: report that a partner job succeeded, or hand back a continuation token."""

# Retried: a job takes one result. A repeat after a lost answer cannot record a second one: CodePipeline
# refuses it with InvalidJobStateException (Conflict), which after a retry means "already reported".
IDEMPOTENT = True
EXAMPLE = {
    "jobId": "11111111-2222-3333-4444-555555555555",
    "clientToken": "your-client-token",
    "executionDetails": {"summary": "Deployed build 42", "externalExecutionId": "deploy-42", "percentComplete": 100},
}
NOTES = """\
Step 5 of the third-party job worker loop, on success:

  1. PollForThirdPartyJobs {actionTypeId}               -> jobs[].jobId, jobs[].clientId
  2. GetThirdPartyJobDetails {jobId, clientToken}       -> jobDetails.nonce, jobDetails.data
  3. AcknowledgeThirdPartyJob {jobId, nonce, clientToken} -> status InProgress
  4. do the work (data.artifactCredentials open the pipeline's S3 artifacts)
  5. PutThirdPartyJobSuccessResult {jobId, clientToken[, continuationToken, executionDetails]}   <- this step
     or PutThirdPartyJobFailureResult {jobId, clientToken, failureDetails}

Long jobs: report success with a continuationToken (for example your deployment id) while the work is
still running. CodePipeline then issues a new job for the same action whose data.continuationToken is
that value; the worker checks on the work and reports again, without a token once it has finished.
"""
