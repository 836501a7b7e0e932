"""One round trip per emulated service over real HTTP, paging included, with requests signed by
jobs_connector.auth.sigv4.SigV4 (AWS) or carrying a bearer token (SpaceONE, EmbedThis); the AWS wire formats are also
checked with boto3, the SDK the real services are built for; and the routing rules of the one port."""

import boto3
import pytest
import requests
from botocore.config import Config

from jobs_connector.base.errors import Conflict, NotFound
from jobs_connector.http.protocols import error_from_response
from jobs_connector.sandbox import DEFAULT_REGION, SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY
from jobs_connector.sandbox import codepipeline as cp
from tests.support.sandbox import FakeClock, aws, running_sandbox, token_post

TARGET = "CodePipeline_20150709."


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sandbox(clock):
    with running_sandbox(clock=clock) as server:
        yield server


def boto(sandbox, service):
    return boto3.client(service, endpoint_url=sandbox.url, region_name=DEFAULT_REGION,
                        aws_access_key_id=SANDBOX_ACCESS_KEY, aws_secret_access_key=SANDBOX_SECRET_KEY,
                        config=Config(retries={"max_attempts": 1}))


def pipeline(sandbox, operation, body):
    return aws(sandbox, "codepipeline", "POST", "/", body, target=TARGET + operation)


# -- Panorama ------------------------------------------------------------------------------------


def test_panorama_list_pages_with_next_token(sandbox):
    pages, token = [], None
    while True:
        query = {"MaxResults": 3, **({"NextToken": token} if token else {})}
        answer = aws(sandbox, "panorama", "GET", "/jobs", query=query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append([job["JobId"] for job in page["DeviceJobs"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert len({job for page in pages for job in page}) == 7


def test_panorama_job_round_trip_and_progress(sandbox, clock):
    device = "device-sandbox000000000001"
    answer = aws(sandbox, "panorama", "POST", "/jobs", {"DeviceIds": [device], "JobType": "OTA",
                                                        "DeviceJobConfig": {"OTAJobConfig": {"ImageVersion": "4.4.0"}}})
    assert answer.status_code == 200, answer.text
    [created] = answer.json()["Jobs"]
    assert created["DeviceId"] == device
    job = aws(sandbox, "panorama", "GET", f"/jobs/{created['JobId']}").json()
    assert (job["Status"], job["ImageVersion"], job["DeviceName"]) == ("PENDING", "4.4.0", "demo-appliance-1")
    clock.advance(31)
    assert aws(sandbox, "panorama", "GET", f"/jobs/{created['JobId']}").json()["Status"] == "COMPLETED"
    mine = aws(sandbox, "panorama", "GET", "/jobs", query={"DeviceId": device}).json()["DeviceJobs"]
    assert created["JobId"] in [j["JobId"] for j in mine] and {j["DeviceId"] for j in mine} == {device}


def test_panorama_errors(sandbox):
    missing = aws(sandbox, "panorama", "POST", "/jobs", {"DeviceIds": ["device-nope"], "JobType": "REBOOT"})
    assert missing.status_code == 404 and missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    two = aws(sandbox, "panorama", "POST", "/jobs", {"DeviceIds": ["a", "b"], "JobType": "REBOOT"})
    assert two.status_code == 400 and two.headers["x-amzn-ErrorType"] == "ValidationException"
    token = aws(sandbox, "panorama", "GET", "/jobs", query={"NextToken": "not-ours"})
    assert token.status_code == 400 and token.headers["x-amzn-ErrorType"] == "ValidationException"


def test_panorama_with_boto3(sandbox):
    client = boto(sandbox, "panorama")
    first = client.list_devices_jobs(MaxResults=3)
    assert len(first["DeviceJobs"]) == 3 and first["NextToken"]
    second = client.list_devices_jobs(MaxResults=3, NextToken=first["NextToken"])
    assert {j["JobId"] for j in first["DeviceJobs"]}.isdisjoint(j["JobId"] for j in second["DeviceJobs"])
    job = client.describe_device_job(JobId=first["DeviceJobs"][0]["JobId"])
    assert job["Status"] == "COMPLETED" and job["CreatedTime"].year >= 2020
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_device_job(JobId="job-nope")


# -- CodePipeline --------------------------------------------------------------------------------


def test_codepipeline_third_party_job_cycle(sandbox):
    polled = pipeline(sandbox, "PollForThirdPartyJobs", {"actionTypeId": cp.ACTION_TYPE, "maxBatchSize": 2})
    assert polled.status_code == 200, polled.text
    assert polled.headers["Content-Type"] == "application/x-amz-json-1.1"
    jobs = polled.json()["jobs"]
    assert len(jobs) == 2 and all(j["clientId"] == cp.CLIENT_ID for j in jobs)
    job_id = jobs[0]["jobId"]

    details = pipeline(sandbox, "GetThirdPartyJobDetails", {"jobId": job_id, "clientToken": cp.CLIENT_TOKEN}).json()
    data, nonce = details["jobDetails"]["data"], details["jobDetails"]["nonce"]
    assert details["jobDetails"]["id"] == job_id
    assert data["artifactCredentials"]["secretAccessKey"].startswith("sandbox-")  # obviously fake
    assert data["inputArtifacts"][0]["location"]["type"] == "S3"

    mine = {"jobId": job_id, "clientToken": cp.CLIENT_TOKEN}
    wrong = pipeline(sandbox, "AcknowledgeThirdPartyJob", {**mine, "nonce": "0"})
    assert wrong.status_code == 400 and wrong.json()["__type"] == "InvalidNonceException"
    early = pipeline(sandbox, "PutThirdPartyJobSuccessResult", {"jobId": job_id, "clientToken": cp.CLIENT_TOKEN})
    assert early.json()["__type"] == "InvalidJobStateException"  # not acknowledged yet

    ack = pipeline(sandbox, "AcknowledgeThirdPartyJob", {**mine, "nonce": nonce})
    assert ack.json() == {"status": "InProgress"}
    done = pipeline(sandbox, "PutThirdPartyJobSuccessResult", {
        "jobId": job_id, "clientToken": cp.CLIENT_TOKEN,
        "executionDetails": {"summary": "deployed", "percentComplete": 100}})
    assert done.status_code == 200, done.text
    twice = pipeline(sandbox, "PutThirdPartyJobFailureResult", {
        "jobId": job_id, "clientToken": cp.CLIENT_TOKEN, "failureDetails": {"type": "JobFailed", "message": "late"}})
    assert twice.json()["__type"] == "InvalidJobStateException"
    # An acknowledged job is no longer offered.
    again = pipeline(sandbox, "PollForThirdPartyJobs", {"actionTypeId": cp.ACTION_TYPE, "maxBatchSize": 5}).json()
    assert job_id not in [j["jobId"] for j in again["jobs"]] and len(again["jobs"]) == 2


def test_codepipeline_refusals(sandbox):
    job_id = pipeline(sandbox, "PollForThirdPartyJobs", {"actionTypeId": cp.ACTION_TYPE}).json()["jobs"][0]["jobId"]
    token = pipeline(sandbox, "GetThirdPartyJobDetails", {"jobId": job_id, "clientToken": "not-the-token"})
    assert token.json()["__type"] == "InvalidClientTokenException"
    unknown = pipeline(sandbox, "GetThirdPartyJobDetails", {"jobId": "nope", "clientToken": cp.CLIENT_TOKEN})
    assert unknown.json()["__type"] == "JobNotFoundException"
    other_type = pipeline(sandbox, "PollForThirdPartyJobs", {"actionTypeId": {**cp.ACTION_TYPE, "provider": "Other"}})
    assert other_type.json()["__type"] == "ActionTypeNotFoundException"
    operation = pipeline(sandbox, "DeletePipeline", {"name": "x"})
    assert operation.status_code == 400 and operation.json()["__type"] == "UnknownOperationException"
    no_message = pipeline(sandbox, "PutThirdPartyJobFailureResult", {
        "jobId": job_id, "clientToken": cp.CLIENT_TOKEN, "failureDetails": {"type": "JobFailed"}})
    assert no_message.json()["__type"] == "ValidationException"


def test_codepipeline_with_boto3(sandbox):
    client = boto(sandbox, "codepipeline")
    [job] = client.poll_for_third_party_jobs(actionTypeId=cp.ACTION_TYPE, maxBatchSize=1)["jobs"]
    details = client.get_third_party_job_details(jobId=job["jobId"], clientToken=cp.CLIENT_TOKEN)["jobDetails"]
    with pytest.raises(client.exceptions.InvalidNonceException):
        client.acknowledge_third_party_job(jobId=job["jobId"], nonce="wrong", clientToken=cp.CLIENT_TOKEN)
    assert client.acknowledge_third_party_job(jobId=job["jobId"], nonce=details["nonce"],
                                              clientToken=cp.CLIENT_TOKEN)["status"] == "InProgress"
    client.put_third_party_job_failure_result(jobId=job["jobId"], clientToken=cp.CLIENT_TOKEN,
                                              failureDetails={"type": "JobFailed", "message": "disk full"})
    with pytest.raises(client.exceptions.InvalidJobStateException):
        client.put_third_party_job_success_result(jobId=job["jobId"], clientToken=cp.CLIENT_TOKEN)


# -- SpaceONE ------------------------------------------------------------------------------------


def test_spaceone_list_pages_with_total_count(sandbox):
    seen, start = [], 1
    for _ in range(5):
        answer = token_post(sandbox, "/identity/v2/job/list", {"query": {"page": {"start": start, "limit": 3}}})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["total_count"] == 7
        seen.append([job["job_id"] for job in page["results"]])
        start += len(page["results"])
        if start > page["total_count"]:
            break
    assert [len(p) for p in seen] == [3, 3, 1]
    ids = [job for page in seen for job in page]
    assert len(set(ids)) == 7
    created = [token_post(sandbox, "/identity/v2/job/get", {"job_id": i}).json()["created_at"] for i in ids]
    assert created == sorted(created, reverse=True)  # newest first, as SpaceONE lists


def test_spaceone_get_delete_stat_and_filters(sandbox):
    jobs = token_post(sandbox, "/identity/v2/job/list", {}).json()["results"]
    target = jobs[0]
    got = token_post(sandbox, "/identity/v2/job/get", {"job_id": target["job_id"]}).json()
    assert got == target and {"status", "plugin_id", "domain_id", "created_at"} <= set(got)
    stat = token_post(sandbox, "/identity/v2/job/stat", {"query": {"aggregate": [{"group": {
        "keys": [{"key": "status", "name": "status"}], "fields": [{"operator": "count", "name": "count"}]}}]}}).json()
    assert sum(row["count"] for row in stat["results"]) == 7 and stat["total_count"] == len(stat["results"])
    filtered = token_post(sandbox, "/identity/v2/job/list", {"status": "SUCCESS"}).json()
    assert filtered["total_count"] == next(r["count"] for r in stat["results"] if r["status"] == "SUCCESS")

    assert token_post(sandbox, "/identity/v2/job/delete", {"job_id": target["job_id"]}).json() == {}
    gone = token_post(sandbox, "/identity/v2/job/get", {"job_id": target["job_id"]})
    assert gone.status_code == 404
    assert gone.json() == {"detail": {"code": "ERROR_NOT_FOUND",
                                      "message": f"Value not found. (job_id = {target['job_id']})"}}
    assert token_post(sandbox, "/identity/v2/job/list", {}).json()["total_count"] == 6
    # The connector reads SpaceONE's error shape: its code and message, not a generic refusal.
    error = error_from_response("token-json", gone.status_code, gone.headers, gone.content)
    assert isinstance(error, NotFound) and error.code == "ERROR_NOT_FOUND" and "job_id" in error.message
    assert error.request_id == gone.headers["x-request-id"]


def test_spaceone_needs_a_bearer_token(sandbox):
    for token in (None, "", " "):
        answer = token_post(sandbox, "/identity/v2/job/list", {}, token=token)
        assert answer.status_code == 401
        assert answer.json()["detail"]["code"] == "ERROR_AUTHENTICATE_FAILURE"
    missing = token_post(sandbox, "/identity/v2/job/get", {})
    assert missing.status_code == 400 and missing.json()["detail"]["code"] == "ERROR_REQUIRED_PARAMETER"
    bad_start = token_post(sandbox, "/identity/v2/job/list", {"query": {"page": {"start": 0, "limit": 3}}})
    assert bad_start.status_code == 400


# -- EmbedThis -----------------------------------------------------------------------------------


def find_all(sandbox, query):
    pages, cursor = [], None
    for _ in range(10):
        answer = token_post(sandbox, "/cloud/find", {}, query={**query, **({"next": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append(page)
        cursor = page.get("next")
        if not cursor:
            return pages
    raise AssertionError("find never ran out of pages")


def test_embedthis_find_pages_with_cursors(sandbox):
    pages = find_all(sandbox, {"limit": 3})
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    ids = [c["id"] for p in pages for c in p["data"]]
    assert len(set(ids)) == 7 and ids == sorted(ids)
    assert "prev" not in pages[0] and pages[1]["prev"]
    back = token_post(sandbox, "/cloud/find", {}, query={"limit": 3, "prev": pages[2]["prev"]}).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in pages[1]["data"]]
    named = token_post(sandbox, "/cloud/find", {}, query={"filter": "CLOUD-7"}).json()["data"]
    assert [c["name"] for c in named] == ["demo-cloud-7"]


def test_embedthis_cloud_round_trip(sandbox):
    created = token_post(sandbox, "/cloud/create", {"name": "flow-test", "region": "eu-west-1", "type": "dedicated"})
    assert created.status_code == 200, created.text
    cloud = created.json()
    assert (cloud["status"], cloud["connected"], cloud["region"]) == ("created", False, "eu-west-1")
    assert token_post(sandbox, "/cloud/get", {"id": cloud["id"]}).json() == cloud
    ready = token_post(sandbox, "/cloud/provision", {"id": cloud["id"]}).json()
    assert ready["status"] == "ready" and ready["host"] and ready["provisioned"]
    updated = token_post(sandbox, "/cloud/update", {"id": cloud["id"], "name": "flow-test-2", "open": True}).json()
    assert (updated["name"], updated["open"], updated["version"]) == ("flow-test-2", True, cloud["version"] + 1)
    keys = token_post(sandbox, "/cloud/getBrowserKeys", {"id": cloud["id"]}).json()
    assert set(keys) == {"accessKeyId", "secretAccessKey", "sessionToken", "expires", "region"}
    assert keys["secretAccessKey"].startswith("sandbox-")  # obviously fake
    hosts = token_post(sandbox, "/cloud/getHosts", {"region": "eu-west-1"}, query={"limit": 1}).json()
    assert len(hosts["data"]) == 1 and hosts["next"]
    all_hosts = [h["name"] for h in token_post(sandbox, "/cloud/getHosts", {"region": "eu-west-1"}).json()["data"]]
    assert ready["host"] in all_hosts
    removed = token_post(sandbox, "/cloud/remove", {"id": cloud["id"]})
    assert removed.status_code == 200 and removed.json()["id"] == cloud["id"]
    gone = token_post(sandbox, "/cloud/get", {"id": cloud["id"]})
    assert gone.status_code == 404 and gone.json()["code"] == "NotFound"
    error = error_from_response("token-json", gone.status_code, gone.headers, gone.content)
    assert isinstance(error, NotFound) and "Cannot find cloud" in error.message


def test_embedthis_every_operation_answers(sandbox):
    cloud = token_post(sandbox, "/cloud/create", {"name": "ops"}).json()
    first = token_post(sandbox, "/cloud/find", {}, query={"limit": 1}).json()["data"][0]
    assert token_post(sandbox, "/cloud/init", {}).json() == first
    calls = [("provisionAsync", {"id": cloud["id"], "accountId": "123456789012"}),
             ("waitForTemplate", {"id": cloud["id"]}), ("updateStack", {"id": cloud["id"]}),
             ("connect", {"cloud": cloud["id"], "deviceRole": "arn:aws:iam::123456789012:role/R", "connected": True}),
             ("report", {"cloudId": cloud["id"], "count": 12, "usage": [{"devices": 12, "tenants": 2, "load": 1}]}),
             ("removeAsync", {"id": cloud["id"], "accountId": "123456789012"})]
    for op, body in calls:
        answer = token_post(sandbox, f"/cloud/{op}", body)
        assert answer.status_code == 200, (op, answer.text)
        assert answer.json()["id"] == cloud["id"]
    assert token_post(sandbox, "/cloud/get", {"id": cloud["id"]}).status_code == 404


def test_embedthis_refusals(sandbox):
    assert token_post(sandbox, "/cloud/find", {}, token=None).status_code == 401
    assert token_post(sandbox, "/cloud/find", {}, token="").json()["code"] == "Unauthorized"
    unknown_field = token_post(sandbox, "/cloud/create", {"name": "x", "colour": "blue"})
    assert unknown_field.status_code == 400 and "colour" in unknown_field.json()["message"]
    bad_cursor = token_post(sandbox, "/cloud/find", {}, query={"next": "garbage"})
    assert bad_cursor.status_code == 400
    not_provisioned = token_post(sandbox, "/cloud/updateStack", {"id": token_post(
        sandbox, "/cloud/create", {"name": "y"}).json()["id"]})
    error = error_from_response("token-json", not_provisioned.status_code, not_provisioned.headers,
                                not_provisioned.content)
    assert isinstance(error, Conflict)


# -- the one port --------------------------------------------------------------------------------


def test_routing_and_request_ids(sandbox):
    unsigned = requests.get(f"{sandbox.url}/things/demo-thing/jobs", timeout=10)
    assert unsigned.status_code == 403 and unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    untargeted = requests.post(f"{sandbox.url}/", headers={"X-Amz-Target": TARGET + "PollForThirdPartyJobs"},
                               data="{}", timeout=10)
    assert untargeted.status_code == 403 and untargeted.json()["__type"] == "MissingAuthenticationTokenException"
    other_service = aws(sandbox, "s3", "GET", "/things/demo-thing/jobs")
    assert other_service.status_code == 403 and "scoped" in other_service.json()["message"]
    # The same path answers differently for each signing scope, as on AWS each service has its own host.
    assert aws(sandbox, "panorama", "GET", "/things/demo-thing/jobs").headers["x-amzn-ErrorType"] == \
        "UnknownOperationException"
    nowhere = requests.get(f"{sandbox.url}/nothing-here", timeout=10)
    assert nowhere.status_code == 404
    health = requests.get(f"{sandbox.url}/_sandbox/health", timeout=10)
    assert health.json()["status"] == "ok"
    answers = [unsigned, untargeted, other_service, nowhere, health,
               token_post(sandbox, "/cloud/find", {}), token_post(sandbox, "/identity/v2/job/list", {})]
    ids = [a.headers["x-amzn-RequestId"] for a in answers]
    assert len(set(ids)) == len(ids) and all(len(i) == 36 for i in ids)


def test_sandbox_listens_on_loopback_only(sandbox):
    assert sandbox.httpd.server_address[0] == "127.0.0.1"
