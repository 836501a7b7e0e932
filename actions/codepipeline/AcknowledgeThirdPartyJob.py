"""AcknowledgeThirdPartyJob: claim a partner job for this worker with the nonce from GetThirdPartyJobDetails."""

# Safe to retry: acknowledging again with the same nonce claims the same job again and changes nothing.
IDEMPOTENT = True
EXAMPLE = {"jobId": "11111111-2222-3333-4444-555555555555", "nonce": "3", "clientToken": "your-client-token"}
NOTES = """\
Step 3 of the third-party job worker loop:

  1. PollForThirdPartyJobs {actionTypeId}               -> jobs[].jobId, jobs[].clientId
  2. GetThirdPartyJobDetails {jobId, clientToken}       -> jobDetails.nonce, jobDetails.data
  3. AcknowledgeThirdPartyJob {jobId, nonce, clientToken} -> status InProgress   <- this step
  4. do the work (data.artifactCredentials open the pipeline's S3 artifacts)
  5. PutThirdPartyJobSuccessResult {jobId, clientToken[, continuationToken, executionDetails]}
     or PutThirdPartyJobFailureResult {jobId, clientToken, failureDetails}

The nonce makes sure only one worker works on a job: InvalidNonceException (Conflict, exit 3) means
another worker holds it, or the nonce is stale; leave that job alone.
"""
