"""xnonce: sign and verify HTTP requests (em-secure-api v1 and the hardened v2 scheme).

Every token is computed by the Rust core (``xnonce._xnonce``); this package adds the Python
surface: exceptions, the ``Requester``/``AsyncRequester`` and the ``requests``/``httpx`` auth
adapters (``xnonce.requests.XNonceAuth``, ``xnonce.httpx.XNonceAuth``).
"""

from xnonce._xnonce import (
    ERROR_CODES,
    AuthError,
    FormatError,
    Header,
    InputError,
    InvalidParamValue,
    Link,
    RouteError,
    Signed,
    UnavailableError,
    Verified,
    Verifier,
    XNonceError,
    __version__,
    link,
    link_detailed,
    ottoken_decode,
    ottoken_encode,
    ottoken_query_value,
    parse_header,
    sign,
    sign_detailed,
    sign_request,
)

__all__ = [
    "ERROR_CODES",
    "AuthError",
    "FormatError",
    "Header",
    "InputError",
    "InvalidParamValue",
    "Link",
    "RouteError",
    "Signed",
    "UnavailableError",
    "Verified",
    "Verifier",
    "XNonceError",
    "__version__",
    "link",
    "link_detailed",
    "ottoken_decode",
    "ottoken_encode",
    "ottoken_query_value",
    "parse_header",
    "sign",
    "sign_detailed",
    "sign_request",
]
