"""The signing, parsing and verifying surface."""

from __future__ import annotations

import array
import gc
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from types import MappingProxyType
from typing import Any

import pytest
import xnonce

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
OTHER = "0f" * 32
TS = 1_700_000_000_000
NONCE = "00112233445566778899aabbccddeeff"


def v2(params: object, **kw: object) -> xnonce.Signed:
    args = {"timestamp": TS, "nonce": NONCE, "host": "api.test", **kw}
    return xnonce.sign_detailed("v2", "GET", "/c/a", params, "svc", SECRET, **args)  # type: ignore[arg-type]


def v1(params: object) -> xnonce.Signed:
    return xnonce.sign_detailed("v1", "GET", "/c/a", params, "svc", SECRET, timestamp=TS)  # type: ignore[arg-type]


# ---- params: shapes, order, native values ----


def test_dict_and_pairs_sign_the_same_in_insertion_order() -> None:
    pairs = [("b", "2"), ("a", "1")]
    assert v1(dict(pairs)).x_nonce == v1(pairs).x_nonce == v1(tuple(pairs)).x_nonce
    assert v1(OrderedDict(pairs)).x_nonce == v1(pairs).x_nonce
    # v1 signs the order; v2 does not.
    assert v1(pairs).x_nonce != v1(list(reversed(pairs))).x_nonce
    assert v2(pairs).x_nonce == v2(list(reversed(pairs))).x_nonce


def test_subclasses_sign_in_the_order_they_iterate() -> None:
    # An HTTP library sends a mapping in its iteration order; a dict subclass may iterate in
    # another order than the dict storage under it (PROTOCOL §3.6: the native order).
    moved = OrderedDict([("a", "1"), ("b", "2")])
    moved.move_to_end("a")
    assert list(moved.items()) == [("b", "2"), ("a", "1")]
    assert v1(moved).x_nonce == v1([("b", "2"), ("a", "1")]).x_nonce
    assert v1(moved).x_nonce != v1([("a", "1"), ("b", "2")]).x_nonce

    class Reversed(list[tuple[str, str]]):
        def __iter__(self) -> Iterator[tuple[str, str]]:
            return reversed(list(super().__iter__()))

    assert v1(Reversed([("a", "1"), ("b", "2")])).x_nonce == v1([("b", "2"), ("a", "1")]).x_nonce


def test_a_dict_subclass_of_secrets_is_asked_through_get() -> None:
    class Computed(dict):  # type: ignore[type-arg]
        def get(self, client: str, default: object = None) -> object:
            return SECRET if client == "svc" else default

    header = xnonce.sign("v2", "GET", "/c/a", [], "svc", SECRET, host="api.test")
    verified = xnonce.Verifier(Computed()).verify("GET", "/c/a", x_nonce=header, host="api.test")
    assert verified.client == "svc"


def test_generators_and_mappings_are_accepted() -> None:
    def gen() -> Iterator[tuple[str, str]]:
        yield ("a", "1")

    assert v1(gen()).x_nonce == v1({"a": "1"}).x_nonce
    assert v1(None).x_nonce == v1([]).x_nonce == v1({}).x_nonce
    # A mapping that is not a dict is read through its items().
    assert v1(MappingProxyType({"a": "1"})).x_nonce == v1({"a": "1"}).x_nonce


def test_an_iterable_of_pairs_with_a_keys_method_is_still_read_as_pairs() -> None:
    # Only an object with both keys() and items() is a mapping (as for `dict(x)`).
    class Pairs:
        def __iter__(self) -> Iterator[tuple[str, str]]:
            yield ("a", "1")

        def keys(self) -> list[str]:
            return ["not", "these"]

    assert v1(Pairs()).x_nonce == v1({"a": "1"}).x_nonce


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-42, "-42"),
        (2**100, str(2**100)),
        (3.0, "3"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (-0.0, "0"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        ("é x", "é x"),
    ],
)
def test_native_values_become_core_text(value: object, text: str) -> None:
    assert v2({"k": value}).canonical == v2({"k": text}).canonical
    assert v1({"k": value}).x_nonce == v1({"k": text}).x_nonce


def test_bool_is_not_an_int() -> None:
    assert v2({"k": True}).canonical != v2({"k": 1}).canonical


@pytest.mark.parametrize(
    "value",
    [
        b"x",
        bytearray(b"x"),
        None,
        [1],
        {"a": 1},
        (1, 2),
        float("nan"),
        float("inf"),
        2**130,
        2**127,
        -(2**127) - 1,
        object(),
    ],
)
def test_unsupported_values_are_invalid_param_value(value: object) -> None:
    with pytest.raises(xnonce.InvalidParamValue) as e:
        v2({"k": value})
    assert e.value.code == "invalid_param_value"
    assert isinstance(e.value, TypeError)
    assert isinstance(e.value, xnonce.InputError)


@pytest.mark.parametrize("value", [b"x", bytearray(b"x"), None, [1], object()])
def test_the_refusal_of_a_value_names_its_type(value: object) -> None:
    with pytest.raises(xnonce.InvalidParamValue) as e:
        v2({"k": value})
    assert str(e.value).endswith(f"must be str, int, float or bool, not {type(value).__name__}")


@pytest.mark.parametrize(
    "params",
    ["a=1", b"a=1", [("a",)], [("a", "1", "2")], 5, ["ab"], [b"ab"], [bytearray(b"ab")]],
)
def test_params_that_are_not_pairs_are_refused(params: object) -> None:
    # A two-character string is not a (key, value) pair.
    with pytest.raises(xnonce.InvalidParamValue):
        v2(params)


@pytest.mark.parametrize("params", ["a=1", b"a=1", bytearray(b"a=1")])
def test_text_given_as_params_is_refused_as_text(params: object) -> None:
    with pytest.raises(xnonce.InvalidParamValue) as e:
        v2(params)
    assert str(e.value).endswith("sequence of (key, value) pairs, not text")


def test_params_changed_while_they_are_read_are_read_as_given() -> None:
    """Reading a param value may run the caller's code (an `int` subclass's operators, a
    `gc` callback or a finalizer on an allocation): code that changes the params dict
    meanwhile must not crash the extension (a Rust panic: `PanicException`, which `except
    Exception` does not catch); the params are read as they were when the call was made."""
    params: dict[str, object] = {}

    class Growing(int):
        def __rshift__(self, other: object) -> int:
            params[f"k{len(params)}"] = "v"
            return int(self) >> other  # type: ignore[operator]

    params.update(a=Growing(2**70), b=2**80)
    signed = v1(params)
    assert signed.x_nonce == v1({"a": 2**70, "b": 2**80}).x_nonce


def test_an_int_subclass_signs_its_value_not_what_its_operators_say() -> None:
    """An `int` subclass is its value, whatever its operators answer (beyond 64 bits pyo3 reads
    an int with `>>` under the stable ABI): it signs like the plain `int`, as within 64 bits,
    and its code never runs while the params are read."""
    ran: list[str] = []

    class Lying(int):
        def __rshift__(self, other: object) -> int:
            ran.append("rshift")
            return 0

        def __and__(self, other: object) -> int:
            ran.append("and")
            return 0

    for n in (2**70, -(2**100), 2**127 - 1, 5):
        assert v1({"k": Lying(n)}).x_nonce == v1({"k": n}).x_nonce
        assert v2([("k", Lying(n))]).canonical == v2({"k": str(n)}).canonical
    with pytest.raises(xnonce.InvalidParamValue):
        v2({"k": Lying(2**127)})
    assert ran == []


def test_an_int_subclass_setting_is_its_value() -> None:
    # max_response_bytes beyond 64 bits is out of range, whatever the subclass's `>>` says.
    class Lying(int):
        def __rshift__(self, other: object) -> int:
            return 0

    with pytest.raises(ValueError, match="max_response_bytes"):
        xnonce.Requester("http://127.0.0.1:9", "svc", SECRET, max_response_bytes=Lying(2**64 + 5))


def test_non_str_keys_are_invalid_param_key() -> None:
    with pytest.raises(xnonce.InputError) as e:
        v2({1: "x"})
    assert e.value.code == "invalid_param_key"


# ---- sign / sign_detailed / link ----


def test_signed_fields() -> None:
    s = v2({"a": 1})
    assert s.scheme == "v2" and s.client == "svc" and s.timestamp == TS and s.nonce == NONCE
    assert s.x_nonce.startswith(f"v2 svc {TS} {NONCE} ")
    assert str(s) == s.x_nonce and SECRET not in repr(s)
    assert repr(s) == f'Signed(x_nonce="{s.x_nonce}")'
    # v1's canonical string holds the secret: repr shows the header only.
    assert repr(v1({})) == f'Signed(x_nonce="{v1({}).x_nonce}")'
    assert s.header == xnonce.parse_header(s.x_nonce)
    assert v1({}).nonce is None


def test_random_nonce_and_clock_by_default() -> None:
    a = xnonce.sign_detailed("v2", "GET", "/c/a", {}, "svc", SECRET, host="h")
    b = xnonce.sign_detailed("v2", "GET", "/c/a", {}, "svc", SECRET, host="h")
    assert a.nonce != b.nonce
    assert a.timestamp > TS


def test_keyword_only_options() -> None:
    with pytest.raises(TypeError):
        xnonce.sign("v2", "GET", "/c/a", {}, "svc", SECRET, TS)  # type: ignore[call-arg]


def test_body_kinds_sign_the_same() -> None:
    assert (
        v2({}, body=b"{}").x_nonce
        == v2({}, body=bytearray(b"{}")).x_nonce
        == v2({}, body=memoryview(b"{}")).x_nonce
        == v2({}, body="{}").x_nonce
    )
    assert v2({}, body=b"").x_nonce == v2({}).x_nonce
    assert v2({}, body=memoryview(b"")).x_nonce == v2({}).x_nonce
    # Every bytes-like object is signed as its bytes, as hashlib reads them: a slice, a
    # non-contiguous view (C order), an array of wider items (their bytes, machine order).
    assert v2({}, body=memoryview(b"[{}]")[1:3]).x_nonce == v2({}, body=b"{}").x_nonce
    assert v2({}, body=memoryview(b"{a}")[::2]).x_nonce == v2({}, body=b"{}").x_nonce
    wide: Any = array.array("H", [1, 0xFFFF, 513])
    assert wide.tobytes() != b"\x01\xff\x02"
    assert v2({}, body=wide).x_nonce == v2({}, body=wide.tobytes()).x_nonce
    assert v2({}, body=memoryview(wide)).x_nonce == v2({}, body=wide.tobytes()).x_nonce
    # and verified as the same bytes.
    signed = xnonce.sign_detailed(
        "v2",
        "POST",
        "/c/a",
        {},
        "svc",
        SECRET,
        timestamp=TS,
        nonce=NONCE,
        host="api.test",
        body=b'{"a": 1}',
    )
    got = xnonce.Verifier({"svc": SECRET}).verify(
        "POST",
        "/c/a",
        host="api.test",
        x_nonce=signed.x_nonce,
        content_type="application/json",
        body=memoryview(bytearray(b'{"a": 1}')),
        now=TS,
    )
    assert got.client == "svc"
    # A view that can no longer be read is Python's own ValueError.
    released = memoryview(b"{}")
    released.release()
    with pytest.raises(ValueError, match="released"):
        v2({}, body=released)
    # A wrong type is a TypeError, as for every other argument (never the value in it).
    wrongs: list[tuple[Any, str]] = [
        (123, "int"),
        (["x"], "list"),
        ({"a": "b"}, "dict"),
    ]
    for wrong, name in wrongs:
        with pytest.raises(
            TypeError,
            match=f"^body must be bytes, str or another bytes-like object, not {name}$",
        ) as t:
            v2({}, body=wrong)
        assert not isinstance(t.value, xnonce.XNonceError)
        with pytest.raises(TypeError, match=r"^body must be"):
            xnonce.Verifier({"svc": SECRET}).verify("POST", "/c/a", x_nonce="v2 x", body=wrong)


def test_link_and_link_detailed() -> None:
    url = xnonce.link(
        "v2",
        "GET",
        "/c/a",
        {"q": "a b"},
        "svc",
        SECRET,
        "https://API.test/",
        timestamp=TS,
        nonce=NONCE,
    )
    assert url.startswith("https://API.test/c/a?q=a%20b&ottoken=")
    d = xnonce.link_detailed(
        "v2",
        "GET",
        "/c/a",
        {"q": "a b"},
        "svc",
        SECRET,
        "https://API.test",
        timestamp=TS,
        nonce=NONCE,
    )
    assert d.url == url and str(d) == url
    assert repr(d) == f'Link(url="{url}")'
    assert d.signed.x_nonce == v2({"q": "a b"}).x_nonce  # the host comes from the URL
    assert xnonce.ottoken_decode(url.rsplit("ottoken=", 1)[1]) == d.signed.x_nonce


# ---- headers and ottokens ----


def test_parse_header_v1_and_v2() -> None:
    h2 = xnonce.parse_header(v2({}).x_nonce)
    assert (h2.scheme, h2.client, h2.timestamp, h2.nonce, h2.request_id) == (
        "v2",
        "svc",
        TS,
        NONCE,
        NONCE,
    )
    assert len(h2.signature) == 64
    h1 = xnonce.parse_header(v1({}).x_nonce)
    assert (h1.scheme, h1.nonce, h1.request_id) == ("v1", None, h1.signature)
    # `mac` (the name every package uses) and `signature`: v1's first field, v2's last.
    assert h1.mac == h1.signature == v1({}).x_nonce.split(" ")[0]
    assert h2.mac == h2.signature == v2({}).x_nonce.split(" ")[-1]
    assert h1.to_ottoken() == v1({}).ottoken
    assert {h1, h2, xnonce.parse_header(str(h1))} == {h1, h2}
    assert repr(h1).startswith("Header(")


def test_ottoken_query_value_escapes_v1_only() -> None:
    t1, t2 = v1({}).ottoken, v2({}).ottoken
    assert xnonce.ottoken_query_value(t2) == t2
    assert "%3D" in xnonce.ottoken_query_value(t1) or "=" not in t1


# ---- Verifier ----


def verifier(**kw: object) -> xnonce.Verifier:
    return xnonce.Verifier({"svc": SECRET}, **kw)  # type: ignore[arg-type]


def signed_get(params: dict[str, str], ts: int = TS, scheme: str = "v2") -> str:
    return xnonce.sign(scheme, "GET", "/c/a", params, "svc", SECRET, host="api.test", timestamp=ts)


def test_verify_returns_the_verified_request() -> None:
    h = signed_get({"q": "a b", "n": "1"})
    v = verifier().verify("GET", "/c/a?q=a%20b&n=1", host="api.test", x_nonce=h, now=TS + 5)
    assert (v.scheme, v.client, v.timestamp, v.secret_index, v.via_ottoken) == (
        "v2",
        "svc",
        TS,
        0,
        False,
    )
    assert v.params == [("q", "a b"), ("n", "1")]
    assert v.replay_key.startswith("v2:svc:")
    assert v.remember_until == TS + 30_000
    assert "svc" in repr(v)


def test_verify_v1_and_form_bodies() -> None:
    h = xnonce.sign("v1", "POST", "/c/a", [("a", "1"), ("b", "x y")], "svc", SECRET, timestamp=TS)
    v = verifier().verify(
        "POST",
        "/c/a?a=1",
        x_nonce=h,
        content_type="application/x-www-form-urlencoded",
        body=b"b=x+y",
        now=TS,
    )
    assert v.scheme == "v1" and v.params == [("a", "1"), ("b", "x y")]


def test_verify_json_body_v2() -> None:
    body = b'{"x": 1}'
    h = xnonce.sign(
        "v2", "POST", "/c/a", {}, "svc", SECRET, host="api.test", timestamp=TS, body=body
    )
    ok = verifier().verify(
        "POST",
        "/c/a",
        host="api.test",
        x_nonce=h,
        content_type="application/json",
        body=body,
        now=TS,
    )
    assert ok.client == "svc"
    with pytest.raises(xnonce.AuthError) as e:
        verifier().verify(
            "POST",
            "/c/a",
            host="api.test",
            x_nonce=h,
            content_type="application/json",
            body=b"{}",
            now=TS,
        )
    assert e.value.code == "signature_mismatch"


def test_verify_once_refuses_replays() -> None:
    ver = verifier()
    h = signed_get({})
    ver.verify_once("GET", "/c/a", host="api.test", x_nonce=h, now=TS)
    with pytest.raises(xnonce.AuthError) as e:
        ver.verify_once("GET", "/c/a", host="api.test", x_nonce=h, now=TS + 1)
    assert e.value.code == "replayed" and e.value.http_status == 409
    # verify() alone does not remember; another verifier has its own store.
    ver.verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS)
    verifier().verify_once("GET", "/c/a", host="api.test", x_nonce=h, now=TS)


def test_verify_via_ottoken_link() -> None:
    url = xnonce.link(
        "v2", "GET", "/c/a", {"q": "1"}, "svc", SECRET, "http://api.test", timestamp=TS
    )
    target = url[len("http://api.test") :]
    v = verifier().verify_once("GET", target, host="api.test", now=TS)
    assert v.via_ottoken and v.params == [("q", "1")]


def test_expired_carries_an_authentic_server_time() -> None:
    h = signed_get({}, ts=TS)
    with pytest.raises(xnonce.AuthError) as e:
        verifier().verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS + 30_001)
    err = e.value
    assert err.code == "expired" and err.server_time == TS + 30_001
    assert err.server_time_mac is not None and len(err.server_time_mac) == 64
    assert verifier().verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS + 30_000)


def test_windows_per_controller_and_action() -> None:
    h = signed_get({})
    ver = verifier(
        window_ms=1_000, controller_windows={"c": 5_000}, action_windows={("c", "a"): 10_000}
    )
    ver.verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS + 10_000)
    ver2 = verifier(
        window_ms=1_000, controller_windows={"c": 5_000}, action_windows={"c/other": 10_000}
    )
    # /c/a has no action window here: the controller's 5 s, not the default 1 s.
    assert ver2.verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS + 4_000).client == "svc"
    with pytest.raises(xnonce.AuthError):
        ver2.verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS + 6_000)


def test_an_action_window_key_splits_at_its_last_slash_as_a_path_does() -> None:
    # /api/v1/users/list: controller api/v1/users, action list (PROTOCOL §11.3).
    h = xnonce.sign("v2", "GET", "/api/v1/users/list", [], "svc", SECRET, timestamp=TS, host="h")
    by_text = xnonce.Verifier(
        {"svc": SECRET}, window_ms=1_000, action_windows={"api/v1/users/list": 10_000}
    )
    by_pair = xnonce.Verifier(
        {"svc": SECRET}, window_ms=1_000, action_windows={("api/v1/users", "list"): 10_000}
    )
    for ver in (by_text, by_pair):
        assert ver.verify("GET", "/api/v1/users/list", host="h", x_nonce=h, now=TS + 9_000)
    for bad in ("reports", "reports/"):
        with pytest.raises(xnonce.InputError) as e:
            xnonce.Verifier({"svc": SECRET}, action_windows={bad: 10_000})
        assert e.value.code == "invalid_path"


@pytest.mark.parametrize(
    "kw",
    [
        {"action_windows": {("reports", ""): 5_000}},
        {"action_windows": {("reports", "live/now"): 5_000}},
        {"action_windows": {("/reports", "live"): 5_000}},
        {"action_windows": {"api//v1/list": 5_000}},
        {"controller_windows": {"reports/": 5_000}},
    ],
)
def test_a_window_no_request_path_can_select_is_invalid_path(kw: dict[str, Any]) -> None:
    # Core's WindowPolicy::check_reachable: such a window never applied (the default did),
    # and a pair key reached it without the check a "controller/action" key had.
    with pytest.raises(xnonce.InputError) as e:
        xnonce.Verifier({"svc": SECRET}, **kw)
    assert e.value.code == "invalid_path"
    assert "can never apply" in str(e.value)


@pytest.mark.parametrize("bad", [-1, 86_400_001, 2**63, 2**64 - 1, 2**64, 10**30, -(2**70)])
def test_a_window_out_of_range_is_invalid_timestamp(bad: int) -> None:
    # Core's window::window_from_i128: 0..=one day. 2**64 - 1 switched freshness off once.
    for kw in (
        {"window_ms": bad},
        {"controller_windows": {"c": bad}},
        {"action_windows": {("c", "a"): bad}},
        {"action_windows": {"c/a": bad}},
    ):
        with pytest.raises(xnonce.InputError) as e:
            xnonce.Verifier({"svc": SECRET}, **kw)
        assert e.value.code == "invalid_timestamp", kw


@pytest.mark.parametrize("bad", [True, False, 1.5, 30_000.0, "30000", None, [1]])
def test_a_window_that_is_not_an_int_is_a_type_error(bad: object) -> None:
    kws: list[dict[str, Any]] = [
        {"window_ms": bad},
        {"controller_windows": {"c": bad}},
        {"action_windows": {("c", "a"): bad}},
    ]
    for kw in kws:
        with pytest.raises(TypeError) as e:
            xnonce.Verifier({"svc": SECRET}, **kw)
        assert not isinstance(e.value, xnonce.XNonceError), kw


def test_what_a_number_setting_raises_when_read_is_raised_as_is() -> None:
    """A window, an `int` setting or a timeout is read through `__index__` / `__float__`: what
    they raise (Ctrl-C's KeyboardInterrupt, a MemoryError, the object's own error) was replaced
    by a `TypeError` saying the value is not a number, as the timestamps do not."""

    class Boom(Exception):
        pass

    class Raises:
        def __index__(self) -> int:
            raise Boom

        def __float__(self) -> float:
            raise Boom

    calls: list[Callable[[], object]] = [
        lambda: xnonce.Verifier({"svc": SECRET}, window_ms=Raises()),  # type: ignore[arg-type]
        lambda: xnonce.Verifier({"svc": SECRET}, controller_windows={"c": Raises()}),  # type: ignore[dict-item]
        lambda: xnonce.Answer.body_too_large(Raises()),  # type: ignore[arg-type]
        lambda: xnonce.Requester("http://127.0.0.1:9", "svc", SECRET, clock_offset_ms=Raises()),  # type: ignore[arg-type]
        lambda: xnonce.Requester("http://127.0.0.1:9", "svc", SECRET, timeout=Raises()),  # type: ignore[arg-type]
        lambda: xnonce.sign("v1", "GET", "/c/a", [], "svc", SECRET, timestamp=Raises()),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(Boom):
            call()


def test_windows_at_the_bounds_are_accepted() -> None:
    h = signed_get({})
    assert verifier(window_ms=86_400_000).verify(
        "GET", "/c/a", host="api.test", x_nonce=h, now=TS + 86_400_000
    )
    with pytest.raises(xnonce.AuthError):
        verifier(window_ms=0).verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS + 1)
    assert verifier(controller_windows={"c": 0}, action_windows={"c/a": 86_400_000})


@pytest.mark.parametrize("windows", [[("c", 1_000)], ("c", 1_000), "c", 5])
def test_route_windows_that_are_not_mappings_are_type_errors(windows: object) -> None:
    for name in ("controller_windows", "action_windows"):
        with pytest.raises(TypeError, match=f"{name} must be a mapping") as e:
            xnonce.Verifier({"svc": SECRET}, **{name: windows})  # type: ignore[arg-type]
        assert not isinstance(e.value, AttributeError)
    assert verifier(controller_windows=MappingProxyType({"c": 1_000}))


@pytest.mark.parametrize(
    ("routes", "code"),
    [
        ({"/c": {}}, "invalid_path"),
        ({"c d": {"a_get": {}}}, "invalid_path"),
        ({"c": {"a?_get": {}}}, "invalid_path"),
        ({"c": {"x/a_get": {}}}, "invalid_path"),
        ({"c": {"a_get": {}, "a_GET": {}}}, "invalid_path"),
        ({"c": {"a": {}}}, "invalid_path"),
        ({"c": {"__defaults": {}}}, "invalid_path"),
        ({"c": {"a_g3t": {}}}, "invalid_method"),
        ({"c": {"a_get": {"": "req"}}}, "invalid_param_key"),
        ({"c": {"__default_parameters": {"ottoken": "exc"}}}, "invalid_param_key"),
        ({"c": {"a_get": {"x": "maybe"}}}, "invalid_param_value"),
    ],
)
def test_routes_no_request_could_match_are_refused(routes: Any, code: str) -> None:
    """Core's RouteTable::add_checked, as xnonce-server's config: a route table that would
    answer every request to a route 404 or 422 is refused when the verifier is made."""
    with pytest.raises(xnonce.InputError) as e:
        xnonce.Verifier({"svc": SECRET}, routes=routes)
    assert e.value.code == code


@pytest.mark.parametrize(
    "routes",
    [
        [("c", {})],
        {"c": [("a_get", {})]},
        {"c": {"a_get": ["x"]}},
        "c",
        {"c": None},
        {"c": {"a_get": None}},
    ],
)
def test_routes_that_are_not_mappings_are_type_errors(routes: object) -> None:
    """Only `routes` itself may be None (no table): a None inside it (YAML's `a_get:` with no
    value) is refused, as the Node verifier refuses `null` there (the server's TOML has no
    null), not read as an empty table."""
    with pytest.raises(TypeError, match="must be a mapping") as e:
        xnonce.Verifier({"svc": SECRET}, routes=routes)  # type: ignore[arg-type]
    assert not isinstance(e.value, xnonce.XNonceError)


def test_a_verifier_with_routes_checks_them_before_the_credential() -> None:
    routes = {
        "c": {"__default_parameters": {"k": "req"}, "a_get": {"x": "exc"}},
        "d": {"b_post": {}},
    }
    routed = verifier(routes=MappingProxyType(routes))
    h = signed_get({"k": "1"})
    assert routed.verify("GET", "/c/a?k=1", host="api.test", x_nonce=h, now=TS).params == [
        ("k", "1")
    ]
    for target, code, message in [
        ("/c/a", "missing_param", "Missing required parameter k"),
        ("/c/a?k=1&x=2", "excluded_param", "Included invalid parameter x"),
        ("/d/b", "unknown_route", "action_method (b_get) not found in controller d"),
        ("/e/a?k=1", "unknown_route", "controller (e) not found"),
    ]:
        for x_nonce in (h, None):
            with pytest.raises(xnonce.RouteError) as e:
                routed.verify_once("GET", target, host="api.test", x_nonce=x_nonce, now=TS)
            assert (e.value.code, e.value.message) == (code, message)
    # None of those was recorded: the request that meets the rules is accepted once.
    routed.verify_once("GET", "/c/a?k=1", host="api.test", x_nonce=h, now=TS)
    with pytest.raises(xnonce.AuthError):
        routed.verify_once("GET", "/c/a?k=1", host="api.test", x_nonce=h, now=TS)


def test_a_window_that_names_no_route_is_warned_of_as_the_server_does() -> None:
    # With routes, a request without one is refused before any window applies: a window on
    # a misspelt controller or action applies to no request. Warned of, not refused.
    routes: dict[str, dict[str, dict[str, str]]] = {"reports": {"daily_get": {}, "a%62_get": {}}}
    with pytest.warns(RuntimeWarning) as seen:
        xnonce.Verifier(
            {"svc": SECRET},
            controller_windows={"reprots": 60_000, "reports": 10_000},
            action_windows={("reports", "live"): 1_000, ("reports", "daily"): 5_000},
            routes=routes,
        )
    assert [str(w.message) for w in seen] == [
        'xnonce.Verifier: controller_windows["reprots"] names no route, so it applies to no '
        "request (a misspelt controller or action?)",
        'xnonce.Verifier: action_windows[("reports", "live")] names no route, so it applies to '
        "no request (a misspelt controller or action?)",
    ]
    assert all(w.filename == __file__ for w in seen), [w.filename for w in seen]
    # A route takes its window by its decoded name (a%62 is ab); windows apply by path
    # without routes: nothing to say in either case.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xnonce.Verifier({"svc": SECRET}, action_windows={"reports/ab": 1_000}, routes=routes)
        xnonce.Verifier({"svc": SECRET}, controller_windows={"reprots": 60_000})
    # As errors (python -W error), the verifier is not made.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="reprots"):
            xnonce.Verifier({"svc": SECRET}, controller_windows={"reprots": 1}, routes=routes)


def test_secret_rotation_lists_and_callables() -> None:
    h = signed_get({})
    rotating = xnonce.Verifier({"svc": [OTHER, SECRET]})
    assert rotating.verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS).secret_index == 1
    looked_up: list[str] = []

    def source(client: str) -> str | None:
        looked_up.append(client)
        return SECRET if client == "svc" else None

    assert (
        xnonce.Verifier(source).verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS).client
        == "svc"
    )
    assert looked_up == ["svc"]


def test_secret_source_errors_propagate() -> None:
    def broken(client: str) -> str:
        raise KeyError("database down")

    with pytest.raises(KeyError):
        xnonce.Verifier(broken).verify(
            "GET", "/c/a", host="api.test", x_nonce=signed_get({}), now=TS
        )


def test_a_verifier_in_a_reference_cycle_is_collected() -> None:
    """The usual shapes: an app object whose verifier looks secrets up through a bound method
    of the app, and a replay store that keeps the verifier. Both are reference cycles through
    the verifier; the garbage collector must see them, or the app (and its secrets) is never
    freed."""

    class App:
        def __init__(self) -> None:
            self.verifier = xnonce.Verifier(self.lookup)

        def lookup(self, client: str) -> str:
            return SECRET

    class Store:
        def __init__(self) -> None:
            self.verifier = xnonce.Verifier({"svc": SECRET}, replay_store=self)

        def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
            return True

    for make in (App, Store):
        held = make()
        assert held.verifier.verify_once(
            "GET", "/c/a", host="api.test", x_nonce=signed_get({}), now=TS
        )
        gone = weakref.ref(held)
        del held
        gc.collect()
        assert gone() is None, make.__name__


def test_a_secret_that_is_no_secret_text_is_refused_in_a_dict_and_skipped_when_looked_up() -> None:
    # The verifier's configuration: refused when it is made, as every binding refuses it.
    for given in ("has space", ["has space", SECRET], "", "x" * 2000):
        with pytest.raises(xnonce.InputError) as refused:
            xnonce.Verifier({"svc": given})
        assert refused.value.code == "invalid_secret" and "has space" not in str(refused.value)
    # Looked up live (a callable, a mapping, a dict changed later): PROTOCOL §11.1 step 5 skips
    # it as no live secret; the client's other secrets still verify, counted among the live
    # ones (secret_index), and with none left the client is unknown.
    h = signed_get({})
    found: dict[str, object] = {"svc": ["has space", OTHER, SECRET]}
    for source in (found.get, MappingProxyType(found)):
        ok = xnonce.Verifier(source).verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS)  # type: ignore[arg-type]
        assert (ok.client, ok.secret_index) == ("svc", 1)
    changed: dict[str, object] = {"svc": SECRET}
    verifier = xnonce.Verifier(changed)  # type: ignore[arg-type]
    changed["svc"] = "has space"
    lone = SECRET[:-1] + "\udcff"  # not text: not a live secret either
    for unusable in (
        verifier,
        xnonce.Verifier(lambda client: "has space"),
        xnonce.Verifier(lambda c: lone),
    ):
        with pytest.raises(xnonce.AuthError) as unknown:
            unusable.verify("GET", "/c/a", host="api.test", x_nonce=h, now=TS)
        assert unknown.value.code == "unknown_client" and unknown.value.answer is not None


def test_a_secrets_dict_changed_while_it_is_checked_is_no_crash() -> None:
    """A dict of secrets is checked when the verifier is made, which iterates each value: an
    iterable whose `__iter__` changes the dict must not crash the extension (a Rust panic:
    `PanicException`)."""
    secrets: dict[str, object] = {}

    class Rotating:
        def __iter__(self) -> Iterator[str]:
            secrets["late"] = SECRET
            return iter([OTHER, SECRET])

    secrets.update(svc=Rotating(), other=SECRET)
    verifier = xnonce.Verifier(secrets)  # type: ignore[arg-type]
    assert "late" in secrets
    ok = verifier.verify("GET", "/c/a", host="api.test", x_nonce=signed_get({}), now=TS)
    assert (ok.client, ok.secret_index) == ("svc", 1)


def test_a_one_shot_iterator_of_secrets_in_a_dict_is_refused_not_used_up() -> None:
    """A dict is read on every request, and its secrets are checked when the verifier is made:
    a one-shot iterator given for a client (`map(str.strip, ...)`, a generator) was used up by
    that check, and every request of the client refused as `unknown_client`."""
    for one_shot in (
        map(str.strip, [f" {SECRET} "]),
        (s for s in [SECRET]),
        iter([SECRET]),
        reversed([OTHER, SECRET]),
    ):
        with pytest.raises(TypeError, match="one-shot iterator") as refused:
            xnonce.Verifier({"svc": one_shot})  # type: ignore[dict-item]
        assert SECRET not in str(refused.value)
    # Collections that iterate afresh each time are secrets lists.
    for many in ([SECRET], (SECRET,), {SECRET}, frozenset([OTHER, SECRET])):
        verifier = xnonce.Verifier({"svc": many})  # type: ignore[dict-item]
        for _ in range(2):
            assert verifier.verify("GET", "/c/a", host="api.test", x_nonce=signed_get({}), now=TS)


def test_a_secret_source_of_the_wrong_type_fails_at_construction() -> None:
    for bad in (None, 5, "svc", b"svc", [("svc", SECRET)]):
        with pytest.raises(TypeError, match="secrets must be a mapping"):
            xnonce.Verifier(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        xnonce.Verifier({"svc": 5}).verify(  # type: ignore[dict-item]
            "GET", "/c/a", host="api.test", x_nonce=signed_get({}), now=TS
        )


@pytest.mark.parametrize("found", [SECRET.encode(), bytearray(SECRET.encode()), {SECRET: 1}])
def test_a_lookup_giving_bytes_or_a_mapping_names_what_it_gave(found: object) -> None:
    # Not "secret must be str ..., not int": bytes iterate as ints, a mapping as its keys.
    with pytest.raises(
        TypeError, match=f"a secrets lookup must give .*, not {type(found).__name__}"
    ):
        xnonce.Verifier(lambda client: found).verify(  # type: ignore[arg-type,return-value]
            "GET", "/c/a", host="api.test", x_nonce=signed_get({}), now=TS
        )
    with pytest.raises(
        TypeError, match=f"secret must be str or xnonce.Secret, not {type(found).__name__}"
    ):
        xnonce.Verifier(lambda client: [found]).verify(  # type: ignore[list-item]
            "GET", "/c/a", host="api.test", x_nonce=signed_get({}), now=TS
        )


@pytest.mark.parametrize("bad", [True, False, 1.5, "10", None])
def test_answer_body_too_large_limit_must_be_an_int(bad: object) -> None:
    with pytest.raises(TypeError, match="limit"):
        xnonce.Answer.body_too_large(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, 2**64, -(10**30)])
def test_answer_body_too_large_limit_out_of_range_is_a_value_error(bad: int) -> None:
    with pytest.raises(ValueError, match="limit") as e:
        xnonce.Answer.body_too_large(bad)
    assert not isinstance(e.value, OverflowError)
    assert xnonce.Answer.body_too_large(0).status == 413


def test_schemes_restrict_what_is_accepted() -> None:
    h1 = signed_get({}, scheme="v1")
    with pytest.raises(xnonce.FormatError) as e:
        verifier(schemes=["v2"]).verify("GET", "/c/a", x_nonce=h1, now=TS)
    assert e.value.code == "unsupported_scheme"
    assert verifier(schemes=["v1"]).verify("GET", "/c/a", x_nonce=h1, now=TS).scheme == "v1"
    with pytest.raises(xnonce.FormatError, match="at least one scheme") as e:
        verifier(schemes=[])
    assert e.value.code == "unsupported_scheme"


def test_hosts_refuse_v2_requests_signed_for_a_host_the_service_does_not_serve() -> None:
    served = verifier(hosts=["API.test", "api.test:8443"])

    def signed_for(host: str) -> str:
        return xnonce.sign("v2", "GET", "/c/a", {}, "svc", SECRET, host=host, timestamp=TS)

    for host in ("api.test", "api.test:443", "Api.Test:8443"):
        assert (
            served.verify("GET", "/c/a", host=host, x_nonce=signed_for(host), now=TS).client
            == "svc"
        )
    for host in ("staging.test", "api.test:8080"):
        x_nonce = signed_for(host)
        # Any host verifies without the list; with it, the request is not this service's.
        assert verifier().verify("GET", "/c/a", host=host, x_nonce=x_nonce, now=TS).client == "svc"
        with pytest.raises(xnonce.InputError, match="a host this service does not serve") as e:
            served.verify("GET", "/c/a", host=host, x_nonce=x_nonce, now=TS)
        assert e.value.code == "invalid_host"
    # v1 signs no host: not checked.
    v1 = signed_get({}, scheme="v1")
    assert served.verify("GET", "/c/a", host="staging.test", x_nonce=v1, now=TS).scheme == "v1"
    for bad in ([], ["a b"]):
        with pytest.raises(xnonce.InputError) as e:
            verifier(hosts=bad)
        assert e.value.code == "invalid_host"
    with pytest.raises(xnonce.InputError) as e:
        verifier(hosts=["x\ud800"])
    assert str(e.value) == (
        "invalid_host: a host the verifier serves is not valid Unicode text"
        " (it holds a lone surrogate)"
    )


# ---- sign_request: as an HTTP client sends it ----


def test_sign_request_reads_query_and_form_like_the_verifier() -> None:
    form = "application/x-www-form-urlencoded; charset=utf-8"
    for scheme in ("v1", "v2"):
        h = xnonce.sign_request(
            scheme,
            "post",
            "API.test:443",
            "/c/a?x=1&y=a+b",
            "svc",
            SECRET,
            content_type=form,
            body=b"z=%C3%A9",
        )
        v = verifier().verify(
            "POST",
            "/c/a?x=1&y=a+b",
            host="api.test",
            x_nonce=h,
            content_type=form,
            body=b"z=%C3%A9",
        )
        assert v.params == [("x", "1"), ("y", "a b"), ("z", "é")]


def test_sign_request_v1_refuses_non_form_bodies() -> None:
    with pytest.raises(xnonce.InputError) as e:
        xnonce.sign_request(
            "v1", "POST", "h", "/c/a", "svc", SECRET, content_type="application/json", body=b"{}"
        )
    assert e.value.code == "invalid_body"


@pytest.mark.parametrize("target", ["/c/a#f", "/c/a?x=1#f"])
def test_sign_request_refuses_a_fragment(target: str) -> None:
    with pytest.raises(xnonce.InputError, match="no fragment") as e:
        xnonce.sign_request("v2", "GET", "api.test", target, "svc", SECRET)
    assert e.value.code == "invalid_path"


def test_sign_request_sends_an_empty_path_as_slash() -> None:
    kw: dict[str, Any] = {"timestamp": TS, "nonce": NONCE}
    assert xnonce.sign_request(
        "v2", "GET", "h", "?x=1", "svc", SECRET, **kw
    ) == xnonce.sign_request("v2", "GET", "h", "/?x=1", "svc", SECRET, **kw)


def test_version_and_codes() -> None:
    assert xnonce.__version__
    assert "invalid_param_value" in xnonce.ERROR_CODES and "replayed" in xnonce.ERROR_CODES


def test_integers_cover_the_signed_128_bit_range() -> None:
    """Both ends of -2**127..=2**127-1 sign as plain decimals (PROTOCOL §3.6.1)."""
    for n in (-(2**127), 2**127 - 1):
        assert v2({"k": n}).x_nonce == v2({"k": str(n)}).x_nonce


def test_the_error_codes_cannot_be_changed_and_shared_keys_is_exported() -> None:
    import xnonce.redis

    assert isinstance(xnonce.ERROR_CODES, tuple)
    assert xnonce.ERROR_CODES == xnonce._xnonce.ERROR_CODES
    assert xnonce.SharedKeys is xnonce.redis.SharedKeys


def test_pairs_given_as_lists_of_two_are_pairs() -> None:
    # Typed as the README says (mypy checks this file): a list of [key, value] lists.
    as_lists = xnonce.sign("v1", "GET", "/c/a", [["b", "2"], ["a", 1]], "svc", SECRET, timestamp=TS)
    assert as_lists == v1([("b", "2"), ("a", "1")]).x_nonce
