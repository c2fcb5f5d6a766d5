"""Against a real `xnonce-server serve --demo` on 127.0.0.1: Requester, AsyncRequester,
requests and httpx."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest
import requests
import xnonce
import xnonce.httpx
import xnonce.requests
from conftest import Server

USER: dict[str, xnonce.ParamValue] = {"username": "u ser", "password": "p&w=d"}


def answer(res: xnonce.Response) -> dict[str, Any]:
    assert res.code == 200, res.body
    data = res.data
    assert isinstance(data, dict)
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
    stale: xnonce.RequestOptions = {"timestamp": 1_600_000_000_000}
    params = {**USER, "opt1": "1"}
    strict = xnonce.Requester(server.url, server.client, server.secret, correct_clock=False)
    res = strict.make_request("GET", params, "/controller1/action1", options=stale)
    assert res.code == 401 and res.data["code"] == "expired"
    assert res.header("X-Nonce-Server-Time") is not None
    fixing = xnonce.Requester(server.url, server.client, server.secret)
    assert answer(fixing.make_request("GET", params, "/controller1/action1", options=stale))
    assert abs(fixing.clock_offset_ms) < 60_000
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


def test_async_requester_errors(server: Server) -> None:
    async def run() -> None:
        api = xnonce.AsyncRequester("http://127.0.0.1:9", server.client, server.secret, timeout=5)
        await api.make_request("GET", USER, "/controller1/action1")

    with pytest.raises(xnonce.UnavailableError) as e:
        asyncio.run(run())
    assert e.value.code == "connection_failed"


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
