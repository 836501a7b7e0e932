"""PollForThirdPartyJobs: ask CodePipeline whether jobs of a partner action type are waiting for a worker."""

# Safe to retry: polling hands out no job; a job is only claimed by AcknowledgeThirdPartyJob with its nonce.
IDEMPOTENT = True
EXAMPLE = {
    "actionTypeId": {"category": "Deploy", "owner": "ThirdParty", "provider": "MyDeployer", "version": "1"},
    "maxBatchSize": 1,
}
NOTES = """\
Step 1 of the third-party job worker loop (owner ThirdParty; not paged: one call returns at most
maxBatchSize jobs, and an empty `jobs` list means nothing is waiting, poll again later):

  1. PollForThirdPartyJobs {actionTypeId}               -> jobs[].jobId, jobs[].clientId   <- this step
  2. GetThirdPartyJobDetails {jobId, clientToken}       -> jobDetails.nonce, jobDetails.data
  3. AcknowledgeThirdPartyJob {jobId, nonce, clientToken} -> status InProgress
  4. do the work (data.artifactCredentials open the pipeline's S3 artifacts)
  5. PutThirdPartyJobSuccessResult {jobId, clientToken[, continuationToken, executionDetails]}
     or PutThirdPartyJobFailureResult {jobId, clientToken, failureDetails}

The clientToken is the secret half of the clientId/clientToken pair your integration keeps for the
customer: look it up by the clientId this step returns. A job must be acknowledged before it times out.
"""
