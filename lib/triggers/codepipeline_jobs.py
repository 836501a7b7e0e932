"""CodePipeline: new third-party job for an action type.

Polls for jobs of the action type (PollForThirdPartyJobs, until a poll offers no job it has not seen,
at most `maxPolls` polls). For each new job, by default, it gets the details (GetThirdPartyJobDetails:
the nonce and the artifact credentials) and acknowledges the job (AcknowledgeThirdPartyJob), so exactly
one flow run owns it: a job another worker acknowledged first (InvalidNonceException) is left alone.
One message per job: {jobId, clientId, status, jobDetails}. The artifact credentials are in the message
only (the output schema marks them secret; the snapshot keeps job ids).

The clientToken is the config field `clientToken`, else the environment's CODEPIPELINE_CLIENT_TOKEN.
"""

from __future__ import annotations

import os

from jobs_connector.kit import BadInput, Conflict, Item

CLIENT_TOKEN_ENV = "CODEPIPELINE_CLIENT_TOKEN"  # noqa: S105 - the variable's name, not a token
FIRST_RUN_OPTION = False  # every waiting job is work to do: there is no "start from now"
_NAME = {"type": "string", "minLength": 1, "maxLength": 25, "pattern": "^[A-Za-z0-9_-]+$"}
CONFIG = {
    "properties": {
        "category": {"enum": ["Source", "Build", "Deploy", "Test", "Invoke", "Approval", "Compute"]},
        "owner": {"enum": ["ThirdParty"]},
        "provider": {"type": "string", "minLength": 1, "maxLength": 35, "pattern": "^[0-9A-Za-z_-]+$"},
        "version": {"type": "string", "minLength": 1, "maxLength": 9, "pattern": "^[0-9A-Za-z_-]+$"},
        "clientToken": {"type": "string", "minLength": 1, "maxLength": 256},
        "acknowledge": {"type": "boolean"},
        "maxBatchSize": {"type": "integer", "minimum": 1, "maximum": 100},
        "maxPolls": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    "required": ["category", "provider", "version"],
}
SECRET_CONFIG = ("clientToken",)
EXAMPLE_CONFIG = {"category": "Deploy", "owner": "ThirdParty", "provider": "SandboxDeployer", "version": "1"}


def items(ctx):
    cfg = ctx.cfg
    type_id = {"category": cfg["category"], "owner": cfg.get("owner", "ThirdParty"),
               "provider": cfg["provider"], "version": cfg["version"]}
    acknowledge = cfg.get("acknowledge", True)
    token = cfg.get("clientToken") or os.environ.get(CLIENT_TOKEN_ENV)
    if acknowledge and not token:
        raise BadInput(f"the clientToken is needed to take jobs: set the config field clientToken or "
                       f"{CLIENT_TOKEN_ENV}", field="clientToken", rule="required")
    offered: set[str] = set()
    for _ in range(cfg.get("maxPolls", 10)):
        answer = ctx.call("codepipeline.PollForThirdPartyJobs",
                          {"actionTypeId": type_id, "maxBatchSize": cfg.get("maxBatchSize", 10)})
        jobs = [j for j in answer.get("jobs") or [] if isinstance(j, dict) and j.get("jobId")]
        fresh = [j for j in jobs if j["jobId"] not in offered]
        if not fresh:
            return
        for job in fresh:
            offered.add(job["jobId"])
            if ctx.seen_version(job["jobId"]) is not None:
                continue  # ours already (offered again until acknowledged, or taken by someone else)
            item = _take(ctx, job, token) if acknowledge else dict(job)
            yield Item(id=job["jobId"], version="taken" if item else "lost", body=item or {}, silent=item is None)


def _take(ctx, job: dict, token: str) -> dict | None:
    """Details, then the acknowledgement that makes the job ours; None if another worker has it."""
    ids = {"jobId": job["jobId"], "clientToken": token}
    details = ctx.call("codepipeline.GetThirdPartyJobDetails", ids).get("jobDetails") or {}
    try:
        status = ctx.call("codepipeline.AcknowledgeThirdPartyJob", {**ids, "nonce": str(details.get("nonce"))})
    except Conflict:
        return None
    return {"jobId": job["jobId"], "clientId": job.get("clientId"), "status": status.get("status"),
            "jobDetails": details}
