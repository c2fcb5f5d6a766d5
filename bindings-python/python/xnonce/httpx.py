"""``httpx`` auth: ``httpx.Client(auth=XNonceAuth(client, secret))`` (sync and async clients).

Importable without ``httpx`` installed (the class then has no ``httpx`` base class).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from xnonce._http import HEADER, REDIRECT_STATUSES, checked_signer, sign_target
from xnonce._xnonce import Secret

if TYPE_CHECKING:
    from httpx import Auth as _Auth
    from httpx import Request, Response
else:
    try:
        from httpx import Auth as _Auth
    except ImportError:  # pragma: no cover - exercised only without httpx installed
        _Auth = object

__all__ = ["XNonceAuth"]

_HEADERS_RECEIVED = (
    "http11.receive_response_headers.complete",
    "http2.receive_response_headers.complete",
)


def _status(name: str, info: dict[str, Any]) -> int | None:
    """The status of a ``*.receive_response_headers.complete`` trace event, else ``None``."""
    if name not in _HEADERS_RECEIVED:
        return None
    value = info.get("return_value")
    # http11: (http_version, status, reason, headers); http2: (status, headers).
    if isinstance(value, tuple):
        return next((v for v in value if isinstance(v, int)), None)
    return None


class XNonceAuth(_Auth):
    """Signs every request and sets the ``X-Nonce`` header.

    The method, host (the ``Host`` header that goes out: the URL's authority unless the
    caller set one), path, query params and form params
    (``application/x-www-form-urlencoded``) are signed; with v2 any other body (JSON, ...) is
    signed by its SHA-256 digest. v1 cannot sign a non-form body (``InputError``
    ``invalid_body``).

    Redirects: httpx runs an auth flow once per request, not once per redirect hop, and builds
    each hop from the signed request's headers. So when the transport reports response headers
    with a redirect status (httpx's ``trace`` request extension, which the default httpcore
    transports report), ``X-Nonce`` is removed from the request before httpx copies it: the
    credential never reaches a redirect target, on any origin, and a redirect followed by a
    client with ``follow_redirects=True`` arrives unsigned (a verifying server answers 401).
    Keep ``follow_redirects=False`` (httpx's default) and, to follow one signed, send
    ``response.next_request`` through a client that has this auth: it is signed afresh. With a
    custom transport that does not report ``trace`` events, never use ``follow_redirects=True``.

    The secret is kept in an ``xnonce.Secret`` (its ``repr`` is redacted).
    """

    requires_request_body = True

    def __init__(self, client: str, secret: str | Secret, scheme: str = "v2") -> None:
        self.scheme, self._secret = checked_signer(client, secret, scheme)
        self.client = client

    def _sign(self, request: Request) -> None:
        # httpx sets Host from the URL unless the caller did: either way, what goes out (an
        # empty one too, which the core refuses: `invalid_host`). Of several Content-Type
        # lines the first (the reference server refuses such a request: PROTOCOL §6.5).
        host = request.headers.get("Host")
        content_types = request.headers.get_list("Content-Type")
        request.headers[HEADER] = sign_target(
            self.scheme,
            self.client,
            self._secret,
            request.method,
            request.url.netloc.decode("ascii") if host is None else host,
            request.url.raw_path.decode("ascii"),
            content_types[0] if content_types else None,
            request.content,
        )

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        self._sign(request)
        yield request

    def sync_auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        previous: Callable[[str, dict[str, Any]], Any] | None = request.extensions.get("trace")

        def trace(name: str, info: dict[str, Any]) -> None:
            if _status(name, info) in REDIRECT_STATUSES:
                request.headers.pop(HEADER, None)
            if previous is not None:
                previous(name, info)

        request.extensions = {**request.extensions, "trace": trace}
        return super().sync_auth_flow(request)

    def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        previous: Callable[[str, dict[str, Any]], Awaitable[None]] | None = request.extensions.get(
            "trace"
        )

        async def trace(name: str, info: dict[str, Any]) -> None:
            if _status(name, info) in REDIRECT_STATUSES:
                request.headers.pop(HEADER, None)
            if previous is not None:
                await previous(name, info)

        request.extensions = {**request.extensions, "trace": trace}
        return super().async_auth_flow(request)

    def __repr__(self) -> str:
        return f"XNonceAuth(client={self.client!r}, scheme={self.scheme!r})"
