"""Property-based tests (hypothesis) of the public surface.

Robustness: every public function, constructor and method, called with values of any type in
any argument (text with lone surrogates, NUL or a megabyte of it; bytes; huge and negative
ints; NaN; None; nested containers; objects whose ``__str__``, ``__index__``, ``__iter__``,
``__bool__`` raise), returns or raises what the README documents: an ``XNonceError`` with a
known code, a ``TypeError`` or a ``ValueError`` (never a ``UnicodeError`` holding the text,
an ``OverflowError``, a ``SystemError`` or pyo3's ``PanicException``), and no message holds
the secret. For ``sign`` the oracle is exact: each argument is accepted if and only if
PROTOCOL says it is valid, else refused with that argument's code (or a ``TypeError``).

Semantics: sign → verify round trips in v1 and v2 (accepted once by ``verify_once``), any one
change of the request is ``signature_mismatch``, header and ottoken encode → parse are
identities, and ``reconfigure`` never forgets a request.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from decimal import Decimal, localcontext
from typing import Any
from urllib.parse import quote, quote_plus, unquote_to_bytes

import pytest
import xnonce
import xnonce.redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
OTHER_SECRET = "b" * 64
# Generated text has the secret's shape, never its value: a message may name text the caller
# gave in another role, and `outcome` checks that none holds SECRET.
SECRET_SHAPED = "0f" * 32
TS = 1_700_000_000_000
NONCE = "0123456789abcdef0123456789abcdef"
HEADER = xnonce.sign("v2", "GET", "/c/a", {"k": "v"}, "svc", SECRET, host="h", timestamp=TS)

# XNONCE_PROPERTY_EXAMPLES=5000 searches harder (locally; the suite's default stays quick).
EXAMPLES = int(os.environ.get("XNONCE_PROPERTY_EXAMPLES", "200"))
# Under CI (test.sh sets CI=true) the examples are the same on every run, so a run is green or
# red for the code, not for the draw; a run elsewhere draws new ones each time (and
# XNONCE_PROPERTY_RANDOM=1 does under CI too).
DERANDOMIZE = bool(os.environ.get("CI")) and not os.environ.get("XNONCE_PROPERTY_RANDOM")
PROPS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
if DERANDOMIZE:  # nor replayed from an example database of an earlier run
    PROPS = settings(PROPS, database=None)
FEW = settings(PROPS, max_examples=max(EXAMPLES * 3 // 10, 1))

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
HEX = "0123456789abcdef"


# ---- values of every kind ----


class Boom(Exception):
    """What the hostile objects below raise: the package may let it through, as is."""


class Hostile:
    """An object every protocol of which raises."""

    def __str__(self) -> str:
        raise Boom("__str__")

    def __repr__(self) -> str:
        raise Boom("__repr__")

    def __index__(self) -> int:
        raise Boom("__index__")

    def __int__(self) -> int:
        raise Boom("__int__")

    def __float__(self) -> float:
        raise Boom("__float__")

    def __iter__(self) -> Any:
        raise Boom("__iter__")

    def __len__(self) -> int:
        raise Boom("__len__")

    def __bool__(self) -> bool:
        raise Boom("__bool__")

    def __getitem__(self, key: object) -> Any:
        raise Boom("__getitem__")

    def __call__(self, *args: object) -> Any:
        raise Boom("__call__")

    def __getattr__(self, name: str) -> Any:
        raise Boom(name)

    def __hash__(self) -> int:
        raise Boom("__hash__")


class HostileStr(str):
    """A ``str`` whose ``__str__`` raises: its value is the text."""

    def __str__(self) -> str:
        raise Boom("__str__")


class HostileInt(int):
    """An ``int`` whose ``__index__`` raises: its value is the number."""

    def __index__(self) -> int:
        raise Boom("__index__")


def lying_iterator() -> Any:
    yield ("a", "1")
    raise Boom("iterator")


# Text of any code point, lone surrogates and the protocol's separators included.
wild_char = st.one_of(
    st.characters(),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from(list("\x00\n\r\t %/?#=&+;:[]{}\x7f\u00a0\u2028é名")),
)
wild_text = st.one_of(
    st.text(wild_char, max_size=40),
    st.sampled_from(["", "v1", "v2", "V2", "GET", "/", "/c/a", "h", SECRET_SHAPED, NONCE, HEADER]),
    st.integers(3, 6).map(lambda n: "a" * 10**n),
    st.integers(3, 6).map(lambda n: "\ud800" * 10**n),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([-(2**200), -1, 0, 2**53, 2**53 - 1, 2**63, 2**64, 2**127, 2**128, 2**1000]),
    st.floats(allow_nan=True, allow_infinity=True),
    wild_text,
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
    st.binary(max_size=40).map(lambda b: memoryview(b)),
    st.builds(Hostile),
    wild_text.map(HostileStr),
    st.integers().map(HostileInt),
    st.sampled_from([object(), int, str, Ellipsis, NotImplemented, xnonce.Secret(SECRET)]),
    st.builds(lying_iterator),
    st.just(lambda *a: SECRET),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(wild_text, st.integers()), inner, max_size=4),
        st.tuples(wild_text, inner),
        st.lists(st.tuples(wild_text, inner), max_size=3),
    ),
    max_leaves=8,
)

ALLOWED = (xnonce.XNonceError, TypeError, ValueError, Boom)


def outcome(call: Callable[[], object]) -> object:
    """What ``call`` returns, or the documented exception it raised (returned, not raised).
    Anything else — PanicException (a BaseException), SystemError, OverflowError, a
    UnicodeError holding the text — propagates or fails here."""
    try:
        return call()
    except ALLOWED as e:
        assert not isinstance(e, UnicodeError), f"{type(e).__name__} instead of a named error"
        if isinstance(e, xnonce.XNonceError):
            assert e.code in xnonce.ERROR_CODES, e.code
            assert str(e).startswith(e.code + ": ")
        if not isinstance(e, Boom):
            assert SECRET not in str(e), "a message holds the secret"
        return e


# ---- sign: exactly the documented arguments are accepted ----


def valid_host(h: str) -> bool:
    b = h.encode("utf-8", "surrogatepass")
    if not 1 <= len(b) <= 255:
        return False
    low = h.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})
    if not all(c in "abcdefghijklmnopqrstuvwxyz0123456789.-_:[]" for c in low):
        return False
    if low.endswith(":80"):
        low = low[:-3]
    elif low.endswith(":443"):
        low = low[:-4]
    return low != "" and not low.startswith(":")


def is_text(v: object) -> bool:
    """A ``str`` that UTF-8 can encode."""
    if not isinstance(v, str):
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_path(p: str, scheme: str) -> bool:
    if not p.startswith("/") or len(p.encode()) > 8192:
        return False
    if any(c in "?#" or ord(c) < 0x20 or c == "\x7f" for c in p):
        return False
    if scheme == "v1":
        return " " not in p
    return re.search(r"%(?![0-9A-Fa-f]{2})", p) is None


def valid_secret(s: str, scheme: str) -> bool:
    if scheme == "v2":
        return re.fullmatch(r"[0-9a-fA-F]{64}", s) is not None
    ws = "\u0020\u00a0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
        chr(c) for c in range(0x2000, 0x200B)
    )
    return (
        0 < len(s.encode()) <= 1024
        and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in s)
        and not any(c in ws for c in s)
    )


def is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# argument -> (code when refused, is it valid text-wise?, the v2 sign keyword it is)
def _text_rule(code: str, ok: Callable[[str], bool]) -> Callable[[object, str], str | None]:
    def rule(v: object, scheme: str) -> str | None:
        if not isinstance(v, str):
            return "TypeError"
        return None if is_text(v) and ok(v) else code

    return rule


SIGN_RULES: dict[str, Callable[[object, str], str | None]] = {
    "method": _text_rule(
        "invalid_method", lambda m: re.fullmatch(r"[A-Za-z]{1,16}", m) is not None
    ),
    "client": _text_rule(
        "invalid_client_id", lambda c: 1 <= len(c) <= 128 and all(x in UNRESERVED for x in c)
    ),
}


def expected_refusal(arg: str, v: object, scheme: str) -> str | None:
    """``None`` when PROTOCOL accepts ``v`` as ``arg`` (the other arguments valid), else the
    error code, or ``"TypeError"`` for a value of another type."""
    if arg in SIGN_RULES:
        return SIGN_RULES[arg](v, scheme)
    if arg == "path":
        return _text_rule("invalid_path", lambda p: valid_path(p, scheme))(v, scheme)
    if arg == "secret":
        if isinstance(v, xnonce.Secret):
            return None  # made from SECRET, valid in both schemes
        return _text_rule("invalid_secret", lambda s: valid_secret(s, scheme))(v, scheme)
    if arg == "host":
        if v is None:
            return "invalid_host" if scheme == "v2" else None
        return _text_rule("invalid_host", lambda h: scheme == "v1" or valid_host(h))(v, scheme)
    if arg == "nonce":
        if v is None:
            return None
        return _text_rule(
            "invalid_nonce", lambda n: scheme == "v1" or re.fullmatch("[0-9a-f]{32}", n) is not None
        )(v, scheme)
    if arg == "timestamp":
        if v is None or (is_int(v) and 0 <= v <= 2**53 - 1):  # type: ignore[operator]
            return None
        if isinstance(v, (int, float)):
            return "invalid_timestamp"
        return "TypeError"
    if arg == "body":
        if v is None:
            return None
        if isinstance(v, (bytes, bytearray, memoryview)):
            return "invalid_body" if scheme == "v1" and len(v) else None
        if isinstance(v, str):
            if not is_text(v) or (scheme == "v1" and v):
                return "invalid_body"
            return None
        return "TypeError"
    if arg == "scheme":
        if not isinstance(v, str):
            return "TypeError"
        return None if v in ("v1", "v2", "V1", "V2") else "unsupported_scheme"
    raise AssertionError(arg)


SIGN_ARGS = ["scheme", "method", "path", "client", "secret", "timestamp", "nonce", "host", "body"]


def sign_args(scheme: str) -> dict[str, Any]:
    return {
        "scheme": scheme,
        "method": "GET",
        "path": "/c/a",
        "params": [("k", "v")],
        "client": "svc",
        "secret": SECRET,
        "timestamp": TS,
        "nonce": NONCE,
        "host": "h",
        "body": None,
    }


relevant_text = st.one_of(
    wild_text,
    st.text(st.sampled_from(UNRESERVED + "%/: []é\x00"), max_size=20),
    st.text(st.sampled_from(HEX + "ABCDEF"), min_size=30, max_size=66),
    st.sampled_from(["/", "/a b", "/a%zz", "/a%2F", "h:80", ":80", "[::1]:9000", "A" * 16]),
    st.sampled_from(["A" * 17, "c" * 128, "c" * 129, "x" * 1024, "x" * 1025, "é" * 512]),
)


@PROPS
@given(
    scheme=st.sampled_from(["v1", "v2"]),
    arg=st.sampled_from(SIGN_ARGS),
    value=st.one_of(anything, relevant_text),
)
@example(scheme="v2", arg="path", value="/a\udcff")
@example(scheme="v1", arg="host", value="\ud800")
@example(scheme="v2", arg="timestamp", value=2**53)
@example(scheme="v2", arg="timestamp", value=1.0)
def test_sign_accepts_exactly_the_documented_arguments(scheme: str, arg: str, value: Any) -> None:
    args = sign_args(scheme)
    args[arg] = value
    want = expected_refusal(arg, value, scheme)
    got = outcome(lambda: xnonce.sign(**args))
    if want is None:
        assert isinstance(got, str), f"{arg}={value!r} refused: {got!r}"
        h = xnonce.parse_header(got)
        assert (h.client, h.timestamp) == (args["client"], args["timestamp"] or h.timestamp)
    elif want == "TypeError":
        assert isinstance(got, TypeError) and not isinstance(got, xnonce.XNonceError), got
    else:
        assert isinstance(got, xnonce.XNonceError) and got.code == want, (want, got)


# ---- params: native values become the documented text ----


def value_rule(v: object) -> str | None:
    """The text a param value is signed as, or ``None`` when it is refused."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v)) if -(2**127) <= v < 2**127 else None
    if isinstance(v, float):
        return "float" if math.isfinite(v) else None
    if isinstance(v, str):
        return str.__str__(v) if is_text(v) else None
    return None


@PROPS
@given(scheme=st.sampled_from(["v1", "v2"]), value=st.one_of(anything, relevant_text))
@example(scheme="v2", value=2**127)
@example(scheme="v2", value=-(2**127))
@example(scheme="v2", value=1000000000000001.25)
@example(scheme="v1", value=5e-324)
def test_param_values_sign_as_their_documented_text(scheme: str, value: Any) -> None:
    want = value_rule(value)
    got = outcome(
        lambda: xnonce.sign(
            scheme, "GET", "/c/a", [("k", value)], "svc", SECRET, timestamp=TS, host="h"
        )
    )
    if want is None:
        assert isinstance(got, xnonce.InvalidParamValue), (value, got)
        assert isinstance(got, TypeError) and got.code == "invalid_param_value"
        return
    assert isinstance(got, str), (value, got)
    # What the verifier reads back is the text it was signed as.
    text = verified_params(scheme, got, [("k", value)])
    [(k, signed)] = text
    assert k == "k"
    if want == "float":
        assert float(signed) == value and "e" not in signed.lower()
        assert not signed.endswith(".0") and signed != "-0"
    else:
        assert signed == want


def verified_params(
    scheme: str, header: str, params: list[tuple[str, Any]]
) -> list[tuple[str, str]]:
    """The params the verifier reads from a request sent with each value as ``text_of``
    writes it: that it verifies shows the text is the one core signed."""
    texts = [(k, text_of(v)) for k, v in params]
    target = "/c/a?" + encode_query(scheme, texts)
    v = xnonce.Verifier({"svc": SECRET}).verify("GET", target, host="h", x_nonce=header, now=TS)
    return v.params


def format_float(x: float) -> str:
    """PROTOCOL §3.6.1: the shortest round-trip digits (``repr``'s), an exact tie broken
    towards the larger magnitude (``repr`` breaks it towards an even digit), positional."""
    if x == 0:
        return "0"
    with localcontext() as ctx:
        ctx.prec = 2000
        d = Decimal(repr(x)).normalize()
        unit = Decimal(1).scaleb(d.as_tuple().exponent)  # type: ignore[arg-type]
        if abs(Decimal(x)) - abs(d) == unit / 2:
            d += unit.copy_sign(d)
        text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def sign_v2(params: Any = (), body: Any = None, scheme: str = "v2") -> str:
    return xnonce.sign(
        scheme, "POST", "/c/a", params, "svc", SECRET, timestamp=TS, nonce=NONCE, host="h",
        body=body,
    )  # fmt: skip


@PROPS
@given(data=st.binary(max_size=64), start=st.integers(0, 8), step=st.integers(1, 3))
def test_every_bytes_like_body_signs_its_bytes(data: bytes, start: int, step: int) -> None:
    want = sign_v2(body=data[start::step])
    view = memoryview(data)[start::step]  # not contiguous when step > 1
    assert sign_v2(body=view) == want
    assert sign_v2(body=bytearray(data[start::step])) == want
    assert sign_v2(body=memoryview(bytearray(data))[start::step]) == want
    text = data.decode("latin-1")
    assert sign_v2(body=text) == sign_v2(body=text.encode())


@PROPS
@given(
    scheme=st.sampled_from(["v1", "v2"]),
    params=st.dictionaries(
        st.text(st.sampled_from(UNRESERVED), min_size=1, max_size=5),
        st.text(max_size=5),
        max_size=5,
    ),
)
def test_every_shape_of_params_signs_its_pairs_in_order(
    scheme: str, params: dict[str, str]
) -> None:
    params.pop("ottoken", None)
    pairs = list(params.items())
    want = sign_v2(pairs, scheme=scheme)
    assert sign_v2(params, scheme=scheme) == want
    assert sign_v2(tuple(pairs), scheme=scheme) == want
    assert sign_v2([list(p) for p in pairs], scheme=scheme) == want
    assert sign_v2(iter(pairs), scheme=scheme) == want
    assert sign_v2(params.items(), scheme=scheme) == want
    if scheme == "v2":  # v2 sorts: the order never matters
        assert sign_v2(pairs[::-1]) == want


# ---- round trips ----


def encode_query(scheme: str, params: list[tuple[str, str]]) -> str:
    if scheme == "v1":
        return "&".join(f"{k}={quote_plus(v)}" for k, v in params)
    return "&".join(f"{quote(k, safe='-._~')}={quote(v, safe='-._~')}" for k, v in params)


def canonical_target_path(path: str) -> str:
    """A v2 path as a client sends it: each segment's bytes, percent-encoded."""
    return "/".join(quote(unquote_to_bytes(seg), safe="-._~") for seg in path.split("/"))


plain_text = st.text(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(list(" %+&=;/?#~é名\u2028"))),
    max_size=12,
)
param_value = st.one_of(
    plain_text,
    st.integers(-(2**127), 2**127 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)
segment = st.text(
    st.one_of(
        st.sampled_from(list(UNRESERVED + "!$'()*,;=:@ +é名")),
        st.characters(codec="utf-8", exclude_characters="/?#%", min_codepoint=0x20),
    ),
    max_size=8,
).filter(lambda s: "\x7f" not in s)
escape = st.integers(0, 255).map(lambda b: f"%{b:02X}")


@st.composite
def requests_(draw: st.DrawFn, scheme: str | None = None) -> dict[str, Any]:
    scheme = scheme or draw(st.sampled_from(["v1", "v2"]))
    segs = draw(
        st.lists(
            st.one_of(segment, st.tuples(segment, escape, segment).map("".join)),
            min_size=1,
            max_size=4,
        )
    )
    path = "/" + "/".join(segs)
    if scheme == "v1":
        path = path.replace(" ", "_")
        keys = draw(
            st.lists(
                st.text(st.sampled_from(UNRESERVED), min_size=1, max_size=6),
                max_size=5,
                unique=True,
            )
        )
        params = [(k, draw(param_value)) for k in keys if k != "ottoken"]
    else:
        params = draw(
            st.lists(
                st.tuples(
                    st.one_of(plain_text.filter(bool), st.sampled_from(["a", "a", "b"])).filter(
                        lambda k: k != "ottoken"
                    ),
                    param_value,
                ),
                max_size=6,
            )
        )
    return {
        "scheme": scheme,
        "method": draw(st.sampled_from(["GET", "POST", "get", "Put", "DELETE", "patch"])),
        "path": path,
        "params": params,
        "client": draw(st.text(st.sampled_from(UNRESERVED), min_size=1, max_size=12)),
        "host": draw(
            st.sampled_from(
                ["api.example.com", "API.example.com:443", "127.0.0.1:8080", "[::1]:9000", "h:80"]
            )
        ),
        "body": draw(st.none() | st.binary(max_size=64)) if scheme == "v2" else None,
        "nonce": draw(st.text(st.sampled_from(HEX), min_size=32, max_size=32))
        if scheme == "v2"
        else None,
    }


EXAMPLE: dict[str, Any] = {
    "scheme": "v2",
    "method": "GET",
    "path": "/c/a",
    "params": [],
    "client": "svc",
    "host": "h",
    "body": None,
    "nonce": NONCE,
}


def text_of(v: Any) -> str:
    t = value_rule(v)
    assert t is not None
    return format_float(v) if t == "float" else t


def signed_request(r: dict[str, Any]) -> tuple[str, str]:
    """(X-Nonce, target) of request ``r``."""
    header = xnonce.sign(
        r["scheme"], r["method"], r["path"], r["params"], r["client"], SECRET,
        timestamp=TS, nonce=r["nonce"], host=r["host"], body=r["body"],
    )  # fmt: skip
    texts = [(k, text_of(v)) for k, v in r["params"]]
    path = r["path"] if r["scheme"] == "v1" else canonical_target_path(r["path"])
    query = encode_query(r["scheme"], texts)
    return header, path + ("?" + query if query else "")


def verify_once(
    verifier: xnonce.Verifier, r: dict[str, Any], header: str, target: str
) -> xnonce.Verified:
    return verifier.verify_once(
        r["method"], target, host=r["host"], x_nonce=header, body=r["body"], now=TS + 1
    )


@PROPS
@given(r=requests_())
def test_a_signed_request_verifies_exactly_once(r: dict[str, Any]) -> None:
    header, target = signed_request(r)
    verifier = xnonce.Verifier({r["client"]: SECRET})
    v = verify_once(verifier, r, header, target)
    assert (v.scheme, v.client, v.timestamp, v.via_ottoken) == (r["scheme"], r["client"], TS, False)
    texts = [(k, text_of(x)) for k, x in r["params"]]
    assert v.params == texts if r["scheme"] == "v1" else sorted(v.params) == sorted(texts)
    with pytest.raises(xnonce.AuthError) as e:
        verify_once(verifier, r, header, target)
    assert e.value.code == "replayed"


def link_refuses_path(scheme: str, path: str) -> bool:
    """PROTOCOL §9 step 6: a path a WHATWG URL client would not send unchanged."""
    sent = path if scheme == "v1" else canonical_target_path(path)
    dots = any(re.sub("%2e", ".", seg, flags=re.I) in (".", "..") for seg in sent.split("/"))
    v1_only = scheme == "v1" and any(c in '\\"<>^`{|}' or ord(c) > 0x7F for c in path)
    return dots or v1_only


@PROPS
@given(r=requests_())
@example(r={**EXAMPLE, "path": "/a/%2E%2e"})
def test_a_link_verifies_exactly_once(r: dict[str, Any]) -> None:
    host = r["host"]
    got = outcome(
        lambda: xnonce.link(
            r["scheme"], r["method"], r["path"], r["params"], r["client"], SECRET,
            "http://" + host, timestamp=TS, nonce=r["nonce"],
        )
    )  # fmt: skip
    if link_refuses_path(r["scheme"], r["path"]):
        assert isinstance(got, xnonce.InputError) and got.code == "invalid_path", got
        return
    assert isinstance(got, str), got
    target = got[len("http://" + host) :]
    verifier = xnonce.Verifier({r["client"]: SECRET})
    v = verifier.verify_once(r["method"], target, host=host, now=TS)
    assert v.via_ottoken and v.client == r["client"]
    texts = [(k, text_of(x)) for k, x in r["params"]]
    assert v.params == texts if r["scheme"] == "v1" else sorted(v.params) == sorted(texts)
    with pytest.raises(xnonce.AuthError) as e:
        verifier.verify_once(r["method"], target, host=host, now=TS)
    assert e.value.code == "replayed"


CHANGES = ["method", "path", "value", "added", "host", "body"]


@PROPS
@given(r=requests_(), change=st.sampled_from(CHANGES), data=st.data())
def test_any_single_change_is_a_signature_mismatch(
    r: dict[str, Any], change: str, data: st.DataObject
) -> None:
    header, _ = signed_request(r)
    changed = dict(r)
    if change == "method":
        changed["method"] = data.draw(
            st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]).filter(
                lambda m: m != r["method"].upper()
            )
        )
    elif change == "path":
        changed["path"] = r["path"] + data.draw(st.sampled_from(["x", "/", "/x", "~", "%41"]))
    elif change == "value":
        if not r["params"]:
            return
        i = data.draw(st.integers(0, len(r["params"]) - 1))
        params = list(r["params"])
        params[i] = (
            params[i][0],
            text_of(params[i][1]) + data.draw(st.sampled_from(["x", " ", "é", "0"])),
        )
        changed["params"] = params
    elif change == "added":
        changed["params"] = [
            *r["params"],
            ("zz" + data.draw(st.text(st.sampled_from(UNRESERVED), max_size=3)), "1"),
        ]
        if r["scheme"] == "v1" and any(k == changed["params"][-1][0] for k, _ in r["params"]):
            return
    elif change == "host":
        if r["scheme"] == "v1":
            return
        changed["host"] = data.draw(
            st.sampled_from(["other.example.com", "api.example.com:8443", "127.0.0.2"])
        )
    elif change == "body":
        if r["scheme"] == "v1":
            return
        changed["body"] = (r["body"] or b"") + data.draw(st.binary(min_size=1, max_size=3))
    _, changed_target = signed_request(changed)
    with pytest.raises(xnonce.AuthError) as e:
        verify_once(xnonce.Verifier({r["client"]: SECRET}), changed, header, changed_target)
    assert e.value.code == "signature_mismatch", (change, e.value)


# ---- headers and ottokens ----


def lhex(n: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(HEX), min_size=n, max_size=n)


client_id = st.text(st.sampled_from(UNRESERVED), min_size=1, max_size=128)
timestamp = st.integers(0, 2**53 - 1)
headers = st.one_of(
    st.builds(lambda t, c, ts: f"{t} {c} {ts}", lhex(64), client_id, timestamp),
    st.builds(lambda c, ts, n, s: f"v2 {c} {ts} {n} {s}", client_id, timestamp, lhex(32), lhex(64)),
)


@PROPS
@given(value=headers)
def test_header_and_ottoken_encode_parse_are_identities(value: str) -> None:
    h = xnonce.parse_header(value)
    fields = value.split(" ")
    if fields[0] == "v2":
        assert (h.scheme, h.client, h.timestamp, h.nonce, h.mac) == (
            "v2", fields[1], int(fields[2]), fields[3], fields[4],
        )  # fmt: skip
    else:
        assert (h.scheme, h.client, h.timestamp, h.nonce, h.mac) == (
            "v1", fields[1], int(fields[2]), None, fields[0],
        )  # fmt: skip
    assert h.signature == h.mac
    token = xnonce.ottoken_encode(value)
    assert token == h.to_ottoken()
    assert token.startswith("djIg" if fields[0] == "v2" else "eyJ")
    assert xnonce.ottoken_decode(token) == value
    assert xnonce.parse_header(xnonce.ottoken_decode(token)) == h
    q = xnonce.ottoken_query_value(token)
    assert q == (token if fields[0] == "v2" else quote_plus(token))


@PROPS
@given(
    value=st.one_of(
        wild_text,
        headers.map(lambda h: h.replace(" ", "  ", 1)),
        headers.map(lambda h: h + " "),
        headers.map(lambda h: h.upper()),
        headers.flatmap(lambda h: st.integers(0, len(h)).map(lambda i: h[:i] + h[i + 1 :])),
    )
)
@example(value="v2 c 01 " + "0" * 32 + " " + "0" * 64)
def test_parse_header_accepts_only_what_it_can_write_back(value: str) -> None:
    got = outcome(lambda: xnonce.parse_header(value))
    if isinstance(got, Exception):
        assert isinstance(got, xnonce.FormatError) and got.code == "malformed_header", got
        with pytest.raises(xnonce.XNonceError):
            xnonce.ottoken_encode(value)
        return
    assert isinstance(got, xnonce.Header)
    assert xnonce.ottoken_decode(got.to_ottoken()) == value  # format(parse(s)) == s


def near_tokens(token: str) -> st.SearchStrategy[str]:
    """A token and tokens one edit away from it."""
    return st.sampled_from([token, token + "A", token[:-1], token + "=", token.replace("-", "+")])


@PROPS
@given(token=st.one_of(wild_text, headers.map(xnonce.ottoken_encode).flatmap(near_tokens)))
def test_ottoken_decode_accepts_only_canonical_tokens(token: str) -> None:
    got = outcome(lambda: xnonce.ottoken_decode(token))
    if isinstance(got, Exception):
        assert isinstance(got, xnonce.FormatError) and got.code == "malformed_ottoken", got
        return
    assert isinstance(got, str)
    h = xnonce.parse_header(got)
    if h.scheme == "v2":
        assert xnonce.ottoken_encode(got) == token  # v2 tokens are canonical base64url


@PROPS
@given(token=wild_text)
@example(token="")
def test_ottoken_query_value_is_cgi_escape(token: str) -> None:
    got = outcome(lambda: xnonce.ottoken_query_value(token))
    if is_text(token):
        assert got == quote_plus(token)  # CGI.escape: unreserved kept, space "+", %XX
    else:
        assert isinstance(got, xnonce.FormatError) and got.code == "malformed_ottoken", got


@PROPS
@given(
    scheme=st.sampled_from(["v1", "v2"]),
    late=st.integers(30_001, 10**12),
    status=st.integers(-(2**70), 2**70),
)
def test_a_stale_refusal_tells_its_client_the_server_time_and_nobody_else(
    scheme: str, late: int, status: int
) -> None:
    sent = xnonce.sign(scheme, "GET", "/c/a", [], "svc", SECRET, timestamp=TS, host="h")
    with pytest.raises(xnonce.AuthError) as e:
        xnonce.Verifier({"svc": SECRET}).verify(
            "GET", "/c/a", host="h", x_nonce=sent, now=TS + late
        )
    assert e.value.code == "expired" and e.value.server_time == TS + late
    hint = f"{e.value.server_time} {e.value.server_time_mac}"
    assert xnonce.server_time_from_answer(401, hint, sent, SECRET) == TS + late
    assert xnonce.server_time_from_answer(401, hint, sent, OTHER_SECRET) is None
    other = xnonce.sign(scheme, "GET", "/c/a", [], "svc", SECRET, timestamp=TS + 1, host="h")
    assert xnonce.server_time_from_answer(401, hint, other, SECRET) is None
    if status != 401:
        assert xnonce.server_time_from_answer(status, hint, sent, SECRET) is None


# ---- the Verifier ----

window = st.integers(0, 86_400_000)
verifier_settings = st.fixed_dictionaries(
    {},
    optional={
        "window_ms": window,
        "controller_windows": st.dictionaries(
            st.sampled_from(["c", "d", "reports"]), window, max_size=2
        ),
        "action_windows": st.dictionaries(st.sampled_from(["c/a", "d/b"]), window, max_size=2),
        "schemes": st.sampled_from([["v1"], ["v2"], ["v1", "v2"]]),
        "hosts": st.lists(
            st.sampled_from(["h", "api.example.com", "other"]), min_size=1, max_size=2
        ),
    },
)


def window_of_c_a(settings: dict[str, Any]) -> int:
    """The window that applies to ``/c/a`` under ``settings``."""
    action: dict[str, int] = settings.get("action_windows", {})
    controller: dict[str, int] = settings.get("controller_windows", {})
    window: int = action.get("c/a", controller.get("c", settings.get("window_ms", 30_000)))
    return window


@PROPS
@given(
    scheme=st.sampled_from(["v1", "v2"]),
    old=verifier_settings,
    new=verifier_settings,
    delay=st.integers(0, 100_000),
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_reconfigure_never_forgets_a_request(
    scheme: str, old: dict[str, Any], new: dict[str, Any], delay: int
) -> None:
    header = xnonce.sign(scheme, "GET", "/c/a", [("k", "v")], "svc", SECRET, timestamp=TS, host="h")
    verifier = xnonce.Verifier({"svc": SECRET}, **old)
    first = outcome(
        lambda: verifier.verify_once("GET", "/c/a?k=v", host="h", x_nonce=header, now=TS)
    )
    verifier.reconfigure(**new, now=TS + delay // 2)
    again = outcome(
        lambda: verifier.verify_once("GET", "/c/a?k=v", host="h", x_nonce=header, now=TS + delay)
    )
    if not isinstance(first, xnonce.Verified):
        return
    assert isinstance(again, xnonce.XNonceError), "a copy was accepted after reconfigure"
    # What a fresh verifier of the new settings says of the request: if it would accept it,
    # the copy is refused for being one.
    fresh = outcome(
        lambda: xnonce.Verifier({"svc": SECRET}, **new).verify(
            "GET", "/c/a?k=v", host="h", x_nonce=header, now=TS + delay
        )
    )
    if isinstance(fresh, xnonce.Verified) and delay <= window_of_c_a(old):
        assert again.code == "replayed", again


@FEW
@given(recorded=anything)
def test_a_replay_store_answer_of_any_kind_is_accepted_refused_or_unavailable(
    recorded: Any,
) -> None:
    class Store:
        def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> object:
            return recorded

    try:
        truthy: bool | None = bool(recorded)
    except Exception:
        truthy = None
    got = outcome(
        lambda: xnonce.Verifier({"svc": SECRET}, replay_store=Store()).verify_once(
            "GET", "/c/a?k=v", host="h", x_nonce=HEADER, now=TS
        )
    )
    if truthy is True:
        assert isinstance(got, xnonce.Verified), got
    elif truthy is False:
        assert isinstance(got, xnonce.AuthError) and got.code == "replayed", got
    else:
        assert isinstance(got, xnonce.UnavailableError) and got.code == "store_unavailable", got


# ---- every public callable, any value in any argument ----


def _verifier() -> xnonce.Verifier:
    return xnonce.Verifier({"svc": SECRET})


# name -> (callable, positional args, keyword args): each a valid call.
CALLS: dict[str, tuple[Callable[..., Any], list[Any], dict[str, Any]]] = {
    "sign": (
        xnonce.sign,
        ["v2", "GET", "/c/a", {"k": "v"}, "svc", SECRET],
        {"host": "h", "timestamp": TS, "nonce": None, "body": None},
    ),
    "sign_detailed": (
        xnonce.sign_detailed,
        ["v1", "GET", "/c/a", [("k", 1)], "svc", SECRET],
        {"timestamp": TS, "host": None},
    ),
    "link": (
        xnonce.link,
        ["v2", "GET", "/c/a", [], "svc", SECRET, "https://h/p"],
        {"timestamp": TS, "nonce": NONCE, "host": None, "body": None},
    ),
    "link_detailed": (
        xnonce.link_detailed,
        ["v1", "GET", "/c/a", [], "svc", SECRET, "http://h"],
        {"timestamp": TS},
    ),
    "sign_request": (
        xnonce.sign_request,
        ["v2", "POST", "h", "/c/a?x=1", "svc", SECRET],
        {
            "content_type": "application/x-www-form-urlencoded",
            "body": b"a=1",
            "timestamp": TS,
            "nonce": None,
        },
    ),
    "parse_header": (xnonce.parse_header, [HEADER], {}),
    "ottoken_encode": (xnonce.ottoken_encode, [HEADER], {}),
    "ottoken_decode": (xnonce.ottoken_decode, [xnonce.ottoken_encode(HEADER)], {}),
    "ottoken_query_value": (xnonce.ottoken_query_value, [xnonce.ottoken_encode(HEADER)], {}),
    "server_time_from_answer": (xnonce.server_time_from_answer, [401, "1 ab", HEADER, SECRET], {}),
    "error_from_code": (xnonce.error_from_code, ["expired", "m"], {}),
    "content_type_for_app": (xnonce.content_type_for_app, ["application/json; charset=latin1"], {}),
    "Secret": (xnonce.Secret, [SECRET], {}),
    "Verifier": (
        xnonce.Verifier,
        [{"svc": SECRET}, 30_000, None, None, None, None, None, None],
        {},
    ),
    "Verifier.verify": (
        lambda *a, **k: _verifier().verify(*a, **k),
        ["GET", "/c/a?k=v"],
        {"host": "h", "x_nonce": HEADER, "content_type": None, "body": None, "now": TS},
    ),
    "Verifier.verify_once": (
        lambda *a, **k: _verifier().verify_once(*a, **k),
        ["GET", "/c/a?k=v"],
        {"host": "h", "x_nonce": HEADER, "content_type": None, "body": None, "now": TS},
    ),
    "Verifier.route_refusal": (
        lambda *a, **k: xnonce.Verifier(
            {"svc": SECRET}, routes={"c": {"a_get": {"k": "req"}}}
        ).route_refusal(*a, **k),
        ["GET", "/c/a"],
        {"x_nonce": None, "content_type": None},
    ),
    "Verifier.reconfigure": (
        lambda *a, **k: _verifier().reconfigure(*a, **k),
        [30_000, None, None, None, None, None],
        {"now": TS},
    ),
    "Answer.body_too_large": (
        xnonce.Answer.body_too_large,
        [10],
        {"target": "/c/a", "x_nonce": HEADER},
    ),
    "Answer.body_timeout": (xnonce.Answer.body_timeout, [], {"target": "/c/a", "x_nonce": HEADER}),
    "Answer.repeated_host": (xnonce.Answer.repeated_host, [], {"target": "/c/a", "x_nonce": None}),
    "Answer.replay_store": (
        xnonce.Answer.replay_store,
        [False],
        {"target": "/c/a", "x_nonce": HEADER},
    ),
    "Answer.misread_content_type": (
        xnonce.Answer.misread_content_type,
        [],
        {"target": "/c/a?ottoken=x", "x_nonce": None},
    ),
    "SharedKeys": (xnonce.SharedKeys, ["p:"], {}),
    "SharedKeys.key": (lambda *a: xnonce.SharedKeys().key(*a), ["v2:svc:" + NONCE], {}),
    "SharedKeys.ttl_ms": (lambda *a: xnonce.SharedKeys().ttl_ms(*a), [TS + 30_000, TS], {}),
    "RedisReplayStore": (
        xnonce.redis.RedisReplayStore,
        [object(), "p:"],
        {"fence_after_loss_ms": 1},
    ),
    "Requester.make_request": (
        lambda *a, **k: xnonce.Requester(
            "http://127.0.0.1:9", "svc", SECRET, timeout=2.0
        ).make_request(*a, **k),
        ["GET", {"k": "v"}, "/c/a", None, {"timestamp": TS, "headers": {"Host": "h"}}],
        {},
    ),
    "Requester": (
        xnonce.Requester,
        ["http://127.0.0.1:9", "svc", SECRET, "v2", 1.0, True, 0, None, 1024],
        {},
    ),
}


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, Callable[[], object]]:
    name = draw(st.sampled_from(sorted(CALLS)))
    fn, args, kwargs = CALLS[name]
    args, kwargs = list(args), dict(kwargs)
    slots = [*range(len(args)), *kwargs]
    for slot in (
        draw(st.lists(st.sampled_from(slots), min_size=1, max_size=2, unique=True)) if slots else []
    ):
        value = draw(st.one_of(anything, relevant_text))
        if isinstance(slot, int):
            args[slot] = value
        else:
            kwargs[slot] = value
    return name, lambda: fn(*args, **kwargs)


@settings(PROPS, max_examples=EXAMPLES * 2)
@given(call=calls())
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_every_public_callable_returns_or_raises_a_documented_error(
    call: tuple[str, Callable[[], object]],
) -> None:
    name, fn = call
    got = outcome(fn)
    if isinstance(got, Exception):
        return
    if name in ("sign", "sign_request"):
        assert isinstance(got, str) and xnonce.parse_header(got)
    elif name == "parse_header":
        assert isinstance(got, xnonce.Header)
    elif name in ("ottoken_encode", "ottoken_decode"):
        assert isinstance(got, str) and got
    elif name == "ottoken_query_value":
        assert isinstance(got, str)
    elif name == "server_time_from_answer":
        assert got is None or (is_int(got) and 0 <= got <= 2**53 - 1)  # type: ignore[operator]
    elif name == "error_from_code":
        assert isinstance(got, xnonce.XNonceError) and got.code in xnonce.ERROR_CODES
    elif name.startswith("Answer."):
        assert got is None or (isinstance(got, xnonce.Answer) and 400 <= got.status < 600)
    elif name == "SharedKeys.ttl_ms":
        assert is_int(got) and got >= 0  # type: ignore[operator]
