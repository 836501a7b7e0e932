"""serve --traces: one OpenTelemetry span per event attempt and one per step inside it, given to the SDK's tracer
provider with an in-memory exporter, over real HTTP; ids and names only, never a body or an error's text.
Without the flag, opentelemetry is not imported (tests/integration/test_lazy_loading.py)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from jobs_connector.webhooks import tracing
from tests.support.loopback import Reply
from tests.support.webhooks import InProcess, flow

DESCRIBE = "iot-jobs-data.DescribeJobExecution"
EXECUTION = {"execution": {"jobId": "fw-42", "thingName": "sensor-1", "status": "IN_PROGRESS", "versionNumber": 4}}


@pytest.fixture
def exporter(monkeypatch):
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    original = tracing.OtelTracing.__init__
    monkeypatch.setattr(tracing.OtelTracing, "__init__", lambda self: original(self, tracer_provider=provider))
    return spans


def test_an_event_and_its_steps_are_spans_with_ids_and_names_only(tmp_path, aws_env, loopback, monkeypatch, exporter):
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", loopback.url)
    loopback.script += [Reply(200, EXECUTION), Reply(200, EXECUTION),
                        Reply(404, {"message": "no execution sensor-2 secret-ish-text"},
                              {"x-amzn-RequestId": "req-trace-0001"})]
    steps = [{"action": DESCRIBE, "input": {"thingName": "event.thing", "jobId": "event.job"}}] * 2
    server = InProcess(tmp_path, {"flows": [flow("twice", steps)]},
                       runtime=Runtime(Transport(policy=RetryPolicy(max_attempts=1))))
    server.service.settings.traces = True
    with server:
        ok = server.post("twice", {"thing": "sensor-1", "job": "fw-42"})[1]["id"]
        assert server.wait_status(ok, "succeeded", "dead")["status"] == "succeeded"
        dead = server.post("twice", {"thing": "sensor-2", "job": "fw-42"})[1]["id"]
        assert server.wait_status(dead, "succeeded", "dead")["status"] == "dead"
    spans = exporter.get_finished_spans()
    events = {s.attributes["jobs_connector.event_id"]: s for s in spans if s.name == "event twice"}
    assert set(events) == {ok, dead}
    steps_of = {event_id: [s for s in spans if s.name == f"step {DESCRIBE}"
                           and s.parent is not None and s.parent.span_id == span.context.span_id]
                for event_id, span in events.items()}
    assert [s.attributes["jobs_connector.step"] for s in steps_of[ok]] == [1, 2]
    assert all(s.status.status_code != StatusCode.ERROR for s in steps_of[ok])
    [failed] = steps_of[dead]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["jobs_connector.error"] == "NotFound"
    assert failed.attributes["jobs_connector.request_id"] == "req-trace-0001"
    assert len(spans) == 5  # two events, three steps: nothing else
    shown = " ".join(f"{s.name} {dict(s.attributes)} {s.status.description}" for s in spans)
    assert "sensor" not in shown and "secret-ish-text" not in shown


def test_without_the_flag_the_workers_trace_nothing(tmp_path, aws_env, loopback, monkeypatch, exporter):
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", loopback.url)
    loopback.default = Reply(200, EXECUTION)
    step = {"action": DESCRIBE, "input": {"thingName": "event.thing", "jobId": "event.job"}}
    server = InProcess(tmp_path, {"flows": [flow("once", [step])]})
    with server:
        assert server.service.worker.tracing is tracing.OFF
        event_id = server.post("once", {"thing": "sensor-1", "job": "fw-42"})[1]["id"]
        assert server.wait_status(event_id, "succeeded", "dead")["status"] == "succeeded"
    assert len(exporter.get_finished_spans()) == 0
