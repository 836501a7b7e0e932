"""The extension point for an action that is not one modelled operation (http.Request): its module declares
`BINDING`, an object with the methods below, and the runtime asks it instead of the module's static
declarations (METHOD, PATH, QUERY, IDEMPOTENT, the action's service). Everything else stays the runtime's:
validation of the input schema, the endpoint policy, signing, the transport's retry rules and size bound,
redaction, typed errors. Only 2xx answers reach `answer`; error answers are typed errors as for any action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .record import Frozen

if TYPE_CHECKING:
    from .protocols import HttpRequest
    from .services import AwsService, TokenService
    from .transport import Answer


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
