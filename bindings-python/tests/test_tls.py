"""HTTPS to a server whose certificate an internal CA issued (client-rs/tests/fixtures/tls):
``Requester`` and ``AsyncRequester`` refuse it with the bundled roots alone and reach it once
given that CA as ``ca_pem``."""

from __future__ import annotations

import asyncio
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import xnonce

TLS = Path(__file__).resolve().parents[2] / "client-rs" / "tests" / "fixtures" / "tls"
SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"


class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_base() -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "server.pem", TLS / "server.key")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_internal_ca_is_trusted_only_when_given(https_base: str) -> None:
    with pytest.raises(xnonce.UnavailableError, match="certificate"):
        xnonce.Requester(https_base, "svc", SECRET).make_request("GET", None, "/status")
    ca = (TLS / "ca.pem").read_text()
    for pem in (ca, ca.encode()):
        res = xnonce.Requester(https_base, "svc", SECRET, ca_pem=pem).make_request(
            "GET", None, "/status"
        )
        assert (res.code, res.body) == (200, "ok")

    async def through_async() -> xnonce.Response:
        api = xnonce.AsyncRequester(https_base, "svc", SECRET, ca_pem=ca)
        return await api.make_request("GET", None, "/status")

    assert asyncio.run(through_async()).code == 200


def test_ca_pem_that_is_not_text_or_bytes_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="ca_pem"):
        xnonce.Requester("https://localhost:1", "svc", SECRET, ca_pem=1)  # type: ignore[arg-type]
    with pytest.raises(xnonce.UnavailableError, match="root certificates"):
        xnonce.Requester("https://localhost:1", "svc", SECRET, ca_pem="not PEM")
