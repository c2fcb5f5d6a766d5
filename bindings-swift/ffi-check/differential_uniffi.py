"""The randomized differential test (conformance/independent/differential.py) through uniffi's
Python bindings of libxnonce_uniffi, the very library the Swift and Kotlin packages link:
sign, link, sign_request, parse_header, the ottoken functions and server_time_from_answer
against the independent implementation xnonce_spec.py, on the same seeded cases as the
Python binding's test, projected onto what the uniffi API can take
(differential.uniffi_case). Both sides must give byte-identical results or the same error
code.

usage: python3 differential_uniffi.py GENERATED_PY_DIR

XNONCE_DIFF_SEED / XNONCE_DIFF_CASES override the seed and the case count (default 3000).
Prints one line per operation and `uniffi-python differential: N cases agree (A accepted,
R refused)`; exits 1 on a divergence (seed, operation, index, the input shrunk) or when too
few cases are accepted.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_differential():
    path = ROOT / "conformance" / "independent" / "differential.py"
    spec = importlib.util.spec_from_file_location("xnonce_differential", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def binding_sides(x, run):
    """The uniffi binding's side of each operation, its results shaped as the spec's."""
    schemes = {"v1": x.Scheme.V1, "v2": x.Scheme.V2}
    names = {x.Scheme.V1: "v1", x.Scheme.V2: "v2"}

    def inputs(c):
        args = (
            schemes[c["scheme"]],
            c["method"],
            c["path"],
            [x.Param(key=k, value=v) for k, v in c["params"]],
            c["client"],
            c["secret"],
        )
        kw = {"timestamp": c["timestamp"], "nonce": c["nonce"], "host": c["host"]}
        return args, {**kw, "body": c["body"]}

    def sign(c):
        def binding():
            args, kw = inputs(c)
            d = x.sign_detailed(*args, **kw)
            assert x.sign(*args, **kw) == d.x_nonce, "sign() and sign_detailed() disagree"
            return {
                "x_nonce": d.x_nonce,
                "ottoken": d.ottoken,
                "ottoken_query_value": x.ottoken_query_value(d.ottoken),
                "canonical": d.canonical,
                "timestamp": d.timestamp,
                "nonce": d.nonce,
            }

        return run(binding)

    def link(c):
        def binding():
            args, kw = inputs(c)
            d = x.link_detailed(*args, c["base_url"], **kw)
            assert x.link(*args, c["base_url"], **kw) == d.url, "link() and link_detailed()"
            s = d.signed
            return {
                "link": d.url,
                "x_nonce": s.x_nonce,
                "ottoken": s.ottoken,
                "canonical": s.canonical,
                "timestamp": s.timestamp,
                "nonce": s.nonce,
            }

        return run(binding)

    def sign_request(c):
        def binding():
            return x.sign_request(
                schemes[c["scheme"]],
                c["method"],
                c["target"],
                c["client"],
                c["secret"],
                host=c["host"],
                content_type=c["content_type"],
                body=c["body"],
                timestamp=c["timestamp"],
                nonce=c["nonce"],
            )

        return run(binding)

    def parse_header(c):
        def binding():
            p = x.parse_header(c["value"])
            return (names[p.scheme], p.client, p.timestamp, p.nonce, p.mac)

        return run(binding)

    def ottoken(c):
        fn = {
            "encode": x.ottoken_encode,
            "decode": x.ottoken_decode,
            "query_value": x.ottoken_query_value,
        }[c["op"]]
        return run(lambda: fn(c["value"]))

    def server_time(c):
        return run(
            lambda: x.server_time_from_answer(c["status"], c["hint"], c["sent"], c["secret"])
        )

    return {
        "sign": sign,
        "link": link,
        "sign_request": sign_request,
        "parse_header": parse_header,
        "ottoken": ottoken,
        "server_time": server_time,
    }


def main():
    gen_dir = sys.argv[1]
    sys.path.insert(0, gen_dir)
    import xnonce_uniffi as x

    d = load_differential()
    seed, cases = d.settings_from_env(3000)
    sides = binding_sides(x, lambda fn: d.run(fn, x.XNonceError))
    missing = set(d.OPERATIONS) ^ set(sides)
    if missing:
        print(f"FAIL uniffi-python differential: operations without a side: {missing}")
        sys.exit(1)
    total = accepted = refused = skipped = 0
    failures = []
    for name in d.OPERATIONS:
        try:
            s = d.run_operation(
                name,
                sides[name],
                seed,
                cases,
                spec=lambda c, name=name: d.uniffi_spec(name, c),
                project=d.uniffi_case,
            )
        except d.Divergence as e:
            failures.append(f"uniffi-python {e}")
            continue
        print(s.line("uniffi-python differential"))
        if not s.enough_accepted():
            failures.append(
                f"uniffi-python differential {name}: only {s.accepted} of {s.cases} cases"
                " accepted by both: the generator hardly exercises real signing"
            )
        total, accepted = total + s.cases, accepted + s.accepted
        refused, skipped = refused + s.refused, skipped + s.skipped
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    if failures or total == 0:
        sys.exit(1)
    print(
        f"uniffi-python differential: {total} cases agree ({accepted} accepted,"
        f" {refused} refused; {skipped} not expressible through uniffi, skipped)"
    )


if __name__ == "__main__":
    main()
