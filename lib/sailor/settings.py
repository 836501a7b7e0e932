"""The platform's settings, read from the `ELASTICIO_*` environment the platform gives the container.

Which variables are required, and the defaults of the optional ones, follow the elastic.io sailors:
always the ids of the flow, step, execution, container, workspace, user and component, the function
(our action key) and the platform API's address and key; for message processing (every run except the
shutdown hook) also the AMQP URI, the queue and exchange, the four routing keys and the message cipher's
password and IV. A missing or malformed variable stops the runner before it connects anywhere, with a
message naming every variable at fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs_connector.base.errors import ConfigurationError

PREFIX = "ELASTICIO_"

REQUIRED_ALWAYS = ("FLOW_ID", "EXEC_ID", "STEP_ID", "CONTAINER_ID", "WORKSPACE_ID", "USER_ID", "COMP_ID",
                   "FUNCTION", "API_URI", "API_USERNAME", "API_KEY")
REQUIRED_FOR_MESSAGES = ("AMQP_URI", "LISTEN_MESSAGES_ON", "PUBLISH_MESSAGES_TO", "DATA_ROUTING_KEY",
                         "ERROR_ROUTING_KEY", "REBOUND_ROUTING_KEY", "SNAPSHOT_ROUTING_KEY",
                         "MESSAGE_CRYPTO_IV", "MESSAGE_CRYPTO_PASSWORD")
SERVICE_METHODS = ("verifyCredentials", "getMetaModel", "selectModel")
IV_BYTES = 16  # AES block size: the IV is the variable's UTF-8 bytes, as the sailors use it


class SettingsError(ConfigurationError):
    """The environment does not describe a step the runner can serve."""


class _Reader:
    """Reads typed values and collects every problem, so one message names them all."""

    def __init__(self, environ: Mapping):
        self.environ = environ
        self.missing: list[str] = []
        self.invalid: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.environ.get(PREFIX + name)
        return value if value else None

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            self.missing.append(PREFIX + name)
            return ""
        return value

    def integer(self, name: str, default: int | None, minimum: int = 0) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        if value.strip().lower() in ("infinity", "inf") and default is None:
            return None
        try:
            number = int(value)
        except ValueError:
            self.invalid.append(f"{PREFIX}{name} must be a whole number (got {value[:20]!r})")
            return default
        if number < minimum:
            self.invalid.append(f"{PREFIX}{name} must be at least {minimum}")
            return default
        return number

    def flag(self, name: str, default: bool = False) -> bool:
        # As the Node.js sailor: unset -> the default; '' or 'false' -> false; anything else -> true.
        if PREFIX + name not in self.environ:
            return default
        value = self.environ[PREFIX + name]
        return bool(value) and value != "false"

    def fail_if_any(self, what: str) -> None:
        problems = []
        if self.missing:
            problems.append("missing " + ", ".join(self.missing))
        problems += self.invalid
        if problems:
            field_name = (self.missing or [""])[0] or None
            raise SettingsError(f"cannot {what}: " + "; ".join(problems)
                                + " (the platform sets these when it starts the component)",
                                field=field_name, rule="required" if self.missing else "invalid")


def _additional_headers(environ: Mapping) -> dict[str, str]:
    """ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS: more variables to copy into every outgoing message's
    headers, named in camelCase without the prefix (ELASTICIO_TASK_USER_EMAIL -> taskUserEmail)."""
    names = environ.get(PREFIX + "ADDITIONAL_VARS_FOR_HEADERS") or ""
    out = {}
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        key = name[len(PREFIX):] if name.startswith(PREFIX) else name
        out[camel_case(key)] = environ.get(name)
    return out


def camel_case(name: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    return "".join(w.lower() if i == 0 else w[:1].upper() + w[1:].lower() for i, w in enumerate(words))


@dataclass(frozen=True)
class Settings:
    """What the step runner needs; secrets are kept out of repr()."""

    flow_id: str
    exec_id: str
    step_id: str
    container_id: str
    workspace_id: str
    user_id: str
    comp_id: str
    function: str
    api_uri: str
    api_username: str
    api_key: str = field(repr=False)
    amqp_uri: str = field(default="", repr=False)
    listen_messages_on: str = ""
    publish_messages_to: str = ""
    data_routing_key: str = ""
    error_routing_key: str = ""
    rebound_routing_key: str = ""
    snapshot_routing_key: str = ""
    crypto_password: str = field(default="", repr=False)
    crypto_iv: str = field(default="", repr=False)
    rebound_initial_expiration: int = 15000  # ms; doubled on each rebound
    rebound_limit: int = 20
    prefetch: int = 1
    protocol_version: int = 1  # of the data messages we publish: 1 base64 text, 2 raw bytes
    hook_shutdown: bool = False
    startup_required: bool = False
    no_self_passthrough: bool = False
    no_error_replies: bool = False
    persistent_messages: bool = False
    outgoing_message_size_limit: int = 10485760
    publish_retry_attempts: int | None = None  # None: keep trying, as the sailors do
    publish_retry_delay: int = 100  # ms
    publish_max_retry_delay: int = 300000  # ms
    reconnect_attempts: int = 3
    reconnect_timeout: int = 100  # ms
    api_retry_attempts: int = 3
    api_retry_delay: int = 100  # ms
    additional_headers: dict = field(default_factory=dict)
    object_storage_uri: str | None = None  # where lightweight messages' bodies are (see object_storage.py)
    object_storage_token: str | None = field(default=None, repr=False)

    @property
    def processes_messages(self) -> bool:
        return not self.hook_shutdown


def read_settings(environ: Mapping) -> Settings:
    """The step runner's settings, or a SettingsError naming every missing or malformed variable."""
    r = _Reader(environ)
    hook_shutdown = bool(environ.get(PREFIX + "HOOK_SHUTDOWN"))
    values = {name.lower(): r.required(name) for name in REQUIRED_ALWAYS}
    if not hook_shutdown:
        for name in REQUIRED_FOR_MESSAGES:
            values[name.lower()] = r.required(name)
    values["crypto_password"] = values.pop("message_crypto_password", "")
    values["crypto_iv"] = values.pop("message_crypto_iv", "")
    if values["crypto_iv"] and len(values["crypto_iv"].encode("utf-8")) != IV_BYTES:
        r.invalid.append(f"{PREFIX}MESSAGE_CRYPTO_IV must be {IV_BYTES} bytes long")
    protocol = r.integer("PROTOCOL_VERSION", 1, minimum=1)
    if protocol not in (1, 2):
        r.invalid.append(f"{PREFIX}PROTOCOL_VERSION must be 1 or 2")
    input_format = r.raw("INPUT_FORMAT") or "default"
    if input_format != "default":
        r.invalid.append(f"{PREFIX}INPUT_FORMAT={input_format!r} is not supported: this component is not an "
                         "error-handling step (only 'default')")
    settings = Settings(
        **values,
        rebound_initial_expiration=r.integer("REBOUND_INITIAL_EXPIRATION", 15000, minimum=1),
        rebound_limit=r.integer("REBOUND_LIMIT", 20),
        prefetch=r.integer("RABBITMQ_PREFETCH_SAILOR", 1, minimum=1),
        protocol_version=protocol if protocol in (1, 2) else 1,
        hook_shutdown=hook_shutdown,
        startup_required=r.flag("STARTUP_REQUIRED"),
        no_self_passthrough=r.flag("NO_SELF_PASSTRHOUGH"),  # sic: the platform's spelling
        no_error_replies=r.flag("NO_ERROR_REPLIES"),
        persistent_messages=r.flag("AMQP_PERSISTENT_MESSAGES"),
        outgoing_message_size_limit=r.integer("OUTGOING_MESSAGE_SIZE_LIMIT", 10485760, minimum=1),
        publish_retry_attempts=r.integer("AMQP_PUBLISH_RETRY_ATTEMPTS", None),
        publish_retry_delay=r.integer("AMQP_PUBLISH_RETRY_DELAY", 100),
        publish_max_retry_delay=r.integer("AMQP_PUBLISH_MAX_RETRY_DELAY", 300000),
        reconnect_attempts=r.integer("AMQP_RECONNECT_ATTEMPTS", 3),
        reconnect_timeout=r.integer("AMQP_RECONNECT_TIMEOUT", 100),
        api_retry_attempts=r.integer("API_REQUEST_RETRY_ATTEMPTS", 3),
        api_retry_delay=r.integer("API_REQUEST_RETRY_DELAY", 100),
        additional_headers=_additional_headers(environ),
        object_storage_uri=r.raw("OBJECT_STORAGE_URI"),
        object_storage_token=r.raw("OBJECT_STORAGE_TOKEN"),
    )
    r.fail_if_any("start the step")
    return settings


@dataclass(frozen=True)
class ServiceSettings:
    """What a service call (verifyCredentials, getMetaModel, selectModel) needs."""

    method: str
    post_result_url: str = field(repr=False)  # may carry basic-auth credentials
    cfg: dict = field(repr=False)
    action_or_trigger: str | None = None
    get_model_method: str | None = None
    api_retry_attempts: int = 3
    api_retry_delay: int = 100


def post_result_url(environ: Mapping) -> str:
    """Where a service call's answer goes; without it there is nobody to tell, so it is checked first."""
    url = environ.get(PREFIX + "POST_RESULT_URL")
    if not url:
        raise SettingsError(f"cannot answer a service call: missing {PREFIX}POST_RESULT_URL",
                            field=PREFIX + "POST_RESULT_URL", rule="required")
    return url


def read_service_settings(environ: Mapping, method: str) -> ServiceSettings:
    """As the sailors: ELASTICIO_POST_RESULT_URL and ELASTICIO_CFG always; ELASTICIO_ACTION_OR_TRIGGER for
    the metadata calls; ELASTICIO_GET_MODEL_METHOD for selectModel."""
    url = post_result_url(environ)
    r = _Reader(environ)
    if method not in SERVICE_METHODS:
        r.invalid.append(f"unknown service method {method!r} (one of {', '.join(SERVICE_METHODS)})")
    cfg_text = r.required("CFG")
    cfg: dict = {}
    if cfg_text:
        try:
            cfg = json.loads(cfg_text)
        except ValueError:
            r.invalid.append(f"{PREFIX}CFG is not valid JSON")
        if not isinstance(cfg, dict):
            r.invalid.append(f"{PREFIX}CFG must be a JSON object")
            cfg = {}
    action = r.required("ACTION_OR_TRIGGER") if method in ("getMetaModel", "selectModel") else None
    model_method = r.required("GET_MODEL_METHOD") if method == "selectModel" else None
    settings = ServiceSettings(method, url, cfg, action or None, model_method or None,
                               r.integer("API_REQUEST_RETRY_ATTEMPTS", 3), r.integer("API_REQUEST_RETRY_DELAY", 100))
    r.fail_if_any(f"run {method}")
    return settings
