"""The platform's message cipher, as the elastic.io sailors implement it.

- key: SHA-256 of ELASTICIO_MESSAGE_CRYPTO_PASSWORD (UTF-8), 32 bytes, so AES-256;
- IV: the UTF-8 bytes of ELASTICIO_MESSAGE_CRYPTO_IV (16), the same for every message;
- AES-256-CBC with PKCS#7 padding over the message serialised as compact JSON (UTF-8);
- framing by the message's `protocolVersion` header: 1 (or absent) = the ciphertext as base64 text,
  2 = the raw ciphertext bytes. Error payloads carry their parts as base64 whatever the version.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_BITS = 128


class DecryptError(ValueError):
    """The content is not a message encrypted with this password and IV."""


def to_json(value) -> str:
    # JSON.stringify's form: no spaces, non-ASCII characters as themselves.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class MessageCipher:
    def __init__(self, password: str, iv: str):
        if not password:
            raise ValueError("the message crypto password is empty")
        self._key = hashlib.sha256(password.encode("utf-8")).digest()
        self._iv = iv.encode("utf-8")
        if len(self._iv) != BLOCK_BITS // 8:
            raise ValueError("the message crypto IV must be 16 bytes")

    def __repr__(self) -> str:
        return "MessageCipher(<redacted>)"

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._iv))

    def encrypt(self, plaintext: bytes) -> bytes:
        padder = padding.PKCS7(BLOCK_BITS).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, ciphertext: bytes) -> bytes:
        if not ciphertext or len(ciphertext) % (BLOCK_BITS // 8):
            raise DecryptError("the ciphertext is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(BLOCK_BITS).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise DecryptError("bad padding: wrong password or IV, or not an encrypted message") from None

    # -- whole messages ------------------------------------------------------------------------

    def encode(self, value, protocol_version: int = 1) -> bytes:
        """A JSON value as message content for the given protocol version."""
        sealed = self.encrypt(to_json(value).encode("utf-8"))
        return base64.b64encode(sealed) if protocol_version < 2 else sealed

    def decode(self, content: bytes, protocol_version: int = 1):
        """Message content back to its JSON value; empty content is an empty message."""
        if not content:
            return {}
        if protocol_version < 2:
            try:
                content = base64.b64decode(b"".join(content.split()), validate=True)
            except (binascii.Error, ValueError):
                raise DecryptError("the content is not base64 (protocol version 1)") from None
        plaintext = self.decrypt(content)
        try:
            return json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise DecryptError("the decrypted content is not JSON") from None

    def encode_base64_text(self, value) -> str:
        """The framing of error payloads: base64 of the ciphertext, as text."""
        return self.encode(value, 1).decode("ascii")
