"""A fake of the platform's object storage on 127.0.0.1, for the runner's lightweight-message tests."""

from __future__ import annotations

from jobs_connector.sailor.crypto import MessageCipher
from tests.support.loopback import LoopbackServer, Reply

STORE_TOKEN = "test-object-storage-token-not-real"


class FakeObjectStore:
    """The platform's object storage on 127.0.0.1: GET /objects/{id} answers the stored (encrypted) body."""

    def __init__(self, cipher: MessageCipher):
        self.cipher = cipher  # the step's message cipher: objects are sealed with it
        self.objects: dict[str, bytes] = {}
        self.faults: list = []  # Replies (or None: close without answering) served before the objects
        self.server = LoopbackServer(default=self.route)

    def put(self, object_id: str, value) -> None:
        # As Node's uploader: JSON through the message cipher, raw bytes (no base64)
        self.objects[object_id] = self.cipher.encode(value, 2)

    def route(self, request):
        if self.faults:
            fault = self.faults.pop(0)
            return fault(request) if callable(fault) else fault
        if request.headers.get("Authorization") != f"Bearer {STORE_TOKEN}":
            return Reply(401, {"message": "unauthorized"})
        name = request.path.removeprefix("/objects/")
        if request.path.startswith("/objects/") and name in self.objects:
            return Reply(200, self.objects[name], {"Content-Type": "application/octet-stream"})
        return Reply(404, {"message": "object not found"})

    @property
    def requests(self):
        return self.server.requests


def store_env(store: FakeObjectStore, **extra) -> dict:
    return {"ELASTICIO_OBJECT_STORAGE_URI": store.server.url, "ELASTICIO_OBJECT_STORAGE_TOKEN": STORE_TOKEN, **extra}
