"""AWS CodePipeline third-party job workers (json-1.1, X-Amz-Target CodePipeline_20150709.<Operation>).

The cycle: PollForThirdPartyJobs (jobs for an action type, each with the clientId) -> GetThirdPartyJobDetails
(clientToken must be the one paired with that clientId; the answer carries the nonce and temporary
artifact credentials) -> AcknowledgeThirdPartyJob (the nonce must match: InvalidNonceException) ->
PutThirdPartyJobSuccessResult or PutThirdPartyJobFailureResult (only for a job in progress:
InvalidJobStateException). A success with a continuationToken queues a follow-up job that carries it.

The sandbox's partner action and client pair are printed by `jobs-connector sandbox` and documented in
docs/codepipeline-worker.md; the artifact credentials are obviously fake.
"""

from __future__ import annotations

import secrets
import uuid

from jobs_connector.sandbox.wire import ApiError, Reply, Request, member

NAME = "codepipeline"
PROTOCOL = "json-1.1"
TARGET_PREFIX = "CodePipeline_20150709."
ACCOUNT = "123456789012"
ACTION_TYPE = {"category": "Deploy", "owner": "ThirdParty", "provider": "SandboxDeployer", "version": "1"}
CLIENT_ID = "5a4d6c1e-0000-4000-8000-00000000c11e"
CLIENT_TOKEN = "sandbox-client-token"  # noqa: S105 - a published demo value, paired with CLIENT_ID
ARTIFACT_CREDENTIALS = {  # obviously fake, never valid anywhere
    "accessKeyId": "ASIASANDBOXFAKE00001",
    "secretAccessKey": "sandbox-artifact-secret-not-a-real-secret",
    "sessionToken": "sandbox-artifact-session-token-not-real",
}
FAILURE_TYPES = ("JobFailed", "ConfigurationError", "PermissionError", "RevisionOutOfSync", "RevisionUnavailable",
                 "SystemUnavailable")
WAITING = ("Queued", "Dispatched")


def _invalid(message: str) -> ApiError:
    return ApiError(400, "ValidationException", message)


def _job_data(n: int, continuation_token: str | None = None) -> dict:
    data = {
        "actionTypeId": dict(ACTION_TYPE),
        "actionConfiguration": {"configuration": {"Environment": "staging", "Target": f"demo-service-{n}"}},
        "pipelineContext": {
            "pipelineName": "demo-pipeline",
            "stage": {"name": "Deploy"},
            "action": {"name": "SandboxDeploy", "actionExecutionId": str(uuid.uuid4())},
            "pipelineArn": f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:demo-pipeline",
            "pipelineExecutionId": str(uuid.uuid4()),
        },
        "inputArtifacts": [{"name": "BuildOutput", "revision": f"{n:040x}"[-40:],
                            "location": {"type": "S3", "s3Location": {
                                "bucketName": "sandbox-artifact-bucket",
                                "objectKey": f"demo-pipeline/BuildOutput/build-{n}.zip"}}}],
        "outputArtifacts": [],
        "artifactCredentials": dict(ARTIFACT_CREDENTIALS),
        "encryptionKey": {"id": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/s3", "type": "KMS"},
    }
    if continuation_token:
        data["continuationToken"] = continuation_token
    return data


def _new_job(state: dict, now: float, continuation_token: str | None = None) -> dict:
    state["counter"] += 1
    job = {"id": str(uuid.uuid4()), "clientId": CLIENT_ID, "status": "Queued", "nonce": secrets.token_hex(8),
           "createdAt": round(now, 3), "data": _job_data(state["counter"], continuation_token)}
    state["jobs"][job["id"]] = job
    return job


def seed(now: float) -> dict:
    state = {"actionTypes": [dict(ACTION_TYPE)], "clients": {CLIENT_ID: CLIENT_TOKEN}, "jobs": {}, "counter": 0}
    for age in (300, 200, 100):
        _new_job(state, now - age)
    return state


def _job(state: dict, body: dict) -> dict:
    job_id = member(body, "jobId", "string", _invalid, required=True)
    token = member(body, "clientToken", "string", _invalid, required=True)
    job = state["jobs"].get(job_id)
    if job is None:
        raise ApiError(400, "JobNotFoundException", f"The job {job_id} was not found")
    if state["clients"].get(job["clientId"]) != token:
        raise ApiError(400, "InvalidClientTokenException", "The client token was specified in an invalid format")
    return job


def poll_for_third_party_jobs(state: dict, body: dict, now: float) -> dict:
    type_id = member(body, "actionTypeId", "object", _invalid, required=True)
    for name in ACTION_TYPE:
        member(type_id, name, "string", _invalid, required=True, where="actionTypeId.")
    batch = member(body, "maxBatchSize", "integer", _invalid)
    if batch is not None and batch < 1:
        raise _invalid("maxBatchSize must be at least 1")
    wanted = {k: type_id[k] for k in ACTION_TYPE}
    if wanted not in state["actionTypes"]:
        raise ApiError(400, "ActionTypeNotFoundException",
                       f"The specified action type cannot be found; the sandbox serves {ACTION_TYPE}")
    waiting = sorted((j for j in state["jobs"].values()
                      if j["status"] in WAITING and j["data"]["actionTypeId"] == wanted),
                     key=lambda j: j["createdAt"])[:batch or 1]
    for job in waiting:  # handed to a worker, but offered again until one acknowledges it
        job["status"] = "Dispatched"
    return {"jobs": [{"clientId": j["clientId"], "jobId": j["id"]} for j in waiting]}


def get_third_party_job_details(state: dict, body: dict, now: float) -> dict:
    job = _job(state, body)
    return {"jobDetails": {"id": job["id"], "data": job["data"], "nonce": job["nonce"]}}


def acknowledge_third_party_job(state: dict, body: dict, now: float) -> dict:
    nonce = member(body, "nonce", "string", _invalid, required=True)
    job = _job(state, body)
    if nonce != job["nonce"]:
        raise ApiError(400, "InvalidNonceException", "The nonce was specified in an invalid format")
    if job["status"] in WAITING:
        job["status"] = "InProgress"
    return {"status": job["status"]}


def _finishing(state: dict, body: dict) -> dict:
    job = _job(state, body)
    if job["status"] != "InProgress":
        raise ApiError(400, "InvalidJobStateException",
                       f"The job is {job['status']}; acknowledge it first, and report its result only once")
    return job


def put_third_party_job_success_result(state: dict, body: dict, now: float) -> dict:
    revision = member(body, "currentRevision", "object", _invalid)
    if revision is not None:
        for name in ("revision", "changeIdentifier"):
            member(revision, name, "string", _invalid, required=True, where="currentRevision.")
    details = member(body, "executionDetails", "object", _invalid) or {}
    percent = member(details, "percentComplete", "integer", _invalid, where="executionDetails.")
    if percent is not None and not 0 <= percent <= 100:
        raise _invalid("executionDetails.percentComplete must be from 0 to 100")
    continuation = member(body, "continuationToken", "string", _invalid)
    job = _finishing(state, body)
    job.update(status="Succeeded", result={"currentRevision": revision, "executionDetails": details or None})
    if continuation:
        _new_job(state, now, continuation)
    return {}


def put_third_party_job_failure_result(state: dict, body: dict, now: float) -> dict:
    failure = member(body, "failureDetails", "object", _invalid, required=True)
    kind = member(failure, "type", "string", _invalid, required=True, where="failureDetails.")
    message = member(failure, "message", "string", _invalid, required=True, where="failureDetails.")
    if kind not in FAILURE_TYPES:
        raise _invalid(f"failureDetails.type must be one of {', '.join(FAILURE_TYPES)}")
    if len(message) > 5000:
        raise _invalid("failureDetails.message is longer than 5000 characters")
    job = _finishing(state, body)
    job.update(status="Failed", result={"failureDetails": failure})
    return {}


OPERATIONS = {
    "PollForThirdPartyJobs": poll_for_third_party_jobs,
    "GetThirdPartyJobDetails": get_third_party_job_details,
    "AcknowledgeThirdPartyJob": acknowledge_third_party_job,
    "PutThirdPartyJobSuccessResult": put_third_party_job_success_result,
    "PutThirdPartyJobFailureResult": put_third_party_job_failure_result,
}


def handle(req: Request, state: dict, now: float) -> Reply:
    target = req.header("x-amz-target") or ""
    operation = OPERATIONS.get(target[len(TARGET_PREFIX):]) if target.startswith(TARGET_PREFIX) else None
    if req.method != "POST" or req.raw_path not in ("", "/") or operation is None:
        raise ApiError(400, "UnknownOperationException",
                       f"the sandbox's CodePipeline serves POST / with X-Amz-Target {TARGET_PREFIX}<Operation> for "
                       f"{', '.join(OPERATIONS)}")
    return Reply(200, operation(state, req.json(lambda m: ApiError(400, "SerializationException", m)), now),
                 protocol=PROTOCOL)
