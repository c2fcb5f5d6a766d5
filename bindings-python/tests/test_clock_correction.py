"""Clock correction (PROTOCOL §12, *Client side*) in the requests / httpx adapters.

Against the real ``xnonce-server`` (a clock two minutes slow is corrected after one retry),
and against local servers that answer with hints that must be ignored (made for another
request, with a wrong MAC, with another secret) or that stay stale (never a second retry).
The core's reading of a hint, ``xnonce.server_time_from_answer``: test_server_time.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

import httpx
import pytest
import requests
import xnonce
import xnonce.httpx
import xnonce.requests
from conftest import Server
from test_server_time import reference_hint

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
USER: dict[str, xnonce.ParamValue] = {"username": "u ser", "password": "p&w=d"}
SLOW = -120_000  # two minutes behind the server; its window is 30 s
# How far a learned offset may be from 0 against a server on this host (the exchange's time).
CLOSE = 5_000

Auth = Union[xnonce.requests.XNonceAuth, xnonce.httpx.XNonceAuth]


def local_ms() -> int:
    return time.time_ns() // 1_000_000


# ---- the adapters' options ----

ADAPTERS = [xnonce.requests.XNonceAuth, xnonce.httpx.XNonceAuth]


@pytest.mark.parametrize("cls", ADAPTERS)
def test_clock_options_are_checked_as_the_requesters_are(cls: Any) -> None:
    class Index:  # an int-like (numpy's integers), taken as the Requester takes it
        def __index__(self) -> int:
            return -7

    assert cls("svc", SECRET).clock_offset_ms == 0
    assert cls("svc", SECRET, clock_offset_ms=Index()).clock_offset_ms == -7
    for ok in (2**53 - 1, -(2**53 - 1)):
        assert cls("svc", SECRET, clock_offset_ms=ok).clock_offset_ms == ok
    bad_settings: list[dict[str, Any]] = [
        {"clock_offset_ms": True},
        {"clock_offset_ms": 1.5},
        {"clock_offset_ms": "1"},
        {"clock_offset_ms": 2**63},
        {"clock_offset_ms": -(10**40)},
        {"clock_offset_ms": 2**53},
        {"clock_offset_ms": -(2**63)},
        {"correct_clock": "yes"},
        {"correct_clock": 1},
    ]
    for kw in bad_settings:
        with pytest.raises(Exception) as expected:
            xnonce.Requester("http://127.0.0.1:9", "svc", SECRET, **kw)
        with pytest.raises(type(expected.value)) as got:
            cls("svc", SECRET, **kw)
        assert type(got.value) is type(expected.value), kw
        assert str(got.value) == str(expected.value), kw
        assert getattr(got.value, "code", None) == getattr(expected.value, "code", None), kw
    # Keyword-only, and the offset is read-only.
    with pytest.raises(TypeError):
        cls("svc", SECRET, "v2", False)
    auth = cls("svc", SECRET, clock_offset_ms=5)
    with pytest.raises(AttributeError):
        auth.clock_offset_ms = 0
    assert SECRET not in repr(auth) and SECRET not in str(vars(auth))


@pytest.mark.parametrize("offset", [SLOW, 3_600_000])
def test_requests_are_signed_at_the_local_clock_plus_the_offset(offset: int) -> None:
    before = local_ms()
    p = requests.Request(
        "GET",
        "http://api.test/c/a",
        auth=xnonce.requests.XNonceAuth("svc", SECRET, clock_offset_ms=offset),
    ).prepare()
    r = next(
        xnonce.httpx.XNonceAuth("svc", SECRET, clock_offset_ms=offset).sync_auth_flow(
            httpx.Request("GET", "http://api.test/c/a")
        )
    )
    after = local_ms()
    for x_nonce in (p.headers["X-Nonce"], r.headers["X-Nonce"]):
        assert before + offset <= xnonce.parse_header(str(x_nonce)).timestamp <= after + offset


# ---- against the real xnonce-server ----


def test_requests_learns_the_servers_clock_and_retries_once(server: Server) -> None:
    auth = xnonce.requests.XNonceAuth(server.client, server.secret, clock_offset_ms=SLOW)
    url = f"{server.url}/controller1/action1"
    with requests.Session() as s:
        r = s.get(url, params={**USER, "opt1": "a"}, auth=auth, timeout=10)
        assert r.status_code == 200, r.text
        (stale,) = r.history
        assert stale.status_code == 401 and stale.json()["code"] == "expired"
        assert "X-Nonce-Server-Time" in stale.headers
        assert abs(auth.clock_offset_ms) < CLOSE
        # The retry carried a fresh nonce.
        assert r.request.headers["X-Nonce"] != stale.request.headers["X-Nonce"]
        # The next request (a form POST) is accepted at once.
        r = s.post(
            f"{server.url}/controller2/action1",
            data={**USER, "opt1": "1", "opt3": "é"},
            auth=auth,
            timeout=10,
        )
        assert r.status_code == 200 and r.history == [], r.text
        assert json.loads(r.content)["opt3"] == "é"


def test_requests_resends_the_same_body(server: Server) -> None:
    auth = xnonce.requests.XNonceAuth(server.client, server.secret, clock_offset_ms=SLOW)
    r = requests.post(
        f"{server.url}/controller2/action1",
        params={**USER, "opt1": "1", "opt3": "3"},
        json={"k": [1, 2]},
        auth=auth,
        timeout=10,
    )
    assert r.status_code == 200 and len(r.history) == 1, r.text
    assert r.request.body == r.history[0].request.body == b'{"k": [1, 2]}'


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_requests_without_correction_answers_the_401(server: Server, scheme: str) -> None:
    auth = xnonce.requests.XNonceAuth(
        server.client, server.secret, scheme=scheme, correct_clock=False, clock_offset_ms=SLOW
    )
    r = requests.get(
        f"{server.url}/controller1/action1", params={**USER, "opt1": "a"}, auth=auth, timeout=10
    )
    assert r.status_code == 401 and r.history == []
    assert "X-Nonce-Server-Time" in r.headers
    assert auth.clock_offset_ms == SLOW


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_httpx_learns_the_servers_clock_and_retries_once(server: Server, scheme: str) -> None:
    auth = xnonce.httpx.XNonceAuth(
        server.client, server.secret, scheme=scheme, clock_offset_ms=SLOW
    )
    with httpx.Client(base_url=server.url, auth=auth, timeout=10) as c:
        r = c.post("/controller2/action1", data={**USER, "opt1": "1", "opt3": "x y"})
        assert r.status_code == 200, r.text
        (stale,) = r.history
        assert stale.status_code == 401 and "X-Nonce-Server-Time" in stale.headers
        assert abs(auth.clock_offset_ms) < CLOSE
        r = c.get("/controller1/action1", params={**USER, "opt1": "a"})
        assert r.status_code == 200 and r.history == [], r.text


def test_httpx_async_learns_the_servers_clock_and_retries_once(server: Server) -> None:
    auth = xnonce.httpx.XNonceAuth(server.client, server.secret, clock_offset_ms=SLOW)

    async def run() -> list[tuple[int, int]]:
        async with httpx.AsyncClient(base_url=server.url, auth=auth, timeout=10) as c:
            params = {**USER, "opt1": "1", "opt3": "3"}
            first = await c.post("/controller2/action1", params=params, json={"a": [1]})
            offset = auth.clock_offset_ms
            second = await c.post("/controller2/action1", params=params, json={"a": [1]})
            assert abs(offset) < CLOSE
            return [(r.status_code, len(r.history)) for r in (first, second)]

    assert asyncio.run(run()) == [(200, 1), (200, 0)]


def test_httpx_without_correction_answers_the_401(server: Server) -> None:
    auth = xnonce.httpx.XNonceAuth(
        server.client, server.secret, correct_clock=False, clock_offset_ms=SLOW
    )
    params = {**USER, "opt1": "a"}
    with httpx.Client(base_url=server.url, auth=auth, timeout=10) as c:
        r = c.get("/controller1/action1", params=params)
    assert r.status_code == 401 and r.history == [] and auth.clock_offset_ms == SLOW

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(base_url=server.url, auth=auth, timeout=10) as c:
            return await c.get("/controller1/action1", params=params)

    r = asyncio.run(run())
    assert r.status_code == 401 and r.history == [] and auth.clock_offset_ms == SLOW


# ---- against local servers: hints to ignore, a server that stays stale ----


@dataclass
class Seen:
    method: str
    target: str
    x_nonce: str | None
    body: bytes
    cookie: str | None = None


@dataclass
class Local:
    """A local HTTP server that records each request and answers it with ``answer``:
    (status, headers)."""

    server: ThreadingHTTPServer
    answer: Callable[[Seen], tuple[int, list[tuple[str, str]]]]
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def host(self) -> str:
        return self.url.split("//")[1]


@pytest.fixture
def local() -> Iterator[Local]:
    box: list[Local] = []

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got = Seen(
                self.command,
                self.path,
                self.headers.get("X-Nonce"),
                body,
                self.headers.get("Cookie"),
            )
            box[0].seen.append(got)
            status, headers = box[0].answer(got)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = handle_one

        def log_message(self, *args: Any) -> None:
            pass

    box.append(Local(ThreadingHTTPServer(("127.0.0.1", 0), Handler), lambda _: (200, [])))
    threading.Thread(target=box[0].server.serve_forever, daemon=True).start()
    try:
        yield box[0]
    finally:
        box[0].server.shutdown()
        box[0].server.server_close()


def stale_answer(local: Local, got: Seen, server_ms: int) -> list[tuple[str, str]]:
    """The headers of the reference verifier's stale answer to ``got`` (core issues the hint)
    at ``server_ms``."""
    verifier = xnonce.Verifier({"svc": SECRET})
    with pytest.raises(xnonce.AuthError) as e:
        verifier.verify(
            got.method,
            got.target,
            host=local.host,
            x_nonce=got.x_nonce,
            content_type="application/json" if got.body else None,
            body=got.body,
            now=server_ms,
        )
    assert e.value.code == "expired" and e.value.answer is not None
    return e.value.answer.headers


def send(kind: str, auth: Auth, url: str) -> tuple[int, int]:
    """One POST with a JSON body through ``kind`` (``requests``, ``httpx``, ``httpx-async``):
    the status and the number of earlier answers (``history``)."""
    body = {"k": 1}
    if kind == "requests":
        assert isinstance(auth, xnonce.requests.XNonceAuth)
        r = requests.post(url, json=body, auth=auth, timeout=10)
        return r.status_code, len(r.history)
    assert isinstance(auth, xnonce.httpx.XNonceAuth)
    if kind == "httpx":
        with httpx.Client(auth=auth, timeout=10) as c:
            x = c.post(url, json=body)
            return x.status_code, len(x.history)

    async def run() -> tuple[int, int]:
        async with httpx.AsyncClient(auth=auth, timeout=10) as c:
            x = await c.post(url, json=body)
            return x.status_code, len(x.history)

    return asyncio.run(run())


def make_auth(kind: str, **kw: Any) -> Auth:
    if kind == "requests":
        return xnonce.requests.XNonceAuth("svc", SECRET, **kw)
    return xnonce.httpx.XNonceAuth("svc", SECRET, **kw)


KINDS = ["requests", "httpx", "httpx-async"]


def forged(local: Local, got: Seen, how: str) -> str:
    """A hint this client must not trust for ``got``."""
    assert got.x_nonce is not None
    own = xnonce.parse_header(got.x_nonce).request_id
    ms = local_ms() + 600_000
    if how == "another request":
        return reference_hint(SECRET, "svc", "ab" * 16, ms)
    if how == "another client":
        return reference_hint(SECRET, "other", own, ms)
    if how == "another secret":
        return reference_hint("cd" * 32, "svc", own, ms)
    if how == "wrong mac":
        hint = reference_hint(SECRET, "svc", own, ms)
        return hint[:-1] + ("0" if hint[-1] != "0" else "1")
    assert how == "not a 401"
    return reference_hint(SECRET, "svc", own, ms)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "how", ["another request", "another client", "another secret", "wrong mac", "not a 401"]
)
def test_a_hint_that_does_not_authenticate_is_ignored(local: Local, kind: str, how: str) -> None:
    status = 403 if how == "not a 401" else 401
    local.answer = lambda got: (status, [("X-Nonce-Server-Time", forged(local, got, how))])
    auth = make_auth(kind, clock_offset_ms=-1_000)
    assert send(kind, auth, f"{local.url}/c/a") == (status, 0)
    assert len(local.seen) == 1 and auth.clock_offset_ms == -1_000


@pytest.mark.parametrize("kind", KINDS)
def test_a_retry_stale_again_is_not_retried_but_teaches_the_newer_offset(
    local: Local, kind: str
) -> None:
    # The server's clock runs 10 minutes ahead, then 20: both answers are stale, with hints
    # core issued for each request.
    ahead = [600_000, 1_200_000]

    def answer(got: Seen) -> tuple[int, list[tuple[str, str]]]:
        return 401, stale_answer(local, got, local_ms() + ahead[len(local.seen) - 1])

    local.answer = answer
    auth = make_auth(kind)
    assert send(kind, auth, f"{local.url}/c/a") == (401, 1)
    assert len(local.seen) == 2
    assert abs(auth.clock_offset_ms - ahead[1]) < CLOSE
    first, retry = local.seen
    # The same request re-signed: method, target and body as sent first, a fresh nonce, and
    # the timestamp of the offset learned from the first answer.
    assert (retry.method, retry.target, retry.body) == (first.method, first.target, first.body)
    assert first.x_nonce is not None and retry.x_nonce is not None
    h1, h2 = xnonce.parse_header(first.x_nonce), xnonce.parse_header(retry.x_nonce)
    assert h1.nonce != h2.nonce
    assert abs(h2.timestamp - h1.timestamp - ahead[0]) < CLOSE


@pytest.mark.parametrize("kind", KINDS)
def test_without_correction_an_authentic_hint_is_not_learned(local: Local, kind: str) -> None:
    local.answer = lambda got: (401, stale_answer(local, got, local_ms() + 600_000))
    auth = make_auth(kind, correct_clock=False)
    assert send(kind, auth, f"{local.url}/c/a") == (401, 0)
    assert len(local.seen) == 1 and auth.clock_offset_ms == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_retry_answered_with_a_redirect_does_not_carry_the_credential(
    local: Local, kind: str
) -> None:
    def answer(got: Seen) -> tuple[int, list[tuple[str, str]]]:
        if got.target == "/landing":
            return 200, []
        if len(local.seen) == 1:
            return 401, stale_answer(local, got, local_ms() + 600_000)
        return 307, [("Location", "/landing")]

    local.answer = answer
    auth = make_auth(kind)
    url = f"{local.url}/c/a"
    if kind == "requests":
        assert isinstance(auth, xnonce.requests.XNonceAuth)
        r = requests.post(url, json={"k": 1}, auth=auth, timeout=10)
        # requests rewrites the history of an answer it follows (the retry's), dropping the
        # stale one from it: the server saw it (below).
        codes = [401] + [h.status_code for h in r.history] + [r.status_code]
    else:
        assert isinstance(auth, xnonce.httpx.XNonceAuth)

        async def run() -> list[int]:
            async with httpx.AsyncClient(auth=auth, timeout=10, follow_redirects=True) as c:
                x = await c.post(url, json={"k": 1})
                return [h.status_code for h in x.history] + [x.status_code]

        if kind == "httpx":
            with httpx.Client(auth=auth, timeout=10, follow_redirects=True) as c:
                x = c.post(url, json={"k": 1})
                codes = [h.status_code for h in x.history] + [x.status_code]
        else:
            codes = asyncio.run(run())
    assert codes == [401, 307, 200]
    assert [(s.target, s.x_nonce is not None) for s in local.seen] == [
        ("/c/a", True),
        ("/c/a", True),
        ("/landing", False),
    ]


def test_a_request_signed_again_by_another_auth_is_resent_once(local: Local) -> None:
    # Ten minutes further ahead at each answer: every request is stale.
    local.answer = lambda got: (
        401,
        stale_answer(local, got, local_ms() + 600_000 * len(local.seen)),
    )
    first = xnonce.requests.XNonceAuth("svc", SECRET)
    last = xnonce.requests.XNonceAuth("svc", SECRET)
    with requests.Session() as s:
        p = s.prepare_request(requests.Request("POST", f"{local.url}/c/a", json={"k": 1}))
        r = s.send(last(first(p)), timeout=10)
    # The last signer's hook alone: one retry, not one per auth object.
    assert (r.status_code, len(r.history), len(local.seen)) == (401, 1, 2)
    assert first.clock_offset_ms == 0 and abs(last.clock_offset_ms - 1_200_000) < CLOSE


@pytest.mark.parametrize("kind", KINDS)
def test_the_resend_carries_the_cookies_the_stale_answer_set(local: Local, kind: str) -> None:
    # A load balancer's sticky cookie set on the stale answer must reach the resend, or it may
    # land on another instance (the libraries' own digest auths carry their 401's cookies).
    def answer(got: Seen) -> tuple[int, list[tuple[str, str]]]:
        if len(local.seen) > 1:
            return 200, []
        stale = stale_answer(local, got, local_ms() + 600_000)
        return 401, [*stale, ("Set-Cookie", "lb=node-7; Path=/")]

    local.answer = answer
    assert send(kind, make_auth(kind), local.url + "/a/b") == (200, 1)
    assert [s.cookie for s in local.seen] == [None, "lb=node-7"]
