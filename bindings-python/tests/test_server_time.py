"""``xnonce.server_time_from_answer``: core's reading of a stale answer's
``X-Nonce-Server-Time`` hint (PROTOCOL §12, *Client side*), checked against hints computed
here with Python's ``hmac``, independently of the core (v2 and v1, hex and legacy secrets)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import xnonce

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
LEGACY = "correct-horse-battery"
NONCE = "00112233445566778899aabbccddeeff"
TS = 1_700_000_000_000
TOLD = TS + 90_000


def reference_hint(secret: str, client: str, request_id: str, ms: int) -> str:
    """``X-Nonce-Server-Time`` as PROTOCOL §12 defines it, with Python's ``hmac``: key = the
    32 bytes of a 64-hex secret, else the secret's UTF-8 text."""
    hex_secret = len(secret) == 64 and all(c in "0123456789abcdefABCDEF" for c in secret)
    key = bytes.fromhex(secret) if hex_secret else secret.encode()
    message = f"XNONCE-TIME\n{client}\n{request_id}\n{ms}".encode()
    return f"{ms} {hmac.new(key, message, hashlib.sha256).hexdigest()}"


def sent_v2(secret: str = SECRET, client: str = "svc", nonce: str = NONCE) -> str:
    return xnonce.sign(
        "v2", "GET", "/c/a", [], client, secret, timestamp=TS, nonce=nonce, host="api.test"
    )


def sent_v1(secret: str) -> tuple[str, str]:
    """A v1 header and its request id, the token (read off the header as sent)."""
    sent = xnonce.sign("v1", "GET", "/c/a", {"q": "1"}, "svc", secret, timestamp=TS)
    token, client, ts = sent.split(" ")
    assert (client, ts) == ("svc", str(TS))
    return sent, token


CASES = [
    pytest.param(SECRET, sent_v2(), NONCE, id="v2"),
    pytest.param(SECRET, *sent_v1(SECRET), id="v1-hex-secret"),
    pytest.param(LEGACY, *sent_v1(LEGACY), id="v1-legacy-secret"),
]


@pytest.mark.parametrize(("secret", "sent", "request_id"), CASES)
def test_an_answer_tells_the_time_only_for_an_authentic_stale_401(
    secret: str, sent: str, request_id: str
) -> None:
    own = reference_hint(secret, "svc", request_id, TOLD)
    told = xnonce.server_time_from_answer
    assert told(401, own, sent, secret) == TOLD
    assert told(401, own, sent, xnonce.Secret(secret)) == TOLD
    # Another status, also one no HTTP status can be.
    for status in (200, 400, 403, 409, 503, 0, -1, 401 + 65536, 2**70):
        assert told(status, own, sent, secret) is None, status
    # Another secret (of the same form), another request, another client, another time.
    other_secret = "00" * 32 if secret == SECRET else "correct-horse-staple"
    assert told(401, own, sent, other_secret) is None
    assert told(401, reference_hint(other_secret, "svc", request_id, TOLD), sent, secret) is None
    assert told(401, reference_hint(secret, "svc", "ff" * 16, TOLD), sent, secret) is None
    assert told(401, reference_hint(secret, "other", request_id, TOLD), sent, secret) is None
    ms, mac = own.split(" ")
    assert told(401, f"{int(ms) + 1} {mac}", sent, secret) is None
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    assert told(401, f"{ms} {flipped}", sent, secret) is None
    # No hint, or one that does not parse; `sent` that is no X-Nonce value.
    for hint in (None, "", own.upper(), own + " x", f"0{own}", mac, "\udcff"):
        assert told(401, hint, sent, secret) is None, hint
    assert told(401, own, "not a header", secret) is None
    assert told(401, own, sent + "\udcff", secret) is None


def test_the_request_id_of_v1_is_its_token_and_of_v2_its_nonce() -> None:
    # A v2 hint made for the signature (not the nonce) tells nothing, nor a v1 one for the
    # timestamp.
    sent = sent_v2()
    signature = sent.split(" ")[4]
    assert (
        xnonce.server_time_from_answer(
            401, reference_hint(SECRET, "svc", signature, TOLD), sent, SECRET
        )
        is None
    )
    v1, token = sent_v1(LEGACY)
    assert (
        xnonce.server_time_from_answer(
            401, reference_hint(LEGACY, "svc", str(TS), TOLD), v1, LEGACY
        )
        is None
    )
    assert (
        xnonce.server_time_from_answer(401, reference_hint(LEGACY, "svc", token, TOLD), v1, LEGACY)
        == TOLD
    )


def test_server_time_from_answer_checks_its_arguments_as_everywhere() -> None:
    own = reference_hint(SECRET, "svc", NONCE, TOLD)
    # A bad secret is the InputError every signer raises, whatever the answer; never echoed.
    for status in (401, 200):
        with pytest.raises(xnonce.InputError) as e:
            xnonce.server_time_from_answer(status, own, sent_v2(), "  ")
        assert e.value.code == "invalid_secret"
    with pytest.raises(xnonce.InputError) as e:
        xnonce.server_time_from_answer(401, own, sent_v2(), "hunter2\udcffzebra")
    assert e.value.code == "invalid_secret"
    assert "hunter2" not in str(e.value) and "zebra" not in str(e.value)
    with pytest.raises(TypeError, match="status"):
        xnonce.server_time_from_answer("401", own, sent_v2(), SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="status"):
        xnonce.server_time_from_answer(401.0, own, sent_v2(), SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="hint"):
        xnonce.server_time_from_answer(401, own.encode(), sent_v2(), SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sent"):
        xnonce.server_time_from_answer(401, own, None, SECRET)  # type: ignore[arg-type]
    assert "server_time_from_answer" in xnonce.__all__
