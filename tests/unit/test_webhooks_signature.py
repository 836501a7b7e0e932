import hashlib
import hmac

import pytest

from jobs_connector.webhooks.signatures.jobs_hmac import SignatureError, parse, sign, verify

SECRET = b"test-hook-secret-not-real-0000001"
BODY = b'{"thing":"sensor-1"}'
NOW = 1_800_000_000


def test_sign_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"


def test_good_signature_is_accepted_and_returns_the_digest():
    header = sign(SECRET, BODY, NOW)
    assert verify(SECRET, header, BODY, now=NOW + 10) == header.split("v1=")[1]


@pytest.mark.parametrize("header, message", [
    (None, "missing"),
    ("", "missing"),
    ("v1=" + "a" * 64, "must be t="),
    (f"t={NOW}", "must be t="),
    (f"t=soon,v1={'a' * 64}", "malformed timestamp"),
    (f"t={NOW},v1=XYZ", "malformed v1"),
    (f"t={NOW},t={NOW},v1={'a' * 64}", "malformed timestamp"),
])
def test_missing_or_malformed_header_is_refused(header, message):
    with pytest.raises(SignatureError, match=message):
        verify(SECRET, header, BODY, now=NOW)


def test_wrong_secret_or_changed_body_is_refused():
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, sign(b"another-secret-not-real-00000000", BODY, NOW), BODY, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, sign(SECRET, BODY, NOW), BODY + b" ", now=NOW)


def test_timestamp_is_signed_too():
    header = sign(SECRET, BODY, NOW)
    forged = header.replace(f"t={NOW}", f"t={NOW + 1000}")
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, forged, BODY, now=NOW + 1000)


@pytest.mark.parametrize("skew", [-301, 301, -3600, 86400])
def test_stale_or_future_timestamp_is_refused(skew):
    with pytest.raises(SignatureError, match="replay window"):
        verify(SECRET, sign(SECRET, BODY, NOW), BODY, now=NOW - skew)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamp_inside_the_window_is_accepted(skew):
    verify(SECRET, sign(SECRET, BODY, NOW), BODY, now=NOW + skew)


def test_window_is_configurable():
    header = sign(SECRET, BODY, NOW)
    with pytest.raises(SignatureError, match="30-second replay window"):
        verify(SECRET, header, BODY, now=NOW + 31, tolerance=30)


def test_any_of_several_v1_digests_may_match_for_secret_rotation():
    good = sign(SECRET, BODY, NOW).split("v1=")[1]
    header = f"t={NOW},v1={'0' * 64},v1={good},v0=ignored"
    assert parse(header) == (NOW, ["0" * 64, good])
    assert verify(SECRET, header, BODY, now=NOW) == good


def test_error_messages_never_contain_the_secret_or_expected_digest():
    expected = sign(SECRET, BODY, NOW).split("v1=")[1]
    with pytest.raises(SignatureError) as info:
        verify(SECRET, f"t={NOW},v1={'0' * 64}", BODY, now=NOW)
    assert SECRET.decode() not in str(info.value) and expected not in str(info.value)
