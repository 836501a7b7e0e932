"""What an action module (actions/<service>/<Operation>.py) or a trigger module (lib/triggers/<kind>.py) may
import: the one documented surface between an operation's declarations and the runtime. Anything not named
here is the runtime's own business and may move; docs/architecture.md says how to add an action or a trigger.

Declarations an action module may set are listed in jobs_connector.component.spec (checked when it loads).
"""

from __future__ import annotations

from jobs_connector.base.errors import BadInput, Conflict
from jobs_connector.base.jsonsafe import check_answer
from jobs_connector.component.job_progress import changes, process_details, progress
from jobs_connector.component.paging import Cursor, Offset
from jobs_connector.component.registry import get_action
from jobs_connector.component.services import SERVICES
from jobs_connector.http.binding import Signing
from jobs_connector.http.protocols import (
    FloatReader,
    HttpRequest,
    build_request,
    encode_query,
    header_value,
    parse_json,
)
from jobs_connector.mqtt import jobs_client as mqtt_jobs_client
from jobs_connector.mqtt.topics import NOTIFY, NOTIFY_NEXT, answer_body, jobs_topic
from jobs_connector.triggers.snapshot import Item, epoch_of

__all__ = [
    # errors an operation raises itself
    "BadInput", "Conflict",
    # paging declarations (PAGING = Cursor(...) / Offset(...))
    "Cursor", "Offset",
    # an action bound per call (BINDING): its service, signing and request
    "SERVICES", "Signing", "HttpRequest", "build_request", "encode_query", "header_value", "parse_json",
    "FloatReader", "check_answer", "get_action",
    # IoT job progress, shared by iot.WatchJobProgress and the iot.jobProgressChanged trigger
    "changes", "process_details", "progress",
    # trigger modules: what a listing yields
    "Item", "epoch_of",
    # push triggers over MQTT (iot-jobs-data.jobNotification)
    "mqtt_jobs_client", "NOTIFY", "NOTIFY_NEXT", "answer_body", "jobs_topic",
]
