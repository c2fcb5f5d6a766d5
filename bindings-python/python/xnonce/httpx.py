"""``httpx`` auth: ``httpx.Client(auth=XNonceAuth(client, secret))`` (sync and async clients).

Importable without ``httpx`` installed (the class then has no ``httpx`` base class).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from xnonce._http import (
    HEADER,
    REDIRECT_STATUSES,
    SERVER_TIME_HEADER,
    Signer,
    sign_target,
)

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


class XNonceAuth(Signer, _Auth):
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

    Clock correction (PROTOCOL §12): every request is signed at the local clock plus
    ``clock_offset_ms`` (server - local, ms; default 0), one offset for every request this
    object signs. When a server refuses a request as stale (401) with an
    ``X-Nonce-Server-Time`` hint that authenticates, with this secret, for that very request,
    the offset becomes the server's time minus the local clock, and the auth flow re-signs the
    request (fresh nonce and timestamp; same method, URL and body) and sends it once more: the
    answer returned is the retry's, with the stale answer in its ``history``. A stale request
    is refused before the server acts on it, so that one resend cannot do anything twice. A
    retry found stale again is not retried, but its hint updates the offset. A hint that does
    not authenticate (another request's, a wrong MAC) is ignored, and so is any answer that
    comes from a redirect target. With ``correct_clock=False`` nothing is learned or retried:
    the 401 is the answer, and the offset stays as given. ``clock_offset_ms`` is checked as the
    ``Requester``'s is.

    The secret is kept in an ``xnonce.Secret`` (its ``repr`` is redacted).
    """

    requires_request_body = True

    def _sign(self, request: Request) -> str:
        # httpx sets Host from the URL unless the caller did: either way, what goes out (an
        # empty one too, which the core refuses: `invalid_host`). Of several Content-Type
        # lines the first (the reference server refuses such a request: PROTOCOL §6.5).
        host = request.headers.get("Host")
        content_types = request.headers.get_list("Content-Type")
        sent = sign_target(
            self.scheme,
            self.client,
            self._secret,
            request.method,
            request.url.netloc.decode("ascii") if host is None else host,
            request.url.raw_path.decode("ascii"),
            content_types[0] if content_types else None,
            request.content,
            self._clock.timestamp(),
        )
        request.headers[HEADER] = sent
        return sent

    def _learn(self, request: Request, sent: str, response: Response) -> bool:
        """Whether ``response`` is a stale answer to ``request`` itself (not to a redirect)
        with an authentic time hint for ``sent`` (the offset is then learned); always false with
        clock correction off."""
        return response.request is request and self._clock.learn(
            response.status_code, response.headers.get(SERVER_TIME_HEADER), sent, self._secret
        )

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        sent = self._sign(request)
        response = yield request
        if self._learn(request, sent, response):
            # Once more, re-signed with the learned offset; stale again, only its hint (newer,
            # bound to the retry) is learned. Cookies the stale answer set go with it (a load
            # balancer's sticky cookie), as httpx's `DigestAuth` carries its 401's.
            if response.cookies:
                from httpx import Cookies

                Cookies(response.cookies).set_cookie_header(request=request)
            sent = self._sign(request)
            response = yield request
            self._learn(request, sent, response)

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
