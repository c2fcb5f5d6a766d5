"""The WSGI and ASGI middleware over real HTTP on 127.0.0.1 (Werkzeug's server, uvicorn), with
requests signed by the ``requests`` adapter and raw HTTP for what a client library would not
send. The refusals' bytes are the ones docs/PROTOCOL.md (and em-secure-api, for v1) name."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import json
import re
import socket
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import xnonce
from conftest import Server, conformance_binary
from serving import uvicorn_serving
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder
from xnonce.asgi import XNonceMiddleware as AsgiMiddleware
from xnonce.asgi import request_target as asgi_request_target
from xnonce.requests import XNonceAuth
from xnonce.wsgi import XNonceMiddleware as WsgiMiddleware
from xnonce.wsgi import request_target

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"


def echo_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers what the middleware handed on: the verified request and the body it read."""
    v: xnonce.Verified = environ["xnonce.verified"]
    body = environ["wsgi.input"].read()
    doc = {"client": v.client, "scheme": v.scheme, "params": v.params, "body": body.decode()}
    out = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [out]


async def read_asgi_body(receive: Any) -> bytes:
    """The whole body an ASGI app receives."""
    body: bytes = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def echo_asgi(scope: Any, receive: Any, send: Any) -> None:
    v: xnonce.Verified = scope["xnonce.verified"]
    assert scope["state"]["xnonce"] is v
    body = await read_asgi_body(receive)
    doc = {"client": v.client, "scheme": v.scheme, "params": v.params, "body": body.decode()}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(doc).encode()})


@pytest.fixture(params=["wsgi", "asgi"])
def base(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server on 127.0.0.1 whose app sits behind the middleware (body limit 1 KiB)."""
    verifier = xnonce.Verifier({"billing": SECRET})
    if request.param == "wsgi":
        # Werkzeug's server (Flask's), which gives the raw target (`RAW_URI`) as gunicorn
        # and uWSGI do, and marks chunked input `wsgi.input_terminated`.
        httpd = make_server(
            "127.0.0.1", 0, WsgiMiddleware(echo_wsgi, verifier, max_body=1024), threaded=True
        )
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_port}"
        httpd.shutdown()
        httpd.server_close()
        return
    with uvicorn_serving(AsgiMiddleware(echo_asgi, verifier, max_body=1024)) as url:
        yield url


def asgi_get(
    app: Any,
    path: str,
    headers: list[tuple[bytes, bytes]],
    sent: list[Any] | None = None,
    method: str = "GET",
) -> list[Any]:
    """The messages ``app`` sends (appended to ``sent``) for a bodiless GET (or ``method``)
    of ``path`` with ``headers``, called in process as an ASGI server would."""
    sent = [] if sent is None else sent
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_signed_request_reaches_the_app_once(base: str) -> None:
    for scheme in ("v1", "v2"):
        auth = XNonceAuth("billing", SECRET, scheme=scheme)
        req = requests.Request("POST", f"{base}/reports/create?kind=monthly", auth=auth)
        if scheme == "v2":
            req.json = {"year": 2026}
        else:
            req.data = {"year": "2026"}
        prepared = req.prepare()
        with requests.Session() as s:
            ok = s.send(prepared)
            assert ok.status_code == 200, ok.text
            doc = ok.json()
            assert (doc["client"], doc["scheme"]) == ("billing", scheme)
            if scheme == "v2":
                assert doc["params"] == [["kind", "monthly"]]
                assert json.loads(doc["body"]) == {"year": 2026}  # the body, handed on
            else:
                assert sorted(map(tuple, doc["params"])) == [("kind", "monthly"), ("year", "2026")]
                assert doc["body"] == "year=2026"
            again = s.send(prepared)
        assert again.status_code == 409
        if scheme == "v1":  # em-secure-api's answer, byte for byte
            assert again.headers["Content-Type"].startswith("text/plain")
            assert again.text == "ottoken already used"
        else:
            assert again.headers["Content-Type"] == "application/problem+json"
            assert again.json() == {
                "type": "https://xnonce.dev/errors/replayed",
                "title": "Request already used",
                "status": 409,
                "code": "replayed",
                "detail": again.json()["detail"],
            }


def test_refusals_are_answered_in_the_style_of_the_credential(base: str) -> None:
    unsigned = requests.get(f"{base}/reports/daily")
    assert (unsigned.status_code, unsigned.text) == (401, "Method or nonce not provided")

    other = XNonceAuth("nobody", SECRET, scheme="v1")
    unknown = requests.get(f"{base}/reports/daily", auth=other)
    assert (unknown.status_code, unknown.text) == (401, "client not known")
    wrong = XNonceAuth("billing", "00" * 32, scheme="v2")
    mismatch = requests.get(f"{base}/reports/daily?a=1", auth=wrong)
    assert mismatch.status_code == 401
    assert mismatch.json()["code"] == "signature_mismatch"

    stale = xnonce.sign_request(
        "v2", "GET", base.removeprefix("http://"), "/reports/daily", "billing", SECRET, timestamp=1
    )
    old = requests.get(f"{base}/reports/daily", headers={"X-Nonce": stale})
    assert old.status_code == 401
    problem = old.json()
    assert problem["code"] == "expired"
    ms, mac = old.headers["X-Nonce-Server-Time"].split(" ")
    assert (int(ms), mac) == (problem["server_time"], problem["server_time_mac"])
    assert abs(int(ms) - time.time() * 1000) < 60_000

    malformed = requests.get(f"{base}/reports/daily", headers={"X-Nonce": "v2 billing"})
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_header"


def test_a_signed_param_moved_into_a_get_form_body_is_refused(base: str) -> None:
    """Django and Java servlets read no form on a GET or a DELETE: a param signed in the
    query and sent in such a body verified (a form's fields are params), and the app acted
    without it. A form counts only on POST, PUT and PATCH (PROTOCOL §11.1 step 1)."""
    authority = base.removeprefix("http://")
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def sign_form(method: str) -> str:
        return xnonce.sign_request(
            "v2", method, authority, "/reports/daily", "billing", SECRET,
            content_type=form["Content-Type"], body=b"limit=10",
        )  # fmt: skip

    for method in ("GET", "DELETE"):
        header = xnonce.sign_request(
            "v2", method, authority, "/reports/daily?limit=10", "billing", SECRET
        )
        moved = requests.request(
            method,
            f"{base}/reports/daily",
            headers={"X-Nonce": header, **form},
            data=b"limit=10",
        )
        assert moved.status_code == 400, moved.text
        assert moved.json()["code"] == "invalid_body"
        assert "read only on POST, PUT or PATCH" in moved.json()["detail"]
        with pytest.raises(xnonce.InputError) as refused:
            sign_form(method)
        assert refused.value.code == "invalid_body"
    put = requests.put(
        f"{base}/reports/daily", headers={"X-Nonce": sign_form("PUT"), **form}, data=b"limit=10"
    )
    assert put.status_code == 200, put.text
    assert put.json()["params"] == [["limit", "10"]]


def test_a_percent_encoded_path_verifies_as_sent(base: str) -> None:
    auth = XNonceAuth("billing", SECRET, scheme="v2")
    ok = requests.get(f"{base}/files/a%20b%2Fc/d?q=%C3%A9t%C3%A9", auth=auth)
    assert ok.status_code == 200, ok.text
    assert ok.json()["params"] == [["q", "été"]]


def test_an_absolute_form_target_verifies_with_its_authority(base: str) -> None:
    # RFC 9112 §3.2.2: what a client sends to a proxy, which an origin server must accept.
    # http.client writes the target as given, and a Host field equal to its authority.
    authority = base.removeprefix("http://")
    header = xnonce.sign_request("v2", "GET", authority, "/c/a?x=1", "billing", SECRET)
    conn = http.client.HTTPConnection(authority, timeout=10)
    try:
        conn.request("GET", f"http://{authority}/c/a?x=1", headers={"X-Nonce": header})
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    assert answer.status == 200, body
    assert json.loads(body)["params"] == [["x", "1"]]


def raw_exchange(
    base: str, request: bytes, *, half_close: bool = False
) -> tuple[int | None, bytes]:
    """Sends raw bytes (optionally closing our side after them); the status (None: no
    answer) and the whole answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return (int(answer.split(b" ", 2)[1]) if answer else None), answer


def test_malformed_chunked_bodies_are_400_and_the_server_stays_up(base: str) -> None:
    authority = base.removeprefix("http://")
    header = xnonce.sign_request("v2", "POST", authority, "/upload", "billing", SECRET)
    head = (
        f"POST /upload HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {header}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    # A chunk size that is not hex: 400 (from the middleware, or uvicorn's own).
    status, answer = raw_exchange(base, head + b"zz\r\nabc\r\n0\r\n\r\n")
    assert status == 400, answer
    if b"problem+json" in answer:
        assert b'"code":"invalid_body"' in answer, answer
    # A chunk that ends before its size, then the client stops sending: Werkzeug's chunked
    # input handed over memory it never wrote for that (or crashed the interpreter). A 400,
    # or no answer at all (uvicorn reports a client that went away).
    status, answer = raw_exchange(base, head + b"ffff\r\nabc", half_close=True)
    assert status in (400, None), answer
    # Still serving.
    ok = requests.get(f"{base}/c/a", auth=XNonceAuth("billing", SECRET))
    assert ok.status_code == 200, ok.text


def test_two_x_nonce_lines_are_refused_even_when_the_first_is_valid(base: str) -> None:
    authority = base.removeprefix("http://")
    header = xnonce.sign_request("v2", "GET", authority, "/c/a", "billing", SECRET)
    for second in (header, "garbage"):
        request = (
            f"GET /c/a HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {header}\r\n"
            f"X-Nonce: {second}\r\nConnection: close\r\n\r\n"
        ).encode()
        status, answer = raw_exchange(base, request)
        assert status is not None and 400 <= status < 500, answer


def test_two_host_lines_are_a_400_whatever_the_scheme(base: str) -> None:
    # RFC 9112 §3.2, as the reference server answers (v1 does not sign the host at all).
    authority = base.removeprefix("http://")
    for scheme in ("v1", "v2"):
        header = xnonce.sign_request(scheme, "GET", authority, "/c/a", "billing", SECRET)
        request = (
            f"GET /c/a HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {header}\r\n"
            f"Host: {authority}\r\nConnection: close\r\n\r\n"
        ).encode()
        status, answer = raw_exchange(base, request)
        assert status == 400, answer
        if b"Invalid HTTP request" in answer:
            continue  # uvicorn's own 400: the middleware never sees it (see the next test)
        if scheme == "v1":
            assert answer.endswith(b"more than one Host header field"), answer
        else:
            assert b'"code":"invalid_host"' in answer, answer


@pytest.mark.parametrize("ows", [" ", "\t", " \t "])
def test_whitespace_around_field_values_is_no_part_of_them(base: str, ows: str) -> None:
    """RFC 9110 §5.5: a field value excludes the optional whitespace around it, and servers
    take ``Host: api.test `` as ``api.test`` (the reference server, uvicorn, gunicorn). Werkzeug's
    server (Flask's) hands the whitespace on in the environ: the middleware answered such a
    request 400 (a ``Content-Length`` of ``"7 "``, a host holding a space) or 401."""
    authority = base.removeprefix("http://")
    for scheme, content_type, body in (
        ("v2", "application/json", b'{"a":1}'),
        ("v1", "application/x-www-form-urlencoded", b"a=1"),
    ):
        header = xnonce.sign_request(
            scheme,
            "POST",
            authority,
            "/up",
            "billing",
            SECRET,
            content_type=content_type,
            body=body,
        )
        request = (
            f"POST /up HTTP/1.1\r\nHost: {authority}{ows}\r\nX-Nonce: {header}{ows}\r\n"
            f"Content-Type: {content_type}{ows}\r\nContent-Length: {len(body)}{ows}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        status, answer = raw_exchange(base, request + body)
        assert status == 200, answer
        assert b'"body": ' + json.dumps(body.decode()).encode() in answer, answer


def test_the_refusal_of_a_head_request_has_no_content(base: str) -> None:
    """RFC 9110 §9.3.2: no content in the answer to a HEAD. Under WSGI the app sends it or not
    (Werkzeug's server writes whatever the app returns, as frameworks strip it themselves):
    the middleware's refusal wrote its problem document after the head, bytes the client
    reads as the start of the next answer on a connection kept open. The head still says
    the length and type of the refusal a GET would get."""
    authority = base.removeprefix("http://")
    for credential in ("", "X-Nonce: v2 forged\r\n"):
        request = (
            f"HEAD /c/a HTTP/1.1\r\nHost: {authority}\r\n{credential}Connection: close\r\n\r\n"
        ).encode()
        status, answer = raw_exchange(base, request)
        head, _, content = answer.partition(b"\r\n\r\n")
        assert (status, content) == (401 if not credential else 400, b""), answer
        assert b"\r\ncontent-length: " in head.lower(), answer


def test_asgi_two_host_lines_from_a_server_that_passes_them_on() -> None:
    # uvicorn refuses them itself; an ASGI server that hands both lines over gets the 400.
    header = xnonce.sign_request("v2", "GET", "api.test", "/c/a", "billing", SECRET)
    headers = [(b"host", b"api.test"), (b"x-nonce", header.encode()), (b"host", b"b.test")]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app ran")

    middleware = AsgiMiddleware(app, xnonce.Verifier({"billing": SECRET}))
    sent = asgi_get(middleware, "/c/a", headers)
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["code"] == "invalid_host"


def test_a_body_over_the_limit_is_refused_before_the_app(base: str) -> None:
    auth = XNonceAuth("billing", SECRET, scheme="v2")
    big = requests.post(f"{base}/upload", data=b"x" * 2048, auth=auth)
    assert big.status_code == 413
    assert big.json()["code"] == "invalid_body"
    assert big.json()["detail"] == "request body exceeds 1024 bytes"
    # v1 style for a v1 credential (the header alone decides: the body is never read).
    v1 = XNonceAuth("billing", SECRET, scheme="v1")
    big = requests.post(f"{base}/upload", data={"a": "x" * 2048}, auth=v1)
    assert (big.status_code, big.text) == (413, "request body exceeds 1024 bytes")


def test_a_chunked_body_is_read_to_its_end_within_the_limit(base: str) -> None:
    auth = XNonceAuth("billing", SECRET, scheme="v2")

    def chunked(parts: int) -> requests.Response:
        req = requests.Request("POST", f"{base}/upload", data=b"x" * 256 * parts, auth=auth)
        prepared = req.prepare()
        body = prepared.body
        assert isinstance(body, bytes)
        # A generator body: requests sends it chunked (its stubs type `body` as bytes/str).
        prepared.body = (body[i : i + 256] for i in range(0, len(body), 256))  # type: ignore[assignment]
        del prepared.headers["Content-Length"]
        prepared.headers["Transfer-Encoding"] = "chunked"
        with requests.Session() as s:
            return s.send(prepared)

    ok = chunked(3)
    assert ok.status_code == 200, ok.text
    assert ok.json()["body"] == "x" * 768
    big = chunked(8)
    assert big.status_code == 413
    assert big.json()["detail"] == "request body exceeds 1024 bytes"


def test_wsgi_reads_a_terminated_input_without_a_length() -> None:
    verifier = xnonce.Verifier({"billing": SECRET})
    body = b"chunked body"
    header = xnonce.sign_request(
        "v2", "POST", "api.test", "/up", "billing", SECRET, content_type="text/plain", body=body
    )
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # As Django reads a body: CONTENT_LENGTH bytes, nothing without it.
        seen.append(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("200 OK", [])
        return [b""]

    def environ(data: bytes) -> dict[str, Any]:
        return {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/up",
            "HTTP_HOST": "api.test",
            "HTTP_X_NONCE": header,
            "CONTENT_TYPE": "text/plain",
            "wsgi.input": io.BytesIO(data),
            "wsgi.input_terminated": True,
        }

    statuses: list[str] = []
    middleware = WsgiMiddleware(app, verifier, max_body=16)
    middleware(environ(body), lambda status, headers: statuses.append(status))
    assert seen == [body] and statuses == ["200 OK"]
    middleware(environ(b"y" * 17), lambda status, headers: statuses.append(status))
    assert statuses[-1] == "413 Request Entity Too Large" or statuses[-1].startswith("413 ")
    assert seen == [body]


def test_a_v2_request_without_a_host_line_is_refused_not_verified_against_server_name() -> None:
    header = xnonce.sign_request("v2", "GET", "127.0.0.1", "/a", "billing", SECRET)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/a",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.0",
        "HTTP_X_NONCE": header,
        "wsgi.input": io.BytesIO(b""),
    }
    statuses: list[str] = []
    middleware = WsgiMiddleware(echo_wsgi, xnonce.Verifier({"billing": SECRET}))
    body = b"".join(middleware(environ, lambda status, headers: statuses.append(status)))
    assert statuses[0].startswith("400 ")
    assert json.loads(body)["code"] == "invalid_host"


def test_the_asgi_target_without_raw_path_is_the_path_which_holds_root_path() -> None:
    scope = {"root_path": "/app", "path": "/app/caf\u00e9 x", "query_string": b"q=1"}
    assert asgi_request_target(scope) == "/app/caf%C3%A9%20x?q=1"
    assert asgi_request_target({"raw_path": b"/app/x", "path": "/ignored"}) == "/app/x"


async def ws_echo(scope: Any, receive: Any, send: Any) -> None:
    """A WebSocket app that says who was verified."""
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": scope["xnonce.verified"].client})
    await send({"type": "websocket.close", "code": 1000})


def test_websocket_handshakes_are_verified_like_gets() -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    app = AsgiMiddleware(ws_echo, xnonce.Verifier({"billing": SECRET}))
    with uvicorn_serving(app, ws="websockets-sansio") as base:
        url = xnonce.link("v2", "GET", "/ws/admin", {"room": "1"}, "billing", SECRET, base)
        ws_url = "ws" + url[len("http") :]
        with connect(ws_url) as ws:
            assert ws.recv(timeout=10) == "billing"
        # The same link again: a replay, refused before the app runs.
        with pytest.raises(InvalidStatus) as replayed:
            connect(ws_url).close()
        assert replayed.value.response.status_code == 409
        with pytest.raises(InvalidStatus) as unsigned:
            connect("ws" + base[len("http") :] + "/ws/admin?room=1").close()
        assert unsigned.value.response.status_code in (401, 403)


def test_an_error_that_is_not_a_refusal_is_not_answered_as_one() -> None:
    def broken(client: str) -> str:
        raise RuntimeError("secrets backend down")

    verifier = xnonce.Verifier(broken)
    header = xnonce.sign_request("v2", "GET", "api.test", "/a", "billing", SECRET)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/a",
        "HTTP_HOST": "api.test",
        "HTTP_X_NONCE": header,
        "wsgi.input": None,
    }
    with pytest.raises(RuntimeError, match="secrets backend down"):
        WsgiMiddleware(echo_wsgi, verifier)(environ, lambda *a: None)

    headers = [(b"host", b"api.test"), (b"x-nonce", header.encode())]
    sent: list[Any] = []
    with pytest.raises(RuntimeError, match="secrets backend down"):
        asgi_get(AsgiMiddleware(echo_asgi, verifier), "/a", headers, sent)
    assert sent == [], "not answered"


def test_lifespan_passes_through_and_unknown_scope_types_are_refused() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def never() -> dict[str, Any]:
        raise AssertionError("read")

    async def nowhere(message: Any) -> None:
        raise AssertionError("sent")

    middleware = AsgiMiddleware(app, xnonce.Verifier({}))
    asyncio.run(middleware({"type": "lifespan"}, never, nowhere))
    assert seen == ["lifespan"]
    # A protocol the middleware cannot verify never reaches the app unverified (the ASGI
    # spec: raise for a scope type one does not understand).
    for kind in ("webtransport", "HTTP", None):
        with pytest.raises(ValueError, match="unknown ASGI scope type") as e:
            asyncio.run(middleware({"type": kind}, never, nowhere))
        assert repr(kind) in str(e.value)
    with pytest.raises(ValueError, match="unknown ASGI scope type"):
        asyncio.run(middleware({}, never, nowhere))
    assert seen == ["lifespan"]


def test_the_wsgi_target_is_the_one_sent() -> None:
    assert request_target({"RAW_URI": "/a%20b?x=1", "PATH_INFO": "/a b"}) == "/a%20b?x=1"
    assert request_target({"REQUEST_URI": "/r?y"}) == "/r?y"
    # Without the raw target: the decoded path (latin-1 characters for its bytes) re-encoded.
    environ = {"SCRIPT_NAME": "/api", "PATH_INFO": "/caf\xc3\xa9 x", "QUERY_STRING": "q=1"}
    assert request_target(environ) == "/api/caf%C3%A9%20x?q=1"
    assert request_target({}) == "/"


def test_answer_objects() -> None:
    a = xnonce.Answer.body_too_large(10, target="/a?ottoken=djIgc3Zj")
    assert (a.status, a.content_type) == (413, "application/problem+json")
    assert a.headers == [("Content-Type", "application/problem+json")]
    assert a.body_bytes == a.body.encode()
    assert repr(a).startswith("Answer(status=413, content_type=")
    unreadable = xnonce.Answer.body_unreadable(x_nonce="v1 x")
    assert (unreadable.status, unreadable.body) == (400, "the request body could not be read")
    assert xnonce.Answer.body_unreadable().content_type == "text/plain"
    v2 = xnonce.Answer.body_unreadable(target="/a?ottoken=djIgc3Zj")
    assert (v2.status, json.loads(v2.body)["code"]) == (400, "invalid_body")
    host = xnonce.Answer.repeated_host(x_nonce="v2 x")
    assert (host.status, json.loads(host.body)["code"]) == (400, "invalid_host")
    v1 = xnonce.Answer.body_too_large(10)
    assert (v1.status, v1.body, v1.content_type) == (
        413,
        "request body exceeds 10 bytes",
        "text/plain",
    )
    # Errors other than a verification's refusal carry no answer.
    with pytest.raises(xnonce.XNonceError) as info:
        xnonce.sign("v2", "GET", "/a", [], "billing", "not a secret")
    assert info.value.answer is None
    assert xnonce.error_from_code("replayed").answer is None


@dataclass
class SharedStore:
    """A replay store two middlewares can share (as a Redis store is). Two of them with one
    ``name`` are equal (``==``) yet distinct stores: only the very object that recorded a
    key holds it."""

    name: str = "shared"
    keys: set[str] = field(default_factory=set, compare=False)
    failing: bool = field(default=False, compare=False)

    def insert_if_absent(self, key: str, expires_at_ms: int, now_ms: int) -> bool:
        if self.failing:
            raise ConnectionError("store down")
        if key in self.keys:
            return False
        self.keys.add(key)
        return True


class AsyncSharedStore(SharedStore):
    async def insert_if_absent(  # type: ignore[override]
        self, key: str, expires_at_ms: int, now_ms: int
    ) -> bool:
        return SharedStore.insert_if_absent(self, key, expires_at_ms, now_ms)


class Stacked:
    """Two xnonce middlewares on one request (an app's and a mounted sub-app's), WSGI or ASGI,
    called in process with one signed GET (the WSGI environ built by Werkzeug, as its server
    builds it: a header becomes an ``HTTP_*`` key)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.header = xnonce.sign_request("v2", "GET", "api.test", "/a", "billing", SECRET)
        verifier = xnonce.Verifier({"billing": SECRET})
        self.replay_key = verifier.verify(
            "GET", "/a", host="api.test", x_nonce=self.header
        ).replay_key

    def app(
        self,
        outer: xnonce.Verifier,
        inner: xnonce.Verifier,
        *,
        outer_once: bool = True,
        outer_store: SharedStore | None = None,
        inner_store: SharedStore | None = None,
    ) -> Any:
        """``inner`` on the app, ``outer`` around it; ``*_store``: an ASGI middleware's
        ``replay_store``."""
        if self.kind == "wsgi":
            assert outer_store is None and inner_store is None
            return WsgiMiddleware(WsgiMiddleware(echo_wsgi, inner), outer, once=outer_once)
        sub_app = AsgiMiddleware(echo_asgi, inner, replay_store=inner_store)
        return AsgiMiddleware(sub_app, outer, once=outer_once, replay_store=outer_store)

    def status(self, app: Any, headers: dict[str, str] | None = None) -> int:
        """The status ``app`` answers the signed GET with (and ``headers``)."""
        headers = {"X-Nonce": self.header, **(headers or {})}
        if self.kind == "wsgi":
            builder = EnvironBuilder(
                path="/a", base_url="http://api.test", headers=[*headers.items()]
            )
            statuses: list[str] = []
            b"".join(app(builder.get_environ(), lambda status, _: statuses.append(status)))
            return int(statuses[0][:3])
        fields = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        sent = asgi_get(app, "/a", [(b"host", b"api.test"), *fields])
        return int(sent[0]["status"])


@pytest.fixture(params=["wsgi", "asgi"])
def stacked(request: pytest.FixtureRequest) -> Stacked:
    return Stacked(request.param)


def billing(replay_store: SharedStore | None = None) -> xnonce.Verifier:
    return xnonce.Verifier({"billing": SECRET}, replay_store=replay_store)


def test_stacked_middlewares_on_one_store_record_a_request_once(stacked: Stacked) -> None:
    """An app's middleware and a mounted sub-app's that record in the very same store (one
    verifier; verifiers sharing a ``replay_store``): the inner one verifies again but does not
    record the key again, so the request is accepted once and its replay refused."""
    one = billing()
    store = SharedStore()
    apps = {
        "one verifier": stacked.app(one, one),
        "one replay_store": stacked.app(billing(store), billing(store)),
    }
    for what, app in apps.items():
        assert [stacked.status(app), stacked.status(app)] == [200, 409], what
    assert store.keys == {stacked.replay_key}


def test_asgi_stacked_middlewares_on_one_awaited_store_record_a_request_once() -> None:
    """The same with the ASGI middleware's own (awaited) ``replay_store``: shared by both, or
    the outer's being the inner verifier's ``replay_store``."""
    stacked = Stacked("asgi")
    awaited, store = AsyncSharedStore(), SharedStore()
    apps = {
        "a shared awaited store": stacked.app(
            billing(), billing(), outer_store=awaited, inner_store=awaited
        ),
        "the outer's store, the inner verifier's": stacked.app(
            billing(), billing(store), outer_store=store
        ),
    }
    for what, app in apps.items():
        assert [stacked.status(app), stacked.status(app)] == [200, 409], what


def test_after_an_outer_once_false_the_inner_middleware_records(stacked: Stacked) -> None:
    """An outer middleware with ``once=False`` records nothing and leaves no record: the
    inner one, on the same verifier, records the request and refuses its replay."""
    one = billing()
    app = stacked.app(one, one, outer_once=False)
    assert [stacked.status(app), stacked.status(app)] == [200, 409]


def test_a_replay_sent_to_another_instance_meets_the_shared_store(stacked: Stacked) -> None:
    """Two instances of one API: an app-wide middleware on each instance's own memory, and a
    sub-app's on one store they share (as Redis is). The first instance's outer record does
    not stop its inner one recording in the shared store, so the same request sent to the
    second instance, new to its memory, is refused there."""
    store, awaited = SharedStore(), AsyncSharedStore()
    pairs = {
        "verifiers sharing a replay_store": [
            stacked.app(billing(), billing(store)),
            stacked.app(billing(), billing(store)),
        ],
    }
    if stacked.kind == "asgi":
        pairs["an awaited replay_store"] = [
            stacked.app(billing(), billing(), inner_store=awaited),
            stacked.app(billing(), billing(), inner_store=awaited),
        ]
    for what, (first, second) in pairs.items():
        assert [stacked.status(first), stacked.status(second)] == [200, 409], what
    assert store.keys == {stacked.replay_key}


def test_stacked_middlewares_on_different_stores_each_record(stacked: Stacked) -> None:
    """Two stores, equal (``==``) but not the same object: each middleware records in its
    own, so the inner's store holds the key after the first request; a store that fails is
    a 503 even though the outer middleware accepted the request."""
    outer, inner = SharedStore(), SharedStore()
    assert outer == inner
    app = stacked.app(billing(outer), billing(inner))
    assert stacked.status(app) == 200
    assert outer.keys == inner.keys == {stacked.replay_key}
    assert stacked.status(app) == 409
    down = SharedStore(failing=True)
    assert stacked.status(stacked.app(billing(), billing(down))) == 503


def test_a_client_cannot_make_a_middleware_skip_its_record(stacked: Stacked) -> None:
    """A header named like the record (``X-Nonce-Recorded``, ``xnonce.recorded``), holding
    the request's replay key, arrives as a header (``HTTP_*``, ``scope["headers"]``), never
    as the record: the replay is still refused, by one middleware or by stacked ones on
    different stores."""
    forged = {"X-Nonce-Recorded": stacked.replay_key, "xnonce.recorded": stacked.replay_key}
    store = SharedStore()
    apps = {
        "one that records": stacked.app(billing(), billing(), outer_once=False),
        "different stores": stacked.app(billing(), billing(store)),
    }
    for what, app in apps.items():
        assert stacked.status(app, forged) == 200, what
        assert stacked.status(app, forged) == 409, what
    assert store.keys == {stacked.replay_key}


def test_an_inner_middleware_keeping_a_key_longer_on_the_same_store_records_it(
    stacked: Stacked,
) -> None:
    """On one store, an inner middleware whose window is longer than the outer one's records
    the key itself (and so refuses the request as its replay): the store keeps the key only
    until the outer one's time, after which a process without the outer middleware would
    accept a copy. With the longer window outside, the inner one skips its record. (Only
    which window is the shorter matters: both are long enough that a stalled machine between
    the fixture's signing and the verifying does not make the request expire.)"""
    for outer_ms, inner_ms, want in [(10_000, 60_000, 409), (60_000, 10_000, 200)]:
        store = SharedStore()

        def windowed(window_ms: int, store: SharedStore = store) -> xnonce.Verifier:
            return xnonce.Verifier({"billing": SECRET}, window_ms=window_ms, replay_store=store)

        app = stacked.app(windowed(outer_ms), windowed(inner_ms))
        assert stacked.status(app) == want, (outer_ms, inner_ms)


# ---- what a server decoded badly or framed badly: answered, never raised ----


def signed_environ(**overrides: Any) -> dict[str, Any]:
    """A WSGI environ of a v2-signed POST (form body) to api.test/up?q=1, then ``overrides``."""
    body = b"a=1"
    form = "application/x-www-form-urlencoded"
    header = xnonce.sign_request(
        "v2", "POST", "api.test", "/up?q=1", "billing", SECRET, content_type=form, body=body
    )
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/up?q=1",
        "PATH_INFO": "/up",
        "QUERY_STRING": "q=1",
        "HTTP_HOST": "api.test",
        "HTTP_X_NONCE": header,
        "CONTENT_TYPE": form,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    environ.update(overrides)
    return {k: v for k, v in environ.items() if v is not None}


def call_wsgi(environ: dict[str, Any], max_body: int = 1024) -> tuple[str, bytes, list[Any]]:
    """Status, body and what reached the app, for ``environ`` through a WSGI middleware."""
    reached: list[Any] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        reached.append(environ["xnonce.verified"])
        start_response("200 OK", [])
        return [b"ok"]

    statuses: list[str] = []
    verifier = xnonce.Verifier({"billing": SECRET})
    middleware = WsgiMiddleware(app, verifier, max_body=max_body)
    body = b"".join(middleware(environ, lambda status, headers: statuses.append(status)))
    return statuses[0], body, reached


def test_a_signed_environ_is_accepted() -> None:
    status, _, reached = call_wsgi(signed_environ())
    assert status == "200 OK" and len(reached) == 1
    # Without RAW_URI: PATH_INFO and QUERY_STRING.
    assert call_wsgi(signed_environ(RAW_URI=None))[0] == "200 OK"


#: What Werkzeug's HTTPMethodOverrideMiddleware, Express, Symfony and IIS rewrites read.
OVERRIDES = ("x-http-method-override", "x-http-method", "x-method-override", "x-original-method")


def test_an_accepted_request_reaches_the_app_without_method_override_fields() -> None:
    """No signature covers them: an override middleware inside would run a signed POST as the
    DELETE a client added. Removed from the environ (WSGI) and the scope's headers (ASGI)."""
    keys = {"HTTP_" + f.upper().replace("-", "_"): "DELETE" for f in OVERRIDES}
    seen: list[list[str]] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append([k for k in keys if k in environ])
        start_response("200 OK", [])
        return [b"ok"]

    middleware = WsgiMiddleware(app, xnonce.Verifier({"billing": SECRET}))
    statuses: list[str] = []
    body = b"".join(middleware(signed_environ(**keys), lambda s, h: statuses.append(s)))
    assert (statuses, body, seen) == (["200 OK"], b"ok", [[]])

    header = xnonce.sign_request("v2", "GET", "api.test", "/c/a", "billing", SECRET)
    headers = [(b"host", b"api.test"), (b"x-nonce", header.encode())]
    headers += [(f.upper().encode(), b"DELETE") for f in OVERRIDES]
    reached: list[list[bytes]] = []

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        reached.append([k for k, _ in scope["headers"] if k.lower().decode() in OVERRIDES])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = asgi_get(AsgiMiddleware(asgi_app, xnonce.Verifier({"billing": SECRET})), "/c/a", headers)
    assert (sent[0]["status"], reached) == (200, [[]])


def cgi_environ_keys(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """The environ keys an ASGI-to-WSGI bridge (a2wsgi, Starlette's ``WSGIMiddleware``) or
    Django's ASGI handler (before 5.x skipped such names) makes of ASGI header names: upper
    case, ``-`` as ``_``, so ``x_http_method_override`` and ``x-http-method-override`` are one
    key."""
    return ["HTTP_" + k.decode("latin-1").upper().replace("-", "_") for k, _ in headers]


def test_asgi_method_override_fields_spelled_with_underscores_do_not_reach_the_app() -> None:
    """uvicorn (h11) hands on a field named ``X_HTTP_Method_Override`` as it came; the stacks
    that turn ASGI headers into CGI keys read it as ``HTTP_X_HTTP_METHOD_OVERRIDE``, which is
    what Werkzeug's ``HTTPMethodOverrideMiddleware`` (and Django method-override middleware)
    read: a signed POST would run as the DELETE a client added unsigned."""
    header = xnonce.sign_request("v2", "POST", "api.test", "/c/a", "billing", SECRET)
    headers = [(b"host", b"api.test"), (b"x-nonce", header.encode())]
    headers += [(f.replace("-", "_").encode(), b"DELETE") for f in OVERRIDES]
    override_keys = {"HTTP_" + f.upper().replace("-", "_") for f in OVERRIDES}
    reached: list[list[str]] = []

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        reached.append([k for k in cgi_environ_keys(scope["headers"]) if k in override_keys])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = AsgiMiddleware(asgi_app, xnonce.Verifier({"billing": SECRET}))
    sent = asgi_get(middleware, "/c/a", headers, method="POST")
    assert (sent[0]["status"], reached) == (200, [[]])


def test_an_accepted_form_reaches_the_app_as_utf8_whatever_charset_it_named() -> None:
    """Nothing signs a form's charset and its fields were verified as UTF-8: an app that
    honours the parameter (Django does) would decode a signed value otherwise. The app gets
    ``charset=utf-8`` (WSGI environ, ASGI scope headers); a body that is no form keeps its
    own."""
    latin1 = "application/x-www-form-urlencoded; charset=iso-8859-1"
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(environ["CONTENT_TYPE"])
        start_response("200 OK", [])
        return [b"ok"]

    middleware = WsgiMiddleware(app, xnonce.Verifier({"billing": SECRET}))
    statuses: list[str] = []
    b"".join(middleware(signed_environ(CONTENT_TYPE=latin1), lambda s, h: statuses.append(s)))
    assert (statuses, seen) == (["200 OK"], ["application/x-www-form-urlencoded; charset=utf-8"])

    body = b"a=1"
    header = xnonce.sign_request(
        "v2", "POST", "api.test", "/up", "billing", SECRET, content_type=latin1, body=body
    )
    reached: list[list[tuple[bytes, bytes]]] = []

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        reached.append([(k, v) for k, v in scope["headers"] if k == b"content-type"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/up",
        "raw_path": b"/up",
        "query_string": b"",
        "headers": [
            (b"host", b"api.test"),
            (b"x-nonce", header.encode()),
            (b"content-type", latin1.encode()),
        ],
    }
    middleware_asgi = AsgiMiddleware(asgi_app, xnonce.Verifier({"billing": SECRET}))
    asyncio.run(middleware_asgi(scope, receive, send))
    assert sent[0]["status"] == 200, sent
    assert reached == [[(b"content-type", b"application/x-www-form-urlencoded; charset=utf-8")]]
    # JSON naming a charset as the UTF-8 it is (core's rule); anything else kept as sent.
    assert (
        xnonce.content_type_for_app("application/json; charset=utf-16")
        == "application/json; charset=utf-8"
    )
    assert xnonce.content_type_for_app("application/json") is None
    assert xnonce.content_type_for_app("text/plain; charset=utf-16") is None


def test_content_type_for_app_refuses_text_utf8_cannot_encode() -> None:
    # As verify refuses it: the input's code, never a UnicodeEncodeError holding the text.
    with pytest.raises(xnonce.InputError) as e:
        xnonce.content_type_for_app("application/x-www-form-urlencoded; c4n4ry\udcff")
    assert e.value.code == "invalid_body"
    assert not isinstance(e.value, UnicodeError)
    assert "c4n4ry" not in str(e.value) and "c4n4ry" not in repr(e.value)
    with pytest.raises(TypeError, match="content_type must be str"):
        xnonce.content_type_for_app(b"text/plain")  # type: ignore[arg-type]


async def refusing_asgi_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the app ran")


def test_a_signed_connect_is_refused_before_the_app() -> None:
    """A CONNECT opens a tunnel (a 2xx switches the connection to one): refused 400
    (``invalid_method``) from the head alone, signed or not, as from the reference server."""
    for method in ("CONNECT", "connect"):
        header = xnonce.sign_request("v2", method.upper(), "api.test", "/a/b", "billing", SECRET)
        environ = signed_environ(
            REQUEST_METHOD=method,
            RAW_URI="/a/b",
            PATH_INFO="/a/b",
            QUERY_STRING="",
            HTTP_X_NONCE=header,
            CONTENT_TYPE=None,
            CONTENT_LENGTH=None,
        )
        status, body, reached = call_wsgi(environ)
        assert (status[:3], json.loads(body)["code"], reached) == ("400", "invalid_method", [])
        headers = [(b"host", b"api.test"), (b"x-nonce", header.encode())]
        middleware = AsgiMiddleware(refusing_asgi_app, xnonce.Verifier({"billing": SECRET}))
        sent = asgi_get(middleware, "/a/b", headers, method=method)
        assert sent[0]["status"] == 400
        assert json.loads(sent[1]["body"])["code"] == "invalid_method"


LONE = "\udcff"  # what surrogateescape makes of a stray \xff byte

BADLY_DECODED = {
    "RAW_URI": ("/up" + LONE + "?q=1", "invalid_path"),
    "REQUEST_URI": ("/up?q=" + LONE, "invalid_path"),
    "PATH_INFO": ("/up" + LONE, "invalid_path"),
    "QUERY_STRING": ("q=" + LONE, "invalid_path"),
    "HTTP_HOST": ("api.test" + LONE, "invalid_host"),
    "HTTP_X_NONCE": (None, "malformed_header"),
    "REQUEST_METHOD": ("PO" + LONE + "T", "invalid_method"),
    "CONTENT_TYPE": ("text/" + LONE, "invalid_body"),
}


@pytest.mark.parametrize("key", sorted(BADLY_DECODED))
def test_a_lone_surrogate_in_the_environ_is_a_400_not_an_exception(key: str) -> None:
    value, code = BADLY_DECODED[key]
    environ = signed_environ()
    if key == "HTTP_X_NONCE":
        value = environ[key][:-1] + LONE  # still "v2 ...": answered in v2's style
    environ[key] = value
    if key in ("PATH_INFO", "QUERY_STRING", "REQUEST_URI"):
        del environ["RAW_URI"]  # read only without it
    status, body, reached = call_wsgi(environ)
    assert status.startswith("400 "), status
    doc = json.loads(body)
    assert doc["code"] == code and doc["status"] == 400
    assert LONE not in body.decode("utf-8", "surrogateescape")
    assert reached == []


def test_refusals_before_verification_take_a_lone_surrogate_too() -> None:
    # Two Host lines (joined with ","), with a v2 X-Nonce holding a lone surrogate: the 400
    # in v2's style, from the repeated_host check that runs first.
    header = signed_environ()["HTTP_X_NONCE"][:-1] + LONE
    status, body, _ = call_wsgi(signed_environ(HTTP_HOST="a, b", HTTP_X_NONCE=header))
    assert status.startswith("400 ") and json.loads(body)["code"] == "invalid_host"
    # A body over the limit, the target holding a lone surrogate: 413.
    environ = signed_environ(RAW_URI="/up?ottoken=djIg" + LONE, CONTENT_LENGTH="2000")
    status, body, _ = call_wsgi(environ)
    assert status.startswith("413 ") and json.loads(body)["code"] == "invalid_body"
    # A malformed chunked body (read fails) with such a target: 400.
    broken = io.BytesIO()
    broken.close()  # reading raises ValueError
    environ = signed_environ(RAW_URI="/" + LONE, CONTENT_LENGTH=None)
    environ.update({"wsgi.input": broken, "wsgi.input_terminated": True})
    status, body, _ = call_wsgi(environ)
    assert status.startswith("400 ")


@pytest.mark.parametrize("length", ["abc", "-1", "+3", "1_0", "3.0", " 3x", "\u00b2", "\u0663"])
def test_a_wsgi_content_length_that_is_no_number_is_a_400_not_a_413(length: str) -> None:
    status, body, reached = call_wsgi(signed_environ(CONTENT_LENGTH=length))
    assert status.startswith("400 "), (length, status)
    assert json.loads(body)["code"] == "invalid_body" and reached == []
    # A number over the limit stays a 413.
    assert call_wsgi(signed_environ(CONTENT_LENGTH="2000"))[0].startswith("413 ")


def call_asgi(scope_overrides: dict[str, Any]) -> tuple[int, bytes, list[Any]]:
    """Status, body and the scopes that reached the app, for a v2-signed GET of api.test/up
    through an ASGI middleware, with ``scope_overrides``."""
    header = xnonce.sign_request("v2", "GET", "api.test", "/up", "billing", SECRET)
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/up",
        "raw_path": b"/up",
        "query_string": b"",
        "headers": [(b"host", b"api.test"), (b"x-nonce", header.encode())],
    }
    scope.update(scope_overrides)
    scope = {k: v for k, v in scope.items() if v is not None}
    reached: list[Any] = []
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = AsgiMiddleware(app, xnonce.Verifier({"billing": SECRET}), max_body=1024)
    asyncio.run(middleware(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), reached


def test_asgi_a_signed_scope_is_accepted() -> None:
    assert call_asgi({})[0] == 200
    assert call_asgi({"raw_path": None})[0] == 200


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"method": "G" + LONE + "T"}, "invalid_method"),
        ({"raw_path": None, "path": "/up" + LONE}, "invalid_path"),
    ],
)
def test_asgi_a_lone_surrogate_in_the_scope_is_a_400_not_an_exception(
    overrides: dict[str, Any], code: str
) -> None:
    status, body, reached = call_asgi(overrides)
    assert status == 400 and json.loads(body)["code"] == code and reached == []


@pytest.mark.parametrize("length", [b"abc", b"-1", b"+0", b"1_0", b"\xb2", b"0, x"])
def test_an_asgi_content_length_that_is_no_number_is_a_400(length: bytes) -> None:
    header = xnonce.sign_request("v2", "GET", "api.test", "/up", "billing", SECRET)
    headers = [(b"host", b"api.test"), (b"x-nonce", header.encode())]
    status, body, reached = call_asgi({"headers": [*headers, (b"content-length", length)]})
    assert status == 400 and json.loads(body)["code"] == "invalid_body" and reached == []
    big = call_asgi({"headers": [*headers, (b"content-length", b"2000")]})
    assert big[0] == 413
    assert call_asgi({"headers": [*headers, (b"content-length", b"0")]})[0] == 200


def test_a_content_length_too_long_for_int_is_a_413_in_both_middlewares() -> None:
    # Python's int() refuses more than 4300 digits: the ASGI middleware answered 500.
    huge = "9" * 5000
    header = xnonce.sign_request("v2", "GET", "api.test", "/up", "billing", SECRET)
    headers = [(b"host", b"api.test"), (b"x-nonce", header.encode())]
    assert call_asgi({"headers": [*headers, (b"content-length", huge.encode())]})[0] == 413
    assert call_wsgi(signed_environ(CONTENT_LENGTH=huge))[0].startswith("413 ")
    # Leading zeros do not make a small length large.
    zeros = "0" * 5000 + "2"
    assert call_asgi({"headers": [*headers, (b"content-length", zeros.encode())]})[0] != 413


@pytest.mark.parametrize("cls", [WsgiMiddleware, AsgiMiddleware])
def test_max_body_is_checked_when_the_middleware_is_made(cls: Any) -> None:
    # Not on every request (Answer.body_too_large refuses a bool limit).
    verifier = xnonce.Verifier({"billing": SECRET})
    for bad in (True, False, 1.5, "1024", None):
        with pytest.raises(TypeError, match="max_body"):
            cls(echo_wsgi, verifier, max_body=bad)
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match="max_body"):
            cls(echo_wsgi, verifier, max_body=bad)
    assert cls(echo_wsgi, verifier, max_body=0).max_body == 0


@pytest.mark.parametrize("cls", [WsgiMiddleware, AsgiMiddleware])
def test_app_verifier_and_once_are_checked_when_the_middleware_is_made(cls: Any) -> None:
    # `once=None` read as false would have turned replay protection off without a word; a
    # verifier that is not one would have been a 500 on every request.
    verifier = xnonce.Verifier({"billing": SECRET})
    for bad in (None, 0, 1, "no", "yes"):
        with pytest.raises(TypeError, match="once must be True or False"):
            cls(echo_wsgi, verifier, once=bad)
    for not_a_verifier in (None, {"billing": SECRET}, "verifier"):
        with pytest.raises(TypeError, match=r"verifier must be an xnonce\.Verifier"):
            cls(echo_wsgi, not_a_verifier)
    with pytest.raises(TypeError, match="app must be a callable"):
        cls(None, verifier)
    assert cls(echo_wsgi, verifier, once=False).once is False


def asgi_post(
    target: str, headers: list[tuple[bytes, bytes]], messages: list[bytes], max_body: int = 1024
) -> tuple[int, bytes, list[Any]]:
    """Status, answer body and what the app received (``(verified, body)``), for a POST of
    ``target`` whose body arrives as ``messages``, through an ASGI middleware around an app
    that reads the body."""
    path, _, query = target.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
    }
    taken = 0
    n = len(messages)
    sent: list[Any] = []
    reached: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append((scope["xnonce.verified"], await read_asgi_body(receive)))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        nonlocal taken
        taken += 1
        return {"type": "http.request", "body": messages[taken - 1], "more_body": taken < n}

    async def send(message: Any) -> None:
        sent.append(message)

    verifier = xnonce.Verifier({"billing": SECRET})
    middleware = AsgiMiddleware(app, verifier, max_body=max_body)
    asyncio.run(middleware(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), reached


def test_asgi_a_body_that_does_not_arrive_in_time_is_a_408_and_the_connection_closes() -> None:
    """uvicorn sets no bound on how long a body may take: a client that declares 10 bytes and
    sends 3 would hold its request open for as long as it likes. The middleware's
    ``body_timeout`` answers it 408 in the credential's style (the reference server's answer
    to the same), with ``Connection: close``, so that uvicorn closes the connection whose
    body was never read instead of keeping it (here for 60 s, past raw_exchange's 10 s)."""
    verifier = xnonce.Verifier({"billing": SECRET})
    app = AsgiMiddleware(echo_asgi, verifier, body_timeout=0.3, max_body=64)
    with uvicorn_serving(app, timeout_keep_alive=60) as base:
        authority = base.removeprefix("http://")
        for scheme, style in (("v2", b'"code":"invalid_body"'), ("v1", b"did not arrive in time")):
            header = xnonce.sign_request(scheme, "POST", authority, "/upload", "billing", SECRET)
            head = (
                f"POST /upload HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {header}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n"
            ).encode()
            started = time.monotonic()
            # Not half-closed: the client is still there, only slow. The answer's end is the
            # server closing the connection.
            status, answer = raw_exchange(base, head + b"abc")
            waited = time.monotonic() - started
            assert status == 408, answer
            assert style in answer, answer
            assert b"\r\nconnection: close\r\n" in answer.lower(), answer
            assert waited >= 0.3, waited
        # The 413s, declared or counted, are sent before the body is read in full: they close
        # the connection too.
        header = xnonce.sign_request("v2", "POST", authority, "/upload", "billing", SECRET)
        start = f"POST /upload HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {header}\r\n"
        for framing, sent in (
            ("Content-Length: 100", b"abc"),
            ("Transfer-Encoding: chunked", b"50\r\n" + b"x" * 80 + b"\r\n"),
        ):
            status, answer = raw_exchange(base, f"{start}{framing}\r\n\r\n".encode() + sent)
            assert status == 413, answer
            assert b"\r\nconnection: close\r\n" in answer.lower(), answer
        # A body that arrives in time is verified as ever.
        ok = requests.post(f"{base}/upload", data=b"0123456789", auth=XNonceAuth("billing", SECRET))
        assert ok.status_code == 200, ok.text


def test_asgi_body_timeout_holds_under_trio_too() -> None:
    # Hypercorn's trio worker has no asyncio loop: the bound comes from anyio.
    import trio

    verifier = xnonce.Verifier({"billing": SECRET})
    header = xnonce.sign_request("v2", "POST", "api.test", "/upload", "billing", SECRET)
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "raw_path": b"/upload",
        "query_string": b"",
        "headers": [(b"host", b"api.test"), (b"x-nonce", header.encode())],
    }
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        await trio.sleep(60)  # the body never comes
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def main() -> None:
        with trio.fail_after(10):
            await AsgiMiddleware(echo_asgi, verifier, body_timeout=0.05)(scope, receive, send)

    trio.run(main)
    assert sent[0]["status"] == 408
    assert b'"code":"invalid_body"' in sent[1]["body"]


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), 10**400])
def test_body_timeout_is_checked_when_the_middleware_is_made(bad: Any) -> None:
    verifier = xnonce.Verifier({"billing": SECRET})
    with pytest.raises(ValueError, match="body_timeout must be a positive, finite number"):
        AsgiMiddleware(echo_asgi, verifier, body_timeout=bad)
    with pytest.raises(TypeError, match="body_timeout must be a number of seconds, not str"):
        AsgiMiddleware(echo_asgi, verifier, body_timeout="30")  # type: ignore[arg-type]
    assert AsgiMiddleware(echo_asgi, verifier).body_timeout == 30.0


def test_asgi_two_content_type_lines_are_refused() -> None:
    """Which ``Content-Type`` line says whether the body is a form differs between stacks
    (Starlette and FastAPI read the first; Django's ASGI handler joins them). Read joined
    (``application/x-www-form-urlencoded, text/plain``: no form), a body under a v1
    credential was signed by nothing, yet Starlette parsed it as a form: fields nobody signed
    (``amount``) reached the app. Refused (400), as from the reference server."""
    form = "application/x-www-form-urlencoded"
    link = xnonce.link("v1", "POST", "/pay", {"to": "alice"}, "billing", SECRET, "http://a")
    for second in (b"text/plain", form.encode()):
        two = [(b"host", b"api.test"), (b"content-type", form.encode())]
        two.append((b"content-type", second))
        status, body, reached = asgi_post(link.removeprefix("http://a"), two, [b"amount=1"])
        assert (status, body, reached) == (400, b"more than one Content-Type header field", [])
    # One line: the form's fields are params, which the link did not sign.
    one = [(b"host", b"api.test"), (b"content-type", form.encode())]
    status, body, reached = asgi_post(link.removeprefix("http://a"), one, [b"amount=1"])
    assert (status, body, reached) == (401, b"ottoken does not match", [])
    # A v2 request with two lines: the problem document's code.
    sent = b"amount=10"
    header = xnonce.sign_request(
        "v2", "POST", "api.test", "/pay", "billing", SECRET, content_type=form, body=sent
    )
    two = [(b"host", b"api.test"), (b"content-type", form.encode())]
    two += [(b"content-type", form.encode()), (b"x-nonce", header.encode())]
    status, body, reached = asgi_post("/pay", two, [sent])
    assert status == 400 and json.loads(body)["code"] == "invalid_body" and reached == []


def form_as_python_reads_it(content_type: str, body: bytes) -> list[tuple[str, str]] | None:
    """The form fields a Python framework reads from a body: python-multipart's
    ``parse_options_header`` (Starlette's, FastAPI's) takes the media type as
    ``value.lower().strip()``, Django's ``parse_header_parameters`` as ``.strip()`` of what
    precedes the first ``;``: ``str.strip``, which removes U+0085, U+00A0 and the other
    characters Python counts as whitespace, not only SP and HTAB. ``None``: no form."""
    from urllib.parse import parse_qsl

    if content_type.partition(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return None
    return parse_qsl(body.decode(), keep_blank_values=True)


@contextlib.contextmanager
def middleware_serving(
    server: str, wsgi_app: Any, asgi_app: Any, verifier: xnonce.Verifier
) -> Iterator[str]:
    """``wsgi_app`` behind the WSGI middleware under Werkzeug's server, or ``asgi_app`` behind
    the ASGI middleware under uvicorn (``server``), on 127.0.0.1: its base URL."""
    if server == "asgi":
        with uvicorn_serving(AsgiMiddleware(asgi_app, verifier)) as base:
            yield base
        return
    httpd = make_server("127.0.0.1", 0, WsgiMiddleware(wsgi_app, verifier), threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
@pytest.mark.parametrize("space", ["\xa0", "\x85"])
def test_a_content_type_python_reads_as_a_form_and_the_verifier_does_not_is_refused(
    server: str, space: str
) -> None:
    """A body is a form for the verifier when its media type, without SP and HTAB around it,
    is `application/x-www-form-urlencoded` (PROTOCOL §6.5: no other character); Starlette and
    Django strip every character Python counts as whitespace, U+00A0 and U+0085 (bytes 0xA0
    and 0x85 of a header, which HTTP servers pass on) included. A v2 request signed with the
    opaque text body `memo=hi&to=mallory` (its bytes signed by digest, no params) verified
    with `Content-Type: application/x-www-form-urlencoded\xa0`, and the app read a form:
    a `to` field that no signature covers as a param (`v.params` had none). Refused (400,
    `invalid_body`), as two Content-Type lines are; the same body as `text/plain`, or as a
    form spelled as both read it, still verifies."""
    body = b"memo=hi&to=mallory"
    reached: list[tuple[list[tuple[str, str]] | None, list[tuple[str, str]]]] = []

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sent = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        v: xnonce.Verified = environ["xnonce.verified"]
        reached.append((form_as_python_reads_it(environ["CONTENT_TYPE"], sent), v.params))
        start_response("200 OK", [("Content-Length", "0")])
        return []

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        sent = await read_asgi_body(receive)
        content_type = dict(scope["headers"])[b"content-type"].decode("latin-1")
        v: xnonce.Verified = scope["xnonce.verified"]
        reached.append((form_as_python_reads_it(content_type, sent), v.params))
        headers = [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def post(base: str, signed_as: str, sent_as: str) -> tuple[int | None, bytes]:
        authority = base.removeprefix("http://")
        header = xnonce.sign_request(
            "v2",
            "POST",
            authority,
            "/pay",
            "billing",
            SECRET,
            content_type=signed_as,
            body=body,
        )
        head = (
            f"POST /pay HTTP/1.1\r\nHost: {authority}\r\nX-Nonce: {header}\r\n"
            f"Content-Type: {sent_as}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        return raw_exchange(base, head.encode("latin-1") + body)

    verifier = xnonce.Verifier({"billing": SECRET})
    with middleware_serving(server, wsgi_app, asgi_app, verifier) as base:
        form = "application/x-www-form-urlencoded"
        status, answer = post(base, "text/plain", form + space)
        assert status == 400, answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "invalid_body"
        assert reached == []
        # Neither a form for the verifier nor for the app: verified by its digest, no params.
        assert post(base, "text/plain", "text/plain" + space)[0] == 200
        # A form for both (SP and HTAB around the media type): its fields verified as params.
        assert post(base, form, f" {form}\t; charset=utf-8")[0] == 200
    fields = [("memo", "hi"), ("to", "mallory")]
    assert reached == [(None, []), (fields, fields)]


def test_asgi_a_body_of_many_small_messages_is_held_once() -> None:
    """A server may hand each chunk of a chunked body on as one message (Hypercorn does): the
    body is copied into one buffer as it arrives, not held as one ``bytes`` object per
    message (about 50 times its size for 1-byte chunks), and reaches the app unchanged."""
    size = 256 * 1024
    body = bytes(i % 251 for i in range(size))
    header = xnonce.sign_request(
        "v2", "POST", "api.test", "/up", "billing", SECRET, content_type="x/y", body=body
    )
    headers = [(b"host", b"api.test"), (b"content-type", b"x/y"), (b"x-nonce", header.encode())]
    messages = [body[i : i + 1] for i in range(size)]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        status, _, reached = asgi_post("/up", headers, messages, max_body=size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200 and reached[0][1] == body
    # A few copies of the body (the buffer, the body handed on, the verifier's, the app's):
    # well under 16 times its size; one `bytes` object per message made it some 80 times.
    assert peak < 16 * size, peak
    # One byte more than the limit, in as many messages: 413, the app not reached.
    status, answer, reached = asgi_post("/up", headers, [*messages, b"x"], max_body=size)
    assert status == 413 and json.loads(answer)["code"] == "invalid_body" and reached == []


def test_wsgi_a_fragment_in_the_raw_target_is_no_part_of_what_is_verified() -> None:
    """A `#` in the target (no part of an HTTP request target, RFC 9112 §3.2; Werkzeug's
    server and gunicorn pass it on in RAW_URI) ends the query for the app, which reads
    QUERY_STRING (Python's urlsplit cuts the fragment off): verified from RAW_URI whole, a
    request signed for `q=%23tag&dry_run=1` sent as `q=#tag&dry_run=1` reached a Flask view
    as `q=""` without `dry_run`. Cut there, as the reference server's URI parser cuts it."""
    from flask import Flask, request

    app = Flask(__name__)

    @app.get("/x")
    def view() -> dict[str, Any]:
        return {"args": list(request.args.items(multi=True))}

    app.wsgi_app = WsgiMiddleware(app.wsgi_app, xnonce.Verifier({"billing": SECRET}))  # type: ignore[method-assign]
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{httpd.server_port}"
        host = base.removeprefix("http://")

        def send(signed: str, sent: str) -> tuple[int | None, bytes]:
            header = xnonce.sign_request("v2", "GET", host, signed, "billing", SECRET)
            return raw_exchange(
                base,
                f"GET {sent} HTTP/1.1\r\nHost: {host}\r\nX-Nonce: {header}\r\n"
                "Connection: close\r\n\r\n".encode(),
            )

        # Signed for a value holding `#`, sent with it raw: the app would read another request.
        status, answer = send("/x?q=%23tag&dry_run=1", "/x?q=#tag&dry_run=1")
        assert status == 401, answer
        # Signed for what the app reads: accepted, and read as signed.
        status, answer = send("/x?q=", "/x?q=#tag&dry_run=1")
        assert status == 200, answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["args"] == [["q", ""]]
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert request_target({"RAW_URI": "/x?a=1#b=2", "QUERY_STRING": "a=1"}) == "/x?a=1"
    assert request_target({"REQUEST_URI": "/x#?a=1", "PATH_INFO": "/x"}) == "/x"


def test_an_absolute_form_target_reaches_the_app_with_the_host_it_was_verified_for() -> None:
    """`GET http://api.test/up?q=1` verifies with host `api.test` whatever its `Host` field
    says (RFC 9112 §3.2.2). Werkzeug's server puts that authority in HTTP_HOST; gunicorn
    (RAW_URI the absolute target, PATH_INFO its path) and ASGI servers leave the field, so a
    request signed for api.test reached a Flask view with `request.host` another tenant's
    name. The app now reads the host that was verified."""
    from flask import Flask, request

    app = Flask(__name__)
    seen: list[str] = []

    @app.post("/up")
    def view() -> str:
        seen.append(request.host)
        return "ok"

    middleware = WsgiMiddleware(app.wsgi_app, xnonce.Verifier({"billing": SECRET}))
    # As gunicorn hands over `POST http://api.test/up?q=1` with `Host: other.test`.
    environ = EnvironBuilder().get_environ() | signed_environ(
        RAW_URI="http://api.test/up?q=1", HTTP_HOST="other.test"
    )
    statuses: list[str] = []
    b"".join(middleware(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"] and seen == ["api.test"]

    header = xnonce.sign_request("v2", "GET", "api.test", "/up", "billing", SECRET)
    # As uvicorn hands over `GET http://api.test/up` with `Host: other.test`.
    status, _, reached = call_asgi(
        {
            "path": "http://api.test/up",
            "raw_path": b"http://api.test/up",
            "headers": [(b"host", b"other.test"), (b"x-nonce", header.encode())],
        }
    )
    hosts = [v for k, v in reached[0]["headers"] if k == b"host"]
    assert status == 200 and hosts == [b"api.test"]


def split_at_semicolons_too(body: bytes) -> list[tuple[str, str]]:
    """A form read as python-multipart before 0.0.30 (Starlette's and FastAPI's form parser)
    reads one: fields split at `;` as well as `&`."""
    from urllib.parse import unquote_plus

    pairs = [p.partition(b"=") for p in re.split(rb"[&;]", body) if p]
    return [(unquote_plus(k.decode()), unquote_plus(v.decode())) for k, _, v in pairs]


def post_through_both(
    content_type: str, sent: bytes, header: str, read: Callable[[str, bytes], None]
) -> list[str]:
    """POSTs ``sent`` (as ``content_type``, credential ``header``) to api.test/pay through the
    WSGI, then the ASGI middleware (billing's verifier, ``once=False``), whose apps each check
    that the body's length is its ``Content-Length`` and hand ``read`` the ``Content-Type``
    and body they got. The statuses sent, WSGI's then ASGI's."""
    verifier = xnonce.Verifier({"billing": SECRET})

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        assert len(body) == int(environ["CONTENT_LENGTH"])
        read(environ["CONTENT_TYPE"], body)
        start_response("200 OK", [])
        return [b"ok"]

    environ = signed_environ(
        RAW_URI="/pay",
        PATH_INFO="/pay",
        QUERY_STRING=None,
        HTTP_X_NONCE=header,
        CONTENT_TYPE=content_type,
        CONTENT_LENGTH=str(len(sent)),
        **{"wsgi.input": io.BytesIO(sent)},
    )
    statuses: list[str] = []
    b"".join(
        WsgiMiddleware(wsgi_app, verifier, once=False)(environ, lambda s, h: statuses.append(s))
    )

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        body = await read_asgi_body(receive)
        headers = dict(scope["headers"])
        assert headers[b"content-length"] == str(len(body)).encode()
        read(headers[b"content-type"].decode("latin-1"), body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/pay",
        "raw_path": b"/pay",
        "query_string": b"",
        "headers": [
            (b"host", b"api.test"),
            (b"x-nonce", header.encode()),
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(sent)).encode()),
        ],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": sent, "more_body": False}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            statuses.append(str(message["status"]))

    asyncio.run(AsgiMiddleware(asgi_app, verifier, once=False)(scope, receive, send))
    return statuses


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_a_raw_semicolon_in_a_form_reaches_the_app_as_the_character_verified(
    scheme: str,
) -> None:
    """The verifier splits a form at `&` only: `memo=a;to=mallory` is one field, signed as
    `memo=a%3Bto%3Dmallory`, and verifies with the `;` raw. With python-multipart 0.0.29
    Starlette read it as `memo=a` and `to=mallory`, and `form["to"]` (its last value) was
    `mallory` on a request signed for `to=alice`. The app now gets each raw `;` as `%3B`."""
    form = "application/x-www-form-urlencoded"
    signed = b"to=alice&memo=a%3Bto%3Dmallory"
    sent = b"to=alice&memo=a;to=mallory"
    header = xnonce.sign_request(
        scheme, "POST", "api.test", "/pay", "billing", SECRET, content_type=form, body=signed
    )
    read: list[list[tuple[str, str]]] = []
    statuses = post_through_both(
        form, sent, header, lambda _, body: read.append(split_at_semicolons_too(body))
    )
    assert statuses == ["200 OK", "200"]
    assert read == [[("to", "alice"), ("memo", "a;to=mallory")]] * 2


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_a_raw_semicolon_in_the_query_reaches_the_app_as_the_character_verified(
    server: str, scheme: str
) -> None:
    """The verifier splits a query at `&` only: `memo=a;to=mallory&to=alice` is `memo` and one
    `to`, as signed for `memo=a%3Bto%3Dmallory&to=alice`. Python's `parse_qsl` before 3.9.2
    (Werkzeug's `request.args`, Starlette's `QueryParams`) and Django before 2.2.19 split at
    `;` too: the app read a `to=mallory` first, which no signature covers. The app's query
    (`QUERY_STRING`, `scope["query_string"]`) now holds each raw `;` as `%3B`."""
    read: list[list[tuple[str, str]]] = []

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        read.append(split_at_semicolons_too(environ["QUERY_STRING"].encode("latin-1")))
        start_response("200 OK", [("Content-Length", "0")])
        return []

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        read.append(split_at_semicolons_too(scope["query_string"]))
        headers = [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    verifier = xnonce.Verifier({"billing": SECRET})
    with middleware_serving(server, wsgi_app, asgi_app, verifier) as base:
        authority = base.removeprefix("http://")
        signed = "/x?memo=a%3Bto%3Dmallory&to=alice"
        header = xnonce.sign_request(scheme, "GET", authority, signed, "billing", SECRET)
        status, answer = raw_exchange(
            base,
            f"GET /x?memo=a;to=mallory&to=alice HTTP/1.1\r\nHost: {authority}\r\n"
            f"X-Nonce: {header}\r\nConnection: close\r\n\r\n".encode(),
        )
    assert status == 200, answer
    assert read == [[("memo", "a;to=mallory"), ("to", "alice")]]


def test_raw_utf8_bytes_in_the_query_reach_the_app_as_the_text_verified() -> None:
    """A byte outside ASCII in the query is verified as its `%XX` escape: `to=Zoë` sent raw
    verifies as signed for `to=Zo%C3%AB` (uvicorn and Hypercorn answer 400 to such a target,
    Daphne and Granian pass it on). Starlette's `QueryParams` (FastAPI's) read
    `scope["query_string"]` as latin-1 and `parse_qsl` that text, as does a WSGI app reading
    `QUERY_STRING` (PEP 3333's latin-1 text) with `parse_qsl`: the app read `ZoÃ«`, a name
    nobody signed. The app's query now holds each such byte as `%XX`, which every query
    reader decodes as the UTF-8 verified."""
    from urllib.parse import parse_qsl

    signed = "/up?to=Zo%C3%AB&memo=%E2%82%AC5"
    raw = "to=Zoë&memo=€5".encode()
    header = xnonce.sign_request("v2", "GET", "api.test", signed, "billing", SECRET)
    status, _, reached = call_asgi(
        {
            "query_string": raw,
            "headers": [(b"host", b"api.test"), (b"x-nonce", header.encode())],
        }
    )
    assert status == 200
    assert parse_qsl(reached[0]["query_string"].decode("latin-1")) == [
        ("to", "Zoë"),
        ("memo", "€5"),
    ]

    environ = signed_environ(
        REQUEST_METHOD="GET",
        RAW_URI="/up?" + raw.decode("latin-1"),
        QUERY_STRING=raw.decode("latin-1"),
        HTTP_X_NONCE=header,
        CONTENT_TYPE=None,
        CONTENT_LENGTH=None,
    )
    assert call_wsgi(environ)[0] == "200 OK"
    assert parse_qsl(environ["QUERY_STRING"]) == [("to", "Zoë"), ("memo", "€5")]


def read_as_starlette(body: bytes) -> list[tuple[str, str]]:
    """A form read as Starlette's ``FormParser`` reads one: split at ``&``, each name and value
    decoded as latin-1, then ``unquote_plus`` (which reads ``%XX`` escapes as UTF-8)."""
    from urllib.parse import unquote_plus

    pairs = [p.partition(b"=") for p in body.split(b"&") if p]
    return [
        (unquote_plus(k.decode("latin-1")), unquote_plus(v.decode("latin-1"))) for k, _, v in pairs
    ]


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_a_form_sent_with_raw_utf8_bytes_reaches_the_app_as_the_text_verified(
    scheme: str,
) -> None:
    """The verifier form-decodes a field as UTF-8, so `name=Zo%C3%AB` and `name=Zo\xc3\xab`
    (the same bytes sent raw) verify alike. Starlette's (FastAPI's) form parser decodes a raw
    byte as latin-1, so whoever held the request could send the raw spelling and the app read
    `ZoÃ«`, a name nobody signed. The app now gets each byte outside ASCII as `%XX`, which
    every form parser decodes as the UTF-8 verified."""
    form = "application/x-www-form-urlencoded"
    header = xnonce.sign_request(
        scheme,
        "POST",
        "api.test",
        "/pay",
        "billing",
        SECRET,
        content_type=form,
        body="to=Zoë&memo=€5".encode(),
    )
    sent = "to=Zoë&memo=€5".encode()  # the same fields, sent raw
    read: list[list[tuple[str, str]]] = []
    statuses = post_through_both(
        form, sent, header, lambda _, body: read.append(read_as_starlette(body))
    )
    assert statuses == ["200 OK", "200"]
    assert read == [[("to", "Zoë"), ("memo", "€5")]] * 2


def test_a_json_body_naming_a_charset_reaches_the_app_byte_for_byte() -> None:
    """Only a form's raw `;` is rewritten: JSON whose Content-Type names a charset gets
    `charset=utf-8` (core's content_type_for_app) and its bytes as signed, `;` included."""
    json_type = "application/json; charset=utf-16"
    body = b'{"memo":"a;b"}'
    header = xnonce.sign_request(
        "v2", "POST", "api.test", "/pay", "billing", SECRET, content_type=json_type, body=body
    )
    seen: list[tuple[str, bytes]] = []
    statuses = post_through_both(json_type, body, header, lambda ct, b: seen.append((ct, b)))
    assert statuses == ["200 OK", "200"]
    assert seen == [("application/json; charset=utf-8", body)] * 2


def json_as_django_reads_it(content_type: str, body: bytes) -> Any:
    """JSON read as Django REST framework's ``JSONParser`` reads it: the media type as
    Django's ``parse_header_parameters`` takes it (``str.strip`` of what precedes the first
    ``;``), and the body decoded in the ``charset`` it names (``request.encoding``)."""
    media, _, parameters = content_type.partition(";")
    assert media.strip().lower() == "application/json"
    name, _, value = parameters.partition("=")
    charset = value.strip() if name.strip().lower() == "charset" else "utf-8"
    return json.loads(body.decode(charset))


def test_json_naming_a_charset_with_a_nbsp_by_its_media_type_reaches_the_app_as_utf8() -> None:
    """JSON naming a charset reaches the app as `charset=utf-8` (core's content_type_for_app);
    but `application/json\xa0; charset=utf-7` was not taken for JSON there (U+00A0 is no
    HTTP whitespace), and reached the app as sent, where Django's header parser strips it and
    Django REST framework decodes the body in UTF-7: the signed bytes
    `{"role":"user+ACI-,+ACI-role+ACI-:+ACI-admin"}` read as a second `role`, `admin`. Such a
    media type is now trimmed as the app's reader trims it."""
    body = b'{"role":"user+ACI-,+ACI-role+ACI-:+ACI-admin"}'
    sent_as = "application/json\xa0; charset=utf-7"
    header = xnonce.sign_request(
        "v2", "POST", "api.test", "/pay", "billing", SECRET, content_type=sent_as, body=body
    )
    seen: list[tuple[str, bytes]] = []
    statuses = post_through_both(sent_as, body, header, lambda ct, b: seen.append((ct, b)))
    assert statuses == ["200 OK", "200"]
    assert [json_as_django_reads_it(ct, b) for ct, b in seen] == [
        {"role": "user+ACI-,+ACI-role+ACI-:+ACI-admin"}
    ] * 2


@pytest.mark.parametrize("raw", [True, False])
def test_wsgi_non_ascii_bytes_in_the_target_are_verified_as_the_app_decodes_them(
    raw: bool,
) -> None:
    """PEP 3333 hands each byte of the target as one latin-1 character: `to=é` sent as its
    UTF-8 bytes arrives as `to=\\xc3\\xa9`, which Flask and Django read back as bytes, then
    UTF-8: `é`. The verifier took those characters as text (each one UTF-8 encoded, so
    `Ã©`): a request signed for `to=Ã©` passed and the app read `to=é`. Each such byte is
    now verified as `%XX`, what the app decodes."""
    from flask import Flask, request

    app = Flask(__name__)
    seen: list[str | None] = []

    @app.get("/x")
    def view() -> str:
        seen.append(request.args.get("to"))
        return "ok"

    middleware = WsgiMiddleware(app.wsgi_app, xnonce.Verifier({"billing": SECRET}), once=False)
    wire = "to=\xc3\xa9"  # `to=é` sent raw, as gunicorn hands it over (latin-1 characters)

    def status_for(signed_query: str) -> str:
        header = xnonce.sign_request(
            "v2", "GET", "api.test", "/x?" + signed_query, "billing", SECRET
        )
        environ = EnvironBuilder().get_environ() | {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/x",
            "QUERY_STRING": wire,
            "HTTP_HOST": "api.test",
            "HTTP_X_NONCE": header,
        }
        environ.pop("REQUEST_URI", None)
        environ.pop("RAW_URI", None)
        if raw:
            environ["RAW_URI"] = "/x?" + wire
        statuses: list[str] = []
        b"".join(middleware(environ, lambda status, headers: statuses.append(status)))
        return statuses[0]

    assert status_for("to=%C3%83%C2%A9").startswith("401")  # signed `Ã©`
    assert seen == []
    assert status_for("to=%C3%A9") == "200 OK"  # signed `é`: what the app reads
    assert seen == ["é"]


#: em-secure-api's demo routes (its README's routes hash), as `xnonce-server serve --demo`
#: serves them: a verifier's `routes` in the shape of the server's `[routes]` config.
DEMO_ROUTES: dict[str, dict[str, dict[str, str]]] = {
    "controller1": {
        "__default_parameters": {"username": "req", "password": "req"},
        "action1_get": {"opt1": "req", "opt2": "opt"},
        "action2_get": {"opt1": "req", "opt2": "req", "password": "opt"},
        "action3_get": {"opt1": "req", "password": "exc"},
    },
    "controller2": {
        "action1_post": {"opt1": "req", "opt2": "opt", "opt3": "req"},
        "action2_get": {"opt1": "req", "opt2": "req"},
        "action3_get": {},
    },
    "admin": {"status_get": {}},
}


def ok_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI app answering every request it is handed `200 ok`."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


async def ok_asgi(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app answering every request it is handed `200 ok`."""
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("middleware", ["wsgi", "asgi"])
def test_routes_are_answered_as_the_reference_server_answers_them(
    middleware: str, server: Server
) -> None:
    """A verifier given em-secure-api's routes hash checks a request's route and param rules
    first (PROTOCOL §16): an unknown route is 404, a missing `req` or present `exc` param
    422, each with em-secure-api's text to a v1 client and a problem document to a v2 one,
    signed or not — what `xnonce-server serve --demo` answers the same request, compared
    live; a request that meets the rules reaches the app."""

    verifier = xnonce.Verifier({server.client: server.secret}, routes=DEMO_ROUTES)
    form = "application/x-www-form-urlencoded"
    cases = [
        ("GET", "/controller1/action1?username=u&password=p", None),
        ("GET", "/controller1/action3?username=u&password=p&opt1=x", None),
        ("GET", "/controller1/action9?username=u", None),
        ("POST", "/controller1/action1?username=u&password=p&opt1=x", None),
        ("GET", "/nowhere/action1", None),
        ("POST", "/controller2/action1", b"opt1=a&opt2=b"),
    ]
    with middleware_serving(middleware, ok_wsgi, ok_asgi, verifier) as base:
        for scheme in ("v1", "v2"):
            ok = "/controller1/action1?username=u&password=p&opt1=x"
            for url in (base, server.url):
                host = url.removeprefix("http://")
                header = xnonce.sign_request(scheme, "GET", host, ok, server.client, server.secret)
                assert requests.get(url + ok, headers={"X-Nonce": header}).status_code == 200
            for method, target, body in cases:
                answers = []
                for url in (base, server.url):
                    host = url.removeprefix("http://")
                    header = xnonce.sign_request(
                        scheme,
                        method,
                        host,
                        target,
                        server.client,
                        server.secret,
                        content_type=form if body else None,
                        body=body,
                    )
                    for signed in (True, False):
                        headers = {"X-Nonce": header} if signed else {}
                        if body:
                            headers["Content-Type"] = form
                        res = requests.request(method, url + target, headers=headers, data=body)
                        answers.append(
                            (res.status_code, res.headers.get("Content-Type"), res.text, signed)
                        )
                ours, theirs = answers[:2], answers[2:]
                assert ours == theirs, (scheme, method, target)
                assert ours[0][0] in (404, 422), ours


def head_and_body(base: str, request: bytes) -> tuple[bytes, bytes | None, bytes]:
    """Sends raw bytes on a fresh connection: the answer's status line, ``Content-Type`` and
    body (a missing answer, within 10 s, fails the test)."""
    _, answer = raw_exchange(base, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    types = [
        v.strip()
        for k, _, v in (ln.partition(b":") for ln in lines[1:])
        if k.lower() == b"content-type"
    ]
    return lines[0], (types[0] if types else None), body


@pytest.mark.parametrize("middleware", ["wsgi", "asgi"])
def test_routes_are_checked_from_the_head_as_the_reference_server_checks_them(
    middleware: str, server: Server
) -> None:
    """With `routes`, what the reference server answers from a request's head alone, before
    it reads a body (PROTOCOL §16: the route, then verification), each middleware answers
    with the same status, type and bytes, compared live: a chunked body that is no form,
    sent to an unknown route or one whose param rules the query fails, is not waited for
    (404 or 422, where the middleware waited for a body that did not come); a form type
    misread by Python's `strip` is refused only on a route that exists (404 first); a
    target's `#` ends it (`/admin/status#x?k=1` is `/admin/status`, not an action
    `status#x` nor a query `k=1`); a v1 form body that is not UTF-8 gets the server's
    words."""

    verifier = xnonce.Verifier({server.client: server.secret}, routes=DEMO_ROUTES)
    seen: list[str] = []

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(environ["PATH_INFO"] + "?" + environ["QUERY_STRING"])
        return ok_wsgi(environ, start_response)

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"] + "?" + scope["query_string"].decode())
        await ok_asgi(scope, receive, send)

    def post(host: str, target: str, content_type: str, chunked: bytes) -> bytes:
        return (
            f"POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode("latin-1") + chunked

    form = "application/x-www-form-urlencoded"
    cases: list[Callable[[str], bytes]] = [
        # A chunked body that does not come (a slow one): nothing to read, no reset either.
        lambda host: post(host, "/nowhere/a", "application/json", b""),
        lambda host: post(host, "/controller2/action1", "application/octet-stream", b""),
        lambda host: post(host, "/nowhere/a", form + "\xa0", b"3\r\na=1\r\n0\r\n\r\n"),
        lambda host: post(host, "/controller2/action1", form, b"6\r\nopt1=\xff\r\n0\r\n\r\n"),
        lambda host: (
            f"GET /controller1/action1#x?username=u&password=p&opt1=x HTTP/1.1\r\n"
            f"Host: {host}\r\nConnection: close\r\n\r\n"
        ).encode(),
    ]
    with middleware_serving(middleware, wsgi_app, asgi_app, verifier) as base:
        for i, case in enumerate(cases):
            ours = head_and_body(base, case(base.removeprefix("http://")))
            theirs = head_and_body(server.url, case(server.host))
            assert ours == theirs, (i, ours, theirs)
            assert int(ours[0].split()[1]) in (400, 404, 422), (i, ours)
        assert seen == []
        # Signed for /admin/status: the fragment and what follows it are no part of it.
        for url in (base, server.url):
            host = url.removeprefix("http://")
            header = xnonce.sign_request(
                "v2", "GET", host, "/admin/status", server.client, server.secret
            )
            request = (
                f"GET /admin/status#x?k=1 HTTP/1.1\r\nHost: {host}\r\nX-Nonce: {header}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            status = head_and_body(url, request)[0]
            assert status == b"HTTP/1.1 200 OK", (url, status)
        assert seen == ["/admin/status?"]


@pytest.mark.parametrize("middleware", ["wsgi", "asgi"])
def test_the_black_box_server_suite_passes_against_the_middlewares(
    middleware: str, tmp_path: Any
) -> None:
    """`xnonce-conformance server`, the suite any xnonce server can be run against (its 120
    checks: replays, tampering, staleness, malformed and duplicate headers, concurrency,
    routes and param rules, a second client), against an app answering 200 behind each
    middleware with em-secure-api's demo routes, as it runs against `xnonce-server serve
    --demo` in CI: every check passes, none is skipped."""

    other = "b" * 64
    (tmp_path / "suite.secret").write_text(SECRET)
    (tmp_path / "other.secret").write_text(other)
    verifier = xnonce.Verifier({"suite": SECRET, "other": other}, routes=DEMO_ROUTES)
    with middleware_serving(middleware, ok_wsgi, ok_asgi, verifier) as base:
        run = subprocess.run(
            [
                conformance_binary(),
                "server",
                "--base-url",
                base,
                "--client",
                "suite",
                "--secret-file",
                str(tmp_path / "suite.secret"),
                "--second-client",
                "other",
                "--second-secret-file",
                str(tmp_path / "other.secret"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = re.fullmatch(r"(\d+) passed, 0 failed", last)
    assert passed and int(passed.group(1)) >= 100, last
