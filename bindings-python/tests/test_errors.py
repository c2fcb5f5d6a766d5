"""Every shared error code reachable from Python, with the exception class of its family."""

from __future__ import annotations

import copy
import pickle
from typing import Callable

import pytest
import xnonce
from serving import refused_port

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
TS = 1_700_000_000_000

FAMILY = {
    "input": xnonce.InputError,
    "format": xnonce.FormatError,
    "auth": xnonce.AuthError,
    "route": xnonce.RouteError,
    "unavailable": xnonce.UnavailableError,
}


def family_of(code: str) -> str:
    if code.startswith("invalid_"):
        return "input"
    if code.startswith("malformed_") or code in ("missing_header", "unsupported_scheme"):
        return "format"
    if code in ("unknown_client", "signature_mismatch", "expired", "replayed"):
        return "auth"
    if code in ("missing_param", "excluded_param", "unknown_route"):
        return "route"
    return "unavailable"


def sign2(**kw: object) -> str:
    args: dict[str, object] = {"timestamp": TS, "host": "api.test", **kw}
    return xnonce.sign("v2", "GET", "/c/a", {}, "svc", SECRET, **args)  # type: ignore[arg-type]


def verify(target: str = "/c/a", once: bool = False, **kw: object) -> None:
    ver = xnonce.Verifier({"svc": SECRET})
    args: dict[str, object] = {"host": "api.test", "now": TS, **kw}
    ver.verify("GET", target, **args)  # type: ignore[arg-type]
    if once:
        ver.verify_once("GET", target, **args)  # type: ignore[arg-type]
        ver.verify_once("GET", target, **args)  # type: ignore[arg-type]


def request_to_a_refused_port() -> object:
    # Bound, not listening, during the request: refused, and no other process can take it.
    with refused_port() as port:
        api = xnonce.Requester(f"http://127.0.0.1:{port}", "svc", SECRET, timeout=5)
        return api.make_request("GET", {}, "/c/a")


# How each code is reached through the public API (no test hooks).
TRIGGERS: dict[str, Callable[[], object]] = {
    "invalid_client_id": lambda: xnonce.sign("v1", "GET", "/c/a", {}, "bad client", SECRET),
    "invalid_param_key": lambda: xnonce.sign("v1", "GET", "/c/a", {"a b": "1"}, "svc", SECRET),
    "invalid_param_value": lambda: xnonce.sign("v1", "GET", "/c/a", {"a": None}, "svc", SECRET),  # type: ignore[dict-item]
    "invalid_secret": lambda: xnonce.sign("v2", "GET", "/c/a", {}, "svc", "not-hex", host="h"),
    "invalid_method": lambda: xnonce.sign("v1", "G3T", "/c/a", {}, "svc", SECRET),
    "invalid_path": lambda: xnonce.sign("v1", "GET", "c/a", {}, "svc", SECRET),
    "invalid_host": lambda: xnonce.sign("v2", "GET", "/c/a", {}, "svc", SECRET),
    "invalid_nonce": lambda: sign2(nonce="xyz"),
    "invalid_timestamp": lambda: sign2(timestamp=2**60),
    "invalid_body": lambda: xnonce.sign("v1", "POST", "/c/a", {}, "svc", SECRET, body=b"x"),
    "invalid_url": lambda: xnonce.link("v1", "GET", "/c/a", {}, "svc", SECRET, "ftp://x"),
    "malformed_header": lambda: xnonce.parse_header("v2 nope"),
    "malformed_ottoken": lambda: xnonce.ottoken_decode("!!"),
    "malformed_params": lambda: verify("/c/a?a=%zz", x_nonce=sign2()),
    "missing_header": lambda: verify(),
    "unsupported_scheme": lambda: xnonce.sign("v3", "GET", "/c/a", {}, "svc", SECRET),
    "unknown_client": lambda: verify(
        x_nonce=xnonce.sign("v2", "GET", "/c/a", {}, "who", SECRET, host="api.test", timestamp=TS)
    ),
    "signature_mismatch": lambda: verify("/c/a?x=1", x_nonce=sign2()),
    "expired": lambda: verify(x_nonce=sign2(timestamp=TS - 60_000)),
    "replayed": lambda: verify(once=True, x_nonce=sign2()),
    "connection_failed": request_to_a_refused_port,
}
# Raised by servers only (route rules, replay stores); reached from Python through the codes
# a v2 server puts in its JSON problem bodies, mapped by `error_from_code` (see test_live.py).
SERVER_SIDE = {
    "missing_param",
    "excluded_param",
    "unknown_route",
    "store_unavailable",
    "rate_limited",
}


def test_every_code_is_covered() -> None:
    assert set(xnonce.ERROR_CODES) == set(TRIGGERS) | SERVER_SIDE


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_code_is_raised_with_its_family_class(code: str) -> None:
    with pytest.raises(xnonce.XNonceError) as e:
        TRIGGERS[code]()
    err = e.value
    assert err.code == code, str(err)
    assert type(err) is (
        xnonce.InvalidParamValue if code == "invalid_param_value" else FAMILY[family_of(code)]
    )
    assert str(err).startswith(f"{code}: ") and err.message
    assert SECRET not in str(err)


@pytest.mark.parametrize("code", xnonce.ERROR_CODES)
def test_error_from_code_uses_the_same_mapping(code: str) -> None:
    err = xnonce.error_from_code(code, "text")
    assert isinstance(err, FAMILY[family_of(code)]) and isinstance(err, xnonce.XNonceError)
    assert (err.code, err.message, str(err)) == (code, "text", f"{code}: text")
    assert 400 <= err.http_status < 600
    with pytest.raises(ValueError):
        xnonce.error_from_code("no_such_code")


def test_error_from_code_text_utf8_cannot_encode_is_a_value_error() -> None:
    # A message from a problem body decoded by Python's json ("\\ud800") may hold one.
    for code, message in (("replayed", "a\ud800"), ("\ud800", ""), ("replayed\udcff", "m")):
        with pytest.raises(ValueError, match="not valid Unicode text") as e:
            xnonce.error_from_code(code, message)
        assert not isinstance(e.value, UnicodeError)
    with pytest.raises(TypeError):
        xnonce.error_from_code("replayed", None)  # type: ignore[arg-type]
    assert xnonce.error_from_code("replayed").message == ""


def test_class_hierarchy_and_defaults() -> None:
    for cls in FAMILY.values():
        assert issubclass(cls, xnonce.XNonceError) and issubclass(cls, Exception)
    assert issubclass(xnonce.InvalidParamValue, TypeError)
    plain = xnonce.XNonceError("raised by user code")
    assert plain.server_time is None and plain.server_time_mac is None
    assert plain.http_status == 500


@pytest.mark.parametrize("bad", [-1, 2**53, 2**63, 10**30, -(10**30)])
def test_every_out_of_range_timestamp_is_invalid_timestamp(bad: int) -> None:
    calls: list[Callable[[], object]] = [
        lambda: xnonce.sign("v1", "GET", "/c/a", [], "svc", SECRET, timestamp=bad),
        lambda: xnonce.sign_request("v1", "GET", "h", "/c/a", "svc", SECRET, timestamp=bad),
    ]
    if bad < 0 or bad >= 2**63:  # a verifier's clock is refused only where no u64 holds it
        calls.append(lambda: xnonce.Verifier({"svc": SECRET}).verify("GET", "/c/a", now=bad))
    for call in calls:
        with pytest.raises(xnonce.InputError) as e:
            call()
        assert e.value.code == "invalid_timestamp"


def test_a_timestamp_that_is_not_a_number_is_a_type_error() -> None:
    # Numbers that are not ints (1.5, 1.0, True) are `invalid_timestamp`: test_inputs.py.
    for bad in ("1700000000000", [1]):
        with pytest.raises(TypeError, match="timestamp"):
            xnonce.sign("v1", "GET", "/c/a", [], "svc", SECRET, timestamp=bad)  # type: ignore[arg-type]


def test_a_refusal_survives_pickling_and_deepcopy_with_its_answer() -> None:
    """A refusal raised in a worker process (multiprocessing, concurrent.futures, Celery) is
    pickled to reach the parent. The `Answer` it carries could not be pickled, so the parent
    got `TypeError: cannot pickle 'xnonce.Answer' object` instead of the refusal; a stale one's
    answer carries the authenticated server time, which must come through too."""
    verifier = xnonce.Verifier({"svc": SECRET})
    stale = xnonce.sign("v2", "GET", "/c/a", [], "svc", SECRET, host="h", timestamp=TS)
    cases = [("v2 forged", TS, "malformed_header"), (stale, TS + 3_600_000, "expired")]
    v1 = xnonce.sign("v1", "GET", "/c/a", [], "svc", "x" * 40, timestamp=TS)
    cases.append((v1, TS, "signature_mismatch"))
    for x_nonce, now, code in cases:
        with pytest.raises(xnonce.XNonceError) as refused:
            verifier.verify("GET", "/c/a", host="h", x_nonce=x_nonce, now=now)
        for copied in (pickle.loads(pickle.dumps(refused.value)), copy.deepcopy(refused.value)):
            assert type(copied) is type(refused.value) and copied.code == code
            a, b = copied.answer, refused.value.answer
            assert a is not None and b is not None
            assert (a.status, a.content_type, a.headers, a.body_bytes) == (
                b.status,
                b.content_type,
                b.headers,
                b.body_bytes,
            )
    with pytest.raises(ValueError):
        xnonce.Answer._from_parts(400, "text/html", "", None)
