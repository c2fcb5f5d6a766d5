"""Every shared vector (and every file in XNONCE_EXTRA_VECTORS) through the binding."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import xnonce
from conftest import load_cases, load_file

CASES = load_cases()


def test_there_are_vectors() -> None:
    assert CASES, "no vector case was found"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"id": "x"}', "not a JSON array of cases"),
        ("5", "not a JSON array of cases"),
        ('[{"id": ', "Expecting value"),
    ],
)
def test_a_vector_file_that_is_no_array_of_cases_is_refused_by_name(
    tmp_path: Any, text: str, why: str
) -> None:
    f = tmp_path / "vectors.json"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=why) as e:
        load_file(f)
    assert str(f) in str(e.value)


def run(case: dict[str, Any]) -> tuple[xnonce.Signed, str | None]:
    scheme = case.get("scheme", "v1")
    body = base64.b64decode(case["body"], validate=True) if "body" in case else None
    nonce = case.get("nonce")
    if nonce is None and scheme == "v2":
        nonce = "0" * 32  # what the Rust checker's fixed environment supplies
    args = (scheme, case["method"], case["path"], case["params"], case["client"], case["secret"])
    kwargs: dict[str, Any] = {
        "timestamp": case["timestamp"],
        "nonce": nonce,
        "host": case.get("host"),
        "body": body,
    }
    if "base_url" in case:
        link = xnonce.link_detailed(*args, case["base_url"], **kwargs)
        assert xnonce.link(*args, case["base_url"], **kwargs) == link.url
        return link.signed, link.url
    signed = xnonce.sign_detailed(*args, **kwargs)
    assert xnonce.sign(*args, **kwargs) == signed.x_nonce
    return signed, None


# Every field of the vector format (conformance/README.md): any other fails the case, as a
# misspelt expected field (`ottokn`) would otherwise go unchecked.
FIELDS = frozenset(
    "id scheme method path params client secret timestamp host body nonce base_url"
    " canonical x_nonce ottoken ottoken_query_value link error".split()
)


OUTPUTS = ("canonical", "x_nonce", "ottoken", "ottoken_query_value", "link")
REQUIRED_TEXT = ("id", "method", "path", "client", "secret")
OPTIONAL_TEXT = ("scheme", "host", "body", "nonce", "base_url", "error", *OUTPUTS)


def shape_problem(case: Any) -> str | None:
    """Why a case is not well formed, as the Rust checker (conformance/src/vector.rs) refuses
    it: another JSON type than the format's (a number param value, a float timestamp), a
    ``null`` or missing field, or an ``error`` case that also carries expected outputs."""
    if not isinstance(case, dict):
        return "a case must be a JSON object"
    unknown = sorted(set(case) - FIELDS)
    if unknown:
        return f"unknown field(s) {unknown}"
    nulls = sorted(k for k, v in case.items() if v is None)
    if nulls:
        return f"field(s) {nulls} are null (no field may be null: leave it out)"
    missing = [k for k in (*REQUIRED_TEXT, "params", "timestamp") if k not in case]
    if missing:
        return f"missing field(s) {missing}"
    for k in REQUIRED_TEXT + OPTIONAL_TEXT:
        if k in case and not isinstance(case[k], str):
            return f"field `{k}` must be a string, got {case[k]!r}"
    ts = case["timestamp"]
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < 1 << 64:
        return f"field `timestamp` must be a non-negative integer (ms), got {ts!r}"
    params = case["params"]
    if not isinstance(params, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in params
    ):
        return f"field `params` must be a list of [key, value] string pairs, got {params!r}"
    outputs = [k for k in OUTPUTS if k in case]
    if "error" in case and outputs:
        return f"error case also carries outputs {outputs} (they would go unchecked)"
    return None


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_vector(case: dict[str, Any]) -> None:
    problem = shape_problem(case)
    assert problem is None, problem
    # Only a case with a base URL is linked: another case's `link` would go unchecked.
    assert "link" not in case or "base_url" in case, "case has link but no base_url"
    # A case that describes no input fails whatever `error` it names; a checker never draws
    # a nonce (conformance/README.md, the checking rule).
    scheme = case.get("scheme", "v1")
    assert scheme in ("v1", "v2"), f"case does not describe an input: unknown scheme {scheme!r}"
    assert scheme == "v1" or "nonce" in case or "error" in case, "v2 case has no nonce"
    if "error" in case:
        with pytest.raises(xnonce.XNonceError) as e:
            run(case)
        assert e.value.code == case["error"]
        return
    signed, url = run(case)
    assert "x_nonce" in case, "case has neither x_nonce nor error"
    if "canonical" in case:
        assert signed.canonical == case["canonical"]
    assert signed.x_nonce == case["x_nonce"]
    if "ottoken" in case:
        assert signed.ottoken == case["ottoken"]
    if "ottoken_query_value" in case:
        assert xnonce.ottoken_query_value(signed.ottoken) == case["ottoken_query_value"]
    if "link" in case:
        assert url == case["link"]
    # The header and its ottoken round-trip through the parsers.
    assert str(xnonce.parse_header(signed.x_nonce)) == signed.x_nonce
    assert xnonce.ottoken_decode(signed.ottoken) == signed.x_nonce
    assert xnonce.ottoken_encode(signed.x_nonce) == signed.ottoken
