"""``requests`` auth: ``requests.get(url, auth=XNonceAuth(client, secret))``.

Importable without ``requests`` installed (the class then has no ``requests`` base class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xnonce._http import HEADER, authority_and_target, sign_target

if TYPE_CHECKING:
    from requests import PreparedRequest
    from requests.auth import AuthBase as _AuthBase
else:
    try:
        from requests.auth import AuthBase as _AuthBase
    except ImportError:  # pragma: no cover - exercised only without requests installed
        _AuthBase = object

__all__ = ["XNonceAuth"]


class XNonceAuth(_AuthBase):
    """Signs every request it is attached to and sets the ``X-Nonce`` header.

    The method, host (the URL's authority), path, query params and form params
    (``application/x-www-form-urlencoded``) are signed; with v2 any other body (JSON, ...) is
    signed by its SHA-256 digest. v1 cannot sign a non-form body (``InputError``
    ``invalid_body``).
    """

    def __init__(self, client: str, secret: str, scheme: str = "v2") -> None:
        self.client = client
        self._secret = secret
        self.scheme = scheme

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        host, target = authority_and_target(r.url or "")
        r.headers[HEADER] = sign_target(
            self.scheme,
            self.client,
            self._secret,
            r.method or "GET",
            host,
            target,
            r.headers.get("Content-Type"),
            r.body,
        )
        return r

    def __repr__(self) -> str:
        return f"XNonceAuth(client={self.client!r}, scheme={self.scheme!r})"
