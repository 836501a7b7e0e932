"""The console in a real browser: Debian's headless chromium, driven by Selenium through the system's
chromedriver (nothing is downloaded), logs in, filters, opens a dead event, retries it and sees it succeed.
A screenshot of each page goes to the test's tmp folder (its path is printed); with
JOBS_CONNECTOR_DOCS_SCREENSHOT=docs/console.png the event list's is kept for the docs."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from tests.support.console import OTHER_SECRET, TOKEN, console_flows, serving_a_dead_event, stored_dead_event
from tests.support.loopback import Reply
from tests.support.webhooks import DESCRIBE, UPDATE

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
REFUSED = Reply(400, {"message": "expected version 4, found 5"}, {"x-amzn-RequestId": "7f1c2a9e-demo-request-0001",
                                                                  "x-amzn-ErrorType": "VersionConflictException"})
FLOWS = console_flows("firmware-report", description="a device asks for its job")
# Nothing leaves this machine: every host name but the loopback address resolves to nothing, and the
# browser's own background services (updates, sync, safe browsing) stay off.
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,720",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
                 "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-pings",
                 "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--hide-scrollbars")


@pytest.fixture
def browser(tmp_path, monkeypatch):
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if absent:
        message = f"{', '.join(absent)} missing (.ci/run installs Debian's chromium and chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager never looks for a driver or a browser online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def served(tmp_path, aws_env, loopback, monkeypatch):
    with serving_a_dead_event(tmp_path, loopback, monkeypatch, FLOWS, REFUSED) as serve:
        status, answer = serve.post("firmware-report", {"thing": "sensor-2", "job": "fw-43"}, secret=OTHER_SECRET)
        serve.ok_id = answer["id"]
        serve.wait_status(serve.ok_id, "succeeded")
        serve.unknown_id = stored_dead_event(serve.store, "device-status", {
            "type": "OutcomeUnknown", "message": "step 1 (iot-jobs-data.UpdateJobExecution) timed out after "
            "sending; the request may have been carried out", "outcome": "unknown", "step": 1, "action": UPDATE,
            "check_with": DESCRIBE, "retryable": False})
        yield serve


def test_log_in_filter_open_a_dead_event_retry_it_and_see_it_succeed(browser, served, loopback, tmp_path, capsys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import Select, WebDriverWait

    def until(condition):  # a click that submits a form returns before the next page has loaded
        return WebDriverWait(browser, 10, poll_frequency=0.05).until(condition)

    shots = tmp_path / "screenshots"
    shots.mkdir()
    taken = []

    def shot(name: str) -> None:
        path = shots / f"{len(taken) + 1:02d}-{name}.png"
        assert browser.save_screenshot(str(path))
        taken.append(path)

    url = served.console_url
    browser.get(f"{url}/events")
    assert browser.title.startswith("Log in") and served.dead_id not in browser.page_source
    shot("login")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "login").click()
    until(seen.url_to_be(f"{url}/"))
    assert browser.current_url == f"{url}/" and browser.find_element(By.ID, "flows").is_displayed()
    assert "firmware-report" in browser.find_element(By.ID, "flows").text
    shot("flows")

    browser.get(f"{url}/events")
    listed = browser.find_element(By.ID, "events").text
    assert all(event_id[:12] in listed for event_id in (served.dead_id, served.ok_id, served.unknown_id))
    shot("events")
    if os.environ.get("JOBS_CONNECTOR_DOCS_SCREENSHOT"):
        shutil.copyfile(taken[-1], os.environ["JOBS_CONNECTOR_DOCS_SCREENSHOT"])
    Select(browser.find_element(By.ID, "flow")).select_by_visible_text("device-status")
    Select(browser.find_element(By.ID, "status")).select_by_visible_text("dead")
    Select(browser.find_element(By.ID, "since")).select_by_visible_text("last 15 minutes")
    browser.find_element(By.ID, "filter").click()
    until(seen.url_contains("status=dead"))
    assert "status=dead" in browser.current_url and "flow=device-status" in browser.current_url
    listed = browser.find_element(By.ID, "events").text
    assert served.dead_id[:12] in listed and served.unknown_id[:12] in listed and served.ok_id[:12] not in listed
    shot("dead-events")

    browser.find_element(By.LINK_TEXT, served.dead_id[:12]).click()
    until(seen.url_to_be(f"{url}/events/{served.dead_id}"))
    assert browser.find_element(By.ID, "status").text == "dead"
    assert "VersionConflictException" in browser.find_element(By.ID, "error").text
    assert "7f1c2a9e-demo-request-0001" in browser.find_element(By.ID, "summary").text
    shot("dead-event")
    before = len(loopback.requests)
    browser.find_element(By.ID, "retry").click()  # "Retry from step 2"
    until(seen.presence_of_element_located((By.ID, "results")))
    assert "queued again; it resumes at step 2" in browser.find_element(By.ID, "results").text
    shot("retried")

    browser.find_element(By.LINK_TEXT, served.dead_id).click()
    until(seen.presence_of_element_located((By.ID, "summary")))
    deadline = time.monotonic() + 15
    while browser.find_element(By.ID, "status").text != "succeeded":
        assert time.monotonic() < deadline, "the retried event did not succeed"
        time.sleep(0.1)
        browser.refresh()
    assert "SUCCEEDED" in browser.find_element(By.ID, "steps").text  # step 2's answer, the target's 200
    shot("succeeded")
    assert [r.method for r in loopback.requests[before:]] == ["POST"]  # step 1 was not run again
    assert served.store.get(served.unknown_id).status == "dead"  # never touched
    with capsys.disabled():
        print(f"\nconsole screenshots: {', '.join(str(p) for p in taken)}")
    assert all(p.stat().st_size > 5000 for p in taken)
