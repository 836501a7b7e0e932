"""How a call is bound to HTTP: the runtime asks an action's binding for the service, the signing, the request,
whether repeating is safe and what the answer emits. A modelled operation's binding is `ModelledBinding`, read
from its module's static declarations (METHOD, PATH, QUERY, IDEMPOTENT, the action's service); an action that
is not one modelled operation (http.Request, iot.WatchJobProgress) declares `BINDING`, an object with the same
methods. Everything else stays the runtime's:
validation of the input schema, the endpoint policy, signing, the transport's retry rules and size bound,
redaction, typed errors. Only 2xx answers reach `answer`; error answers are typed errors as for any action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from jobs_connector.base.record import Frozen
from jobs_connector.http.protocols import HttpRequest, build_request, parse_json

if TYPE_CHECKING:
    from jobs_connector.component.registry import Action
    from jobs_connector.component.services import AwsService, TokenService
    from jobs_connector.http.transport import Answer


class Signing(Frozen):
    """Overrides of how an AWS request is signed (None: the service's signing name, the config's region)."""

    __slots__ = _fields = ("name", "region")

    def __init__(self, name: str | None = None, region: str | None = None):
        self._set(name=name, region=region)


class Binding(Protocol):
    def service(self, body: dict) -> AwsService | TokenService:
        """The configured service whose endpoint and credentials this call uses."""

    def signing(self, body: dict) -> Signing:
        """How to sign it, when the service is an AWS one."""

    def request(self, body: dict, base_url: str) -> HttpRequest:
        """The request (unsigned); raise BadInput for what the input schema cannot say."""

    def idempotent(self, body: dict) -> bool:
        """Whether repeating the call after an ambiguous failure is safe."""

    def answer(self, body: dict, answer: Answer) -> tuple[dict, bool]:
        """The emitted message body from a 2xx answer, and whether it may hold a float with an integral value
        (5.0: see protocols.FloatReader); True when unsure."""


_SERVICE_SIGNING = Signing()


class ModelledBinding:
    """The binding of one modelled operation: everything comes from its module's declarations."""

    __slots__ = ("action",)

    def __init__(self, action: Action):
        self.action = action

    def service(self, body: dict) -> AwsService | TokenService:
        return self.action.service

    def signing(self, body: dict) -> Signing:
        return _SERVICE_SIGNING

    def request(self, body: dict, base_url: str) -> HttpRequest:
        return build_request(self.action, body, base_url)

    def idempotent(self, body: dict) -> bool:
        return self.action.safe_to_repeat

    def answer(self, body: dict, answer: Answer) -> tuple[dict, bool]:
        return parse_json(answer.content, answer.status)


def binding_of(action: Action) -> Binding:
    """The action's own BINDING, else the one its declarations make."""
    return action.spec("BINDING") or ModelledBinding(action)
