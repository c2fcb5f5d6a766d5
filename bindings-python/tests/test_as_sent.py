"""The requests / httpx adapters sign what the HTTP library sends: a local HTTP server on
127.0.0.1 verifies each request from the bytes that arrive (request target, Host line, body),
not from what the caller passed."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import requests
import xnonce
import xnonce.httpx
import xnonce.requests

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
VERIFIER = xnonce.Verifier({"svc": SECRET})


@dataclass
class Arrived:
    method: str
    target: str  # as received: origin-form, or absolute-form when we are the proxy
    host: str | None
    x_nonce: str | None
    result: str  # "ok" or the verifier's error code


@dataclass
class Recorder:
    server: ThreadingHTTPServer
    seen: list[Arrived] = field(default_factory=list)
    redirect_to: str = ""

    @property
    def authority(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}"


def start() -> Recorder:
    rec: Recorder

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_any(self) -> None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    body += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.path
            if not target.startswith("/"):  # absolute-form: we are a forwarding proxy
                target = "/" + target.split("/", 3)[3]
            x_nonce = self.headers.get("X-Nonce")
            try:
                VERIFIER.verify(
                    self.command,
                    target,
                    host=self.headers.get("Host") or "",
                    x_nonce=x_nonce or "",
                    content_type=self.headers.get("Content-Type"),
                    body=body or None,
                )
                result = "ok"
            except xnonce.XNonceError as e:
                result = e.code
            rec.seen.append(
                Arrived(self.command, self.path, self.headers.get("Host"), x_nonce, result)
            )
            if target.startswith("/to-other"):
                self.send_response(302)
                self.send_header("Location", rec.redirect_to + "/landing")
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

        def log_message(self, *args: Any) -> None:
            pass

    rec = Recorder(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    threading.Thread(target=rec.server.serve_forever, daemon=True).start()
    return rec


@pytest.fixture(scope="module")
def recorders() -> Iterator[tuple[Recorder, Recorder]]:
    a, b = start(), start()
    a.redirect_to = b.url
    try:
        yield a, b
    finally:
        for r in (a, b):
            r.server.shutdown()
            r.server.server_close()


@pytest.fixture
def fqdn(monkeypatch: pytest.MonkeyPatch) -> str:
    """``api.test.`` (a fully qualified name: trailing dot) resolves to 127.0.0.1."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(host, str) and host.lower().rstrip(".") == "api.test":
            host = "127.0.0.1"
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return "api.test."


def one(rec: Recorder, send: Callable[[], Any]) -> Arrived:
    before = len(rec.seen)
    send()
    assert len(rec.seen) == before + 1
    return rec.seen[-1]


def gen() -> Iterator[bytes]:
    yield b"ab"
    yield b"cd"


# (method, path and query, keyword arguments): each is sent by both libraries and must arrive
# verifiable. URL rewriting after the auth ran (requests' PreparedRequest vs urllib3, httpx's
# URL encoding), params merged into a query, bodies of every kind.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/a[1]/%2f/é?x=[y]&z=%2f&w=é", {}),
    ("GET", "/a|b{c}^`?x=|{}\"'<>", {}),
    ("GET", "/a b+c?x=a b+c", {}),
    ("GET", "/a;/b;c;?x=;", {}),
    ("GET", "/p?a=1", {"params": {"b": "2 3", "c": "é"}}),
    ("GET", "/p?x=1#fragment", {}),
    ("GET", "?x=1", {}),
    ("HEAD", "/p?x=1", {}),
    ("OPTIONS", "/p", {}),
    ("post", "/p", {"data": {"a": "é"}}),
    ("POST", "/p?k=v", {"json": {"a": "é"}}),
    ("POST", "/p", {"content": "héllo", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/p", {"files": {"f": ("a.txt", b"hi")}, "data": {"x": "1"}}),
    ("DELETE", "/p", {"content": b"raw"}),
    ("GET", "/p", {"headers": {"Host": "API.Example.com:80"}}),
]


@pytest.mark.parametrize(("method", "path", "kw"), CASES)
def test_what_arrives_verifies(
    recorders: tuple[Recorder, Recorder], method: str, path: str, kw: dict[str, Any]
) -> None:
    rec = recorders[0]
    url = rec.url + path
    rkw = dict(kw)
    if "content" in rkw:
        rkw["data"] = rkw.pop("content")
    got = one(
        rec,
        lambda: requests.request(
            method, url, auth=xnonce.requests.XNonceAuth("svc", SECRET), **rkw
        ),
    )
    assert got.result == "ok", got
    with httpx.Client(auth=xnonce.httpx.XNonceAuth("svc", SECRET)) as c:
        got = one(rec, lambda: c.request(method, url, **kw))
    assert got.result == "ok", got


def test_streamed_bodies(recorders: tuple[Recorder, Recorder]) -> None:
    """httpx reads a stream before the auth runs and sends what it read; requests would send
    the stream as it is, so the adapter refuses it before anything is sent."""
    rec = recorders[0]
    with httpx.Client(auth=xnonce.httpx.XNonceAuth("svc", SECRET)) as c:
        for body in (gen(), io.BytesIO(b"xyz")):
            assert one(rec, partial(c.post, rec.url + "/p", content=body)).result == "ok"
    before = len(rec.seen)
    for body in (gen(), io.BytesIO(b"xyz")):
        with pytest.raises(xnonce.InputError) as e:
            requests.post(rec.url + "/p", data=body, auth=xnonce.requests.XNonceAuth("svc", SECRET))
        assert e.value.code == "invalid_body"
    assert len(rec.seen) == before  # nothing was sent


def test_through_a_forwarding_proxy(recorders: tuple[Recorder, Recorder]) -> None:
    """An http:// URL through a proxy: the request line is absolute-form, Host the URL's."""
    proxy = recorders[0]
    url = "http://target.test:81/q?x=[1]"
    got = one(
        proxy,
        lambda: requests.get(
            url, auth=xnonce.requests.XNonceAuth("svc", SECRET), proxies={"http": proxy.url}
        ),
    )
    assert got.target.startswith("http://target.test:81/") and got.result == "ok", got
    with httpx.Client(auth=xnonce.httpx.XNonceAuth("svc", SECRET), proxy=proxy.url) as c:
        got = one(proxy, lambda: c.get(url))
    assert got.target.startswith("http://target.test:81/") and got.result == "ok", got


@pytest.mark.parametrize("path", ["/a/%2E%2E/b", "/a/%2e/b?x=1", "/a;", "/a;b/;?x=1"])
def test_requests_a_path_rewritten_through_a_proxy_is_refused_before_sending(
    recorders: tuple[Recorder, Recorder], path: str
) -> None:
    """Paths requests sends as they are directly but rewrites through a forwarding proxy:
    requests turns ``%2E`` into ``.``, and urllib3 then removes the dot segments (``/a/../b``
    arrives as ``/b``); requests drops a last segment's ``;`` with nothing after it (``/a;``
    arrives as ``/a``). What is signed would not be what arrives, so the adapter refuses."""
    rec = recorders[0]
    auth = xnonce.requests.XNonceAuth("svc", SECRET)
    before = len(rec.seen)
    for url, proxies in [(rec.url + path, {}), ("http://target.test:81" + path, {"http": rec.url})]:
        with pytest.raises(xnonce.InputError) as e:
            requests.get(url, auth=auth, proxies=proxies)
        assert e.value.code == "invalid_path"
    assert len(rec.seen) == before


def test_requests_a_fully_qualified_host_is_sent_as_signed(
    recorders: tuple[Recorder, Recorder], fqdn: str
) -> None:
    """urllib3 writes the Host line of ``http://api.test.:port`` without the trailing dot; a
    forwarding proxy gets it with the dot (the URL's authority). The adapter sends the Host it
    signed, so both arrive verifiable."""
    rec = recorders[0]
    port = rec.server.server_address[1]
    url = f"http://{fqdn}:{port}/p?x=1"
    auth = xnonce.requests.XNonceAuth("svc", SECRET)
    got = one(rec, lambda: requests.get(url, auth=auth))
    assert (got.host, got.result) == (f"{fqdn}:{port}", "ok"), got
    got = one(rec, lambda: requests.get(url, auth=auth, proxies={"http": rec.url}))
    assert (got.host, got.result) == (f"{fqdn}:{port}", "ok"), got
    # httpx writes the URL's authority as it is, both ways.
    with httpx.Client(auth=xnonce.httpx.XNonceAuth("svc", SECRET)) as c:
        got = one(rec, lambda: c.get(url))
    assert (got.host, got.result) == (f"{fqdn}:{port}", "ok"), got


def test_requests_the_host_it_sets_does_not_follow_a_redirect(
    recorders: tuple[Recorder, Recorder], fqdn: str
) -> None:
    a, b = recorders
    url = f"http://{fqdn}:{a.server.server_address[1]}/to-other"
    r = requests.get(url, auth=xnonce.requests.XNonceAuth("svc", SECRET))
    assert r.status_code == 200 and r.url == b.url + "/landing"
    landing = b.seen[-1]
    assert (landing.target, landing.host, landing.x_nonce) == ("/landing", b.authority, None)


@pytest.mark.parametrize("host", ["", "user@127.0.0.1"])
def test_a_host_header_no_signature_covers_is_refused_before_sending(
    recorders: tuple[Recorder, Recorder], host: str
) -> None:
    """Both libraries send a caller's Host line as given, an empty one or one holding ``@``
    too; no signature can cover it, so the adapters refuse it (``invalid_host``) rather than
    sign the URL's authority, or the text after ``@``, instead."""
    rec = recorders[0]
    before = len(rec.seen)
    with pytest.raises(xnonce.InputError) as e:
        requests.get(
            rec.url + "/p", headers={"Host": host}, auth=xnonce.requests.XNonceAuth("svc", SECRET)
        )
    assert e.value.code == "invalid_host"
    with httpx.Client(auth=xnonce.httpx.XNonceAuth("svc", SECRET)) as c:
        with pytest.raises(xnonce.InputError) as e:
            c.get(rec.url + "/p", headers={"Host": host})
    assert e.value.code == "invalid_host"
    assert len(rec.seen) == before


def test_requests_a_str_body_is_signed_as_urllib3_sends_it(
    recorders: tuple[Recorder, Recorder],
) -> None:
    """urllib3 2 sends a ``str`` body as UTF-8, urllib3 1 (which requests still accepts) as
    latin-1 through ``http.client``; the adapter signs those bytes (CASES has ``héllo``), and
    refuses a str urllib3 1 cannot write rather than sign bytes that are never sent."""
    import urllib3

    rec = recorders[0]
    send = partial(
        requests.post,
        rec.url + "/p",
        data="1 €",
        headers={"Content-Type": "text/plain"},
        auth=xnonce.requests.XNonceAuth("svc", SECRET),
    )
    if str(getattr(urllib3, "__version__", "")).startswith("1."):
        with pytest.raises(xnonce.InputError) as e:
            send()
        assert e.value.code == "invalid_body"
    else:
        assert one(rec, send).result == "ok"
