"""Text that UTF-8 cannot encode, timestamps that are not ints, and secrets kept out of sight.

A `str` with a lone surrogate (e.g. a stray byte read through `os.environ`, which decodes with
`surrogateescape`) is refused with the code of the input it was given as, and the message
(and `repr`) never holds the text: for a secret that would leak it.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
from typing import Any, Callable

import pytest
import requests
import xnonce
import xnonce.httpx
import xnonce.requests

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
# What os.environ gives for XNONCE_SECRET=<secret with a stray \xff byte>.
BAD_SECRET = SECRET[:-2] + "\udcff"
LONE = "a\udcffb"
TS = 1_700_000_000_000
HEADER = xnonce.sign("v2", "GET", "/c/a", {}, "svc", SECRET, host="h", timestamp=TS)


def v2(**kw: Any) -> Callable[[], object]:
    args: dict[str, Any] = {
        "scheme": "v2",
        "method": "GET",
        "path": "/c/a",
        "params": {},
        "client": "svc",
        "secret": SECRET,
        "host": "h",
        **kw,
    }
    return lambda: xnonce.sign(**args)


def verify(**kw: Any) -> Callable[[], object]:
    secrets = kw.pop("secrets", {"svc": SECRET})
    args: dict[str, Any] = {"host": "h", "x_nonce": HEADER, "now": TS, **kw}
    method, target = args.pop("method", "GET"), args.pop("target", "/c/a")
    return lambda: xnonce.Verifier(secrets).verify(method, target, **args)


def request(*, ctor: dict[str, Any] | None = None, **kw: Any) -> Callable[[], object]:
    args: dict[str, Any] = {"method": "GET", "params": {}, "path": "/c/a", **kw}
    c: dict[str, Any] = {"server": "http://127.0.0.1:9", "client": "svc", "secret": SECRET}
    c.update(ctor or {})
    return lambda: xnonce.Requester(**c).make_request(**args)


LONE_SURROGATES: dict[str, tuple[Callable[[], object], str]] = {
    "param value": (v2(params={"k": LONE}), "invalid_param_value"),
    "param value in pairs": (v2(params=[("k", LONE)]), "invalid_param_value"),
    "param key": (v2(params={LONE: "v"}), "invalid_param_key"),
    "param key in pairs": (v2(params=[(LONE, "v")]), "invalid_param_key"),
    "body": (v2(body=LONE), "invalid_body"),
    "path": (v2(path="/c/" + LONE), "invalid_path"),
    "client": (v2(client=LONE), "invalid_client_id"),
    "secret": (v2(secret=BAD_SECRET), "invalid_secret"),
    "host": (v2(host=LONE), "invalid_host"),
    "nonce": (v2(nonce=LONE), "invalid_nonce"),
    "method": (v2(method=LONE), "invalid_method"),
    "scheme": (v2(scheme=LONE), "unsupported_scheme"),
    "sign_detailed secret": (
        lambda: xnonce.sign_detailed("v1", "GET", "/c/a", {}, "svc", BAD_SECRET),
        "invalid_secret",
    ),
    "link secret": (
        lambda: xnonce.link("v2", "GET", "/c/a", {}, "svc", BAD_SECRET, "http://h"),
        "invalid_secret",
    ),
    "link base_url": (
        lambda: xnonce.link("v2", "GET", "/c/a", {}, "svc", SECRET, "http://" + LONE),
        "invalid_url",
    ),
    "sign_request secret": (
        lambda: xnonce.sign_request("v2", "GET", "h", "/c/a", "svc", BAD_SECRET),
        "invalid_secret",
    ),
    "sign_request target": (
        lambda: xnonce.sign_request("v2", "GET", "h", "/c/a?" + LONE, "svc", SECRET),
        "invalid_path",
    ),
    "sign_request content_type": (
        lambda: xnonce.sign_request("v2", "POST", "h", "/c/a", "svc", SECRET, content_type=LONE),
        "invalid_body",
    ),
    "verifier secret": (verify(secrets={"svc": BAD_SECRET}), "invalid_secret"),
    "verifier secret list": (verify(secrets={"svc": [BAD_SECRET, SECRET]}), "invalid_secret"),
    "verifier x_nonce": (verify(x_nonce=LONE), "malformed_header"),
    "verifier target": (verify(target="/c/" + LONE), "invalid_path"),
    "verifier host": (verify(host=LONE), "invalid_host"),
    "verifier method": (verify(method=LONE), "invalid_method"),
    "verifier body": (verify(body=LONE), "invalid_body"),
    "verifier content_type": (verify(content_type=LONE, body=b"x"), "invalid_body"),
    "Verifier controller_windows": (
        lambda: xnonce.Verifier({"svc": SECRET}, controller_windows={LONE: 5}),
        "invalid_path",
    ),
    "Verifier action_windows": (
        lambda: xnonce.Verifier({"svc": SECRET}, action_windows={"c/" + LONE: 5}),
        "invalid_path",
    ),
    "Verifier action_windows controller": (
        lambda: xnonce.Verifier({"svc": SECRET}, action_windows={(LONE, "a"): 5}),
        "invalid_path",
    ),
    "Verifier action_windows action": (
        lambda: xnonce.Verifier({"svc": SECRET}, action_windows={("c", LONE): 5}),
        "invalid_path",
    ),
    "Verifier schemes": (
        lambda: xnonce.Verifier({"svc": SECRET}, schemes=[LONE]),
        "unsupported_scheme",
    ),
    "Verifier routes controller": (
        lambda: xnonce.Verifier({"svc": SECRET}, routes={LONE: {"a_get": {}}}),
        "invalid_path",
    ),
    "Verifier routes key": (
        lambda: xnonce.Verifier({"svc": SECRET}, routes={"c": {LONE: {}}}),
        "invalid_path",
    ),
    "Verifier routes param": (
        lambda: xnonce.Verifier({"svc": SECRET}, routes={"c": {"a_get": {LONE: "req"}}}),
        "invalid_param_key",
    ),
    "Verifier routes rule": (
        lambda: xnonce.Verifier({"svc": SECRET}, routes={"c": {"a_get": {"x": LONE}}}),
        "invalid_param_value",
    ),
    "Requester secret": (request(ctor={"secret": BAD_SECRET}), "invalid_secret"),
    "Requester server": (request(ctor={"server": "http://" + LONE}), "invalid_url"),
    "Requester client": (request(ctor={"client": LONE}), "invalid_client_id"),
    "Requester method": (request(method=LONE), "invalid_method"),
    "Requester path": (request(path="/c/" + LONE), "invalid_path"),
    "Requester controller": (request(controller=LONE), "invalid_path"),
    "Requester params": (request(params={"k": LONE}), "invalid_param_value"),
    "Requester options nonce": (request(options={"nonce": LONE}), "invalid_nonce"),
    "Requester options extra_params": (
        request(options={"extra_params": {LONE: "1"}}),
        "invalid_param_key",
    ),
    "Requester options extra_params value": (
        request(options={"extra_params": {"e": LONE}}),
        "invalid_param_value",
    ),
    "Requester options headers name": (
        request(options={"headers": [(LONE, "v")]}),
        "invalid_param_key",
    ),
    "Requester options headers value": (
        request(options={"headers": {"X-Note": LONE}}),
        "invalid_param_value",
    ),
    "Requester options json": (request(options={"json": {"s": LONE}}), "invalid_body"),
    "AsyncRequester secret": (
        lambda: xnonce.AsyncRequester("http://127.0.0.1:9", "svc", BAD_SECRET),
        "invalid_secret",
    ),
    "AsyncRequester path": (
        lambda: asyncio.run(_async_request(path="/c/" + LONE)),
        "invalid_path",
    ),
    "Secret": (lambda: xnonce.Secret(BAD_SECRET), "invalid_secret"),
    "requests adapter secret": (
        lambda: xnonce.requests.XNonceAuth("svc", BAD_SECRET),
        "invalid_secret",
    ),
    "httpx adapter secret": (
        lambda: xnonce.httpx.XNonceAuth("svc", BAD_SECRET),
        "invalid_secret",
    ),
    "requests adapter client": (
        lambda: requests.Request(
            "GET", "http://h/c/a", auth=xnonce.requests.XNonceAuth(LONE, SECRET)
        ).prepare(),
        "invalid_client_id",
    ),
    "parse_header": (lambda: xnonce.parse_header(LONE), "malformed_header"),
    "ottoken_decode": (lambda: xnonce.ottoken_decode(LONE), "malformed_ottoken"),
}


# How core names each input in the message, the same words in every language.
NAMED: dict[str, str] = {
    "param value": 'param "k"',
    "param value in pairs": 'param "k"',
    "param key": "a param key",
    "param key in pairs": "a param key",
    "body": "the body",
    "path": "the path",
    "client": "the client id",
    "secret": "the secret",
    "host": "the host",
    "nonce": "the nonce",
    "method": "the method",
    "scheme": "the scheme",
    "sign_detailed secret": "the secret",
    "link secret": "the secret",
    "link base_url": "the base URL",
    "sign_request secret": "the secret",
    "sign_request target": "the target",
    "sign_request content_type": "the content type",
    "verifier secret": "a secret",
    "verifier secret list": "a secret",
    "verifier x_nonce": "the X-Nonce header",
    "verifier target": "the target",
    "verifier host": "the host",
    "verifier method": "the method",
    "verifier body": "the body",
    "verifier content_type": "the content type",
    "Verifier controller_windows": "a controller window's controller",
    "Verifier action_windows": "an action window's controller/action",
    "Verifier action_windows controller": "an action window's controller",
    "Verifier action_windows action": "an action window's action",
    "Verifier schemes": "a scheme",
    "Verifier routes controller": "a route's controller",
    "Verifier routes key": "a route's action_method key",
    "Verifier routes param": "the param of a route rule",
    "Verifier routes rule": "a route rule",
    "Requester secret": "the secret",
    "Requester server": "the server URL",
    "Requester client": "the client id",
    "Requester method": "the method",
    "Requester path": "the path",
    "Requester controller": "the controller",
    "Requester params": 'param "k"',
    "Requester options nonce": "the nonce",
    "Requester options extra_params": "an extra param key",
    "Requester options extra_params value": 'extra param "e"',
    "Requester options headers name": "a header name",
    "Requester options headers value": 'header "X-Note"',
    "Requester options json": "the JSON body",
    "AsyncRequester secret": "the secret",
    "AsyncRequester path": "the path",
    "Secret": "the secret",
    "requests adapter secret": "the secret",
    "httpx adapter secret": "the secret",
    "requests adapter client": "the client id",
    "parse_header": "the X-Nonce header",
    "ottoken_decode": "the ottoken",
}


async def _async_request(**kw: Any) -> object:
    api = xnonce.AsyncRequester("http://127.0.0.1:9", "svc", SECRET)
    return await api.make_request(kw.pop("method", "GET"), {}, kw.pop("path", "/c/a"), **kw)


@pytest.mark.parametrize("case", sorted(LONE_SURROGATES))
def test_text_utf8_cannot_encode_is_the_inputs_coded_error(case: str) -> None:
    call, code = LONE_SURROGATES[case]
    with pytest.raises(xnonce.XNonceError) as e:
        call()
    err = e.value
    assert err.code == code, repr(err)
    assert not isinstance(err, UnicodeError)
    for text in (str(err), repr(err), err.message, repr(err.args)):
        assert "\udcff" not in text and SECRET[:-2] not in text
    assert err.__context__ is None and err.__cause__ is None
    # Named as core names the input: the message every binding gives it.
    assert err.message == f"{NAMED[case]} is not valid Unicode text (it holds a lone surrogate)"


def test_every_case_has_its_name() -> None:
    assert sorted(NAMED) == sorted(LONE_SURROGATES)


@pytest.mark.parametrize("case", sorted(k for k in LONE_SURROGATES if k.startswith("verifier ")))
def test_request_text_utf8_cannot_encode_is_a_refusal_with_its_answer(case: str) -> None:
    # The client's bytes as a WSGI server decoded them: the answer to send comes with it.
    call, code = LONE_SURROGATES[case]
    with pytest.raises(xnonce.XNonceError) as e:
        call()
    answer = e.value.answer
    if "secret" in case or "body" in case:
        # The verifier's configuration, or a body given as text (servers read bytes): the
        # caller's doing, not the request's.
        assert answer is None
        return
    assert answer is not None and "\udcff" not in answer.body
    if case == "verifier x_nonce":  # "a\udcffb" is no v2 header: em-secure-api's text
        assert (answer.status, answer.content_type) == (401, "text/plain")
        return
    assert f'"code":"{code}"' in answer.body
    assert answer.status == e.value.http_status == 400  # v2's style (HEADER is v2)


def test_answer_style_arguments_read_text_utf8_cannot_encode_lossily() -> None:
    # They only choose the style of a refusal: "v2 ..." or an ottoken still tell it.
    for answer in (
        xnonce.Answer.body_too_large(10, x_nonce="v2 " + LONE),
        xnonce.Answer.body_unreadable(target="/a?ottoken=djIgc3Zj&x=" + LONE),
        xnonce.Answer.repeated_host(target="/" + LONE, x_nonce="v2 " + LONE),
    ):
        assert answer.content_type == "application/problem+json"
    assert xnonce.Answer.body_too_large(10, x_nonce=LONE).content_type == "text/plain"
    with pytest.raises(TypeError):
        xnonce.Answer.body_unreadable(target=b"/a")  # type: ignore[arg-type]


def test_a_secret_from_the_environment_with_a_stray_byte_never_shows() -> None:
    # The real path: a secret with a non-UTF-8 byte in the environment.
    code = """
import os, xnonce
s = os.environ["XNONCE_SECRET"]
try:
    xnonce.sign("v2", "GET", "/c/a", {}, "svc", s, host="h")
except xnonce.XNonceError as e:
    print(e.code, repr(e), e.__context__)
"""
    env = {**os.environ, "XNONCE_SECRET": "x"}
    envb = {k.encode(): v.encode() for k, v in env.items()}
    envb[b"XNONCE_SECRET"] = SECRET[:-2].encode() + b"\xff"
    out = subprocess.run(
        [sys.executable, "-c", code], env=envb, capture_output=True, timeout=60, check=True
    )
    assert out.stdout.startswith(b"invalid_secret ")
    assert SECRET[:-2].encode() not in out.stdout + out.stderr


# ---- timestamps ----

NOT_INTS = [1.5, 1.0, -0.0, 1.7e12, float("nan"), float("inf"), True, False]


@pytest.mark.parametrize("bad", NOT_INTS, ids=repr)
def test_a_timestamp_that_is_a_float_or_bool_is_invalid_timestamp(bad: object) -> None:
    calls: list[Callable[[], object]] = [
        v2(timestamp=bad),
        lambda: xnonce.sign_detailed("v1", "GET", "/c/a", [], "svc", SECRET, timestamp=bad),  # type: ignore[arg-type]
        lambda: xnonce.sign_request("v1", "GET", "h", "/c/a", "svc", SECRET, timestamp=bad),  # type: ignore[arg-type]
        lambda: xnonce.link("v1", "GET", "/c/a", [], "svc", SECRET, "http://h", timestamp=bad),  # type: ignore[arg-type]
        verify(now=bad),
        request(options={"timestamp": bad}),
    ]
    for call in calls:
        with pytest.raises(xnonce.InputError) as e:
            call()
        assert e.value.code == "invalid_timestamp"


def test_a_timestamp_that_is_not_a_number_is_a_type_error() -> None:
    for bad in ("1700000000000", [1], b"1"):
        with pytest.raises(TypeError, match="timestamp"):
            v2(timestamp=bad)()
        with pytest.raises(TypeError, match="timestamp"):
            request(options={"timestamp": bad})()
        with pytest.raises(TypeError, match="now"):
            verify(now=bad)()


def test_int_timestamps_still_work() -> None:
    assert xnonce.parse_header(v2(timestamp=TS)()).timestamp == TS  # type: ignore[arg-type]

    class Index:
        def __index__(self) -> int:
            return TS

    assert xnonce.parse_header(v2(timestamp=Index())()).timestamp == TS  # type: ignore[arg-type]


# ---- wrong types: TypeError, naming the type, never the value ----


@pytest.mark.parametrize(
    "call",
    [
        v2(secret=None),
        v2(secret=b"secret-bytes"),
        v2(path=None),
        v2(client=3),
        verify(target=None),
        request(ctor={"secret": 12}),
    ],
)
def test_wrong_types_are_type_errors(call: Callable[[], object]) -> None:
    with pytest.raises(TypeError) as e:
        call()
    assert not isinstance(e.value, xnonce.XNonceError)
    assert "secret-bytes" not in str(e.value)


# ---- xnonce.Secret ----


def test_secret_object_signs_like_its_text_and_never_shows_it() -> None:
    s = xnonce.Secret(SECRET)
    assert SECRET not in repr(s) and SECRET not in str(s) and "redacted" in repr(s)
    assert xnonce.Secret(s) is not s
    args = ("v2", "GET", "/c/a", {"k": "v"}, "svc")
    kw: dict[str, Any] = {"host": "h", "timestamp": TS, "nonce": "0" * 32}
    assert xnonce.sign(*args, s, **kw) == xnonce.sign(*args, SECRET, **kw)
    assert xnonce.Verifier({"svc": s}).verify("GET", "/c/a", host="h", x_nonce=HEADER, now=TS)
    assert (
        xnonce.Verifier({"svc": [xnonce.Secret("0f" * 32), s]})
        .verify("GET", "/c/a", host="h", x_nonce=HEADER, now=TS)
        .secret_index
        == 1
    )
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(xnonce.InputError):
        xnonce.Secret("   ")


def test_adapters_keep_the_secret_out_of_their_attributes() -> None:
    for auth in (xnonce.requests.XNonceAuth("svc", SECRET), xnonce.httpx.XNonceAuth("svc", SECRET)):
        assert SECRET not in repr(auth) and SECRET not in repr(vars(auth))
        assert SECRET not in str([repr(v) for v in vars(auth).values()])


# ---- params: only (key, value) pairs ----

NOT_PAIRS: list[Any] = [
    {"x": 1, "y": 2},  # a dict: KeyError 0 once
    {"x", "y"},  # a set: unordered
    {0: "k", 1: "v"},  # read as the pair (k, v) once
    "kv",
    b"kv",
    ("k",),
    ["k", "v", "w"],
    range(2),
    None,
    3,
]


@pytest.mark.parametrize("entry", NOT_PAIRS, ids=repr)
def test_a_params_entry_that_is_not_a_pair_is_invalid_param_value(entry: object) -> None:
    # Each with the argument its message names, and the entry's index.
    calls: list[tuple[Callable[[], object], str]] = [
        (v2(params=[entry]), "params entry 0 "),
        (v2(params=(("a", "1"), entry)), "params entry 1 "),
        (v2(params=iter([entry])), "params entry 0 "),
        (request(params=[entry]), "params entry 0 "),
        (request(options={"extra_params": [entry]}), "options['extra_params'] entry 0 "),
        (request(options={"headers": [entry]}), "options['headers'] entry 0 "),
    ]
    for call, named in calls:
        with pytest.raises(xnonce.InvalidParamValue) as e:
            call()
        assert e.value.code == "invalid_param_value"
        assert e.value.message.startswith(named), e.value.message
        assert "is not a (key, value) pair" in e.value.message


def test_params_pairs_may_be_tuples_or_lists() -> None:
    expected = v2(params=[("a", "1"), ("b", 2)], timestamp=TS, nonce="0" * 32)()
    for params in ([["a", "1"], ["b", 2]], (("a", "1"), ["b", 2]), iter([("a", "1"), ("b", 2)])):
        assert v2(params=params, timestamp=TS, nonce="0" * 32)() == expected


def test_errors_about_a_request_option_read_as_pairs_name_the_option() -> None:
    cases: list[tuple[Callable[[], object], str, str]] = [
        (
            request(options={"headers": {1: "v"}}),
            "invalid_param_key",
            "options['headers'] keys must be str",
        ),
        (
            request(options={"headers": {"X-A": None}}),
            "invalid_param_value",
            "options['headers'] values must be",
        ),
        (
            request(options={"headers": "X-A: b"}),
            "invalid_param_value",
            "options['headers'] must be a mapping",
        ),
        # Text UTF-8 cannot encode: named as core names a header's value, in every language.
        (
            request(options={"headers": [("X-A", LONE)]}),
            "invalid_param_value",
            'header "X-A" is not valid Unicode text',
        ),
        (
            request(options={"extra_params": [("k", b"v")]}),
            "invalid_param_value",
            "options['extra_params'] values must be",
        ),
        (
            request(options={"extra_params": {"k": 2**200}}),
            "invalid_param_value",
            "integer options['extra_params'] value",
        ),
        # Params keep their own wording.
        (request(params={1: "v"}), "invalid_param_key", "parameter keys must be str"),
        (request(params={"k": None}), "invalid_param_value", "parameter values must be"),
    ]
    for call, code, message in cases:
        with pytest.raises(xnonce.InputError) as e:
            call()
        assert e.value.code == code, e.value.message
        assert e.value.message.startswith(message), e.value.message
