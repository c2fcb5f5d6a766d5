"""The requests / httpx auth adapters, checked offline by the Verifier (live: test_live.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from array import array
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests
import xnonce
import xnonce.httpx
import xnonce.requests

SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
VERIFIER = xnonce.Verifier({"svc": SECRET})
FORM = "application/x-www-form-urlencoded"


def check(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> xnonce.Verified:
    headers = {k.lower(): v for k, v in headers.items()}
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    return VERIFIER.verify(
        method,
        target,
        host=parts.netloc,
        x_nonce=headers["x-nonce"],
        content_type=headers.get("content-type"),
        body=body,
    )


def prepared(scheme: str, **kw: object) -> requests.PreparedRequest:
    req = requests.Request(auth=xnonce.requests.XNonceAuth("svc", SECRET, scheme=scheme), **kw)
    return req.prepare()


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_requests_query_and_form(scheme: str) -> None:
    p = prepared(
        scheme, method="POST", url="http://API.test:8080/c/a?x=1&y=a b", data={"z": "é", "w": "1"}
    )
    body = p.body.encode() if isinstance(p.body, str) else p.body
    v = check("POST", p.url or "", dict(p.headers), body)
    assert v.scheme == scheme and v.params == [("x", "1"), ("y", "a b"), ("z", "é"), ("w", "1")]
    g = prepared(scheme, method="GET", url="https://api.test/c/a", params={"q": "1 2"})
    assert check("GET", g.url or "", dict(g.headers), None).params == [("q", "1 2")]


def test_requests_json_body_v2_and_v1_refusal() -> None:
    p = prepared("v2", method="PUT", url="http://api.test/c/a?k=v", json={"a": [1, 2]})
    assert isinstance(p.body, bytes)
    assert check("PUT", p.url or "", dict(p.headers), p.body).params == [("k", "v")]
    tampered = json.dumps({"a": [1, 3]}).encode()
    with pytest.raises(xnonce.AuthError):
        check("PUT", p.url or "", dict(p.headers), tampered)
    with pytest.raises(xnonce.InputError) as e:
        prepared("v1", method="PUT", url="http://api.test/c/a", json={"a": 1})
    assert e.value.code == "invalid_body"


def test_requests_streamed_body_is_refused() -> None:
    def gen() -> Iterator[bytes]:
        yield b"x"

    with pytest.raises(xnonce.InputError) as e:
        prepared("v2", method="POST", url="http://api.test/c/a", data=gen())
    assert e.value.code == "invalid_body"
    assert "a generator body (a stream, a file) cannot be signed" in str(e.value)


def test_requests_bytes_like_bodies_sign_as_bytes() -> None:
    """A memoryview body (urllib3 sends any bytes-like body as its bytes) is signed like the
    same bytes as `bytes` or `bytearray`: never refused as a stream."""
    raw = b'{"a": [1, 2]}'
    for body in (raw, bytearray(raw), memoryview(raw), memoryview(bytearray(raw))):
        p = prepared(
            "v2",
            method="POST",
            url="http://api.test/c/a",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        assert check("POST", p.url or "", dict(p.headers), raw).client == "svc", type(body)
        with pytest.raises(xnonce.AuthError):
            check("POST", p.url or "", dict(p.headers), raw + b" ")
    # requests would send its Content-Length as 1 (items), not 4 (bytes): refused, never sent.
    with pytest.raises(xnonce.InputError) as e:
        prepared("v2", method="POST", url="http://api.test/c/a", data=memoryview(array("i", [7])))
    assert e.value.code == "invalid_body"


def httpx_signed(scheme: str, request: httpx.Request) -> httpx.Request:
    flow = xnonce.httpx.XNonceAuth("svc", SECRET, scheme=scheme).sync_auth_flow(request)
    return next(flow)


@pytest.mark.parametrize("scheme", ["v1", "v2"])
def test_httpx_query_and_form(scheme: str) -> None:
    r = httpx_signed(scheme, httpx.Request("POST", "http://api.test/c/a?x=1", data={"z": "é z"}))
    v = check("POST", str(r.url), dict(r.headers), r.content)
    assert v.params == [("x", "1"), ("z", "é z")]


def test_httpx_json_body_and_async_flow() -> None:
    req = httpx.Request("POST", "http://api.test:8443/c/a", json={"a": 1})
    assert (
        check("POST", str(req.url), dict(httpx_signed("v2", req).headers), req.content).client
        == "svc"
    )

    async def run() -> httpx.Request:
        r = httpx.Request("PATCH", "http://api.test/c/a", content=b"raw bytes")
        return await xnonce.httpx.XNonceAuth("svc", SECRET).async_auth_flow(r).__anext__()

    r = asyncio.run(run())
    assert check("PATCH", str(r.url), dict(r.headers), b"raw bytes").scheme == "v2"


def test_a_host_header_is_the_host_signed() -> None:
    """v2 binds the Host that goes out: a caller's Host header, not the URL's authority."""
    url, host = "http://127.0.0.1:8080/c/a", "api.example.com"
    p = prepared("v2", method="GET", url=url, headers={"Host": host})
    r = httpx_signed("v2", httpx.Request("GET", url, headers={"Host": host}))
    for x_nonce in (p.headers["X-Nonce"], r.headers["X-Nonce"]):
        assert VERIFIER.verify("GET", "/c/a", host=host, x_nonce=x_nonce).client == "svc"
        with pytest.raises(xnonce.AuthError):
            VERIFIER.verify("GET", "/c/a", host="127.0.0.1:8080", x_nonce=x_nonce)


def test_header_values_as_sent() -> None:
    """A bytes Content-Type (requests sends it as is) signs like its text; of two
    Content-Type lines (httpx sends both) the first is signed, as the reference server reads."""
    p = prepared(
        "v2",
        method="POST",
        url="http://api.test/c/a",
        data=b"a=1",
        headers={"Content-Type": FORM.encode()},
    )
    assert isinstance(p.body, bytes)
    assert check(
        "POST", p.url or "", {"X-Nonce": p.headers["X-Nonce"], "Content-Type": FORM}, p.body
    ).params == [("a", "1")]
    r = httpx_signed(
        "v2",
        httpx.Request(
            "POST",
            "http://api.test/c/a",
            headers=[("Content-Type", FORM), ("Content-Type", "text/plain")],
            content=b"a=1",
        ),
    )
    v = check("POST", str(r.url), {"X-Nonce": r.headers["X-Nonce"], "Content-Type": FORM}, b"a=1")
    assert v.params == [("a", "1")]


def test_secret_is_not_in_repr() -> None:
    for auth in (xnonce.requests.XNonceAuth("svc", SECRET), xnonce.httpx.XNonceAuth("svc", SECRET)):
        assert SECRET not in repr(auth) and "svc" in repr(auth)


@pytest.mark.parametrize("auth", [xnonce.requests.XNonceAuth, xnonce.httpx.XNonceAuth])
def test_a_credential_no_request_could_use_is_refused_when_the_adapter_is_made(auth: Any) -> None:
    # Not on each request: every one of them would fail alike.
    for args, code in [
        (("svc", SECRET, "v3"), "unsupported_scheme"),
        (("has space", SECRET), "invalid_client_id"),
        (("svc", "legacy-secret"), "invalid_secret"),  # v2 keys are 64 hex digits
        (("svc", ""), "invalid_secret"),
    ]:
        with pytest.raises(xnonce.XNonceError) as e:
            auth(*args)
        assert e.value.code == code, args
    with pytest.raises(TypeError):
        auth(None, SECRET)
    assert auth("svc", "legacy-secret", "v1").scheme == "v1"


@pytest.mark.parametrize("auth", [xnonce.requests.XNonceAuth, xnonce.httpx.XNonceAuth])
def test_the_scheme_is_read_as_core_reads_it(auth: Any) -> None:
    """Core (and so `sign`, `Requester` and the Node package) takes "V1"/"V2" for v1/v2: the
    adapter keeps the scheme as core reads it, not as typed; core refuses any other spelling."""
    for given, scheme in [("V2", "v2"), ("v2", "v2"), ("V1", "v1")]:
        a = auth("svc", SECRET, given)
        assert a.scheme == scheme, given
        assert repr(a) == f"XNonceAuth(client='svc', scheme='{scheme}')"
    for bad in (" v2", "v2 ", "2", "V3", "vv2"):
        with pytest.raises(xnonce.FormatError) as e:
            auth("svc", SECRET, bad)
        assert e.value.code == "unsupported_scheme", bad


def test_adapters_import_without_requests_or_httpx() -> None:
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("requests", "httpx"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import xnonce.requests, xnonce.httpx
assert "requests" not in sys.modules and "httpx" not in sys.modules
print(xnonce.requests.XNonceAuth("svc", "s", "v1"), xnonce.httpx.XNonceAuth("svc", "s", "v1"))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "XNonceAuth(client='svc'" in out.stdout
