#!/usr/bin/env python3
"""An independent implementation of the xnonce protocol, written from docs/PROTOCOL.md only.

Pure Python 3.9+, standard library only (no xnonce package, no code from core/). It is the
cross-check of the reference implementation (``python3 xnonce_spec.py`` runs every vector) and
the "plain Python" baseline signer of the Python binding's benchmarks::

    from xnonce_spec import sign
    header = sign("v2", "GET", "/admin/status", [], "svc", SECRET,
                  timestamp=1700000000000, host="api.example.com")

Section numbers (§) refer to docs/PROTOCOL.md.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import hmac
import json
import math
import os
import re
import secrets as _secrets
import sys
import time
from fractions import Fraction

__all__ = [
    "XNonceError",
    "authenticate_server_time",
    "canonical",
    "cgi_escape",
    "format_header",
    "is_form",
    "link",
    "ottoken_decode",
    "ottoken_encode",
    "ottoken_query_value",
    "parse_header",
    "request_params",
    "rfc3986_encode",
    "run_vectors",
    "server_time_mac",
    "sign",
    "sign_detailed",
    "sign_request",
    "text_from_value",
]

MAX_TIMESTAMP = (1 << 53) - 1  # §3.4
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class XNonceError(Exception):
    """A refusal carrying the shared error code of §13 as ``.code``."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


# ---------------------------------------------------------------------------------------
# §4 encodings

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_UNRESERVED_STR = frozenset(chr(b) for b in _UNRESERVED)
_HEX_LOWER = frozenset("0123456789abcdef")
_HEX_ANY = frozenset("0123456789abcdefABCDEF")

# One table per encoding: byte -> its written form.
_RFC3986 = [chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in range(256)]
_CGI = list(_RFC3986)
_CGI[0x20] = "+"


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: not valid Unicode text (§3.6)
        raise XNonceError("invalid_param_value", "text is not valid Unicode") from None


def cgi_escape(text: str) -> str:
    """§4.1 Ruby's CGI.escape: unreserved kept, space -> '+', other bytes %XX."""
    if _UNRESERVED_STR.issuperset(text):
        return text
    return "".join(map(_CGI.__getitem__, _utf8(text)))


def rfc3986_encode(data) -> str:
    """§4.2: unreserved bytes kept, every other byte %XX (upper-case hex)."""
    if isinstance(data, str):
        if _UNRESERVED_STR.issuperset(data):
            return data
        data = _utf8(data)
    return "".join(map(_RFC3986.__getitem__, data))


def _path_encode(path: str) -> str:
    """§4.3: split on '/', path-decode each segment, rfc3986-encode its bytes, rejoin."""
    if _UNRESERVED_STR.union("/").issuperset(path):
        return path  # already canonical
    return "/".join(
        "".join(map(_RFC3986.__getitem__, _percent_decode(seg, False, "invalid_path")))
        for seg in path.split("/")
    )


def _percent_decode(text: str, plus_is_space: bool, code: str) -> bytes:
    """§4.4: %XX (either case) is a byte; a bad escape is `code`."""
    raw = text.encode("utf-8")
    if b"%" not in raw and not (plus_is_space and b"+" in raw):
        return raw
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        b = raw[i]
        if b == 0x25:  # '%'
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not all(chr(c) in _HEX_ANY for c in pair):
                raise XNonceError(code, "bad percent-escape")
            out.append(int(pair, 16))
            i += 3
        elif b == 0x2B and plus_is_space:
            out.append(0x20)
            i += 1
        else:
            out.append(b)
            i += 1
    return bytes(out)


def form_decode(text: str) -> str:
    """§4.4 form-decode (verifiers): '+' is a space; result must be UTF-8."""
    try:
        return _percent_decode(text, True, "malformed_params").decode("utf-8")
    except UnicodeDecodeError:
        raise XNonceError("malformed_params", "not UTF-8 after decoding") from None


# ---------------------------------------------------------------------------------------
# §3 shared elements

_WHITESPACE = frozenset(
    "\u0020\u00a0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)


def _is_control(c: str) -> bool:
    o = ord(c)
    return o <= 0x1F or 0x7F <= o <= 0x9F


def _check_secret(secret: str) -> None:
    """§3.1 rules for every secret text."""
    if not isinstance(secret, str) or not secret:
        raise XNonceError("invalid_secret", "secret is empty")
    if len(secret.encode("utf-8", "surrogatepass")) > 1024:
        raise XNonceError("invalid_secret", "secret is longer than 1024 bytes")
    if secret.isascii() and secret.isprintable() and " " not in secret:
        return  # fast path: printable ASCII other than space is always allowed
    for c in secret:
        if c in _WHITESPACE or _is_control(c) or 0xD800 <= ord(c) <= 0xDFFF:
            raise XNonceError("invalid_secret", "secret has whitespace or control chars")


def _v2_key(secret: str) -> bytes:
    """§3.1: the 32 bytes hex-decoded from a 64-hex secret text."""
    if len(secret) != 64 or not _HEX_ANY.issuperset(secret):
        raise XNonceError("invalid_secret", "a v2 secret must be 64 hex characters")
    return bytes.fromhex(secret)


def _check_client(client: str) -> None:
    """§3.2."""
    if (
        not isinstance(client, str)
        or not 1 <= len(client) <= 128
        or not _UNRESERVED_STR.issuperset(client)
    ):
        raise XNonceError("invalid_client_id", "client id must be 1-128 unreserved chars")


_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _method(method: str) -> str:
    """§3.3."""
    if not isinstance(method, str) or not 1 <= len(method) <= 16 or not _LETTERS.issuperset(method):
        raise XNonceError("invalid_method", "method must be 1 to 16 ASCII letters")
    return method.upper()


def _check_timestamp(ts) -> int:
    """§3.4 range; a value that is no number is a TypeError (§3.4)."""
    if not isinstance(ts, (int, float)):
        raise TypeError(f"timestamp must be an int, not {type(ts).__name__}")
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts <= MAX_TIMESTAMP:
        raise XNonceError("invalid_timestamp", "timestamp must be 0 to 2^53-1 ms")
    return ts


_DIGITS = frozenset("0123456789")


def _parse_timestamp(text: str):
    """§3.4 text form; None when malformed."""
    if not 1 <= len(text) <= 16 or not _DIGITS.issuperset(text):
        return None
    if len(text) > 1 and text[0] == "0":
        return None
    value = int(text)
    return value if value <= MAX_TIMESTAMP else None


def _check_nonce(nonce: str) -> None:
    """§3.5."""
    if not isinstance(nonce, str) or len(nonce) != 32 or not _HEX_LOWER.issuperset(nonce):
        raise XNonceError("invalid_nonce", "nonce must be 32 lower-case hex characters")


def _check_key(key: str, scheme: str) -> None:
    """§3.6 key rules."""
    if not key:
        raise XNonceError("invalid_param_key", "parameter key is empty")
    if key == "ottoken":
        raise XNonceError("invalid_param_key", "'ottoken' is reserved")
    if scheme == "v1" and not _UNRESERVED_STR.issuperset(key):
        raise XNonceError("invalid_param_key", "a v1 key may only hold unreserved chars")


def _float_text(x: float) -> str:
    """§3.6.1: shortest round-trip digits, positional, no fraction for integral values."""
    if not math.isfinite(x):
        raise XNonceError("invalid_param_value", "NaN and infinities cannot be values")
    if x == 0:
        return "0"
    r = repr(x)  # shortest round-trip, maybe with an exponent
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    mantissa, _, exp = r.partition("e")
    whole, _, frac = mantissa.partition(".")
    all_digits = whole + frac  # value = 0.<all_digits> * 10^(len(whole) + exp)
    digits = all_digits.lstrip("0")
    e = len(whole) + int(exp or 0) - (len(all_digits) - len(digits))
    digits = digits.rstrip("0")
    # repr breaks an exact tie between two shortest candidates towards the even digit; the
    # protocol takes the one of larger magnitude (§3.6.1): 1000000000000001.25 -> ...1.3
    unit = Fraction(10) ** (e - len(digits))
    low = int(digits) * unit
    if low < Fraction(abs(x)) and Fraction(abs(x)) - low == unit / 2:
        up = str(int(digits) + 1)
        e += len(up) - len(digits)
        digits = up.rstrip("0")
    n = len(digits)
    if e >= n:
        body = digits + "0" * (e - n)
    elif e > 0:
        body = digits[:e] + "." + digits[e:]
    else:
        body = "0." + "0" * (-e) + digits
    return sign + body


def text_from_value(value) -> str:
    """§3.6.1: the text of a native parameter value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not -(2**127) <= value < 2**127:
            raise XNonceError("invalid_param_value", "integers are signed 128 bits at most")
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    raise XNonceError("invalid_param_value", f"cannot sign a {type(value).__name__}")


def _unicode(text, code: str) -> None:
    """§3.6, §10 step 0: text that is not valid Unicode (a lone surrogate) is refused."""
    if isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise XNonceError(code, "text is not valid Unicode") from None


_SCHEMES = {"v1": "v1", "V1": "v1", "v2": "v2", "V2": "v2"}


def _scheme(scheme) -> str:
    """§10: "v1" or "v2", either case (step 0)."""
    if isinstance(scheme, str) and scheme in _SCHEMES:
        return _SCHEMES[scheme]
    raise XNonceError("unsupported_scheme", 'scheme must be "v1" or "v2"')


def _unicode_inputs(scheme, method, path, client, secret, nonce, host, base_url=None) -> None:
    """§10 step 0 for the text inputs other than params (a v1 host or nonce too, §3.6)."""
    for text, code in (
        (method, "invalid_method"),
        (path, "invalid_path"),
        (client, "invalid_client_id"),
        (secret, "invalid_secret"),
        (nonce, "invalid_nonce"),
        (host, "invalid_host"),
        (base_url, "invalid_url"),
    ):
        _unicode(text, code)


def _pairs(params):
    """Params as ordered (key, text) pairs: a mapping in its order, or a sequence of pairs."""
    if params is None:
        return []
    items = params.items() if isinstance(params, dict) else params
    out = []
    for k, v in items:
        if not isinstance(k, str):
            raise XNonceError("invalid_param_key", "parameter keys are text")
        _unicode(k, "invalid_param_key")
        _unicode(v, "invalid_param_value")
        out.append((k, text_from_value(v)))
    return out


# ---------------------------------------------------------------------------------------
# §5 v1


_PATH_BAD = re.compile("[?#\x00-\x1f\x7f]")


def _check_path_shape(path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/"):
        raise XNonceError("invalid_path", "path must start with '/'")
    if len(path.encode("utf-8", "surrogatepass")) > 8192:
        raise XNonceError("invalid_path", "path is longer than 8192 bytes")
    if _PATH_BAD.search(path):
        raise XNonceError("invalid_path", "path holds '?', '#' or a control char")


def _content_v1(params) -> str:
    """§5.2."""
    parts = []
    seen = set()
    for k, v in params:
        _check_key(k, "v1")
        if k in seen:
            raise XNonceError("invalid_param_key", "a v1 key may not repeat")
        seen.add(k)
        parts.append(k + "=" + cgi_escape(v))
    return "&".join(parts)


def _canonical_v1(method, path, params, client, secret, ts) -> str:
    """§5.3 (checks in the order of §10 step 4)."""
    m = _method(method)
    _check_path_shape(path)
    if " " in path:
        raise XNonceError("invalid_path", "a v1 path must not contain spaces")
    _check_client(client)
    return m + path + _content_v1(params) + client + secret + str(ts)


# ---------------------------------------------------------------------------------------
# §6 v2

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_:[]")


def canonical_host(host: str) -> str:
    """§6.2."""
    if not isinstance(host, str) or not 1 <= len(host.encode("utf-8", "surrogatepass")) <= 255:
        raise XNonceError("invalid_host", "host must be 1 to 255 bytes")
    lower = host.translate(_ASCII_LOWER)  # ASCII letters only
    if not _HOST_CHARS.issuperset(lower):
        raise XNonceError("invalid_host", "host may only hold a-z 0-9 . - _ : [ ]")
    if lower.endswith(":80"):
        lower = lower[:-3]
    elif lower.endswith(":443"):
        lower = lower[:-4]
    if not lower or lower.startswith(":"):
        raise XNonceError("invalid_host", "host has no name")
    return lower


def canonical_path_v2(path: str) -> str:
    """§6.3: segment by segment, path-decode then RFC 3986-encode (a decoded '/' is %2F)."""
    _check_path_shape(path)
    return _path_encode(path)


def _params_v2(params) -> str:
    """§6.4."""
    encoded = []
    for k, v in params:
        _check_key(k, "v2")
        encoded.append((rfc3986_encode(k), rfc3986_encode(v)))
    encoded.sort()  # ASCII strings: code point order == byte order; tuples compare key first
    return "&".join(k + "=" + v for k, v in encoded)


def _canonical_v2(method, host, path, params, body, client, ts, nonce) -> str:
    """§6.6 (checks in the order of §10 step 5)."""
    m = _method(method)
    h = canonical_host(host)
    p = canonical_path_v2(path)
    q = _params_v2(params)
    _check_client(client)
    _check_nonce(nonce)
    digest = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    return "\n".join(("XNONCE-V2", m, h, p, q, digest, client, str(ts), nonce))


# ---------------------------------------------------------------------------------------
# §7 header, §8 ottoken


def format_header(h: dict) -> str:
    if h["scheme"] == "v1":
        return f"{h['token']} {h['client']} {h['timestamp']}"
    return f"v2 {h['client']} {h['timestamp']} {h['nonce']} {h['signature']}"


def parse_header(value: str) -> dict:
    """§7; malformed_header on any deviation."""

    def bad(why):
        return XNonceError("malformed_header", why)

    if not isinstance(value, str) or len(value.encode("utf-8", "surrogatepass")) > 512:
        raise bad("too long")
    f = value.split(" ")
    if len(f) == 5 and f[0] == "v2":
        client, ts, nonce, sig = f[1], f[2], f[3], f[4]
        scheme = "v2"
    elif len(f) == 3 and len(f[0]) == 64 and _HEX_LOWER.issuperset(f[0]):
        token, client, ts = f
        scheme = "v1"
    else:
        raise bad("wrong shape")
    try:
        _check_client(client)
    except XNonceError:
        raise bad("bad client id") from None
    t = _parse_timestamp(ts)
    if t is None:
        raise bad("bad timestamp")
    if scheme == "v1":
        return {"scheme": "v1", "token": token, "client": client, "timestamp": t}
    if len(nonce) != 32 or not _HEX_LOWER.issuperset(nonce):
        raise bad("bad nonce")
    if len(sig) != 64 or not _HEX_LOWER.issuperset(sig):
        raise bad("bad signature")
    return {
        "scheme": "v2",
        "client": client,
        "timestamp": t,
        "nonce": nonce,
        "signature": sig,
    }


def ottoken_encode(header: str) -> str:
    """§8.1; `header` is a header value (its first field picks the scheme)."""
    if header.startswith("v2 "):
        return base64.urlsafe_b64encode(header.encode()).rstrip(b"=").decode()
    return base64.b64encode(('{"X-Nonce":"' + header + '"}').encode()).decode()


def ottoken_query_value(token: str) -> str:
    """§8.2 (a token that is not valid Unicode text is malformed_ottoken)."""
    _unicode(token, "malformed_ottoken")
    return cgi_escape(token)


_B64_STD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_B64_URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _not_json(name: str):
    raise ValueError(f"{name} is not JSON")


def ottoken_decode(token: str) -> str:
    """§8.3: the header value inside an ottoken (malformed_ottoken on any deviation)."""

    def bad(why):
        return XNonceError("malformed_ottoken", why)

    if not isinstance(token, str) or not 1 <= len(token.encode("utf-8", "surrogatepass")) <= 1024:
        raise bad("empty or too long")
    if token.startswith("eyJ"):
        body = token.rstrip("=")
        if len(token) % 4 or len(token) - len(body) > 2 or not _B64_STD.issuperset(body):
            raise bad("not standard base64")
        raw = base64.b64decode(token)
        if base64.b64encode(raw).decode() != token:  # canonical: unused bits zero
            raise bad("not canonical base64")
        try:
            # NaN and Infinity are not JSON (RFC 8259 §6), though Python reads them.
            obj = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
        except ValueError:
            raise bad("not JSON") from None
        header = obj.get("X-Nonce") if isinstance(obj, dict) else None
        if not isinstance(header, str):
            raise bad('no "X-Nonce" string member')
        want = "v1"
    else:
        if len(token) % 4 == 1 or not _B64_URL.issuperset(token):
            raise bad("not URL-safe base64")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
            raise bad("not canonical base64")
        try:
            header = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise bad("not UTF-8") from None
        want = "v2"
    try:
        parsed = parse_header(header)
    except XNonceError:
        raise bad("does not hold a header") from None
    if parsed["scheme"] != want:
        raise bad("holds a header of the other scheme")
    return header


# ---------------------------------------------------------------------------------------
# §10 signing


def sign_detailed(
    scheme,
    method,
    path,
    params,
    client,
    secret,
    timestamp=None,
    nonce=None,
    host=None,
    body=None,
) -> dict:
    """§10: returns x_nonce, ottoken, canonical, timestamp, nonce (None for v1)."""
    scheme = _scheme(scheme)
    _unicode_inputs(scheme, method, path, client, secret, nonce, host)
    pairs = _pairs(params)
    # §10 step 0: the native timestamp is converted (type and range, §3.4) before the secret.
    ts = _check_timestamp(int(time.time() * 1000) if timestamp is None else timestamp)
    _check_secret(secret)
    if scheme == "v1":
        if body:
            raise XNonceError("invalid_body", "v1 cannot sign a body")
        canon = _canonical_v1(method, path, pairs, client, secret, ts)
        x_nonce = hashlib.sha256(canon.encode()).hexdigest() + " " + client + " " + str(ts)
        nonce = None
    else:  # v2 (_scheme read it)
        if nonce is None:
            nonce = _secrets.token_hex(16)
        if host is None:
            raise XNonceError("invalid_host", "v2 signs the host")
        canon = _canonical_v2(method, host, path, pairs, body, client, ts, nonce)
        sig = hmac.digest(_v2_key(secret), canon.encode(), "sha256").hex()
        x_nonce = "v2 " + client + " " + str(ts) + " " + nonce + " " + sig
    return {
        "x_nonce": x_nonce,
        "ottoken": ottoken_encode(x_nonce),
        "canonical": canon,
        "timestamp": ts,
        "nonce": nonce,
    }


def sign(
    scheme,
    method,
    path,
    params,
    client,
    secret,
    timestamp=None,
    nonce=None,
    host=None,
    body=None,
) -> str:
    """§10: the X-Nonce header value."""
    return sign_detailed(
        scheme, method, path, params, client, secret, timestamp, nonce, host, body
    )["x_nonce"]


def canonical(*args, **kwargs) -> str:
    """The canonical string (same arguments as sign). v1's contains the secret."""
    return sign_detailed(*args, **kwargs)["canonical"]


# ---------------------------------------------------------------------------------------
# signing a request as an HTTP client sends it: its params read as the verifier reads them
# (§11, §11.1 steps 1 and 4, §6.5). PROTOCOL has no section for this function; where it
# leaves the signer's side open, the choice made is said below (SIGN_REQUEST_CHOICES).

_FORM_TYPE = "application/x-www-form-urlencoded"
# §11: an absolute-form target, "the scheme being a letter followed by letters, digits, +, -
# or .", then "://".
_ABSOLUTE_FORM = re.compile("[A-Za-z][A-Za-z0-9+.-]*://")

SIGN_REQUEST_CHOICES = (
    "1. §11 reads an absolute-form target's authority as the host and ignores the Host"
    " header: v2 signs that authority, whatever `host` is given (§3.6: a `host` that is not"
    " Unicode text is still refused).",
    "2. §11 reads an empty path as '/' for an absolute-form target only; the bindings' docs"
    " say an empty path is sent as '/' (an HTTP client does), so an origin-form target ''"
    " or '?q' is signed with path '/' too.",
    "3. §11.1 step 4 (v1) leaves out pairs whose raw key is `ottoken` before decoding their"
    " value: such a pair is not signed and its value is not decoded (no malformed_params).",
    "4. §11.1 step 4 (v1) merges every key seen again with its first pair's decoded value,"
    " in the query too (`?a=1&a=1` signs a=1 once); another value is a pair of its own, so"
    " §3.6 refuses the repeated key (invalid_param_key).",
    "5. Error precedence (§10 orders signing, not reading a request): §10 step 0 first"
    " (scheme, text that is not Unicode text, the target's code being invalid_path and a"
    " content type's or text body's invalid_body, the native timestamp: 'before any check"
    " below'), then the target's '#' (invalid_path), then reading the params as §11.1 steps"
    " 1 and 4 do (a form on a method that carries none: invalid_body, §10.1), every pair"
    " decoded before any key is checked (malformed_params), then §10 steps 1-5 (a v1"
    " non-form body: invalid_body at step 4).",
    "6. §6.5's SHOULD-refuse rule for a content type that is a form only once Unicode"
    " whitespace is trimmed is for verifiers handing requests to an application; the signer"
    " reads such a type as §6.5's rule does: no form.",
)


def is_form(content_type) -> bool:
    """§6.5: cut at the first ';', strip SP and HTAB, compare ASCII-case-insensitively."""
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip(" \t")
    return media.translate(_ASCII_LOWER) == _FORM_TYPE


def _raw_pairs(text: str):
    """§11: split on '&', skip empty segments, split each at its first '=' (no '=': the key
    with an empty value)."""
    out = []
    for seg in text.split("&"):
        if seg:
            k, _, v = seg.partition("=")
            out.append((k, v))
    return out


def request_params(scheme: str, query: str, form: str):
    """§11.1 step 4 for a request whose credential is its X-Nonce header: the params of the
    raw query followed by those of the form body (malformed_params on a bad escape or a
    result that is not UTF-8)."""
    raw = _raw_pairs(query) + _raw_pairs(form)
    if scheme == "v2":
        # every pair kept, key and value form-decoded; an `ottoken` key stays a pair, which
        # §3.6 refuses (the header wins, §11.1 step 2)
        return [(form_decode(k), form_decode(v)) for k, v in raw]
    out = []
    first = {}
    for k, v in raw:  # v1: the key raw, `ottoken` left out, the value form-decoded
        if k == "ottoken":
            continue
        v = form_decode(v)
        if k in first:
            if first[k] == v:
                continue  # Hash#merge: the key keeps its first position
        else:
            first[k] = v
        out.append((k, v))
    return out


def sign_request(
    scheme,
    method,
    host,
    target,
    client,
    secret,
    *,
    content_type=None,
    body=None,
    timestamp=None,
    nonce=None,
) -> str:
    """The X-Nonce value of a request as sent: `target` is `/path?query` (or absolute-form,
    §11), its params read from the raw query and, for a form `content_type` (§6.5), from the
    form `body` (bytes, or text sent as UTF-8), exactly as the scheme's verifier reads them
    (§11.1 step 4); any other body is signed as the body (v2) or refused (v1, invalid_body)."""
    # §10 step 0, before any other check: the scheme, every text input that is not Unicode
    # text (the target's code is invalid_path; a content type's or a text body's,
    # invalid_body) and the native timestamp
    scheme = _scheme(scheme)
    _unicode_inputs(scheme, method, target, client, secret, nonce, host)
    _unicode(content_type, "invalid_body")
    if isinstance(body, str):
        _unicode(body, "invalid_body")
        body = body.encode("utf-8")
    elif body is not None:
        body = bytes(body)
    if timestamp is not None:
        _check_timestamp(timestamp)
    if "#" in target:
        raise XNonceError("invalid_path", "a request target has no fragment")
    absolute = _ABSOLUTE_FORM.match(target)
    if absolute:  # §11: the authority (up to the first '/', '?' or '#') is the host
        rest = target[absolute.end() :]
        end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        host, target = rest[:end], rest[end:]
    path, _, query = target.partition("?")  # split at the first '?'
    if not path:
        path = "/"
    form = is_form(content_type)
    form_text = ""
    if form and body:
        # §11.1 step 1: a form only on POST, PUT or PATCH (ASCII-case-insensitively)
        if method.translate(_ASCII_LOWER) not in ("post", "put", "patch"):
            raise XNonceError("invalid_body", "a form body is read only on POST, PUT or PATCH")
        try:  # §11.1 step 1
            form_text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise XNonceError("malformed_params", "the form body is not UTF-8") from None
    pairs = request_params(scheme, query, form_text)
    return sign(
        scheme,
        method,
        path,
        pairs,
        client,
        secret,
        timestamp=timestamp,
        nonce=nonce,
        host=host,
        body=None if form else body,  # §6.5: a form's fields are params, not the body
    )


# §9 step 6: what WHATWG URL clients (browsers, fetch) would change in a link's path.
_DOT_SEGMENTS = frozenset((".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"))
_V1_PATH_REFUSED = frozenset('\\"<>^`{|}')


def _url_clients_change(path: str, v1_rules: bool):
    """§9 step 6: why URL clients would not send `path` unchanged, or None."""
    for segment in path.split("/"):
        if segment.translate(_ASCII_LOWER) in _DOT_SEGMENTS:
            return f"dot segment {segment!r}"
    if v1_rules:
        for c in path:
            if c in _V1_PATH_REFUSED or ord(c) > 0x7F:
                return f"character {c!r}"
    return None


_HEX_GROUP = re.compile("0|[1-9a-f][0-9a-f]{0,3}")


def _ipv6_groups(part: str):
    """The groups of one side of '::' (or of a whole literal); None if one is not normal."""
    if part == "":
        return []
    groups = part.split(":")
    if not all(_HEX_GROUP.fullmatch(g) for g in groups):
        return None  # empty group (':::'), leading zero, too long, not hex, dotted IPv4
    return groups


def _zero_runs(groups):
    """Lengths of the runs of "0" groups."""
    runs, n = [], 0
    for g in [*groups, "x"]:
        if g == "0":
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def _ipv6_normal(literal: str) -> bool:
    """§9 step 1: the (lower-cased) text inside '[' ']' is an IPv6 address in normal form."""
    halves = literal.split("::")
    if len(halves) > 2:
        return False
    if len(halves) == 1:  # no compression: 8 groups, no run of two zero groups left
        groups = _ipv6_groups(literal)
        return groups is not None and len(groups) == 8 and max(_zero_runs(groups), default=0) < 2
    left, right = _ipv6_groups(halves[0]), _ipv6_groups(halves[1])
    if left is None or right is None or len(left) + len(right) > 6:
        return False  # '::' must stand for two or more groups
    hidden = 8 - len(left) - len(right)
    if left[-1:] == ["0"] or right[:1] == ["0"]:
        return False  # a zero group next to '::' belongs in it
    # '::' is the longest run, and the first of equally long ones
    return all(n < hidden for n in _zero_runs(left)) and all(n <= hidden for n in _zero_runs(right))


_DEC_PART = re.compile("0|[1-9][0-9]{0,2}")
_ENDS_IN_NUMBER = re.compile("[0-9]+|0x[0-9a-f]*")
_PORT = re.compile("0|[1-9][0-9]{0,4}")


def _check_v2_authority(authority: str) -> None:
    """§9 step 1, v2: the authority as WHATWG URL clients send it (ASCII case aside)."""

    def bad(why):
        return XNonceError("invalid_url", f"base URL authority {authority!r}: {why}")

    a = authority.translate(_ASCII_LOWER)
    if a.startswith("["):
        end = a.find("]")
        if end < 0 or not _ipv6_normal(a[1:end]):
            raise bad("not an IPv6 address in normal form")
        host, after = a[: end + 1], a[end + 1 :]
        if after and not after.startswith(":"):
            raise bad("only ':port' may follow an IPv6 literal")
    else:
        host, colon, after = a.partition(":")
        after = colon + after
        if "[" in host or "]" in host:
            raise bad("'[' and ']' may only enclose an IPv6 literal")
        labels = host.split(".")
        if len(labels) > 1 and labels[-1] == "":
            labels.pop()
        if _ENDS_IN_NUMBER.fullmatch(labels[-1]):  # read as IPv4 by URL clients
            parts = host.split(".")
            if not (
                len(parts) == 4 and all(_DEC_PART.fullmatch(x) and int(x) <= 255 for x in parts)
            ):
                raise bad("ends in a number but is not a dotted-decimal IPv4 address")
    if after:  # ':' then the port, up to the end
        port = after[1:]
        if not _PORT.fullmatch(port) or int(port) > 65535:
            raise bad("the port must be 0 to 65535 without leading zeros")


def _check_v1_authority(authority: str) -> None:
    """§9 step 1, v1: left as typed, but a host, brackets only around it, a port <= 65535."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise XNonceError("invalid_url", "base URL authority: '[' without ']'")
        host, after = authority[: end + 1], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise XNonceError("invalid_url", "only ':port' may follow an IPv6 literal")
    else:
        host, colon, after = authority.partition(":")
        after = colon + after
        if "[" in host or "]" in host:
            raise XNonceError("invalid_url", "'[' and ']' only around an IPv6 literal")
    if host == "":
        raise XNonceError("invalid_url", "base URL authority: no host before the port")
    port = after[1:]
    if port and not (re.fullmatch("[0-9]+", port) and int(port) <= 65535):
        raise XNonceError("invalid_url", "base URL authority: port not 0 to 65535")


def _split_base_url(base_url: str, scheme: str):
    """§9 step 1: (authority, base without trailing '/')."""
    if base_url.startswith("https://"):
        rest = base_url[8:]
    elif base_url.startswith("http://"):
        rest = base_url[7:]
    else:
        raise XNonceError("invalid_url", "base URL must start with http:// or https://")
    if any(c in "?#\\ " or ord(c) <= 0x1F or ord(c) == 0x7F for c in base_url):
        raise XNonceError("invalid_url", "no query, fragment, backslash, space or control char")
    authority, slash, prefix = rest.partition("/")
    if not authority or "@" in authority:
        raise XNonceError("invalid_url", "base URL needs a host and no user info")
    why = _url_clients_change(slash + prefix, True)
    if why:
        raise XNonceError("invalid_url", f"the base URL's path prefix holds a {why}")
    if scheme == "v2":
        _check_v2_authority(authority)
    else:
        _check_v1_authority(authority)
    return authority, base_url.rstrip("/")


def link_detailed(
    scheme,
    method,
    path,
    params,
    client,
    secret,
    base_url,
    timestamp=None,
    nonce=None,
    host=None,
    body=None,
) -> dict:
    """§9: sign_detailed's fields plus `link`."""
    scheme = _scheme(scheme)
    _unicode_inputs(scheme, method, path, client, secret, nonce, host, base_url)
    # §10 step 0: native values (params, timestamp) are converted before any other check.
    pairs = _pairs(params)
    if timestamp is not None:
        _check_timestamp(timestamp)
    _check_secret(secret)
    authority, base = _split_base_url(base_url, scheme)
    if body:
        raise XNonceError("invalid_body", "a link cannot carry a body")
    if scheme == "v2":
        from_url = canonical_host(authority)
        if host is not None and canonical_host(host) != from_url:
            raise XNonceError("invalid_host", "host differs from the base URL's authority")
        if host is None:
            host = authority
    out = sign_detailed(scheme, method, path, pairs, client, secret, timestamp, nonce, host)
    if scheme == "v1":
        shown_path, query = path, _content_v1(pairs)
    else:
        shown_path = canonical_path_v2(path)
        query = "&".join(rfc3986_encode(k) + "=" + rfc3986_encode(v) for k, v in pairs)
    why = _url_clients_change(shown_path, scheme == "v1")
    if why:
        raise XNonceError("invalid_path", f"URL clients would change the path's {why}")
    if query:
        query += "&"
    out["link"] = base + shown_path + "?" + query + "ottoken=" + ottoken_query_value(out["ottoken"])
    return out


def link(scheme, method, path, params, client, secret, base_url, **kwargs) -> str:
    """§9: the full URL."""
    return link_detailed(scheme, method, path, params, client, secret, base_url, **kwargs)["link"]


# ---------------------------------------------------------------------------------------
# §12 server-time hint


def server_time_mac(secret: str, client: str, request_id: str, server_ms: int) -> str:
    """§12: the MAC of an X-Nonce-Server-Time value.

    Key: the 32 hex-decoded bytes of a 64-hex secret (either case), else the UTF-8 bytes of
    the secret text (v1 legacy secrets)."""
    if len(secret) == 64 and _HEX_ANY.issuperset(secret):
        key = bytes.fromhex(secret)
    else:
        key = secret.encode()
    msg = f"XNONCE-TIME\n{client}\n{request_id}\n{server_ms:d}"
    return hmac.digest(key, msg.encode(), "sha256").hex()


def authenticate_server_time(value: str, secret: str, client: str, request_id: str):
    """§12 client side: the server's ms when the hint authenticates, else None."""
    fields = value.split(" ")
    if len(fields) != 2 or len(fields[1]) != 64 or not _HEX_LOWER.issuperset(fields[1]):
        raise XNonceError("malformed_header", "X-Nonce-Server-Time: '<ms> <mac>'")
    ms = _parse_timestamp(fields[0])
    if ms is None:
        raise XNonceError("malformed_header", "X-Nonce-Server-Time: bad time")
    ok = hmac.compare_digest(server_time_mac(secret, client, request_id, ms), fields[1])
    return ms if ok else None


# ---------------------------------------------------------------------------------------
# §15 vectors


def self_test() -> None:
    """The worked examples of PROTOCOL.md that are not vector cases."""
    s1 = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
    floats = {
        3.0: "3",
        1.5: "1.5",
        -2.5: "-2.5",
        0.1: "0.1",
        0.1 + 0.2: "0.30000000000000004",
        1e16: "10000000000000000",
        1e21: "1000000000000000000000",
        1e-7: "0.0000001",
        -1e-7: "-0.0000001",
        -0.0: "0",
        123456789.125: "123456789.125",
        1000000000000001.25: "1000000000000001.3",
        1000000000000001.75: "1000000000000001.8",
        5e-324: "0." + "0" * 323 + "5",
    }
    for x, want in floats.items():
        assert text_from_value(x) == want, (x, text_from_value(x), want)
    assert [text_from_value(v) for v in (True, False, 42, -7, 0)] == [
        "true",
        "false",
        "42",
        "-7",
        "0",
    ]
    for bad in (float("nan"), float("inf"), b"x", None, [1], {"a": 1}):
        try:
            text_from_value(bad)
            raise AssertionError(f"{bad!r} was accepted")
        except XNonceError as e:
            assert e.code == "invalid_param_value"
    assert cgi_escape("a+b c/é") == "a%2Bb+c%2F%C3%A9"
    assert rfc3986_encode("a+b c/é") == "a%2Bb%20c%2F%C3%A9"
    hosts = {
        "API.Example.com:443": "api.example.com",
        "api.example.com:80": "api.example.com",
        "127.0.0.1:8080": "127.0.0.1:8080",
        "[::1]:9000": "[::1]:9000",
    }
    for h, want in hosts.items():
        assert canonical_host(h) == want
    paths = {
        "/files/my doc.txt": "/files/my%20doc.txt",
        "/files/my%20doc%2Etxt": "/files/my%20doc.txt",
        "/files/résumé": "/files/r%C3%A9sum%C3%A9",
        "/a%7eb": "/a~b",
        "/a+b": "/a%2Bb",
        "/a%2Fb": "/a%2Fb",
        "/a%2fb/c%20d": "/a%2Fb/c%20d",
        "/a//b/": "/a//b/",
    }
    for p, want in paths.items():
        assert canonical_path_v2(p) == want, (p, canonical_path_v2(p))
    # §6.3: an escaped slash is not a separator
    assert canonical_path_v2("/a%2Fb") != canonical_path_v2("/a/b")
    for bad in ("/a%2", "/a%zz/b", "/%"):
        try:
            canonical_path_v2(bad)
            raise AssertionError(f"{bad!r} was accepted")
        except XNonceError as e:
            assert e.code == "invalid_path"
    # §14.2: the v1 collision
    t = 1700000000000
    a = sign("v1", "GET", "/reports/daily", [("page", "2")], "test_client", s1, t)
    b = sign("v1", "GET", "/reports/dailypage=2", [], "test_client", s1, t)
    assert a == b and a.startswith("4eda283700863d35e4321a6a869a9ace5912d56c"), a
    # §12: the hint example
    hint = "1700000060000 47ea0cf07e4b0cd7fcdcbe4a599a23609b3846ee2ff329a97ace15c1b604acbf"
    nonce = "00112233445566778899aabbccddeeff"
    assert authenticate_server_time(hint, s1, "test_client", nonce) == 1700000060000
    # the key is the decoded bytes, so the case the hex secret is stored in does not matter
    assert authenticate_server_time(hint, s1.upper(), "test_client", nonce) == 1700000060000
    assert authenticate_server_time(hint, s1, "other_client", nonce) is None
    # a non-hex (v1 legacy) secret keys with its text
    legacy = server_time_mac("legacy-secret", "test_client", nonce, 1700000060000)
    want = hmac.digest(
        b"legacy-secret",
        b"XNONCE-TIME\ntest_client\n" + nonce.encode() + b"\n1700000060000",
        "sha256",
    ).hex()
    assert legacy == want
    # §3.6, §10 step 0: text that is not valid Unicode is refused with its input's code
    lone = "\ud800"
    ill_formed = {
        "invalid_param_key": dict(params=[(lone, "v")]),
        "invalid_param_value": dict(params=[("k", lone)]),
        "invalid_path": dict(path="/a" + lone),
        "invalid_method": dict(method="G" + lone),
        "invalid_client_id": dict(client="c" + lone),
        "invalid_host": dict(host="h" + lone),
        "invalid_nonce": dict(nonce=lone * 32),
    }
    for scheme in ("v1", "v2"):
        for code, change in ill_formed.items():
            if scheme == "v1" and code in ("invalid_host", "invalid_nonce"):
                continue  # ignored by v1 (§5.1)
            args = dict(method="GET", path="/a", params=[], client="c", secret=s1)
            args.update(timestamp=t, nonce="0" * 32, host="h")
            args.update(change)
            try:
                sign(scheme, **args)
                raise AssertionError(f"{scheme} {code}: accepted")
            except XNonceError as e:
                assert e.code == code, (scheme, code, e.code)
    # §8.3: a v1 ottoken is JSON; other members are allowed, NaN and Infinity are not JSON
    v1 = (
        "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b"
        " test_client-irb 1384300800123"
    )
    for member, ok in (
        ("1", True),
        ("NaN", False),
        ("Infinity", False),
        ("-Infinity", False),
    ):
        text = '{"X-Nonce":"' + v1 + '","n":' + member + "}"
        token = base64.b64encode(text.encode()).decode()
        try:
            assert ottoken_decode(token) == v1 and ok, f"{member} was accepted"
        except XNonceError as e:
            assert e.code == "malformed_ottoken" and not ok, (member, e.code)
    # §10 step 0: native values are converted first, so a bad timestamp (wrong type or out
    # of range, §3.4) or param value is reported before the secret and a link's base URL.
    for ts, params, code in (
        (1 << 53, [], "invalid_timestamp"),
        (-1, [], "invalid_timestamp"),
        (5.0, [], "invalid_timestamp"),
        (1700000000000, [("k", None)], "invalid_param_value"),
    ):
        for call in (
            lambda params=params, ts=ts: sign("v1", "GET", "/a", params, "c", "", timestamp=ts),
            lambda params=params, ts=ts: link(
                "v1", "GET", "/a", params, "c", "", "ftp://h", timestamp=ts
            ),
        ):
            try:
                call()
                raise AssertionError(f"{ts} {params}: accepted")
            except XNonceError as e:
                assert e.code == code, (ts, params, e.code)
    _self_test_sign_request(s1)


def _self_test_sign_request(s1: str) -> None:
    """sign_request: the worked examples of §5.4 and §6.7 sent as raw requests, and the
    reading of §11.1 step 4 and §6.5, worked out by hand."""
    t, n = 1700000000000, "00112233445566778899aabbccddeeff"

    def v2(sig: str) -> str:
        return f"v2 test_client {t} {n} {sig}"

    def req(scheme, method, target, **kw):
        kw.setdefault("timestamp", t)
        kw.setdefault("nonce", n)
        host = kw.pop("host", "api.example.com")
        client = kw.pop("client", "test_client")
        return sign_request(scheme, method, host, target, client, s1, **kw)

    # §5.4 em1-public-001: the value "hello phil" sent as hello+phil or hello%20phil
    em1 = "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b"
    for q in (
        "username=phil&password=hello+phil&opt1=this",
        "username=phil&password=hello%20phil&opt1=this",
    ):
        got = req(
            "v1",
            "GET",
            "/controller1/action1?" + q,
            client="test_client-irb",
            timestamp=1384300800123,
        )
        assert got == em1 + " test_client-irb 1384300800123", got
    # §5.4 em1-public-005, a value holding & = ? escaped; then the same params as a form
    em5 = (
        "943815dc5638a7fcc49cda4e612afb75b8e3a38af41704f4d80834c9f246c3b2 test_client 1384300804123"
    )
    q5 = "b=123&c=abc&adg=hello+phil&rand=this+%26+this+%3D+a+question%3F"
    assert req("v1", "GET", "/some_controller/do?" + q5, timestamp=1384300804123) == em5
    form = "Application/X-WWW-Form-Urlencoded; charset=utf-8"  # §6.5: a form
    form_body = b"adg=hello+phil&rand=this+%26+this+%3D+a+question%3F"
    got = req(
        "v1",
        "POST",
        "/some_controller/do?b=123&c=abc",
        content_type=form,
        body=form_body,
        timestamp=1384300804123,
    )
    em5_pairs = [("b", "123"), ("c", "abc"), ("adg", "hello phil")]
    em5_pairs.append(("rand", "this & this = a question?"))
    want = sign("v1", "POST", "/some_controller/do", em5_pairs, "test_client", s1, 1384300804123)
    assert got == want, got
    # §11.1 step 1: a form only on POST, PUT or PATCH; an empty one carries nothing
    for method in ("GET", "delete", "OPTIONS"):
        try:
            req("v1", method, "/some_controller/do", content_type=form, body=form_body)
            raise AssertionError(f"a form on {method} was signed")
        except XNonceError as e:
            assert e.code == "invalid_body", e.code
        req("v1", method, "/some_controller/do", content_type=form, body=b"")
    # §6.7 v2-get-basic: any order, '+' or %20, empty segments, the method in lower case
    basic = v2("3011ec6c9e7ae2c23151250b27e5f741baf74e23ea58be88d8d78d6a6dd51619")
    for target in (
        "/controller1/action1?username=phil&password=hello%20phil&opt1=this",
        "/controller1/action1?opt1=this&&password=hello+phil&username=phil&",
        "/controller1/action1?%75sername=phil&password=hello+phil&opt1=th%69s",
    ):
        assert req("v2", "get", target) == basic, target
    # §11: an absolute-form target's authority is the host (the Host header is ignored)
    got = req(
        "v2",
        "GET",
        "https://api.example.com/controller1/action1?opt1=this&password=hello+phil&username=phil",
        host="staging.example.com",
    )
    assert got == basic, got
    # §6.7 v2-host-default-https-port, absolute-form with an upper-case host and :443
    hp = v2("b303768328452e75511616e09b243c2c402aa05352803361fe9dae43d38f1591")
    assert req("v2", "GET", "http://API.Example.com:443/admin/status", host="x") == hp
    # §6.7 v2-path-escaped-equivalent: an empty query adds no param
    pe = v2("f54efe97851172e1778a89c46fc1eb2be8605a4b0c6d4778b94ca5c4a4f3164c")
    assert req("v2", "GET", "/files/my%20doc%2Etxt?") == pe
    # §6.7 v2-json-body-with-query: a body that is no form is signed as the body
    jb = v2("d1d306e036dd1d55b4e91008da2107be09b555b6228c3d11a9bba155a06367b1")
    for ct in (
        "application/json",
        None,
        "multipart/form-data",
        "\u00a0application/x-www-form-urlencoded",
    ):
        got = req(
            "v2",
            "POST",
            "/controller2/action1?opt1=this",
            content_type=ct,
            body='{"opt3":"go for it"}',
        )
        assert got == jb, (ct, got)
    # §11.1 step 4's example: v1 `?a=2&b=x+y` with form body `a=2&c=3` gives a=2, b=x y, c=3;
    # a raw `ottoken` pair is left out
    want = sign("v1", "POST", "/f", [("a", "2"), ("b", "x y"), ("c", "3")], "test_client", s1, t)
    got = req(
        "v1",
        "POST",
        "/f?a=2&b=x+y&ottoken=x",
        content_type=" application/x-www-form-urlencoded ",
        body="a=2&c=3",
    )
    assert got == want, got
    # v2 keeps every pair (a repeated one too); a key without '=' has the empty value
    want = sign(
        "v2",
        "POST",
        "/f",
        [("a", "2"), ("a", "2"), ("b", "x y"), ("c", ""), ("c", "3")],
        "test_client",
        s1,
        t,
        n,
        "api.example.com",
    )
    got = req("v2", "POST", "/f?a=2&b=x+y&c", content_type=_FORM_TYPE, body=b"a=2&c=3")
    assert got == want, got
    # ';' separates nothing; a '?' after the first is query text
    want = sign("v2", "GET", "/", [("a", "1;b=2"), ("c?d", "e")], "test_client", s1, t, n, "h")
    assert req("v2", "GET", "?a=1;b=2&c?d=e", host="h") == want
    refused = (
        ("v2", "/a?x=1#f", {}, "invalid_path"),
        ("v1", "/a#f", {}, "invalid_path"),
        ("v2", "/a?x=\udc00", {}, "invalid_path"),
        ("v2", "a/b?x=1", {}, "invalid_path"),
        ("v2", "/a?ottoken=x", {}, "invalid_param_key"),
        ("v2", "/a?ottoke%6E=x", {}, "invalid_param_key"),
        ("v2", "/a?=x", {}, "invalid_param_key"),
        ("v1", "/a?=x", {}, "invalid_param_key"),
        ("v1", "/a?a=1&a=2", {}, "invalid_param_key"),
        ("v1", "/a?a+b=1", {}, "invalid_param_key"),
        ("v1", "/a?a%zz=1", {}, "invalid_param_key"),  # a v1 key is read raw
        ("v2", "/a?a%zz=1", {}, "malformed_params"),
        ("v1", "/a?a=%zz", {}, "malformed_params"),
        ("v2", "/a?a=%FF", {}, "malformed_params"),
        ("v2", "/a", {"content_type": _FORM_TYPE, "body": b"a=\xff"}, "malformed_params"),
        ("v1", "/a", {"content_type": "application/json", "body": b"{}"}, "invalid_body"),
        ("v1", "/a", {"content_type": "multipart/form-data", "body": b"a=1"}, "invalid_body"),
        ("v2", "/a", {"content_type": "text/plain\ud800"}, "invalid_body"),
    )
    for scheme, target, kw, code in refused:
        try:
            req(scheme, "POST", target, **kw)
            raise AssertionError(f"{scheme} {target!r} {kw}: accepted")
        except XNonceError as e:
            assert e.code == code, (scheme, target, kw, e.code)
    # v1: a key seen again with the same decoded value is one pair (§11.1 step 4)
    want = sign("v1", "GET", "/a", [("a", "x y"), ("b", "")], "test_client", s1, t)
    assert req("v1", "GET", "/a?a=x+y&b&a=x%20y") == want


def _vector_files():
    here = os.path.dirname(os.path.abspath(__file__))
    files = sorted(glob.glob(os.path.join(here, "..", "vectors", "*.json")))
    files += [p for p in os.environ.get("XNONCE_EXTRA_VECTORS", "").split(":") if p]
    return files


# Every field of the vector format (conformance/README.md): any other fails the case, as a
# misspelt expected field would otherwise go unchecked.
_FIELDS = set(
    "id scheme method path params client secret timestamp host body nonce base_url"
    " canonical x_nonce ottoken ottoken_query_value link error".split()
)


_REQUIRED_TEXT = ("id", "method", "path", "client", "secret")
_OPTIONAL_TEXT = (
    "scheme host body nonce base_url canonical x_nonce ottoken ottoken_query_value"
    " link error".split()
)
_OUTPUTS = ("canonical", "x_nonce", "ottoken", "ottoken_query_value", "link")
_U64_MAX = (1 << 64) - 1


def _shape_problem(case) -> str | None:
    """Why a case is not well formed (conformance/README.md, Format), as the Rust checker
    refuses it: a field of another JSON type (a number where a string belongs, a timestamp
    that is not a non-negative integer, params that are not [key, value] string pairs), a
    `null` field, a missing one, or an `error` case that also carries expected outputs."""
    if not isinstance(case, dict):
        return "a case must be a JSON object"
    unknown = sorted(set(case) - _FIELDS)
    if unknown:
        return f"unknown field(s) {unknown}"
    nulls = sorted(k for k, v in case.items() if v is None)
    if nulls:
        return f"field(s) {nulls} are null (no field may be null: leave it out)"
    missing = [k for k in (*_REQUIRED_TEXT, "params", "timestamp") if k not in case]
    if missing:
        return f"missing field(s) {missing}"
    for k in _REQUIRED_TEXT + tuple(_OPTIONAL_TEXT):
        if k in case and not isinstance(case[k], str):
            return f"field `{k}` must be a string, got {case[k]!r}"
    ts = case["timestamp"]
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts <= _U64_MAX:
        return f"field `timestamp` must be a non-negative integer (ms), got {ts!r}"
    params = case["params"]
    if not isinstance(params, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in params
    ):
        return f"field `params` must be a list of [key, value] string pairs, got {params!r}"
    outputs = [k for k in _OUTPUTS if k in case]
    if "error" in case and outputs:
        return (
            f"error case also carries outputs {outputs}"
            " (an error case has none: they would go unchecked)"
        )
    return None


def _check_case(case: dict) -> None:
    """The checking rule of conformance/README.md; raises AssertionError naming the field."""
    problem = _shape_problem(case)
    if problem:
        raise AssertionError(problem)
    if "link" in case and "base_url" not in case:
        raise AssertionError("case has link but no base_url (only a link case makes one)")
    scheme = case.get("scheme", "v1")
    # A case that describes no input fails whatever `error` it names (the checking rule).
    if scheme not in ("v1", "v2"):
        raise AssertionError(f"case does not describe an input: unknown scheme {scheme!r}")
    if scheme == "v2" and "nonce" not in case and "error" not in case:
        raise AssertionError("v2 case has no nonce (a checker never draws one)")
    body = case.get("body")
    if body is not None:
        body = base64.b64decode(body, validate=True)
    args = (
        scheme,
        case["method"],
        case["path"],
        case["params"],
        case["client"],
        case["secret"],
    )
    kw = dict(
        timestamp=case["timestamp"],
        nonce=case.get("nonce"),
        host=case.get("host"),
        body=body,
    )
    try:
        if "base_url" in case:
            out = link_detailed(*args, case["base_url"], **kw)
        else:
            out = sign_detailed(*args, **kw)
    except XNonceError as e:
        if case.get("error") == e.code:
            return
        raise AssertionError(
            f"expected {case.get('error') or 'success'}, got error {e.code}"
        ) from None
    if "error" in case:
        raise AssertionError(f"expected error {case['error']}, but signing succeeded")
    if "x_nonce" not in case:
        raise AssertionError("case has neither x_nonce nor error")
    got = dict(out, ottoken_query_value=ottoken_query_value(out["ottoken"]))
    fields = ["canonical", "x_nonce", "ottoken", "ottoken_query_value"]
    if "base_url" in case:
        fields.append("link")
    for field in fields:
        if field in case and case[field] != got[field]:
            raise AssertionError(f"{field}: expected {case[field]!r}, got {got[field]!r}")
    parsed = parse_header(out["x_nonce"])
    if format_header(parsed) != out["x_nonce"] or ottoken_decode(out["ottoken"]) != out["x_nonce"]:
        raise AssertionError("header/ottoken do not round-trip")


def run_vectors(label: str = "spec-python") -> int:
    """Checks every vector file; prints one summary line; returns the exit status."""
    passed, failed = 0, 0
    for path in _vector_files():
        try:
            with open(path, encoding="utf-8") as f:
                cases = json.load(f)
        except (OSError, ValueError) as e:
            failed += 1
            print(f"FAIL {path}: {e}", file=sys.stderr)
            continue
        if not isinstance(cases, list):
            failed += 1
            print(f"FAIL {path}: not a JSON array of cases", file=sys.stderr)
            continue
        for case in cases:
            try:
                _check_case(case)
                passed += 1
            except Exception as e:
                failed += 1
                cid = case.get("id") if isinstance(case, dict) else None
                print(f"FAIL {cid} ({path}): {e}", file=sys.stderr)
    if failed or not passed:
        print(f"{label}: {passed} vectors passed, {failed} failed")
        return 1
    print(f"{label}: {passed} vectors passed")
    return 0


if __name__ == "__main__":
    self_test()
    sys.exit(run_vectors())
