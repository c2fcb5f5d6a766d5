"""The requests / httpx adapters and redirects, against real HTTP servers on 127.0.0.1.

Two servers, two origins. A redirect must never carry the credential to its target (on any
origin); following one signed is done by sending the next request through the auth again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import requests
import xnonce
import xnonce.httpx
import xnonce.requests

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"


@dataclass
class Origin:
    """A local HTTP server that records what it receives and redirects on request."""

    server: ThreadingHTTPServer
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, X-Nonce
    verifier: xnonce.Verifier = field(default_factory=lambda: xnonce.Verifier({"svc": SECRET}))
    redirect_to: str = ""

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def got(self, path: str) -> list[str | None]:
        """The X-Nonce values (None: absent) of every request received for ``path`` (a target)."""
        return [x for _, p, x in self.seen if p == path]

    def verify(self, method: str, path: str, x_nonce: str) -> xnonce.Verified:
        return self.verifier.verify(method, path, host=self.url.split("//")[1], x_nonce=x_nonce)


def start() -> Origin:
    origin: Origin

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            origin.seen.append((self.command, self.path, self.headers.get("X-Nonce")))
            path = self.path.split("?")[0]
            if path == "/to-other":
                self.send_response(302)
                self.send_header("Location", origin.redirect_to + "/landing")
            elif path == "/to-self":
                self.send_response(307)
                self.send_header("Location", "/landing")
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = handle_one

        def log_message(self, *args: Any) -> None:
            pass

    origin = Origin(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    threading.Thread(target=origin.server.serve_forever, daemon=True).start()
    return origin


@pytest.fixture
def origins() -> Iterator[tuple[Origin, Origin]]:
    a, b = start(), start()
    a.redirect_to = b.url
    try:
        yield a, b
    finally:
        for o in (a, b):
            o.server.shutdown()
            o.server.server_close()


def signed_for(origin: Origin, method: str, path: str) -> None:
    """The first request to ``path`` carried a valid credential for exactly that request."""
    x_nonce = origin.got(path)[0]
    assert x_nonce is not None
    assert origin.verify(method, path, x_nonce).client == "svc"


# ---- requests ----


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_requests_never_sends_the_credential_to_another_origin(
    origins: tuple[Origin, Origin], scheme: str
) -> None:
    a, b = origins
    auth = xnonce.requests.XNonceAuth("svc", SECRET, scheme=scheme)
    r = requests.get(a.url + "/to-other", auth=auth, timeout=10)
    assert r.status_code == 200 and len(r.history) == 1
    signed_for(a, "GET", "/to-other")
    assert b.got("/landing") == [None]


def test_requests_same_origin_redirect_arrives_unsigned(origins: tuple[Origin, Origin]) -> None:
    a, _ = origins
    auth = xnonce.requests.XNonceAuth("svc", SECRET)
    r = requests.get(a.url + "/to-self", params={"k": "v"}, auth=auth, timeout=10)
    assert r.status_code == 200 and len(r.history) == 1
    signed_for(a, "GET", "/to-self?k=v")
    assert a.got("/landing") == [None]


def test_requests_follows_a_redirect_signed_when_asked(origins: tuple[Origin, Origin]) -> None:
    a, _ = origins
    auth = xnonce.requests.XNonceAuth("svc", SECRET)
    with requests.Session() as s:
        r = s.get(a.url + "/to-self", auth=auth, allow_redirects=False, timeout=10)
        assert r.status_code == 307 and r.next is not None
        assert "X-Nonce" not in r.next.headers
        again = s.send(auth(r.next), timeout=10)
    assert again.status_code == 200
    signed_for(a, "GET", "/landing")


def test_requests_unredirected_requests_keep_their_header() -> None:
    p = requests.Request(
        "GET", "http://api.test/c/a", auth=xnonce.requests.XNonceAuth("svc", SECRET)
    ).prepare()
    assert "X-Nonce" in p.headers and len(p.hooks["response"]) == 1


# ---- httpx ----


@pytest.mark.parametrize("path", ["/to-other", "/to-self"])
def test_httpx_followed_redirects_never_carry_the_credential(
    origins: tuple[Origin, Origin], path: str
) -> None:
    a, b = origins
    auth = xnonce.httpx.XNonceAuth("svc", SECRET)
    with httpx.Client(auth=auth, follow_redirects=True, timeout=10) as c:
        r = c.get(a.url + path)
    assert r.status_code == 200 and len(r.history) == 1
    signed_for(a, "GET", path)
    assert (b if path == "/to-other" else a).got("/landing") == [None]


def test_httpx_async_followed_redirects_never_carry_the_credential(
    origins: tuple[Origin, Origin],
) -> None:
    a, b = origins
    traced: list[str] = []

    async def user_trace(name: str, info: dict[str, Any]) -> None:
        traced.append(name)

    async def run() -> int:
        auth = xnonce.httpx.XNonceAuth("svc", SECRET)
        async with httpx.AsyncClient(auth=auth, follow_redirects=True, timeout=10) as c:
            r = await c.post(a.url + "/to-other", json={"k": 1}, extensions={"trace": user_trace})
            return r.status_code

    assert asyncio.run(run()) == 200
    assert a.got("/to-other")[0] is not None
    assert b.got("/landing") == [None]
    assert "http11.receive_response_headers.complete" in traced  # a user's trace still runs


def test_httpx_follows_a_redirect_signed_when_asked(origins: tuple[Origin, Origin]) -> None:
    a, _ = origins
    auth = xnonce.httpx.XNonceAuth("svc", SECRET)
    with httpx.Client(auth=auth, timeout=10) as c:  # follow_redirects=False: httpx's default
        r = c.get(a.url + "/to-self")
        assert r.status_code == 307 and r.next_request is not None
        assert "X-Nonce" not in r.next_request.headers
        again = c.send(r.next_request)
    assert again.status_code == 200
    signed_for(a, "GET", "/landing")


def test_httpx_sync_trace_of_the_user_still_runs(origins: tuple[Origin, Origin]) -> None:
    a, _ = origins
    traced: list[str] = []
    auth = xnonce.httpx.XNonceAuth("svc", SECRET)
    with httpx.Client(auth=auth, timeout=10) as c:
        r = c.get(a.url + "/plain", extensions={"trace": lambda name, info: traced.append(name)})
    assert r.status_code == 200 and traced
    signed_for(a, "GET", "/plain")
