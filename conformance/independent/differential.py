"""Randomized differential testing of an xnonce binding against the independent implementation
``xnonce_spec.py`` (written from docs/PROTOCOL.md alone): the case generator, the spec's side
of every operation, shrinking and the run loop, shared by the Python binding's test
(bindings-python/tests/test_differential.py), the uniffi bindings' check through uniffi's
Python bindings (bindings-swift/ffi-check/differential_uniffi.py) and the Kotlin program
(bindings-kotlin/src/test/kotlin/xnonce/DifferentialTest.kt, which reads the cases and the
spec's results this module writes: ``python3 differential.py uniffi-json OUT.json``). It is
the Python twin of ``differential.mjs``.

Both sides get the same random inputs, mostly valid (~70 % of the cases) with the spec's
tricky corners, the rest with one or two inputs spoilt, and must agree: both succeed with
byte-identical results (X-Nonce header, ottoken, canonical string, link URL, parsed header
fields, server time), or both refuse with the same error code.

Every case draws from its own ``random.Random(f"{seed}:{operation}:{index}")``, so a failure
message (which names seed, operation and index, and shows the inputs, shrunk) is reproducible
whatever the case count. Timestamps and nonces are always given, so results are deterministic.
A binding side is a function of a case returning an ``Outcome``: ``("ok", result)`` with the
result shaped as the ``spec_*`` functions shape theirs, ``("err", code)``, or
``("exc", "TypeName: message")`` for a crash.

The uniffi API (Kotlin, Swift) takes only what its types can hold: a scheme enum, params as
text pairs, a ``u64`` timestamp, a ``u16`` status, bytes for a body. ``uniffi_case`` projects
a generated case onto it (the same projection for both sides), and ``uniffi_spec`` is the
spec's outcome for the projected case, with the one documented difference of the uniffi
API (PROTOCOL §8.2: its ``ottoken_query_value`` cannot throw). Every operation has its uniffi
function.

Needs Python 3.9 and nothing outside the standard library (the Swift check runs it with the
system ``python3``).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from random import Random
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent


def settings_from_env(default_cases: int) -> tuple[int, int]:
    """The seed and the case count: XNONCE_DIFF_SEED / XNONCE_DIFF_CASES, else the defaults."""
    seed = int(os.environ.get("XNONCE_DIFF_SEED", "20260101"))
    return seed, int(os.environ.get("XNONCE_DIFF_CASES", str(default_cases)))


def _load_spec() -> ModuleType:
    path = HERE / "xnonce_spec.py"
    spec = importlib.util.spec_from_file_location("xnonce_spec", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = _load_spec()

# ("ok", comparable result) | ("err", code) | ("exc", type name and message)
Outcome = tuple[str, Any]


def run(
    fn: Callable[[], Any], error: type[BaseException] | tuple[type[BaseException], ...]
) -> Outcome:
    try:
        return ("ok", fn())
    except error as e:
        return ("err", getattr(e, "code", None))
    except Exception as e:  # a crash (TypeError, ...) is a divergence unless both crash alike
        return ("exc", f"{type(e).__name__}: {e}")


# ---------------------------------------------------------------------------------------
# generators

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
HEX = "0123456789abcdef"
SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"


def hexstr(r: Random, n: int) -> str:
    return "".join(r.choice(HEX) for _ in range(n))


def unreserved(r: Random, lo: int, hi: int) -> str:
    return "".join(r.choice(UNRESERVED) for _ in range(r.randint(lo, hi)))


def mixcase(r: Random, s: str) -> str:
    return "".join(c.upper() if r.random() < 0.5 else c.lower() for c in s)


def method(r: Random, valid: bool) -> str:
    if valid:
        return r.choice(
            [
                "GET",
                "get",
                "Post",
                "DELETE",
                "patch",
                "a",
                "ABCDEFGHIJKLMNOP",
                "CONNECT",
                "".join(r.choice("abcXYZ") for _ in range(r.randint(1, 16))),
            ]
        )
    return r.choice(
        [
            "",
            "GET1",
            "GE T",
            "M-SEARCH",
            "ABCDEFGHIJKLMNOPQ",
            "GÉT",
            "get\n",
            "\u017f",  # LONG S: upper-cases to "S" in Unicode, but is no ASCII letter
            "\u212a",  # KELVIN SIGN, lower-cases to "k"
            "G\ud800",
            " GET",
        ]
    )


PATH_PIECES_V2 = [
    "%2F",
    "%2f",
    "%20",
    "%7e",
    "%41",
    "%C3%A9",
    "%FF",
    "%e2%82%ac",
    ";",
    "+",
    "=",
    "é",
    "名",
    "😀",
    " ",
    "\\",
    '"',
    "<",
    "|",
    "{",
    "^",
    "`",
    "@",
    ":",
    "!",
    "*",
    "'",
    "(",
    ",",
    "$",
    "[",
    "\u00a0",
    "\u2028",
]
PATH_PIECES_V1 = [p for p in PATH_PIECES_V2 if p != " "]
DOT_SEGMENTS = [".", "..", "%2e", "%2E.", ".%2e", "%2e%2E"]


def segment(r: Random, scheme: str, link: bool) -> str:
    out = ""
    for _ in range(r.randint(0, 4)):
        x = r.random()
        if x < 0.5:
            out += unreserved(r, 1, 6)
        elif link and scheme == "v1":
            out += r.choice(["%2F", "%20", "%41", ";", "+", "=", "@", ":", "!", "*", "$", "%7E"])
        else:
            out += r.choice(PATH_PIECES_V1 if scheme == "v1" else PATH_PIECES_V2)
    if not link and r.random() < 0.05:
        out = r.choice(DOT_SEGMENTS)
    return out


def path(r: Random, scheme: str, valid: bool, link: bool = False) -> str:
    if valid:
        p = "/" + "/".join(segment(r, scheme, link) for _ in range(r.randint(0, 4)))
        if r.random() < 0.05:
            p = r.choice(["/", "//", "/a//b/"])
        return p
    return r.choice(
        [
            "",
            "a/b",
            "/a?b",
            "/a#b",
            "/a\x00",
            "/a\x7f",
            "/a\tb",
            "/a\nb",
            "/a%",
            "/a%2",
            "/a%G1",
            "/%zz/b",
            "/a\ud800",
            "/" + "x" * 8192,
            "/a b" if scheme == "v1" else "/%",
            # links: what URL clients would change
            "/a/./b",
            "/a/%2E%2e/b",
            "/..",
            "/a\\b" if scheme == "v1" else "/%2e",
            "/é" if scheme == "v1" else "/./é",
            "/a|b" if scheme == "v1" else "/x/.",
        ]
    )


KEYS_V1 = ["a", "b", "ab", "a.b", "a_b", "A", "~k", "k-1", "page", "opt1", "Ottoken", "ottokenX"]
KEYS_V2 = [
    *KEYS_V1,
    "a b",
    "a+b",
    "a&b",
    "a=b",
    "%",
    "%41",
    "é",
    "名前",
    "😀",
    "k\x00",
    "k\n",
    "[]",
    "a[b]",
    "\u00a0",
]


def float_value(r: Random) -> float:
    x = r.random()
    if x < 0.25:
        return r.choice(
            [
                0.0,
                -0.0,
                0.1,
                0.1 + 0.2,
                3.0,
                -2.5,
                1e16,
                1e21,
                1e22,
                1e-7,
                -1e-7,
                5e-324,
                1.7976931348623157e308,
                123456789.125,
                1000000000000001.25,
                1000000000000001.75,
                2.0**53,
                2.0**63,
                2.0**64,
                2.0**127,
                2.0**128,
            ]
        )
    if x < 0.5:  # short mantissas: exact ties of two shortest candidates (§3.6.1)
        return r.randint(0, 10**16) + r.choice([0.25, 0.75, 0.125, 0.5, 0.375])
    if x < 0.75:
        return r.randint(-(10**6), 10**6) / r.choice([1, 2, 4, 8, 10, 100, 1000, 3])
    while True:  # any finite double
        f: float = struct.unpack("<d", r.getrandbits(64).to_bytes(8, "little"))[0]
        if f == f and abs(f) != float("inf"):
            return f


def value(r: Random, valid: bool) -> Any:
    if not valid:
        return r.choice(
            [
                None,
                b"x",
                [1],
                {"a": 1},
                float("nan"),
                float("inf"),
                -float("inf"),
                "\ud800",
                "a\udfff",
                2**127,  # §3.6.1: beyond signed 128 bits
                -(2**127) - 1,
            ]
        )
    x = r.random()
    if x < 0.5:
        return r.choice(
            [
                "",
                "x",
                "hello phil",
                "a+b",
                "&",
                "=",
                "%",
                "%41",
                "~",
                "~draft*",
                "é",
                "😀",
                "名前",
                "\x00",
                "\x1f",
                "\x7f",
                "\u0085",
                "\u2028",
                "this & this = a question?",
                "a\r\nb",
                "\t",
                "'\"<>",
                "\ufeff",
                "\U0010ffff",
            ]
        )
    if x < 0.65:
        return "".join(r.choice(UNRESERVED + " +&=%/?#é😀~") for _ in range(r.randint(0, 12)))
    if x < 0.75:
        return r.choice([True, False])
    if x < 0.88:
        return r.choice(
            [
                0,
                1,
                -7,
                42,
                2**53,
                2**63,
                -(2**63),
                2**64,
                2**127 - 1,
                -(2**127),
                r.randint(-(10**20), 10**20),
            ]
        )
    return float_value(r)


def params(r: Random, scheme: str, valid: bool) -> Any:
    keys = KEYS_V1 if scheme == "v1" else KEYS_V2
    pairs: list[tuple[Any, Any]] = []
    for _ in range(r.choice([0, 0, 1, 2, 3, 4, 6])):
        k = r.choice(keys)
        if scheme == "v1" and any(k == p[0] for p in pairs):
            continue  # a repeated v1 key is invalid
        pairs.append((k, value(r, True)))
    if not valid:
        bad_key = r.choice(
            ["", "ottoken", "a\ud800"] + (["a b", "é", "a+b"] if scheme == "v1" else [])
        )
        kind = r.random()
        if kind < 0.4:
            pairs.insert(r.randint(0, len(pairs)), (bad_key, "v"))
        elif kind < 0.7 or scheme == "v2":
            pairs.insert(r.randint(0, len(pairs)), (r.choice(keys), value(r, False)))
        else:  # v1: a repeated key
            pairs += [("dup", "1"), ("dup", r.choice(["1", "2"]))]
    if r.random() < 0.2 and len({k for k, _ in pairs}) == len(pairs):
        return dict(pairs)
    return pairs


def host(r: Random, valid: bool) -> Any:
    if valid:
        name = r.choice(
            [
                "api.example.com",
                "API.Example.COM",
                "localhost",
                "127.0.0.1",
                "[::1]",
                "[2001:DB8::1]",
                "host.",
                "a_b-c.example",
                "xn--bcher-kva.example",
                "h",
                "[",
                "a:b:c",
                "1.2.3.4.5",
            ]
        )
        return name + r.choice(["", "", ":80", ":443", ":8080", ":0", ":", ":443:443", ":080"])
    return r.choice(
        [
            None,
            "",
            ":80",
            ":443",
            ":8080",
            "bad host",
            "bücher.example",
            "a/b",
            "a@b",
            "h\x00",
            "h\ud800",
            "a" * 256,
            "h%41",
            "h\u212a",
        ]
    )


def body(r: Random, valid: bool) -> Any:
    if valid:
        return r.choice(
            [
                None,
                b"",
                b"",
                b'{"opt3":"go for it"}',
                bytes(r.getrandbits(8) for _ in range(r.randint(1, 40))),
                bytearray(b"a=1&b=2"),
                "text body é",
                "",
            ]
        )
    return r.choice([b"x", "x", b"\x00"])  # only invalid for v1 and links


def secret(r: Random, scheme: str, valid: bool) -> str:
    if valid:
        x = r.random()
        if x < 0.6:
            return hexstr(r, 64)
        if x < 0.7:
            return hexstr(r, 64).upper()
        if x < 0.8:
            return mixcase(r, hexstr(r, 64))
        if scheme == "v2":
            return SECRET
        return r.choice(
            [
                "legacy-secret",
                "s3cr3t!é",
                "x",
                "\u200b",  # ZERO WIDTH SPACE: no White_Space, no Cc
                "\ufeff",
                "\u180e",  # MONGOLIAN VOWEL SEPARATOR: White_Space no more since Unicode 6.3
                "a" * 1024,
                "é" * 512,
                hexstr(r, 63),
                hexstr(r, 65),
                "g" * 64,
            ]
        )
    return r.choice(
        [
            "",
            "a b",
            "a\x00",
            "a\t",
            "\x7f",
            "a\u0085",
            "a\u00a0",
            "a\u1680",
            "a\u2003",
            "a\u2028",
            "a\u202f",
            "a\u205f",
            "a\u3000",
            "a\u009f",
            "a" * 1025,
            "é" * 513,
            "a\ud800",
            # v2 only: not 64 hex
            hexstr(r, 63),
            hexstr(r, 65),
            "g" * 64,
            "legacy-secret",
        ]
    )


def client(r: Random, valid: bool) -> str:
    if valid:
        return r.choice(["test_client", "a", "~", "svc.v2-x", "A" * 128, unreserved(r, 1, 20)])
    return r.choice(["", "A" * 129, "a b", "é", "a:b", "a/b", "a+b", "a\ud800", "a\n"])


def timestamp(r: Random, valid: bool) -> Any:
    if valid:
        return r.choice([0, 1, 1700000000000, 2**53 - 1, r.randint(0, 2**53 - 1)])
    return r.choice([2**53, 2**53 + 1, -1, 2**64, 2**64 + 1, 5.0, 1.5, True, False, float("nan")])


def nonce(r: Random, valid: bool) -> str:
    if valid:
        return hexstr(r, 32)
    return r.choice(
        [hexstr(r, 32).upper(), hexstr(r, 31), hexstr(r, 33), "", "g" * 32, "a\ud800" * 16]
    )


BASE_URLS = [
    "https://api.example.com",
    "http://localhost:3000",
    "https://example.com/api",
    "https://example.com/api/",
    "https://example.com///",
    "http://127.0.0.1:8080",
    "http://[::1]:9000",
    "http://[2001:db8::1]",
    "https://Example.COM",
    "https://h:443",
    "http://h:80",
    "http://h:0",
    "http://host.",
    "http://a_b.example",
    "https://example.com/a;b/c=d",
    "https://example.com/%41",
]
BAD_BASE_URLS = [
    "ftp://h",
    "HTTPS://h",
    "https://",
    "https:///a",
    "https://u@h",
    "https://h/a b",
    "https://h/./x",
    "https://h/%2e",
    "https://h/é",
    "https://h?x",
    "https://h#x",
    "https://h\\a",
    "https://h/a\x00",
    "https://h/a|b",
    "https://h/{x}",
    "http://h:",
    "http://h:99999",
    "http://h:080",
    "http://:3000",
    "http://[::1",
    "http://[::1/api",
    "http://a[b]",
    "http://[::1]x",
    "http://[0:0::1]",
    "http://[2001:DB8:0:0:1::1]",
    "http://[::ffff:1.2.3.4]",
    "http://[::0:1]",
    "http://[1:0:0:2:0:0:0:3]",
    "http://[1::2:0:0:0:3]",
    "http://127.1",
    "http://0x7f.0.0.1",
    "http://0177.0.0.1",
    "http://127.0.0.1.",
    "http://1.2.3.4.5",
    "http://256.1.1.1",
    "http://example.123",
    "http://example.0x1f",
    "http://example.0x",
    "http://bücher.example",
    "http://a%41",
    "http://h:1:2",
    "http://127.1:08080",
    "https://h\ud800",
]


def base_url(r: Random, valid: bool) -> str:
    return r.choice(BASE_URLS) if valid else r.choice(BAD_BASE_URLS)


# ---------------------------------------------------------------------------------------
# the operations: each builds one case (a dict of inputs) and runs it on both sides

SIGN_FIELDS = ["method", "path", "params", "client", "secret", "timestamp", "nonce", "host", "body"]


def spelt(r: Random, scheme: str) -> str:
    """The scheme as a caller writes it: now and then upper-case (PROTOCOL §10: the same)."""
    return scheme.upper() if r.random() < 0.05 else scheme


def spoil(r: Random, fields: list[str]) -> set[str]:
    """The inputs to spoil: none in ~70 % of the cases, else one or (rarely) two."""
    if r.random() < 0.7:
        return set()
    return set(r.sample(fields, 2 if r.random() < 0.2 else 1))


def gen_sign(r: Random) -> dict[str, Any]:
    scheme = r.choice(["v1", "v2"]) if r.random() > 0.005 else r.choice(["v3", " v2", ""])
    if scheme not in ("v1", "v2"):
        # A step-0 refusal (PROTOCOL §10), as a bad timestamp or param value is, and which of
        # several such is reported is not specified: a bad scheme with inputs good for v2.
        return {
            "scheme": scheme,
            **{k: SIMPLE[k] for k in SIGN_FIELDS},
            "params": params(r, "v1", True),
            "timestamp": timestamp(r, True),
            "nonce": nonce(r, True),
        }
    bad = spoil(r, SIGN_FIELDS)
    case = {
        "scheme": spelt(r, scheme),
        "method": method(r, "method" not in bad),
        "path": path(r, scheme, "path" not in bad),
        "params": params(r, scheme, "params" not in bad),
        "client": client(r, "client" not in bad),
        "secret": secret(r, scheme, "secret" not in bad),
        "timestamp": timestamp(r, "timestamp" not in bad),
        # v1 ignores the nonce and the host: any of them, also invalid ones
        "nonce": nonce(r, "nonce" not in bad and (scheme != "v1" or r.random() < 0.7)),
        "host": host(r, "host" not in bad and (scheme != "v1" or r.random() < 0.7))
        if scheme != "v1" or r.random() < 0.5
        else None,
        "body": body(r, "body" not in bad)
        if scheme != "v1" or "body" in bad or r.random() < 0.3
        else None,
    }
    return settle(case, bad)


SURROGATE = re.compile("[\ud800-\udfff]")


def step0_faults(c: dict[str, Any]) -> list[str]:
    """The inputs §10 step 0 refuses (a bad native timestamp or param value, text that is not
    valid Unicode; v1 ignores host and nonce)."""
    out = []
    ts = c["timestamp"]
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < 2**53:
        out.append("timestamp")
    for k in ("method", "path", "client", "secret", "base_url", "nonce", "host"):
        if isinstance(c.get(k), str) and SURROGATE.search(c[k]):
            out.append(k)
    p = c["params"]
    for k, v in p.items() if isinstance(p, dict) else p:
        if SURROGATE.search(k) or not isinstance(v, (str, int, float)) or v != v:
            out.append("params")
        elif isinstance(v, float) and abs(v) == float("inf"):
            out.append("params")
        elif isinstance(v, int) and not -(2**127) <= v < 2**127:
            out.append("params")
        elif isinstance(v, str) and SURROGATE.search(v):
            out.append("params")
    return out


def settle(c: dict[str, Any], bad: set[str]) -> dict[str, Any]:
    """Keeps out of a case what the protocol leaves open."""
    faults = step0_faults(c)
    # §10 step 0: "among several such values, which one is reported is not specified".
    for k in faults[1:]:
        if k == "timestamp":
            c["timestamp"] = 1700000000000
        elif k == "params":
            c["params"] = []
        else:
            c[k] = SURROGATE.sub("x", c[k])
    return c


def spec_body(b: Any) -> Any:
    """The binding takes text as its UTF-8 bytes; the spec signs bytes."""
    return b.encode("utf-8") if isinstance(b, str) else b


def gen_link(r: Random) -> dict[str, Any]:
    scheme = r.choice(["v1", "v2"])
    fields = ["method", "path", "params", "client", "secret", "timestamp", "base_url", "body"]
    fields += ["host", "nonce"] if scheme == "v2" else []
    bad = spoil(r, fields)
    base = base_url(r, "base_url" not in bad)
    h: Any = None
    if "host" in bad:
        h = host(r, r.random() < 0.5)  # most valid hosts differ from the authority
    elif r.random() < 0.3:  # the authority again, in another case or with a default port
        auth = base.split("://", 1)[-1].split("/", 1)[0]
        h = mixcase(r, auth)
        if ":" not in auth.rsplit("]", 1)[-1] and r.random() < 0.5:
            h += r.choice([":80", ":443"])
    case = {
        "scheme": spelt(r, scheme),
        "method": method(r, "method" not in bad),
        "path": path(r, scheme, "path" not in bad, link=True),
        "params": params(r, scheme, "params" not in bad),
        "client": client(r, "client" not in bad),
        "secret": secret(r, scheme, "secret" not in bad),
        "base_url": base,
        "timestamp": timestamp(r, "timestamp" not in bad),
        "nonce": nonce(r, "nonce" not in bad),
        "host": h,
        "body": body(r, False) if "body" in bad else r.choice([None, b"", ""]),
    }
    return settle(case, bad)


# sign_request: a request as an HTTP client sends it (target, Content-Type, body), its params
# read as the verifier reads them (PROTOCOL §11, §11.1 steps 1 and 4, §6.5).

# Raw pieces of a query or form key / value, as a client writes them (decoded: any text).
QUERY_PIECES = [
    "+",
    "%20",
    "%2B",
    "%2b",
    "%25",
    "%3D",
    "%26",
    "%41",
    "%7E",
    "~",
    "%C3%A9",
    "%c3%a9",
    "é",
    "名",
    "%E5%90%8D",
    "😀",
    "%F0%9F%98%80",
    ";",
    "?",
    "/",
    ":",
    "@",
    "!",
    "$",
    "'",
    "(",
    "*",
    ",",
    "[",
    "]",
    "%5B",
    "%00",
    "%0A",
    "\u00a0",
]
# What only a value may hold raw: '=' (a pair splits at its first '=' only); now and then a
# byte no HTTP client sends raw, which the verifier reads as itself (§4.4).
VALUE_ONLY_PIECES = ["=", "==", " ", "\t"]
# v1 keys are read raw and must be unreserved (§3.6, §11.1 step 4): a valid v1 key is
# unreserved; the raw key `ottoken` is left out of a v1 request's params.
REQUEST_KEYS_V1 = ["a", "b", "ab", "a.b", "a_b", "A", "~k", "k-1", "page", "Ottoken", "ottokenX"]
# Content-Type values: §6.5's rule (cut at ';', strip SP / HTAB, ASCII case) says form or not.
FORM_TYPES = [
    "application/x-www-form-urlencoded",
    "Application/X-WWW-Form-Urlencoded; charset=utf-8",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    " application/x-www-form-urlencoded ",
    "\tapplication/x-www-form-urlencoded\t;charset=utf-8",
    "application/x-www-form-urlencoded;",
    "application/x-www-form-urlencoded ; a=b",
    "application/x-www-form-urlencoded; charset=\u00e9",
    "application/x-www-form-urlencoded;\u00a0x",
]
OTHER_TYPES = [
    "multipart/form-data; boundary=x",
    "application/json",
    "text/plain; charset=utf-8",
    "application/octet-stream",
    "",
    ";",
    "application/x-www-form-urlencoded2",
    "application/x-www-form-urlencodedx; a=b",
    "x-application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded,text/plain",
    "application/x-www-form-urlencoded\r",
    "\napplication/x-www-form-urlencoded",
    "appl\u0131cation/x-www-form-urlencoded",  # DOTLESS I: upper-cases to I, no ASCII letter
    # §6.5: no form by its rule (only SP and HTAB are stripped), though an application that
    # trims Unicode whitespace reads one; a verifier handing requests to an application
    # SHOULD refuse it, the signer reads it as the rule does (xnonce_spec choice 6)
    "\u00a0application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded\u0085",
    "application/x-www-form-urlencoded\u3000; charset=utf-8",
]


def raw_text(r: Random, key: bool) -> str:
    """A raw query / form key or value: unreserved runs and escapes, decoding to UTF-8."""
    out = ""
    for _ in range(r.randint(1 if key else 0, 4)):
        x = r.random()
        if x < 0.45:
            out += unreserved(r, 1, 5)
        elif x < 0.9 or key:
            out += r.choice(QUERY_PIECES)
        else:
            out += r.choice(VALUE_ONLY_PIECES)
    return out


def respell(r: Random, value: str) -> str:
    """The same decoded value spelt otherwise: a '+' as %20 or the other way round."""
    if "+" in value and r.random() < 0.5:
        return value.replace("+", "%20")
    return value.replace("%20", "+") if "%20" in value else value


def raw_pairs_v1(r: Random, n: int) -> list[tuple[str, str | None]]:
    """v1: unreserved keys, a key seen again only with its first value (maybe respelt)."""
    out: list[tuple[str, str | None]] = []
    first: dict[str, str] = {}
    for _ in range(n):
        k = r.choice([*REQUEST_KEYS_V1, unreserved(r, 1, 6)])
        if r.random() < 0.05:  # left out of a v1 request's params, its value unread
            out.append(("ottoken", r.choice(["x", "%zz", "%", "eyJ%3D", ""])))
            continue
        if k in first:
            out.append((k, respell(r, first[k])))
            continue
        v = raw_text(r, False)
        first[k] = v
        out.append((k, None if v == "" and r.random() < 0.3 else v))
    return out


def raw_pairs_v2(r: Random, n: int) -> list[tuple[str, str | None]]:
    """v2: any key (decoded non-empty, not `ottoken`), repeated freely."""
    out: list[tuple[str, str | None]] = []
    for _ in range(n):
        if out and r.random() < 0.15:
            k, v = r.choice(out)
            out.append((k, v if r.random() < 0.5 else raw_text(r, False)))
            continue
        v = raw_text(r, False)
        out.append((raw_text(r, True), None if v == "" and r.random() < 0.3 else v))
    return out


def join_pairs(r: Random, pairs: list[tuple[str, str | None]]) -> str:
    """key=value pairs joined with '&', with empty segments now and then."""
    segs = [k if v is None else k + "=" + v for k, v in pairs]
    if r.random() < 0.15:
        segs.insert(r.randint(0, len(segs)), "")  # '&&', or a leading / trailing '&'
    return "&".join(segs)


def spoil_query(r: Random, scheme: str, q: str) -> str:
    """One fault in a raw query or form body (each a refusal whatever else it holds)."""
    faults = [
        "a=%",
        "a=%2",
        "a=%zz",
        "a=%G1",
        "a%=1" if scheme == "v2" else "a%25=1",
        "a=%FF",
        "a=%C3",
        "a=%ED%A0%80",  # an encoded surrogate: no UTF-8
        "a=%C0%80",  # overlong
        "=x",
        "=",
        "==x",
    ]
    if scheme == "v2":
        faults += ["ottoken=x", "ottoke%6E=x", "%6Fttoken", "ottoken", "%=1", "%zz"]
    else:  # raw keys outside the unreserved set, a key repeated with another value
        faults += ["a+b=1", "a%20b=1", "%C3%A9=1", "é=1", "a[b]=1", "a;b=1", "a=1&a=2", "a=x&a=x+"]
    segs = [seg for seg in q.split("&") if seg]
    segs.insert(r.randint(0, len(segs)), r.choice(faults))
    return "&".join(segs)


def gen_target(r: Random, scheme: str, query: str, valid: bool) -> str:
    """A request target: origin-form `/path?query`, absolute-form (§11), or an empty path."""
    p = path(r, scheme, True) if valid or r.random() < 0.5 else path(r, scheme, False)
    x = r.random()
    if x < 0.1:  # absolute-form: its authority is the host
        scheme_part = r.choice(["http", "https", "HTTP", "h2c+x.y-z"])
        authority = r.choice(["api.example.com", "API.Example.com:443", "127.0.0.1:8080", "[::1]"])
        p = scheme_part + "://" + authority + r.choice(["", p])
    elif x < 0.15:
        p = ""  # sent as '/'
    t = p + ("?" + query if query or r.random() < 0.1 else "")
    if not valid and r.random() < 0.5:
        t = r.choice(
            [
                lambda: t + "#" + r.choice(["", "f", "a=1"]),
                lambda: t.replace("/", "/#", 1) if "/" in t else "#" + t,
                lambda: t + ("&" if "?" in t else "?") + "a=\ud800",
                lambda: "/a\udfff" + t,
                lambda: "1x://h/a" + t,
                lambda: "a/b" + t,
            ]
        )()
    return t


def gen_sign_request(r: Random) -> dict[str, Any]:
    scheme = r.choice(["v1", "v2"])
    # One input spoilt at most: PROTOCOL gives no order between reading a request (§11.1)
    # and the checks of §10 (xnonce_spec choice 5).
    fields = ["method", "target", "query", "client", "secret", "timestamp", "body", "content"]
    fields += ["host", "nonce"] if scheme == "v2" else []
    bad = {r.choice(fields)} if r.random() < 0.3 else set()
    gen_pairs = raw_pairs_v1 if scheme == "v1" else raw_pairs_v2
    pairs = gen_pairs(r, r.choice([0, 1, 2, 3, 4, 6]))
    form = r.random() < 0.35
    content_type = r.choice(FORM_TYPES) if form else r.choice([None, None, *OTHER_TYPES])
    b: Any = None
    if form:  # the params split between the query and the form body
        cut = r.randint(0, len(pairs))
        q, f = join_pairs(r, pairs[:cut]), join_pairs(r, pairs[cut:])
        if "query" in bad:
            f = spoil_query(r, scheme, f)
        b = r.choice([f, f.encode("utf-8"), bytearray(f.encode("utf-8"))])
        if not f and r.random() < 0.5:
            b = r.choice([None, b""])
    else:
        q = join_pairs(r, pairs)
        if scheme == "v2" or "body" in bad:
            b = body(r, True)
        if "body" in bad and scheme == "v1":
            b = r.choice([b"x", "x", b"\x00", b"a=1", "{}"])
    if "query" in bad and not form:
        q = spoil_query(r, scheme, q)
    if "content" in bad:
        if form and r.random() < 0.5:
            b = r.choice([b"a=\xff", b"\xc3", b"a=1&b=\xed\xa0\x80"])  # §11.1 step 1
        else:
            content_type = r.choice(["application/x-www-form-urlencoded\ud800", "\udfff"])
            if r.random() < 0.5:
                b = "a=\ud800"
    verb = method(r, "method" not in bad)
    if form and "method" not in bad and r.random() < 0.85:
        # a form's methods (§11.1 step 1); the others' forms are refused, invalid_body
        verb = mixcase(r, r.choice(["POST", "PUT", "PATCH"]))
    case = {
        "scheme": spelt(r, scheme),
        "method": verb,
        "host": host(r, "host" not in bad and (scheme != "v1" or r.random() < 0.7)),
        "target": gen_target(r, scheme, q, "target" not in bad),
        "client": client(r, "client" not in bad),
        "secret": secret(r, scheme, "secret" not in bad),
        "content_type": content_type,
        "body": b,
        "timestamp": timestamp(r, "timestamp" not in bad),
        "nonce": nonce(r, "nonce" not in bad and (scheme != "v1" or r.random() < 0.7)),
    }
    if case["host"] is None:
        case["host"] = ""  # the Python binding's host is a str (v2: "" is invalid_host)
    if scheme == "v1":  # v1 ignores the host and the nonce, but not text that is no text
        case["host"] = SURROGATE.sub("x", case["host"])
        case["nonce"] = SURROGATE.sub("x", case["nonce"])
    return case


def signed_header(r: Random, scheme: str | None = None, secret: str = SECRET) -> str:
    """A header value the spec signs (in `scheme`, else either)."""
    scheme = r.choice(["v1", "v2"]) if scheme is None else scheme
    return str(
        S.sign(
            scheme,
            "GET",
            "/a",
            [],
            client(r, True),
            secret,
            timestamp=timestamp(r, True),
            nonce=nonce(r, True),
            host="h",
        )
    )


def mutate_header(r: Random, h: str) -> str:
    f = h.split(" ")
    i = r.randrange(len(f))
    choices: list[Callable[[], str]] = [
        lambda: h.replace("v2", r.choice(["V2", "v3", "v2 ", ""]), 1),
        lambda: " " + h,
        lambda: h + " ",
        lambda: h.replace(" ", "  ", 1),
        lambda: h.replace(" ", "\t", 1),
        lambda: h + " x",
        lambda: h[: r.randrange(len(h))],
        lambda: h.upper(),
        lambda: " ".join([*f[:i], f[i].upper(), *f[i + 1 :]]),
        lambda: " ".join([*f[:i], f[i] + r.choice(["0", "a", "g", "é", "~"]), *f[i + 1 :]]),
        lambda: " ".join([*f[:i], f[i][1:], *f[i + 1 :]]),
        lambda: " ".join(
            [
                *f[:i],
                r.choice(["0", "00", "01", "9007199254740991", "9007199254740992", "-1", "1.5"]),
                *f[i + 1 :],
            ]
        ),
        lambda: " ".join([*f[:i], "A" * r.choice([128, 129]), *f[i + 1 :]]),
        lambda: h + "\x00",
        lambda: h.replace(" ", " " * 200, 1) if r.random() < 0.5 else h + "a" * 512,
        lambda: r.choice(["", " ", "v2", "\ud800", "v2 a 1 " + "0" * 32 + " " + "0" * 64]),
    ]
    return r.choice(choices)()


def gen_parse_header(r: Random) -> dict[str, Any]:
    h = signed_header(r)
    return {"value": h if r.random() < 0.5 else mutate_header(r, h)}


def v1_token(text: str | bytes) -> str:
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def v2_token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).rstrip(b"=").decode()


def gen_ottoken(r: Random) -> dict[str, Any]:
    op = r.choice(["encode", "decode", "decode", "query_value"])
    h = signed_header(r)
    if op == "encode":
        return {"op": op, "value": h if r.random() < 0.6 else mutate_header(r, h)}
    v1h = S.sign("v1", "GET", "/a", [], client(r, True), SECRET, timestamp=timestamp(r, True))
    good = S.ottoken_encode(h)
    x = r.random()
    if x < 0.35:
        token = good
    elif x < 0.55:  # a mutated token
        i = r.randrange(len(good))
        token = r.choice(
            [
                good[:i] + r.choice("AaZz09+/-_=%. é") + good[i + 1 :],
                good[:i],
                good + r.choice(["=", "==", "A", "AA", "AAA"]),
                good.rstrip("="),
                good.replace("+", "-").replace("/", "_"),
                good.replace("-", "+").replace("_", "/"),
                good[:-1] + chr(ord(good[-1]) + 1),
                "",
                "eyJ",
                "x" * 1025,
            ]
        )
    elif x < 0.8:  # v1: other JSON around the header
        member = json.dumps(v1h)
        text = r.choice(
            [
                '{"X-Nonce":' + member + "}",
                '{"X-Nonce":' + member + ',"n":1}',
                '{"X-Nonce":' + member + ',"n":[1,{"a":null}],"t":true}',
                '{"X-Nonce" : ' + member + " }",
                '{"X-Nonce":"x","X-Nonce":' + member + "}",
                '{"X-Nonce":' + member + ',"X-Nonce":"x"}',
                '{"X-Nonce":' + member + ',"n":NaN}',
                '{"X-Nonce":' + member + ',"n":01}',
                '{"X-Nonce":' + member + ',"n":1.}',
                '{"X-Nonce":' + member + ",}",
                '{"X-Nonce":' + member + ',"s":"\\u00e9\\ud83d\\ude00"}',
                '{"X-Nonce":' + member + ',"s":"\t"}',
                '{"X-Nonce":' + member + "}\n",
                '{"X-Nonce":' + member + "} x",
                '{"X-Nonce":' + json.dumps(h) + "}",  # maybe a v2 header in a v1 token
                '{"X-Nonce":' + member.replace("a", "\\u0061", 1) + "}",
                '{"X-Nonce":' + json.dumps(" " + v1h) + "}",
                '{"X-Nonce":1}',
                '{"Y":' + member + "}",
                '["X-Nonce"]',
                '{"X-Nonce":' + member + ',"n":"\\x"}',
            ]
        )
        token = v1_token(text)
    else:  # v2: the header text itself
        text = r.choice([h, v1h, " " + h, h + "\n", mutate_header(r, h)])
        token = v2_token(text)
    if op == "query_value":
        # §8.2: a token that is not valid Unicode text is malformed_ottoken.
        token = token if r.random() < 0.8 else r.choice(["a b", "é", "a+b/c=", "", "\ud800"])
    return {"op": op, "value": token}


def gen_server_time(r: Random) -> dict[str, Any]:
    scheme = r.choice(["v1", "v2"])
    sec = secret(r, "v1", r.random() < 0.9)
    signing = sec if r.random() < 0.8 else secret(r, "v1", True)
    if scheme == "v2" and not (len(signing) == 64 and all(ch in HEX + "ABCDEF" for ch in signing)):
        signing = SECRET
    try:
        sent = signed_header(r, scheme, signing)
    except S.XNonceError:
        sent = signed_header(r)
    p = S.parse_header(sent)
    rid = p["token"] if p["scheme"] == "v1" else p["nonce"]
    ms = timestamp(r, True)
    key = signing if r.random() < 0.85 else r.choice([SECRET, signing.swapcase(), "other"])
    try:
        mac = S.server_time_mac(key, p["client"], rid if r.random() < 0.9 else "x", ms)
    except (S.XNonceError, UnicodeEncodeError):
        mac = "0" * 64
    hint: Any = f"{ms} {mac}"
    if r.random() < 0.25:
        hint = r.choice(
            [
                None,
                "",
                f"{ms}  {mac}",
                f" {ms} {mac}",
                f"{ms} {mac} ",
                f"0{ms} {mac}",
                f"{ms} {mac.upper()}",
                f"{ms}\t{mac}",
                f"{ms} {mac[:-1]}",
                f"9007199254740992 {mac}",
                f"-1 {mac}",
                f"{ms}",
                mac,
            ]
        )
    if r.random() < 0.1:
        sent = mutate_header(r, sent)
    status = 401 if r.random() < 0.85 else r.choice([400, 200, 409, 0, 65535, 65536, -1])
    return {"status": status, "hint": hint, "sent": sent, "secret": sec}


def spec_refuses_secret(secret_text: str) -> bool:
    """Whether §3.1 refuses the secret (no request could be signed with it), per the spec."""
    try:
        S.sign("v1", "GET", "/", [], "c", secret_text, timestamp=0)
    except S.XNonceError as e:
        return bool(e.code == "invalid_secret")
    return False


# ---------------------------------------------------------------------------------------
# shrinking a divergent case to a small one, for the failure message

SIMPLE: dict[str, Any] = {
    "method": "GET",
    "path": "/a",
    "params": [],
    "client": "c",
    "secret": SECRET,
    "timestamp": 1700000000000,
    "nonce": "0" * 32,
    "host": "h",
    "body": None,
    "base_url": "https://h",
    "hint": None,
    "status": 401,
    "target": "/a",
    "content_type": None,
}


def shrink(runner: Callable[..., Any], c: dict[str, Any]) -> dict[str, Any]:
    """A smaller input that still diverges: each input replaced by a simple one once, pairs
    dropped, chunks cut from the path or value (at most ~3000 runs)."""
    c = dict(c)
    budget = [3000]

    def diverges(trial: dict[str, Any]) -> bool:
        budget[0] -= 1
        b, s = runner(trial)
        return bool(b != s)

    for k in list(c):
        if k in SIMPLE and c[k] != SIMPLE[k] and diverges({**c, k: SIMPLE[k]}):
            c[k] = SIMPLE[k]
    changed = True
    while changed and budget[0] > 0:
        changed = False
        p = c.get("params")
        if p:
            items = list(p.items()) if isinstance(p, dict) else list(p)
            for i in range(len(items)):
                trial = {**c, "params": items[:i] + items[i + 1 :]}
                if diverges(trial):
                    c, changed = trial, True
                    break
            else:
                if isinstance(p, dict) and diverges({**c, "params": items}):
                    c, changed = {**c, "params": items}, True
        for k in ("path", "value", "target", "body"):
            v = c.get(k)
            if not isinstance(v, str) or len(v) < 2:
                continue
            # drop chunks, halving their size (a few hundred trials even for 8 KiB)
            start = 1 if k == "path" else 0
            size = max(1, (len(v) - start) // 2)
            while size >= 1 and not changed:
                for i in range(start, len(v) - size + 1, size):
                    trial = {**c, k: v[:i] + v[i + size :]}
                    if diverges(trial):
                        c, changed = trial, True
                        break
                size //= 2
    return c


# ---------------------------------------------------------------------------------------
# the spec's side of each operation: its outcome for a case


def spec_sign(c: dict[str, Any]) -> Outcome:
    args = (c["scheme"], c["method"], c["path"], c["params"], c["client"], c["secret"])
    kw = {"timestamp": c["timestamp"], "nonce": c["nonce"], "host": c["host"]}

    def spec() -> Any:
        d = S.sign_detailed(*args, **kw, body=spec_body(c["body"]))
        assert S.sign(*args, **kw, body=spec_body(c["body"])) == d["x_nonce"]
        return {**d, "ottoken_query_value": S.ottoken_query_value(d["ottoken"])}

    return run(spec, S.XNonceError)


def spec_link(c: dict[str, Any]) -> Outcome:
    args = (c["scheme"], c["method"], c["path"], c["params"], c["client"], c["secret"])
    kw = {"timestamp": c["timestamp"], "nonce": c["nonce"], "host": c["host"]}

    def spec() -> Any:
        return S.link_detailed(*args, c["base_url"], **kw, body=spec_body(c["body"]))

    return run(spec, S.XNonceError)


def spec_sign_request(c: dict[str, Any]) -> Outcome:
    args = (c["scheme"], c["method"], c["host"], c["target"], c["client"], c["secret"])
    kw = {k: c[k] for k in ("content_type", "body", "timestamp", "nonce")}
    return run(lambda: S.sign_request(*args, **kw), S.XNonceError)


def spec_parse_header(c: dict[str, Any]) -> Outcome:
    def spec() -> Any:
        p = S.parse_header(c["value"])
        mac = p["token"] if p["scheme"] == "v1" else p["signature"]
        return (p["scheme"], p["client"], p["timestamp"], p.get("nonce"), mac)

    return run(spec, S.XNonceError)


def spec_ottoken(c: dict[str, Any]) -> Outcome:
    v = c["value"]
    if c["op"] == "encode":
        # §8.1 encodes a header value; the spec's encoder does not parse it first.
        return run(lambda: S.parse_header(v) and S.ottoken_encode(v), S.XNonceError)
    if c["op"] == "decode":
        return run(lambda: S.ottoken_decode(v), S.XNonceError)
    return run(lambda: S.ottoken_query_value(v), S.XNonceError)


def spec_server_time(c: dict[str, Any]) -> Outcome:
    def spec() -> Any:
        # §12 client side: a number only for a 401 whose hint parses and authenticates for
        # the client id and request id of the header sent; a bad secret refuses whatever.
        if spec_refuses_secret(c["secret"]):
            raise S.XNonceError("invalid_secret")
        if c["status"] != 401 or c["hint"] is None:
            return None
        try:
            p = S.parse_header(c["sent"])
            rid = p["token"] if p["scheme"] == "v1" else p["nonce"]
            return S.authenticate_server_time(c["hint"], c["secret"], p["client"], rid)
        except S.XNonceError:
            return None

    return run(spec, S.XNonceError)


Generator = Callable[[Random], dict[str, Any]]
SpecSide = Callable[[dict[str, Any]], Outcome]

OPERATIONS: dict[str, tuple[Generator, SpecSide, float]] = {
    # name: (generator, the spec's side, share of the cases)
    "sign": (gen_sign, spec_sign, 0.4),
    "link": (gen_link, spec_link, 0.25),
    "parse_header": (gen_parse_header, spec_parse_header, 0.1),
    "ottoken": (gen_ottoken, spec_ottoken, 0.15),
    "server_time": (gen_server_time, spec_server_time, 0.1),
    # a few hundred cases per run (300 of the Python test's default 3000)
    "sign_request": (gen_sign_request, spec_sign_request, 0.1),
}
# The least share of cases both sides must accept: proof that real signing is exercised.
MIN_ACCEPTED = {
    "sign": 0.5,
    "link": 0.4,
    "parse_header": 0.4,
    "ottoken": 0.3,
    "server_time": 0.3,
    "sign_request": 0.5,
}


def count_for(name: str, cases: int) -> int:
    return max(1, round(cases * OPERATIONS[name][2]))


class Divergence(AssertionError):
    """A binding and the spec differ on a case (the message says where and how)."""


class Summary:
    """What one operation's run saw."""

    def __init__(self, name: str, seed: int) -> None:
        self.name, self.seed = name, seed
        self.cases = self.accepted = self.refused = self.skipped = 0
        self.codes: dict[str, int] = {}

    def line(self, who: str = "differential") -> str:
        top = ", ".join(f"{k} {v}" for k, v in sorted(self.codes.items(), key=lambda kv: -kv[1]))
        skipped = f", {self.skipped} not expressible (skipped)" if self.skipped else ""
        return (
            f"{who} {self.name} (seed {self.seed}): {self.cases} cases, {self.accepted} accepted,"
            f" {self.refused} refused ({top}){skipped}"
        )

    def enough_accepted(self) -> bool:
        return self.accepted >= MIN_ACCEPTED[self.name] * self.cases


def run_operation(
    name: str,
    binding: Callable[[dict[str, Any]], Outcome],
    seed: int,
    cases: int,
    spec: SpecSide | None = None,
    project: Callable[[str, dict[str, Any]], dict[str, Any] | None] | None = None,
) -> Summary:
    """Runs `count_for(name, cases)` cases of one operation on `binding` and the spec (its
    `spec_*` side unless `spec` is given), each case passed through `project` first (None:
    not expressible, skipped and counted); raises Divergence on the first difference, with
    the case shrunk."""
    gen, spec_side, _ = OPERATIONS[name]
    spec = spec or spec_side

    def runner(c: dict[str, Any]) -> tuple[Outcome, Outcome]:
        return binding(c), spec(c)

    summary = Summary(name, seed)
    for i in range(count_for(name, cases)):
        case: dict[str, Any] | None = gen(Random(f"{seed}:{name}:{i}"))
        if project is not None:
            case = project(name, case)
            if case is None:
                summary.skipped += 1
                continue
        b, s = runner(case)
        if b != s:
            small = shrink(runner, case)
            sb, ss = runner(small)
            raise Divergence(
                f"{name}: binding and spec differ (XNONCE_DIFF_SEED={seed}, case {i},"
                f" Random({seed!r}:{name}:{i}))\n"
                f"  shrunk input: {small!r}\n  binding: {sb!r}\n  spec:    {ss!r}\n"
                f"  full input:   {case!r}\n  binding: {b!r}\n  spec:    {s!r}"
            )
        summary.cases += 1
        if b[0] == "ok":
            summary.accepted += 1
        else:
            summary.refused += 1
            summary.codes[str(b[1])] = summary.codes.get(str(b[1]), 0) + 1
    return summary


# ---------------------------------------------------------------------------------------
# the uniffi API (Kotlin, Swift; checked through uniffi's Python bindings too)

U64 = 2**64
NOT_UNICODE = "\ud800"  # the one bad param value text can carry


def uniffi_case(name: str, c: dict[str, Any]) -> dict[str, Any] | None:
    """The case as the uniffi API can take it, given to both sides; None when it cannot (a
    scheme that is neither v1 nor v2: the API's scheme is an enum).

    Params become a list of text pairs: a native value as its §3.6.1 text (the uniffi API
    takes text; the Python and JS tests compare that conversion), one that has no text (None,
    bytes, NaN, an integer beyond 128 bits) as text holding a lone surrogate, so the case stays
    an `invalid_param_value` one. A timestamp that is no u64 (negative, fractional, a bool,
    2^64 or more) becomes 2^64 - 1 and a status that is no u16 the nearest one: still out of
    range, or still not 401. A text body is its UTF-8 bytes (one that is not Unicode text has
    none: the case cannot be given)."""
    c = dict(c)
    if "scheme" in c:
        if c["scheme"] not in ("v1", "v2", "V1", "V2"):
            return None
        c["scheme"] = c["scheme"].lower()
    if "params" in c:
        p = c["params"]
        pairs = []
        for k, v in p.items() if isinstance(p, dict) else p:
            if not isinstance(v, str):
                try:
                    v = S.text_from_value(v)
                except S.XNonceError:
                    v = NOT_UNICODE
            pairs.append((k, v))
        c["params"] = pairs
    if "timestamp" in c:
        ts = c["timestamp"]
        if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < U64:
            c["timestamp"] = U64 - 1
    if "body" in c and c["body"] is not None:
        if isinstance(c["body"], str) and SURROGATE.search(c["body"]):
            return None
        c["body"] = c["body"].encode("utf-8") if isinstance(c["body"], str) else bytes(c["body"])
    if "status" in c:
        c["status"] = min(max(c["status"], 0), 65535)
    return c


def lossy(text: str) -> str:
    """Text as Rust reads it lossily (U+FFFD for each ill-formed sequence of its bytes)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def uniffi_spec(name: str, c: dict[str, Any]) -> Outcome:
    """The spec's outcome for a projected case, as the uniffi API must give it: PROTOCOL §8.2,
    its `ottoken_query_value` cannot throw, and escapes text that is not valid Unicode read
    with U+FFFD."""
    if name == "ottoken" and c["op"] == "query_value":
        return run(lambda: S.ottoken_query_value(lossy(c["value"])), S.XNonceError)
    return OPERATIONS[name][1](c)


def uniffi_json(seed: int, cases: int) -> dict[str, Any]:
    """Every projected case and the spec's outcome for it, for a program in another language
    (Kotlin): text as JSON strings (a lone surrogate as its `\\ud800` escape), a body as
    base64, a timestamp as a decimal string (it may exceed 2^53), a result as a flat map of
    strings (the shape DifferentialTest.kt builds from the binding's result)."""

    def flat(name: str, c: dict[str, Any], result: Any) -> dict[str, Any]:
        if name in ("sign", "link"):
            keys = ["x_nonce", "ottoken", "canonical", "timestamp", "nonce"]
            keys += ["ottoken_query_value"] if name == "sign" else ["link"]
            out = {k: result[k] for k in keys}
            out["timestamp"] = str(out["timestamp"])
            return out
        if name == "parse_header":
            scheme, client, ts, nonce, mac = result
            return {
                "scheme": scheme,
                "client": client,
                "timestamp": str(ts),
                "nonce": nonce,
                "mac": mac,
            }
        if name == "server_time":
            return {"value": None if result is None else str(result)}
        return {"value": result}

    out: list[dict[str, Any]] = []
    skipped = 0
    for name in OPERATIONS:
        gen = OPERATIONS[name][0]
        for i in range(count_for(name, cases)):
            c = uniffi_case(name, gen(Random(f"{seed}:{name}:{i}")))
            if c is None:
                skipped += 1
                continue
            kind, result = uniffi_spec(name, c)
            expect = {kind: flat(name, c, result) if kind == "ok" else result}
            case = dict(c)
            if "timestamp" in case:
                case["timestamp"] = str(case["timestamp"])
            if case.get("body") is not None:
                case["body"] = base64.b64encode(case["body"]).decode()
            out.append({"operation": name, "index": i, "case": case, "expect": expect})
    return {
        "seed": seed,
        "skipped": skipped,
        "min_accepted": {name: MIN_ACCEPTED[name] for name in OPERATIONS},
        "cases": out,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "uniffi-json":
        print("usage: python3 differential.py uniffi-json OUT.json", file=sys.stderr)
        return 2
    seed, cases = settings_from_env(1200)
    data = uniffi_json(seed, cases)
    with open(argv[1], "w", encoding="ascii") as f:
        json.dump(data, f, ensure_ascii=True)
    print(f"differential: {len(data['cases'])} uniffi cases (seed {seed}) written to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
