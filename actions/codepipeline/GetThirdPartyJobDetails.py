"""GetThirdPartyJobDetails: the details of a partner job, with its nonce, S3 credentials and secret configuration."""

# A read: asking again returns the same details and changes nothing.
IDEMPOTENT = True
EXAMPLE = {"jobId": "11111111-2222-3333-4444-555555555555", "clientToken": "your-client-token"}
NOTES = """\
Step 2 of the third-party job worker loop:

  1. PollForThirdPartyJobs {actionTypeId}               -> jobs[].jobId, jobs[].clientId
  2. GetThirdPartyJobDetails {jobId, clientToken}       -> jobDetails.nonce, jobDetails.data   <- this step
  3. AcknowledgeThirdPartyJob {jobId, nonce, clientToken} -> status InProgress
  4. do the work (data.artifactCredentials open the pipeline's S3 artifacts)
  5. PutThirdPartyJobSuccessResult {jobId, clientToken[, continuationToken, executionDetails]}
     or PutThirdPartyJobFailureResult {jobId, clientToken, failureDetails}

The answer holds secrets: data.artifactCredentials (temporary S3 keys), the values of
data.actionConfiguration.configuration (secret action settings included) and, in the request, the
clientToken. The data message carries them for the next step; logs, errors, --verbose and --dry-run
show *** instead. data.continuationToken is set when this job continues one that a worker reported
with a continuationToken: check on the work it names instead of starting it again.
"""
