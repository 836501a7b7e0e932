"""Every service through `jobs-connector run` against the sandbox: the real runtime, real HTTP, real
signatures, and paging with each emit behaviour."""

import json

import pytest

from tests.support.cli import run_cli
from tests.support.sandbox import running_sandbox


@pytest.fixture
def sandbox(monkeypatch):
    with running_sandbox(monkeypatch) as running:
        yield running


def run(action, body, *extra):
    result = run_cli("run", action, "--input", json.dumps(body), *extra)
    assert result.code == 0, result.stderr
    return result


def test_panorama_create_then_follow_the_job(sandbox):
    body = {"DeviceIds": ["device-sandbox000000000001"], "JobType": "REBOOT"}
    [created] = run("panorama.CreateJobForDevices", body).messages
    job_id = created["Jobs"][0]["JobId"]
    [described] = run("panorama.DescribeDeviceJob", {"JobId": job_id}).messages
    assert described["JobId"] == job_id and described["JobType"] == "REBOOT"
    everything = run("panorama.ListDevicesJobs", {"MaxResults": 2}).messages
    one_by_one = run("panorama.ListDevicesJobs", {"MaxResults": 2}, "--emit", "emitIndividually").messages
    assert len(everything) == 1 and "NextToken" not in everything[0]
    assert [j["JobId"] for j in everything[0]["DeviceJobs"]] == [j["JobId"] for j in one_by_one]
    assert job_id in [j["JobId"] for j in one_by_one] and len(one_by_one) > 2


def test_codepipeline_worker_cycle(sandbox):
    action_type = {"category": "Deploy", "owner": "ThirdParty", "provider": "SandboxDeployer", "version": "1"}
    polled = run("codepipeline.PollForThirdPartyJobs", {"actionTypeId": action_type, "maxBatchSize": 1}).messages
    [job] = polled[0]["jobs"]
    client_token = "sandbox-client-token"  # the sandbox's documented client token
    [details] = run("codepipeline.GetThirdPartyJobDetails",
                    {"jobId": job["jobId"], "clientToken": client_token}).messages
    nonce = details["jobDetails"]["nonce"]
    assert details["jobDetails"]["data"]["artifactCredentials"]["secretAccessKey"]  # the data carries it
    [ack] = run("codepipeline.AcknowledgeThirdPartyJob",
                {"jobId": job["jobId"], "nonce": nonce, "clientToken": client_token}).messages
    assert ack["status"] == "InProgress"
    run("codepipeline.PutThirdPartyJobSuccessResult",
        {"jobId": job["jobId"], "clientToken": client_token, "executionDetails": {"summary": "built"}})
    again = run_cli("run", "codepipeline.PutThirdPartyJobSuccessResult", "--input",
                    json.dumps({"jobId": job["jobId"], "clientToken": client_token}))
    assert again.code == 3 and "Conflict" in again.stderr  # a second result is refused


@pytest.mark.parametrize("emit", ["fetchAll", "fetchPage", "emitIndividually"])
def test_spaceone_list_pages(sandbox, emit):
    messages = run("spaceone.ListJobs", {"query": {"page": {"limit": 3}}}, "--emit", emit).messages
    if emit == "fetchAll":
        [merged] = messages
        assert len(merged["results"]) == merged["total_count"] >= 7
    elif emit == "fetchPage":
        [page] = messages
        assert len(page["results"]) == 3 and page["total_count"] >= 7
    else:
        assert len(messages) >= 7 and all("job_id" in m for m in messages)


def test_spaceone_get_stat_delete(sandbox):
    [listed] = run("spaceone.ListJobs", {}).messages
    job_id = listed["results"][0]["job_id"]
    [job] = run("spaceone.GetJob", {"job_id": job_id}).messages
    assert job["job_id"] == job_id
    group = {"keys": [{"key": "status", "name": "status"}], "fields": [{"operator": "count", "name": "n"}]}
    [stat] = run("spaceone.StatJobs", {"query": {"aggregate": [{"group": group}]}}).messages
    assert "results" in stat
    run("spaceone.DeleteJob", {"job_id": job_id})
    gone = run_cli("run", "spaceone.GetJob", "--input", json.dumps({"job_id": job_id}))
    assert gone.code == 3 and "NotFound" in gone.stderr


def test_embedthis_create_find_update_remove(sandbox):
    [cloud] = run("embedthis.CreateCloud", {"name": "roundtrip-cloud", "region": "eu-west-1",
                                            "type": "dedicated"}).messages
    everything = run("embedthis.FindClouds", {"limit": 3}).messages
    one_by_one = run("embedthis.FindClouds", {"limit": 3}, "--emit", "emitIndividually").messages
    assert [c["id"] for c in everything[0]["data"]] == [c["id"] for c in one_by_one]
    assert cloud["id"] in [c["id"] for c in one_by_one] and len(one_by_one) > 3
    [updated] = run("embedthis.UpdateCloud", {"id": cloud["id"], "name": "renamed"}).messages
    assert updated["name"] == "renamed"
    keys = run_cli("run", "embedthis.GetBrowserKeys", "--input", json.dumps({"id": cloud["id"]}), "--verbose")
    assert keys.code == 0
    secret = keys.messages[0]["secretAccessKey"]
    assert secret and secret not in keys.stderr
    run("embedthis.RemoveCloud", {"id": cloud["id"]})
    gone = run_cli("run", "embedthis.GetCloud", "--input", json.dumps({"id": cloud["id"]}))
    assert gone.code == 3
