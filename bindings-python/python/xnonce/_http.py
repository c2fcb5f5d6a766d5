"""What the HTTP-library adapters share: from a prepared request to its ``X-Nonce`` value."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from xnonce._xnonce import Secret, _check_signer, error_from_code, sign_request

HEADER = "X-Nonce"
#: Statuses after which HTTP clients follow ``Location`` (the credential must not follow).
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


def checked_signer(client: str, secret: str | Secret, scheme: str) -> tuple[str, Secret]:
    """The adapter's scheme and secret, once the scheme, client id and secret are checked as
    every request will need them (``InputError`` now rather than on each request). The scheme
    is core's reading of it: ``"V2"`` is ``"v2"``, as ``sign`` and the Node package take it."""
    return _check_signer(scheme, client, secret)


def authority_and_target(url: str) -> tuple[str, str]:
    """Splits an absolute URL into the authority (``host[:port]``) and ``/path?query`` as sent."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.netloc.rpartition("@")[2], target


def header_text(value: str | bytes | None) -> str | None:
    """A header value as the HTTP library will send it: ``requests`` takes ``bytes`` too,
    written as is (latin-1, as ``http.client`` does)."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def sign_target(
    scheme: str,
    client: str,
    secret: str | Secret,
    method: str,
    host: str,
    target: str,
    content_type: str | None,
    body: Any,
) -> str:
    """Signs a request about to be sent: query and form params, or the body digest (v2).

    ``host`` is the Host line as sent (a caller's header, or the URL's authority without its
    userinfo): one holding ``@`` is not cut, as it goes out whole (``invalid_host``).
    ``body`` goes to the core as is: bytes, bytearray or str; anything else (a stream, a file)
    is a body the adapter cannot sign: ``InputError`` ``invalid_body``.
    """
    if body is not None and not isinstance(body, (bytes, bytearray, str)):
        raise error_from_code(
            "invalid_body",
            f"a {type(body).__name__} body (a stream, a file) cannot be signed: pass bytes",
        )
    return sign_request(
        scheme,
        method,
        host,
        target or "/",
        client,
        secret,
        content_type=content_type,
        body=body,
    )
