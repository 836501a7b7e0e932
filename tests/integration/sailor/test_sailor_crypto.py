"""The message cipher against vectors made by independent implementations of the protocol (the
sailors' recipe: key = SHA-256(password), IV = the variable's 16 bytes, AES-256-CBC, PKCS#7, base64 for
protocol version 1): OpenSSL's command line and Node's crypto module, not our own output."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess

import pytest

from jobs_connector.sailor.crypto import DecryptError, MessageCipher

PASSWORD = "testCryptoPassword"
IV = "iv=any16_symbols"

# Made with: printf %s PLAINTEXT | openssl enc -aes-256-cbc -K $(sha256 of PASSWORD) -iv $(hex of IV) -base64 -A
VECTORS = [
    ({"body": {"hello": "world"}}, "axyl/YcFb4wgFzIyJ9McA9xyf/alvd9InmVcpgXq9OA="),
    ({"property1": "B2B_L größere Firmenkunden 25% Rabatt"},
     "0eRtsVlJB1deOPeZhxHbZIgsOHVPb+ZQ+OawNJ8gzP1EwQVUWsfS77F0hzITrhNzGEJbeHfHKGwi4Wv93RKoFQ=="),
    ({"name": "Error", "message": "boom", "stack": "Error: boom"},
     "+PAlXNRj+5HdYNSuw3cyrcwe2/G86AfL5nfMe6TSI1dNkz3kxJXX30D4otEMXimDZRy8Z1MoXHGyDCL0ayRwVg=="),
]


@pytest.fixture
def cipher():
    return MessageCipher(PASSWORD, IV)


@pytest.mark.parametrize(("value", "expected"), VECTORS)
def test_known_vectors_protocol_1(cipher, value, expected):
    assert cipher.encode(value, 1).decode() == expected
    assert cipher.decode(expected.encode(), 1) == value


@pytest.mark.parametrize(("value", "expected"), VECTORS)
def test_protocol_2_is_the_raw_ciphertext(cipher, value, expected):
    raw = cipher.encode(value, 2)
    assert raw == base64.b64decode(expected)
    assert cipher.decode(raw, 2) == value


def test_key_is_sha256_of_the_password():
    # The first vector decrypts with the SHA-256 key, and not with the password's own bytes padded.
    sealed = base64.b64decode(VECTORS[0][1])
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = hashlib.sha256(PASSWORD.encode()).digest()
    plain = Cipher(algorithms.AES(key), modes.CBC(IV.encode())).decryptor().update(sealed)
    assert plain.startswith(b'{"body":{"hello":"world"}}')


def _openssl(args: list[str], data: bytes) -> bytes:
    return subprocess.run(["openssl", "enc", "-aes-256-cbc", *args, "-K", hashlib.sha256(PASSWORD.encode()).hexdigest(),
                           "-iv", IV.encode().hex(), "-base64", "-A"], input=data, capture_output=True,
                          check=True).stdout


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl command line not installed")
def test_round_trip_with_openssl(cipher):
    value = {"body": {"jobs": [{"id": "j-1", "text": "ünïcødé ✓"}], "n": 12}, "headers": {}}
    ours = cipher.encode(value, 1)
    assert json.loads(_openssl(["-d"], ours + b"\n")) == value
    theirs = _openssl([], json.dumps(value).encode())
    assert cipher.decode(theirs.strip(), 1) == value


NODE_SCRIPT = r"""
const crypto = require('crypto');
const [password, iv, mode, text] = process.argv.slice(1);
const key = crypto.createHash('sha256').update(password, 'utf-8').digest();
if (mode === 'encrypt') {
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  process.stdout.write(Buffer.concat([c.update(text), c.final()]).toString('base64'));
} else {
  const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
  process.stdout.write(Buffer.concat([d.update(Buffer.from(text, 'base64')), d.final()]).toString('utf8'));
}
"""


@pytest.mark.skipif(not shutil.which("node"), reason="node not installed")
def test_round_trip_with_node_crypto(cipher):
    value = {"body": {"thingName": "thing-1", "note": "größere"}}

    def node(mode, text):
        return subprocess.run(["node", "-e", NODE_SCRIPT, PASSWORD, IV, mode, text], capture_output=True,
                              check=True, text=True).stdout

    assert json.loads(node("decrypt", cipher.encode(value, 1).decode())) == value
    assert cipher.decode(node("encrypt", json.dumps(value)).encode(), 1) == value


def test_wrong_password_or_garbage_is_refused(cipher):
    other = MessageCipher("another-password", IV)
    with pytest.raises(DecryptError):
        other.decode(VECTORS[0][1].encode(), 1)
    with pytest.raises(DecryptError):
        cipher.decode(b"dsdasdsad", 1)  # not base64 of whole blocks
    with pytest.raises(DecryptError):
        cipher.decode(b"\x00" * 15, 2)


def test_empty_content_is_an_empty_message(cipher):
    assert cipher.decode(b"", 1) == {}


def test_iv_must_be_16_bytes():
    with pytest.raises(ValueError):
        MessageCipher(PASSWORD, "short")
    with pytest.raises(ValueError):
        MessageCipher("", IV)


def test_repr_hides_the_key(cipher):
    assert PASSWORD not in repr(cipher) and "redacted" in repr(cipher)
