"""``Verifier.reconfigure``: new windows, schemes, hosts and routes in place, the secrets and the
replay store kept, and a request the old settings may have accepted checked under the narrower
of the old and new windows (PROTOCOL §14.1, *Replay window*). Deterministic through ``now=``."""

from __future__ import annotations

import asyncio
import io
import itertools
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import xnonce
from xnonce.asgi import XNonceMiddleware as AsgiMiddleware
from xnonce.wsgi import XNonceMiddleware as WsgiMiddleware

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
T = 1_700_000_000_000
#: core's REPLACE_MARGIN_MS: how long after the swap the old settings may still have verified.
MARGIN = 1_000
NONCES = itertools.count()


def signed(ts: int, *, scheme: str = "v2", target: str = "/c/a", host: str = "api.test") -> str:
    """A fresh X-Nonce for GET ``target`` stamped ``ts`` (a new nonce each time in v2)."""
    if scheme == "v1":
        # v1's replay key is its token, which the timestamp and params decide.
        return xnonce.sign_request("v1", "GET", host, target, "svc", SECRET, timestamp=ts)
    nonce = f"{next(NONCES):032x}"
    return xnonce.sign_request("v2", "GET", host, target, "svc", SECRET, timestamp=ts, nonce=nonce)


def once(verifier: xnonce.Verifier, header: str, now: int, target: str = "/c/a") -> str:
    """``verify_once``'s outcome: ``"ok"`` or the refusal's code."""
    try:
        verifier.verify_once("GET", target, host="api.test", x_nonce=header, now=now)
    except xnonce.XNonceError as e:
        return e.code
    return "ok"


def check(verifier: xnonce.Verifier, header: str, now: int, target: str = "/c/a") -> str:
    """``verify``'s outcome (nothing recorded): ``"ok"`` or the refusal's code."""
    try:
        verifier.verify("GET", target, host="api.test", x_nonce=header, now=now)
    except xnonce.XNonceError as e:
        return e.code
    return "ok"


class DictStore:
    """A replay store in Python (``replay_store=``), as ``xnonce.redis`` is one."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}

    def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
        if self.keys.get(key, -1) >= now_ms:
            return False
        self.keys[key] = expires_at_ms
        return True


# ---- windows ----


def test_a_widened_window_accepts_no_copy_whose_key_expired_under_the_old_one() -> None:
    verifier = xnonce.Verifier({"svc": SECRET}, window_ms=5_000)
    header = signed(T)
    assert once(verifier, header, now=T) == "ok"
    verifier.reconfigure(window_ms=60_000, now=T)
    # Its replay key was kept until T + 5 s; at T + 5.5 s the store has forgotten it. Under the
    # new 60 s window alone it would be fresh, and accepted a second time: with a reconfigure
    # that swapped in the new settings without core's `replacing`, this assertion fails
    # ("ok" != "expired").
    assert once(verifier, header, now=T + 5_500) == "expired"
    # So does any request stamped early enough for the old settings to have accepted it (up
    # to the swap, plus the margin, plus the old window)...
    assert once(verifier, signed(T + MARGIN + 5_000), now=T + MARGIN + 10_001) == "expired"
    # ...while a later one has the new window: accepted 30 s old.
    assert once(verifier, signed(T + MARGIN + 5_001), now=T + MARGIN + 35_001) == "ok"


def test_a_narrowed_window_applies_at_once() -> None:
    verifier = xnonce.Verifier({"svc": SECRET}, window_ms=60_000)
    before = signed(T - 1_000)
    assert check(verifier, before, now=T + 10_000) == "ok"
    verifier.reconfigure(window_ms=5_000, now=T)
    # Stamped before the swap, within the old window: the new, narrower one applies.
    assert check(verifier, before, now=T + 10_000) == "expired"
    assert check(verifier, signed(T), now=T + 5_001) == "expired"
    assert once(verifier, signed(T), now=T + 5_000) == "ok"


def test_route_windows_are_replaced_too() -> None:
    verifier = xnonce.Verifier({"svc": SECRET}, controller_windows={"c": 5_000})
    assert check(verifier, signed(T), now=T + 10_000) == "expired"
    verifier.reconfigure(action_windows={("c", "a"): 60_000}, now=T - 100_000)
    assert check(verifier, signed(T), now=T + 50_000) == "ok"
    assert check(verifier, signed(T, target="/c/b"), now=T + 50_000, target="/c/b") == "expired"


def test_what_is_not_given_is_the_constructors_default() -> None:
    # The whole configuration is replaced, as reloading a configuration file replaces it:
    # not merged with the old one.
    verifier = xnonce.Verifier(
        {"svc": SECRET}, window_ms=5_000, schemes=["v2"], hosts=["other.test"]
    )
    assert check(verifier, signed(T), now=T) == "invalid_host"
    assert check(verifier, signed(T, scheme="v1"), now=T) == "unsupported_scheme"
    verifier.reconfigure(routes={"c": {"a_get": {}}}, now=T - 100_000)
    assert check(verifier, signed(T), now=T) == "ok"
    assert check(verifier, signed(T, scheme="v1"), now=T) == "ok"
    # The default window, 30 s.
    assert check(verifier, signed(T), now=T + 30_000) == "ok"
    assert check(verifier, signed(T), now=T + 30_001) == "expired"
    # And with no routes given, none: any path again.
    verifier.reconfigure(now=T - 100_000)
    assert check(verifier, signed(T, target="/x/y"), now=T, target="/x/y") == "ok"


# ---- what stays ----


@pytest.mark.parametrize("store", [None, DictStore()], ids=["memory", "replay_store"])
def test_the_replay_store_is_kept(store: DictStore | None) -> None:
    verifier = xnonce.Verifier({"svc": SECRET}, replay_store=store)
    v2, v1 = signed(T), signed(T, scheme="v1")
    assert once(verifier, v2, now=T) == once(verifier, v1, now=T) == "ok"
    verifier.reconfigure(window_ms=60_000, schemes=["v1", "v2"], now=T + 1)
    assert verifier._replay_store is store
    assert once(verifier, v2, now=T + 2) == "replayed"
    assert once(verifier, v1, now=T + 2) == "replayed"
    assert once(verifier, signed(T), now=T + 2) == "ok"


def test_the_secrets_source_is_kept() -> None:
    asked: list[str] = []

    def secrets(client: str) -> str | None:
        asked.append(client)
        return SECRET if client == "svc" else None

    verifier = xnonce.Verifier(secrets)
    verifier.reconfigure(window_ms=10_000, now=T)
    assert check(verifier, signed(T), now=T) == "ok"
    assert asked == ["svc"]


# ---- invalid settings: the constructor's errors, nothing changed ----

INVALID: list[dict[str, Any]] = [
    {"schemes": []},
    {"schemes": ["v3"]},
    {"schemes": "v2"},
    {"window_ms": 86_400_001},
    {"window_ms": -1},
    {"window_ms": True},
    {"window_ms": 5_000.0},
    {"window_ms": "5000"},
    {"controller_windows": {"c": 86_400_001}},
    {"controller_windows": [("c", 5_000)]},
    {"action_windows": {"nopath": 5_000}},
    {"action_windows": {("c", ""): 5_000}},
    {"hosts": ["bad host"]},
    {"hosts": "api.test"},
    {"routes": {"/c": {"a_get": {}}}},
    {"routes": {"c": {"a_get": {"p": "maybe"}}}},
    {"routes": {"c": {"a": {}}}},
    {"routes": {"c": None}},
    {"routes": [("c", {})]},
]


@pytest.mark.parametrize("settings", INVALID, ids=repr)
def test_invalid_settings_raise_the_constructors_error_and_change_nothing(
    settings: dict[str, Any],
) -> None:
    with pytest.raises(Exception) as built:
        xnonce.Verifier({"svc": SECRET}, **settings)
    verifier = xnonce.Verifier({"svc": SECRET}, window_ms=5_000, schemes=["v2"])
    with pytest.raises(type(built.value)) as reconfigured:
        verifier.reconfigure(**settings, now=T - 100_000)
    assert str(reconfigured.value) == str(built.value)
    assert getattr(reconfigured.value, "code", None) == getattr(built.value, "code", None)
    # The old settings still in force: 5 s, v2 only, any path.
    assert check(verifier, signed(T), now=T + 5_000) == "ok"
    assert check(verifier, signed(T), now=T + 5_001) == "expired"
    assert check(verifier, signed(T, scheme="v1"), now=T) == "unsupported_scheme"
    assert check(verifier, signed(T, target="/x/y"), now=T, target="/x/y") == "ok"


def test_an_invalid_now_raises_as_verify_does_and_changes_nothing() -> None:
    verifier = xnonce.Verifier({"svc": SECRET}, window_ms=5_000)
    for now in (True, 1.5, -1):
        with pytest.raises(xnonce.InputError) as e:
            verifier.reconfigure(window_ms=60_000, now=now)  # type: ignore[arg-type]
        assert e.value.code == "invalid_timestamp"
    assert check(verifier, signed(T), now=T + 5_001) == "expired"


def test_a_route_window_naming_no_route_is_warned_of_and_an_error_under_w_error() -> None:
    routes: dict[str, dict[str, dict[str, str]]] = {"c": {"a_get": {}}}
    verifier = xnonce.Verifier({"svc": SECRET}, window_ms=5_000)
    with pytest.warns(RuntimeWarning, match='controller_windows\\["reprots"\\]'):
        verifier.reconfigure(controller_windows={"reprots": 1_000}, routes=routes, now=T)
    assert check(verifier, signed(T, target="/x/y"), now=T, target="/x/y") == "unknown_route"

    verifier = xnonce.Verifier({"svc": SECRET}, window_ms=5_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):
            verifier.reconfigure(controller_windows={"reprots": 1_000}, routes=routes, now=T)
    # Nothing changed: no routes, still 5 s.
    assert check(verifier, signed(T, target="/x/y"), now=T, target="/x/y") == "ok"
    assert check(verifier, signed(T), now=T + 5_001) == "expired"


# ---- the middlewares follow ----


def wsgi_get(middleware: WsgiMiddleware, path: str) -> str:
    header = xnonce.sign_request("v2", "GET", "api.test", path, "svc", SECRET)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "HTTP_HOST": "api.test",
        "HTTP_X_NONCE": header,
        "wsgi.input": io.BytesIO(b""),
    }
    statuses: list[str] = []
    b"".join(middleware(environ, lambda status, headers: statuses.append(status)))
    return statuses[0]


def asgi_get(middleware: AsgiMiddleware, path: str) -> int:
    header = xnonce.sign_request("v2", "GET", "api.test", path, "svc", SECRET)
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"api.test"), (b"x-nonce", header.encode())],
    }
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    status: int = sent[0]["status"]
    return status


def test_the_middlewares_follow_a_reconfigure() -> None:
    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    verifier = xnonce.Verifier({"svc": SECRET})
    wsgi = WsgiMiddleware(wsgi_app, verifier)
    asgi = AsgiMiddleware(asgi_app, verifier)
    assert wsgi_get(wsgi, "/up") == "200 OK" and asgi_get(asgi, "/up") == 200
    verifier.reconfigure(routes={"c": {"a_get": {}}})
    # An unknown route: 404, from the head (route_refusal) as from verify.
    assert wsgi_get(wsgi, "/up") == "404 Not Found" and asgi_get(asgi, "/up") == 404
    assert wsgi_get(wsgi, "/c/a") == "200 OK" and asgi_get(asgi, "/c/a") == 200
    verifier.reconfigure(schemes=["v1"])
    assert wsgi_get(wsgi, "/c/a").startswith("4") and asgi_get(asgi, "/c/a") // 100 == 4


# ---- threads ----


def test_a_verification_in_progress_finishes_with_the_settings_it_started_with() -> None:
    # A secrets lookup that reconfigures the very verifier it serves, mid-verification: the
    # verification goes on with the settings it took (v2 accepted), the next one has the new
    # (v1 only). Run in a child process: an implementation that held its lock while calling
    # the lookup would deadlock, and is to fail here, not hang the suite.
    code = textwrap.dedent(
        f"""
        import xnonce
        SECRET = {SECRET!r}
        verifier = None
        def secrets(client):
            verifier.reconfigure(schemes=["v1"], now={T})
            return SECRET
        verifier = xnonce.Verifier(secrets)
        def v2():
            args = ("v2", "GET", "api.test", "/c/a", "svc", SECRET)
            return xnonce.sign_request(*args, timestamp={T})
        verifier.verify("GET", "/c/a", host="api.test", x_nonce=v2(), now={T})
        try:
            verifier.verify("GET", "/c/a", host="api.test", x_nonce=v2(), now={T})
        except xnonce.XNonceError as e:
            print(e.code)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "unsupported_scheme", "")


def test_threads_verifying_while_another_reconfigures() -> None:
    def secrets(client: str) -> str:
        time.sleep(0)  # Lets another thread run mid-verification.
        return SECRET

    verifier = xnonce.Verifier(secrets, replay_store=None)
    expected = {"unsupported_scheme", "unknown_route"}
    failures: list[BaseException] = []
    outcomes: list[str] = []
    stop = threading.Event()

    def verifying() -> None:
        try:
            for i in range(300):
                # A target of its own: two v1 requests in the same ms would be one another's
                # replays (v1's replay key is its signed token).
                target = f"/c/a?t={threading.get_ident()}&i={i}"
                scheme = "v1" if i % 2 else "v2"
                header = xnonce.sign_request(scheme, "GET", "api.test", target, "svc", SECRET)
                try:
                    verifier.verify_once("GET", target, host="api.test", x_nonce=header)
                    outcomes.append("ok")
                except xnonce.XNonceError as e:
                    if e.code not in expected:
                        raise
                    outcomes.append(e.code)
        except BaseException as e:  # Reported by the main thread.
            failures.append(e)

    def reconfiguring() -> None:
        try:
            settings: list[dict[str, Any]] = [
                {"window_ms": 5_000, "schemes": ["v2"]},
                {"window_ms": 60_000, "routes": {"x": {"y_get": {}}}},
                {"controller_windows": {"c": 10_000}, "hosts": ["api.test"]},
                {},
            ]
            for i in itertools.count():
                if stop.is_set():
                    return
                verifier.reconfigure(**settings[i % len(settings)])
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=verifying) for _ in range(3)]
    reconfigurer = threading.Thread(target=reconfiguring)
    started = time.monotonic()
    reconfigurer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stop.set()
    reconfigurer.join(timeout=60)
    assert not any(t.is_alive() for t in [*threads, reconfigurer])
    assert failures == []
    assert len(outcomes) == 900 and "ok" in outcomes
    assert time.monotonic() - started < 60
