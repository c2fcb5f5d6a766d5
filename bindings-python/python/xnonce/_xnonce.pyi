from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, ClassVar, Final, final

from xnonce.types import Body, Params, ReplayStore, RequestOptions, SecretSource

# Text arguments: a `str` that UTF-8 cannot encode (a lone surrogate) raises the XNonceError of
# that input (`invalid_secret`, `invalid_path`, `invalid_param_value`, ...); a value that is not
# a `str` at all raises TypeError. Timestamps (`timestamp`, `now`, options["timestamp"]) are
# `int`s in 0..=2**53-1 (ms); any other number (a float, even 1.0; NaN; a bool) raises
# InputError `invalid_timestamp`, a non-number raises TypeError.

__all__ = [
    "ERROR_CODES",
    "METHOD_OVERRIDE_FIELDS",
    "Answer",
    "AsyncRequester",
    "AuthError",
    "FormatError",
    "Header",
    "InputError",
    "InvalidParamValue",
    "Link",
    "Requester",
    "Response",
    "RouteError",
    "Secret",
    "SharedKeys",
    "Signed",
    "UnavailableError",
    "Verified",
    "Verifier",
    "XNonceError",
    "__version__",
    "_check_clock",
    "_check_signer",
    "content_type_for_app",
    "error_from_code",
    "form_content_type_misread",
    "host_for_app",
    "link",
    "link_detailed",
    "ottoken_decode",
    "ottoken_encode",
    "ottoken_query_value",
    "parse_header",
    "server_time_from_answer",
    "sign",
    "sign_detailed",
    "sign_request",
]

__version__: Final[str]
ERROR_CODES: Final[tuple[str, ...]]
# Header fields (lower-case) frameworks read in place of the method; no signature covers them.
METHOD_OVERRIDE_FIELDS: Final[tuple[str, ...]]

class XNonceError(Exception):
    code: str
    message: str
    http_status: int
    server_time: int | None
    server_time_mac: str | None
    # Set on the refusals of `Verifier.verify` / `verify_once`: what to answer the client
    # (the reference server's bytes). None on every other error.
    answer: Answer | None

# The HTTP answer to a refused request: em-secure-api's text for v1 requests, an RFC 9457
# problem document for v2 (the style follows the request's credential).
@final
class Answer:
    @property
    def status(self) -> int: ...
    # "text/plain" (v1) or "application/problem+json" (v2).
    @property
    def content_type(self) -> str: ...
    # ("Content-Type", ...) and, when stale, ("X-Nonce-Server-Time", "<ms> <mac>").
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def body(self) -> str: ...
    @property
    def body_bytes(self) -> bytes: ...
    # 413 for a body over `limit` bytes, refused before it is read. `limit`: an int in
    # 0..=2**64-1 (a bool: TypeError; out of range: ValueError). Every constructor answers
    # in the style of `target` / `x_nonce`, read lossily when they hold a lone surrogate.
    @staticmethod
    def body_too_large(
        limit: int, *, target: str | None = None, x_nonce: str | None = None
    ) -> Answer: ...
    # 408 `invalid_body` for a body that did not all arrive within the time allowed.
    @staticmethod
    def body_timeout(*, target: str | None = None, x_nonce: str | None = None) -> Answer: ...
    # 400 `invalid_body` for a body that could not be read (malformed chunked framing).
    @staticmethod
    def body_unreadable(*, target: str | None = None, x_nonce: str | None = None) -> Answer: ...
    # 400 `invalid_host` for a request with more than one Host line.
    @staticmethod
    def repeated_host(*, target: str | None = None, x_nonce: str | None = None) -> Answer: ...
    # 400 `invalid_method` for a CONNECT request (a tunnel, not a request to verify).
    @staticmethod
    def tunnel(*, target: str | None = None, x_nonce: str | None = None) -> Answer: ...
    # 400 `invalid_body` for a Content-Type that is no form for the verifier yet one for an
    # app's form reader (form_content_type_misread).
    @staticmethod
    def misread_content_type(
        *, target: str | None = None, x_nonce: str | None = None
    ) -> Answer: ...
    # 400 `invalid_body` for a request with more than one Content-Type line.
    @staticmethod
    def repeated_content_type(
        *, target: str | None = None, x_nonce: str | None = None
    ) -> Answer: ...
    # After a replay store the caller awaits: None (recorded: accept), 409 (False: a replay),
    # 503 (None: the store failed).
    @staticmethod
    def replay_store(
        recorded: bool | None, *, target: str | None = None, x_nonce: str | None = None
    ) -> Answer | None: ...
    # Pickling (a refusal carries its answer to another process); not public API.
    @staticmethod
    def _from_parts(
        status: int, content_type: str, body: str, server_time: str | None
    ) -> Answer: ...

class InputError(XNonceError): ...
class FormatError(XNonceError): ...
class AuthError(XNonceError): ...
class RouteError(XNonceError): ...
class UnavailableError(XNonceError): ...
class InvalidParamValue(InputError, TypeError): ...

# A secret held by the extension: `repr`/`str` are redacted, it cannot be pickled. Accepted
# wherever a secret is (sign*, link*, sign_request, Requester, AsyncRequester, Verifier sources).
@final
class Secret:
    def __new__(cls, secret: str | Secret) -> Secret: ...

@final
class Header:
    @property
    def scheme(self) -> str: ...
    @property
    def client(self) -> str: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def nonce(self) -> str | None: ...
    # The v1 token or the v2 signature (lower-case hex): `mac` in every xnonce package.
    @property
    def mac(self) -> str: ...
    # The same as `mac`.
    @property
    def signature(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    def to_ottoken(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Signed:
    @property
    def x_nonce(self) -> str: ...
    @property
    def ottoken(self) -> str: ...
    @property
    def canonical(self) -> str: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def nonce(self) -> str | None: ...
    @property
    def scheme(self) -> str: ...
    @property
    def client(self) -> str: ...
    @property
    def header(self) -> Header: ...

@final
class Link:
    @property
    def url(self) -> str: ...
    @property
    def signed(self) -> Signed: ...

@final
class Verified:
    @property
    def scheme(self) -> str: ...
    @property
    def client(self) -> str: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def params(self) -> list[tuple[str, str]]: ...
    @property
    def replay_key(self) -> str: ...
    @property
    def remember_until(self) -> int: ...
    @property
    def secret_index(self) -> int: ...
    @property
    def via_ottoken(self) -> bool: ...

@final
class Verifier:
    def __new__(
        cls,
        secrets: SecretSource,
        window_ms: int = 30000,
        controller_windows: Mapping[str, int] | None = None,
        action_windows: Mapping[tuple[str, str], int] | Mapping[str, int] | None = None,
        schemes: Sequence[str] | None = None,
        replay_store: ReplayStore | None = None,
        hosts: Sequence[str] | None = None,
        routes: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
    ) -> Verifier: ...
    # The replay_store it was built with, None for its own memory (for the middlewares).
    @property
    def _replay_store(self) -> ReplayStore | None: ...
    # How long (ms) a shared replay store refuses every request once it lost its keys: twice
    # the longest window plus 1 s. Given to a replay_store's widen_fence (when it has one) by
    # the constructor and by reconfigure.
    @property
    def fence_after_loss_ms(self) -> int: ...
    # Replaces the windows, schemes, hosts and routes (the constructor's settings, checked as it
    # checks them, its defaults for what is not given; on an error nothing changes), keeping
    # the secrets and the replay store (whose fence it widens first). A request the old
    # settings may have accepted is checked under the narrower of the old and new windows
    # (`now`, ms: the time of the swap).
    def reconfigure(
        self,
        window_ms: int = 30000,
        controller_windows: Mapping[str, int] | None = None,
        action_windows: Mapping[tuple[str, str], int] | Mapping[str, int] | None = None,
        schemes: Sequence[str] | None = None,
        hosts: Sequence[str] | None = None,
        routes: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
        *,
        now: int | None = None,
    ) -> None: ...
    def verify(
        self,
        method: str,
        target: str,
        *,
        host: str | None = None,
        x_nonce: str | None = None,
        content_type: str | None = None,
        body: Body = None,
        now: int | None = None,
    ) -> Verified: ...
    def route_refusal(
        self,
        method: str,
        target: str,
        *,
        x_nonce: str | None = None,
        content_type: str | None = None,
    ) -> Answer | None: ...
    def verify_once(
        self,
        method: str,
        target: str,
        *,
        host: str | None = None,
        x_nonce: str | None = None,
        content_type: str | None = None,
        body: Body = None,
        now: int | None = None,
    ) -> Verified: ...

# The key names and expiries of a replay store shared by processes (xnonce.redis).
@final
class SharedKeys:
    DEFAULT_PREFIX: ClassVar[str]
    CLOCK_MARGIN_MS: ClassVar[int]
    DEFAULT_FENCE_MS: ClassVar[int]
    def __new__(cls, prefix: str = ...) -> SharedKeys: ...
    @property
    def prefix(self) -> str: ...
    @property
    def epoch_key(self) -> str: ...
    def key(self, replay_key: str) -> str: ...
    def ttl_ms(self, expires_at_ms: int, now_ms: int) -> int: ...

def sign(
    scheme: str,
    method: str,
    path: str,
    params: Params,
    client: str,
    secret: str | Secret,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    host: str | None = None,
    body: Body = None,
) -> str: ...
def sign_detailed(
    scheme: str,
    method: str,
    path: str,
    params: Params,
    client: str,
    secret: str | Secret,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    host: str | None = None,
    body: Body = None,
) -> Signed: ...
def link(
    scheme: str,
    method: str,
    path: str,
    params: Params,
    client: str,
    secret: str | Secret,
    base_url: str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    host: str | None = None,
    body: Body = None,
) -> str: ...
def link_detailed(
    scheme: str,
    method: str,
    path: str,
    params: Params,
    client: str,
    secret: str | Secret,
    base_url: str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    host: str | None = None,
    body: Body = None,
) -> Link: ...
def sign_request(
    scheme: str,
    method: str,
    host: str,
    target: str,
    client: str,
    secret: str | Secret,
    *,
    content_type: str | None = None,
    body: Body = None,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str: ...

# (scheme as core reads it: "v1" | "v2", the secret); for the HTTP-library adapters.
def _check_signer(scheme: str, client: str, secret: str | Secret) -> tuple[str, Secret]: ...

# (correct_clock, clock_offset_ms) checked as the Requester's constructor checks them
# (TypeError; ValueError beyond the i64 range; InputError `invalid_timestamp` beyond
# ±(2**53-1) ms); for the HTTP-library adapters.
def _check_clock(correct_clock: bool, clock_offset_ms: int) -> tuple[bool, int]: ...
def parse_header(value: str) -> Header: ...

# The server's clock (ms since the epoch) that the answer to a request this client sent tells
# it (PROTOCOL §12, client side): `status` and `hint` are the answer's status and
# `X-Nonce-Server-Time` value, `sent` the `X-Nonce` value the request carried. An int only for
# a stale refusal (401) whose hint authenticates, with `secret`, for the client id and request
# id (v2 nonce, v1 token) of `sent`; None for anything else (another status, also one outside
# 0..=65535; no hint; a malformed one; one made for another request or with another secret;
# `sent` no X-Nonce value), which the client ignores. The offset to adopt is this time minus
# the local clock at receipt. A bad secret raises InputError `invalid_secret`, whatever the
# answer; a non-int status or non-str text raises TypeError.
def server_time_from_answer(
    status: int, hint: str | None, sent: str, secret: str | Secret
) -> int | None: ...
def ottoken_encode(header: str) -> str: ...
def ottoken_decode(token: str) -> str: ...
def ottoken_query_value(token: str) -> str: ...
def error_from_code(code: str, message: str = "") -> XNonceError: ...

# The Content-Type an app should see for an accepted request: a form's as
# "application/x-www-form-urlencoded; charset=utf-8" (the charset its fields were verified in:
# nothing signs the one the client named), JSON naming a charset as its media type with
# "charset=utf-8" (JSON is UTF-8), None (keep it) for anything else.
def content_type_for_app(content_type: str | None) -> str | None: ...

# Whether a Content-Type is no form for the verifier yet one for an app's form reader (a form
# media type with U+00A0, U+0085 or another character str.strip removes around it).
def form_content_type_misread(content_type: str | None) -> bool: ...

# The Host an app should see for an accepted v2 request: the verified host in canonical form
# (PROTOCOL §6.2: "API.test:443" -> "api.test"), the one host the signature covers; None for
# a host that has none.
def host_for_app(host: str) -> str | None: ...

@final
class Response:
    @property
    def code(self) -> int: ...
    @property
    def body(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    @property
    def data(self) -> Any: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def ok(self) -> bool: ...
    def header(self, name: str) -> str | None: ...

@final
class Requester:
    def __new__(
        cls,
        server: str,
        client: str,
        secret: str | Secret,
        scheme: str = "v2",
        timeout: float = 30.0,
        correct_clock: bool = True,
        clock_offset_ms: int = 0,
        ca_pem: str | bytes | None = None,
        max_response_bytes: int = 67108864,
    ) -> Requester: ...
    @property
    def clock_offset_ms(self) -> int: ...
    def make_request(
        self,
        method: str,
        params: Params,
        path: str,
        controller: str | None = None,
        options: RequestOptions | None = None,
    ) -> Response: ...

@final
class AsyncRequester:
    def __new__(
        cls,
        server: str,
        client: str,
        secret: str | Secret,
        scheme: str = "v2",
        timeout: float = 30.0,
        correct_clock: bool = True,
        clock_offset_ms: int = 0,
        ca_pem: str | bytes | None = None,
        max_response_bytes: int = 67108864,
    ) -> AsyncRequester: ...
    @property
    def clock_offset_ms(self) -> int: ...
    def make_request(
        self,
        method: str,
        params: Params,
        path: str,
        controller: str | None = None,
        options: RequestOptions | None = None,
    ) -> Coroutine[Any, Any, Response]: ...
