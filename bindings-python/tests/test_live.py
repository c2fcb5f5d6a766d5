"""Against a real `xnonce-server serve --demo` on 127.0.0.1: Requester, AsyncRequester,
requests and httpx."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
import requests
import xnonce
import xnonce.httpx
import xnonce.requests
from conftest import Server
from serving import refused_port

USER: dict[str, xnonce.ParamValue] = {"username": "u ser", "password": "p&w=d"}


def answer(res: xnonce.Response) -> dict[str, Any]:
    assert res.code == 200 and res.ok, res.body
    data = res.data
    assert isinstance(data, dict)
    assert json.loads(res.body) == data
    return data


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_requester_get_and_post(server: Server, scheme: str) -> None:
    api = xnonce.Requester(server.url, server.client, server.secret, scheme=scheme, timeout=10)
    got = answer(
        api.make_request("GET", {**USER, "opt1": 1.5, "opt2": True}, "action1", "controller1")
    )
    # em-secure-api's controller1_action1_get: opt1 upper-cased, opt2 annotated.
    assert got == {"opt1": "1.5", "opt2": "TRUE has been forced to upper case"}
    posted = answer(
        api.make_request(
            "POST", [*USER.items(), ("opt1", "é"), ("opt3", 3)], "/controller2/action1"
        )
    )
    assert posted == {"posted": "POSTED!", "opt1": "é", "opt2": None, "opt3": "3"}


def test_response_headers_and_repr(server: Server) -> None:
    api = xnonce.Requester(server.url, server.client, server.secret, timeout=10)
    res = api.make_request("GET", {**USER, "opt1": 1}, "/controller1/action1")
    assert repr(res) == "Response(code=200)"
    # The demo answers with em-secure-api's content type.
    assert ("content-type", "text/json") in res.headers
    # Any case finds the first header of that name; an absent one is None.
    assert res.header("Content-Type") == res.header("content-type") == "text/json"
    assert res.header("x-not-sent") is None


def test_requester_route_and_auth_failures(server: Server) -> None:
    api = xnonce.Requester(server.url, server.client, server.secret)
    missing = api.make_request("GET", USER, "/controller1/action1")
    assert missing.code == 422 and not missing.ok
    err = xnonce.error_from_code(missing.data["code"], missing.data.get("detail", ""))
    assert isinstance(err, xnonce.RouteError) and err.code == "missing_param"
    unknown = api.make_request("GET", USER, "/nope/nothing")
    assert unknown.code == 404 and isinstance(
        xnonce.error_from_code(unknown.data["code"]), xnonce.RouteError
    )
    tampered = api.make_request(
        "GET",
        {**USER, "opt1": "1"},
        "/controller1/action1",
        options={"extra_params": {"opt2": "x"}},
    )
    assert tampered.code == 401 and tampered.data["code"] == "signature_mismatch"
    stranger = xnonce.Requester(server.url, "nobody", server.secret).make_request(
        "GET", USER, "/admin/status"
    )
    assert stranger.code == 401 and isinstance(
        xnonce.error_from_code(stranger.data["code"]), xnonce.AuthError
    )


def test_requester_options_and_clock_correction(server: Server) -> None:
    params = {**USER, "opt1": "1"}
    # A clock two minutes slow (the window is 30 s), without and with correction.
    slow = -120_000
    strict = xnonce.Requester(
        server.url, server.client, server.secret, correct_clock=False, clock_offset_ms=slow
    )
    res = strict.make_request("GET", params, "/controller1/action1")
    assert res.code == 401 and res.data["code"] == "expired"
    assert res.header("X-Nonce-Server-Time") is not None
    assert strict.clock_offset_ms == slow
    fixing = xnonce.Requester(server.url, server.client, server.secret, clock_offset_ms=slow)
    assert answer(fixing.make_request("GET", params, "/controller1/action1"))
    assert abs(fixing.clock_offset_ms) < 60_000  # learned from the authenticated hint
    # A forced timestamp (em-secure-api's force_timestamp) is sent as given, never retried.
    stale: xnonce.RequestOptions = {"timestamp": 1_600_000_000_000}
    res = fixing.make_request("GET", params, "/controller1/action1", options=stale)
    assert res.code == 401 and res.data["code"] == "expired"
    body = answer(
        fixing.make_request(
            "POST",
            {**USER, "opt1": "1", "opt3": "2"},
            "/controller2/action1",
            options={"json": {"items": [1, 2.5, None]}, "headers": {"X-Trace": "on"}},
        )
    )
    assert body["opt3"] == "2"
    with pytest.raises(TypeError):
        fixing.make_request("GET", params, "/controller1/action1", options={"bogus": 1})  # type: ignore[arg-type]


def test_requester_threads_run_concurrently(server: Server) -> None:
    api = xnonce.Requester(server.url, server.client, server.secret)
    codes: list[int] = []

    def work() -> None:
        for i in range(5):
            codes.append(api.make_request("GET", {**USER, "opt1": i}, "/controller1/action1").code)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert codes == [200] * 20


def test_async_requester(server: Server) -> None:
    async def run() -> tuple[list[int], int]:
        api = xnonce.AsyncRequester(server.url, server.client, server.secret, scheme="v2")
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        results = await asyncio.gather(
            *(
                api.make_request("GET", {**USER, "opt1": i}, "action1", "controller1")
                for i in range(10)
            )
        )
        done.set()
        await t
        return [r.code for r in results], ticks

    codes, ticks = asyncio.run(run())
    assert codes == [200] * 10
    assert ticks > 0  # the event loop kept running while the requests were in flight


def test_async_requester_clock_offset(server: Server) -> None:
    async def run() -> tuple[int, int]:
        api = xnonce.AsyncRequester(
            server.url, server.client, server.secret, correct_clock=False, clock_offset_ms=-120_000
        )
        res = await api.make_request("GET", {**USER, "opt1": 1}, "/controller1/action1")
        return res.code, api.clock_offset_ms

    assert asyncio.run(run()) == (401, -120_000)


# Run in a fresh interpreter: what matters is how it exits. `mode` "cancel": the awaitable is
# cancelled right after it starts; "abandon": requests are left in flight when the loop and the
# program end (one to a server that never answers); "complete": one request answered.
EXIT_SCRIPT = """
import asyncio, os, socket, sys, time
import xnonce

mode, url, client = sys.argv[1:4]
secret = os.environ["XNONCE_TEST_SECRET"]
params = {"username": "u", "password": "p", "opt1": 1}
mute = socket.socket()
mute.bind(("127.0.0.1", 0))
mute.listen(8)

async def main():
    api = xnonce.AsyncRequester(url, client, secret, timeout=10)
    if mode == "cancel":
        t = asyncio.ensure_future(api.make_request("GET", params, "/controller1/action1"))
        await asyncio.sleep(0)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            print("cancelled")
    elif mode == "complete":
        res = await api.make_request("GET", params, "/controller1/action1")
        print("completed", res.code)
    else:
        # The futures under make_request's coroutines, started and left pending at exit (as
        # a loop that is never finished leaves its tasks' requests).
        silent = xnonce.AsyncRequester(f"http://127.0.0.1:{mute.getsockname()[1]}", client, secret)
        pending = [silent._start_request("GET", params, "/c/a") for _ in range(3)]
        pending += [api._start_request("GET", params, "/controller1/action1") for _ in range(3)]
        await asyncio.sleep(0)
        print("abandoned", len(pending))

asyncio.run(main())
if mode == "complete":
    print(time.time())
"""


def run_exit_script(server: Server, mode: str) -> subprocess.CompletedProcess[str]:
    """EXIT_SCRIPT in a fresh interpreter, in `mode`, against the live server."""
    return subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, mode, server.url, server.client],
        env={**os.environ, "XNONCE_TEST_SECRET": server.secret},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("mode", ["cancel", "abandon"])
def test_async_requests_cancelled_or_in_flight_at_exit_end_cleanly(
    server: Server, mode: str
) -> None:
    for _ in range(5):
        out = run_exit_script(server, mode)
        assert out.returncode == 0, out.stderr
        assert "panicked" not in out.stderr and "Fatal Python error" not in out.stderr, out.stderr
        assert out.stderr == ""
        assert out.stdout.split()[0] == ("cancelled" if mode == "cancel" else "abandoned")


def test_the_interpreter_exits_at_once_after_async_requests_finish(server: Server) -> None:
    # At exit the module waits (up to 10 s) for Rust threads still handing results to Python;
    # a thread that has handed its result over must no longer count. Timed from the end of
    # the script (the wall-clock time it prints last), not from the start of an interpreter
    # whose start-up a loaded machine can slow.
    out = run_exit_script(server, "complete")
    ended = time.time()
    assert out.returncode == 0, out.stderr
    completed, code, script_ended = out.stdout.split()
    assert [completed, code] == ["completed", "200"]
    took = ended - float(script_ended)
    assert took < 8, f"the exit waited {took:.1f} s for threads that had left"


def test_cancelling_an_async_request_aborts_it() -> None:
    """A cancelled awaitable drops its request: the connection is closed at once."""
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(1)
    mute.settimeout(10)

    async def run() -> bytes:
        api = xnonce.AsyncRequester(
            f"http://127.0.0.1:{mute.getsockname()[1]}", "svc", "0f" * 32, timeout=30
        )
        t = asyncio.ensure_future(api.make_request("GET", {}, "/c/a"))
        conn, _ = await asyncio.get_running_loop().run_in_executor(None, mute.accept)
        with conn:
            conn.settimeout(10)
            request = await asyncio.get_running_loop().run_in_executor(None, conn.recv, 65536)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            # The server side sees the client close the connection (EOF), long before the
            # request's 30 s timeout.
            rest = await asyncio.get_running_loop().run_in_executor(None, conn.recv, 65536)
        assert rest == b""
        return request

    try:
        assert asyncio.run(run()).startswith(b"GET /c/a")
    finally:
        mute.close()


def test_async_requester_errors(server: Server) -> None:
    # A port bound but not listening for the whole call: refused (a fixed port such as 9
    # may have a listener on some machines).
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}"

        async def run() -> None:
            api = xnonce.AsyncRequester(url, server.client, server.secret, timeout=5)
            await api.make_request("GET", USER, "/controller1/action1")

        with pytest.raises(xnonce.UnavailableError) as e:
            asyncio.run(run())
    assert e.value.code == "connection_failed"


def test_answers_over_max_response_bytes_raise(server: Server) -> None:
    """The demo's answer (~60 bytes) is over a 20-byte limit: UnavailableError, saying so,
    from both requesters; the default limit reads it. A negative limit is a ValueError."""
    params = {**USER, "opt1": 1}
    small = xnonce.Requester(server.url, server.client, server.secret, max_response_bytes=20)
    with pytest.raises(xnonce.UnavailableError) as e:
        small.make_request("GET", params, "/controller1/action1")
    assert e.value.code == "connection_failed"
    assert "larger than the 20-byte limit" in str(e.value)

    async def run(limit: int) -> xnonce.Response:
        api = xnonce.AsyncRequester(
            server.url, server.client, server.secret, max_response_bytes=limit
        )
        return await api.make_request("GET", params, "/controller1/action1")

    with pytest.raises(xnonce.UnavailableError, match="larger than the 20-byte limit"):
        asyncio.run(run(20))
    assert asyncio.run(run(64)).code == 200
    assert (
        xnonce.Requester(server.url, server.client, server.secret)
        .make_request("GET", params, "/controller1/action1")
        .ok
    )
    for cls in (xnonce.Requester, xnonce.AsyncRequester):
        with pytest.raises(ValueError, match="max_response_bytes"):
            cls(server.url, server.client, server.secret, max_response_bytes=-1)


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_requests_adapter(server: Server, scheme: str) -> None:
    auth = xnonce.requests.XNonceAuth(server.client, server.secret, scheme=scheme)
    r = requests.get(
        f"{server.url}/controller1/action1", params={**USER, "opt1": "a b"}, auth=auth, timeout=10
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"opt1": "A B", "opt2": None}
    r = requests.post(
        f"{server.url}/controller2/action1?username=x",
        data={"password": "p", "opt1": "1", "opt3": "é"},
        auth=auth,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    # The demo answers `text/json` without a charset, as em-secure-api did; requests would
    # decode that as ISO-8859-1, so the bytes are read as the UTF-8 they are.
    assert json.loads(r.content) == {"posted": "POSTED!", "opt1": "1", "opt2": None, "opt3": "é"}


def test_requests_json_body_and_replay(server: Server) -> None:
    auth = xnonce.requests.XNonceAuth(server.client, server.secret)
    with requests.Session() as s:
        req = requests.Request(
            "POST",
            f"{server.url}/controller2/action1",
            params={**USER, "opt1": "1", "opt3": "3"},
            json={"k": 1},
            auth=auth,
        )
        p = s.prepare_request(req)
        assert s.send(p, timeout=10).status_code == 200
        again = s.send(p, timeout=10)
        assert again.status_code == 409 and again.json()["code"] == "replayed"


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_httpx_adapter_sync(server: Server, scheme: str) -> None:
    auth = xnonce.httpx.XNonceAuth(server.client, server.secret, scheme=scheme)
    with httpx.Client(base_url=server.url, auth=auth, timeout=10) as c:
        r = c.get("/controller1/action1", params={**USER, "opt1": "1/2"})
        assert r.status_code == 200, r.text
        r = c.post("/controller2/action1", data={**USER, "opt1": "1", "opt3": "x y"})
        assert r.status_code == 200, r.text
        assert r.json()["opt3"] == "x y"


def test_httpx_adapter_async_json_and_replay(server: Server) -> None:
    auth = xnonce.httpx.XNonceAuth(server.client, server.secret)

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            req = c.build_request(
                "POST",
                "/controller2/action1",
                params={**USER, "opt1": "1", "opt3": "3"},
                json={"a": [1]},
            )
            signed = await auth.async_auth_flow(req).__anext__()
            first = await c.send(signed)
            second = await c.send(signed)
            third = await c.post(
                "/controller2/action1",
                params={**USER, "opt1": "1", "opt3": "3"},
                json={"a": [1]},
                auth=auth,
            )
            return [first.status_code, second.status_code, third.status_code]

    assert asyncio.run(run()) == [200, 409, 200]
