"""``httpx`` auth: ``httpx.Client(auth=XNonceAuth(client, secret))`` (sync and async clients).

Importable without ``httpx`` installed (the class then has no ``httpx`` base class).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from xnonce._http import HEADER, sign_target

if TYPE_CHECKING:
    from httpx import Auth as _Auth
    from httpx import Request, Response
else:
    try:
        from httpx import Auth as _Auth
    except ImportError:  # pragma: no cover - exercised only without httpx installed
        _Auth = object

__all__ = ["XNonceAuth"]


class XNonceAuth(_Auth):
    """Signs every request and sets the ``X-Nonce`` header.

    The method, host (the URL's authority), path, query params and form params
    (``application/x-www-form-urlencoded``) are signed; with v2 any other body (JSON, ...) is
    signed by its SHA-256 digest. v1 cannot sign a non-form body (``InputError``
    ``invalid_body``).
    """

    requires_request_body = True

    def __init__(self, client: str, secret: str, scheme: str = "v2") -> None:
        self.client = client
        self._secret = secret
        self.scheme = scheme

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers[HEADER] = sign_target(
            self.scheme,
            self.client,
            self._secret,
            request.method,
            request.url.netloc.decode("ascii"),
            request.url.raw_path.decode("ascii"),
            request.headers.get("Content-Type"),
            request.content,
        )
        yield request

    def __repr__(self) -> str:
        return f"XNonceAuth(client={self.client!r}, scheme={self.scheme!r})"
