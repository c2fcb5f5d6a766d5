"""``requests`` auth: ``requests.get(url, auth=XNonceAuth(client, secret))``.

Importable without ``requests`` installed (the class then has no ``requests`` base class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from xnonce._http import (
    HEADER,
    SERVER_TIME_HEADER,
    Signer,
    authority_and_target,
    header_text,
    sign_target,
)
from xnonce._xnonce import error_from_code

if TYPE_CHECKING:
    from requests import PreparedRequest, Response
    from requests.auth import AuthBase as _AuthBase
else:
    try:
        from requests.auth import AuthBase as _AuthBase
    except ImportError:  # pragma: no cover - exercised only without requests installed
        _AuthBase = object

__all__ = ["XNonceAuth"]

# Where a request keeps the Host line the adapter added (not the caller), to drop on redirect.
_OWN_HOST = "_xnonce_own_host"


def _sent_body(body: str) -> bytes:
    """A ``str`` body as the bytes urllib3 sends: UTF-8 from urllib3 2; urllib3 1 leaves it to
    ``http.client``, which writes it as latin-1 (and ``requests`` counts its Content-Length so)."""
    import urllib3

    if not str(getattr(urllib3, "__version__", "")).startswith("1."):
        return body.encode("utf-8")
    try:
        return body.encode("latin-1")
    except UnicodeEncodeError:
        raise error_from_code(
            "invalid_body",
            "urllib3 1.x sends a str body as latin-1, which cannot write this one: pass bytes",
        ) from None


def _buffer_body(body: memoryview) -> bytes:
    """A ``memoryview`` body as the bytes urllib3 sends (its buffer, byte by byte). ``requests``
    counts its Content-Length as ``len(body)``, its items: one of wider items (or not one flat
    run of bytes) would go out with a wrong length, so it is refused."""
    if body.ndim != 1 or body.itemsize != 1 or not body.c_contiguous:
        raise error_from_code(
            "invalid_body",
            "a memoryview body must be one contiguous run of bytes (requests sends its"
            " Content-Length as its number of items): pass bytes, or memoryview.cast('B')",
        )
    return body.tobytes()


class XNonceAuth(Signer, _AuthBase):
    """Signs every request it is attached to and sets the ``X-Nonce`` header.

    The method, host (a ``Host`` header's, else the URL's authority; a URL host with a trailing
    dot is sent in a ``Host`` header as written, which urllib3 would drop), path, query params
    and form params (``application/x-www-form-urlencoded``) are signed; with v2 any other body
    (JSON, ...) is signed by its SHA-256 digest. v1 cannot sign a non-form body (``InputError``
    ``invalid_body``).

    Redirects: a signature is for one URL, and ``requests`` copies the signed request's headers
    to every redirect it follows. So a redirect response removes ``X-Nonce`` from the request
    before ``requests`` copies it (a response hook): the credential never reaches the
    redirect target, on any origin. A followed redirect therefore arrives unsigned (a verifying
    server answers 401). To follow one signed, pass ``allow_redirects=False`` and send
    ``auth(response.next)``: it is signed afresh for its own URL.

    Clock correction (PROTOCOL §12): every request is signed at the local clock plus
    ``clock_offset_ms`` (server - local, ms; default 0), one offset for every request this
    object signs. When a server refuses a request as stale (401) with an
    ``X-Nonce-Server-Time`` hint that authenticates, with this secret, for that very request,
    the offset becomes the server's time minus the local clock, and the request is re-signed
    (fresh nonce and timestamp; same method, URL and body) and sent once more, from a response
    hook: the answer returned is the retry's, with the stale answer in its ``history``. A stale
    request is refused before the server acts on it, so that one resend cannot do anything
    twice. A retry found stale again is not retried, but its hint updates the offset. A hint
    that does not authenticate (another request's, a wrong MAC) is ignored. With
    ``correct_clock=False`` nothing is learned or retried: the 401 is the answer, and the
    offset stays as given. ``clock_offset_ms`` is checked as the ``Requester``'s is.

    The secret is kept in an ``xnonce.Secret`` (its ``repr`` is redacted).
    """

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        url_host, target = authority_and_target(r.url or "")
        path = target.partition("?")[0]
        if any(segment in (".", "..") for segment in path.split("/")):
            # Left by requests, which decodes `%2E` to `.` after removing the dot segments
            # it saw: urllib3 sends such a path as it is directly, but without its dot
            # segments through a forwarding proxy (`/a/../b` as `/b`), so it cannot arrive
            # as signed.
            raise error_from_code(
                "invalid_path",
                f"the path {path!r} holds a dot segment, which urllib3 removes when it sends the"
                " request through an HTTP proxy: write the path without `.` or `..` segments",
            )
        last = path.rpartition("/")[2]
        if last.endswith(";") and last.count(";") == 1:
            # requests sends a URL to a forwarding proxy through `urlparse`/`urlunparse`, which
            # take the last segment's `;` and what follows as params, and drop empty ones.
            raise error_from_code(
                "invalid_path",
                f"the path {path!r} ends with a `;` that requests drops when it sends the request"
                " through an HTTP proxy",
            )
        # A Host header set by the caller (or the session) is what goes out, and what v2 binds;
        # an empty one too (urllib3 sends it so), which the core refuses (`invalid_host`).
        given = header_text(r.headers.get("Host"))
        host = url_host if given is None else given
        if given is None and (urlsplit(r.url or "").hostname or "").endswith("."):
            # A fully qualified name (`api.test.`): urllib3 writes the Host line without the
            # trailing dot, but a forwarding proxy gets the URL's authority, with it. Send the
            # Host that is signed, either way; a redirect does not take it along (below).
            r.headers["Host"] = url_host
            r.__dict__[_OWN_HOST] = url_host
        if isinstance(r.body, str):
            # Signed and sent as the same bytes, whichever urllib3 sends it.
            r.body = _sent_body(r.body)
        elif isinstance(r.body, memoryview):
            # Bytes-like, as bytes and bytearray are (`requests` takes it for a stream, having
            # `__iter__`, but urllib3 sends its bytes): a copy, signed and sent, so that a
            # change to the buffer it views after signing cannot go out unsigned.
            r.body = _buffer_body(r.body)
        r.headers[HEADER] = sign_target(
            self.scheme,
            self.client,
            self._secret,
            r.method or "GET",
            host,
            target,
            header_text(r.headers.get("Content-Type")),
            r.body,
            self._clock.timestamp(),
        )
        # One hook per request, the last signer's: a request signed again by another
        # XNonceAuth must not be resent by both.
        hooks = r.hooks.setdefault("response", [])
        hooks[:] = [h for h in hooks if getattr(h, "__func__", None) is not XNonceAuth._answered]
        hooks.append(self._answered)
        return r

    def _answered(self, r: Response, **kwargs: Any) -> Response:
        # A response hook: `kwargs` are those of the adapter's `send` (timeout, proxies, ...).
        first = r.request
        if first is not None and self._learn(r):
            # As `HTTPDigestAuth.handle_401` resends: the stale answer read and its connection
            # released, the same request re-signed and sent once through the same adapter (no
            # hooks run for it: never a second retry).
            r.content  # noqa: B018 - reads the body, so that the connection can be reused
            r.close()
            prep = first.copy()
            # Cookies the stale answer set go with the resend (a load balancer's sticky cookie
            # names the instance that knows the client), as `HTTPDigestAuth` carries its 401's.
            from requests.cookies import extract_cookies_to_jar

            # The jar the request was prepared with: requests' own HTTPDigestAuth reads it so.
            jar = prep._cookies  # type: ignore[attr-defined]
            extract_cookies_to_jar(jar, first, r.raw)  # type: ignore[no-untyped-call]
            prep.prepare_cookies(jar)
            if _OWN_HOST in first.__dict__:
                prep.__dict__[_OWN_HOST] = first.__dict__[_OWN_HOST]
            self(prep)
            retry = r.connection.send(prep, **kwargs)
            retry.history.append(r)
            retry.request = prep
            # Stale again: its hint, newer and bound to the retry, is learned; not resent.
            self._learn(retry)
            r = retry
        if r.is_redirect:
            # Runs before `requests` builds the redirect from a copy of the request it sent
            # first (`first`, even when the answer is the retry's).
            for sent in (first, r.request):
                if sent is not None:
                    _unsign(sent)
        return r

    def _learn(self, r: Response) -> bool:
        """Whether ``r`` is a stale answer to its request with an authentic time hint (the
        offset is then learned); always false with clock correction off."""
        request = r.request
        if request is None:
            return False
        return self._clock.learn(
            r.status_code,
            header_text(r.headers.get(SERVER_TIME_HEADER)),
            header_text(request.headers.get(HEADER)),
            self._secret,
        )


def _unsign(request: PreparedRequest) -> None:
    """Removes the credential (and a ``Host`` line the adapter added) from a request whose
    answer is a redirect, before ``requests`` copies its headers to the redirect."""
    request.headers.pop(HEADER, None)
    own = request.__dict__.pop(_OWN_HOST, None)
    if own is not None and request.headers.get("Host") == own:
        del request.headers["Host"]
