"""xnonce: sign and verify HTTP requests (em-secure-api v1 and the hardened v2 scheme).

Every token is computed by the Rust core (``xnonce._xnonce``); this package adds the Python
surface: exceptions, the ``Requester``/``AsyncRequester``, the ``requests``/``httpx`` auth
adapters (``xnonce.requests.XNonceAuth``, ``xnonce.httpx.XNonceAuth``) and the server-side
middleware (``xnonce.wsgi.XNonceMiddleware``, ``xnonce.asgi.XNonceMiddleware``) and a replay
store that several processes share (``xnonce.redis.RedisReplayStore``).
"""

from xnonce._xnonce import (
    ERROR_CODES,
    Answer,
    AsyncRequester,
    AuthError,
    FormatError,
    Header,
    InputError,
    InvalidParamValue,
    Link,
    Requester,
    Response,
    RouteError,
    Secret,
    Signed,
    UnavailableError,
    Verified,
    Verifier,
    XNonceError,
    __version__,
    error_from_code,
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
from xnonce.types import Body, Params, ParamValue, ReplayStore, RequestOptions, SecretSource

__all__ = [
    "ERROR_CODES",
    "Answer",
    "AsyncRequester",
    "AuthError",
    "Body",
    "FormatError",
    "Header",
    "InputError",
    "InvalidParamValue",
    "Link",
    "ParamValue",
    "Params",
    "ReplayStore",
    "RequestOptions",
    "Requester",
    "Response",
    "RouteError",
    "Secret",
    "SecretSource",
    "Signed",
    "UnavailableError",
    "Verified",
    "Verifier",
    "XNonceError",
    "__version__",
    "error_from_code",
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
