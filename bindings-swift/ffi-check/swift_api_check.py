"""Checks the hand-written Swift's calls into the generated API by their argument labels: a
check for machines without a Swift toolchain (it is NOT a compile; where `swift` exists,
test.sh runs `swift test`).

usage: python3 swift_api_check.py GENERATED.swift HANDWRITTEN.swift... [README.md...]

From GENERATED.swift (uniffi's XNonce.swift) it reads every public top-level function, every
class's `convenience init` and `open func`, every record's memberwise `init` and every case
of `XNonceError`, with its argument labels and which have defaults; hand-written Swift
sources among the arguments may add `public init(_ ...)` overloads in `extension TYPE`.
Then, in every hand-written Swift file and every ```swift block of a README, each call of
one of those names must fit one of its declarations: the labels in the declared order, none
unknown, every label without a default present; an `XNonceError` case as a pattern
(`case let .Input(code, reason)`) must have the case's number of values, one made by hand
its labels; a scheme (`scheme: .v2`, `schemes: [.v1]`) must be a case of `Scheme`. In a
README's text, a selector in inline code (`Verifier(secrets:windowMs:...)`) must list all of
a declaration's labels, and a field list (`Header(scheme, client, ...)`) all of a record's
fields. Every misfit is printed with its file and line, and the script exits 1 (also when
nothing was checked at all, so a broken parse cannot pass).

The hand-written Swift sources (paths with a `Sources` folder) are read for declarations as
well as checked: `Param("k", "v")` is their `init(_:_:)`.

What it cannot see (a compiler would): types, optionality, `try`, members read off results.
"""

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(code):
    """Comments removed and string literals emptied (`""`), newlines kept for line numbers."""
    out, i, n = [], 0, len(code)
    while i < n:
        c = code[i]
        if code.startswith("//", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
        elif code.startswith("/*", i):
            depth, j = 0, i
            while j < n:
                if code.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif code.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                    if depth == 0:
                        break
                else:
                    j += 1
            out.append("\n" * code.count("\n", i, j))
            i = j
        elif c == '"' or (c == "#" and re.match(r'#+"', code[i:])):
            i = skip_string(code, i, out)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def skip_string(code, i, out):
    """Skips the string literal at `i` (raw `#"…"#`, multi-line `\"\"\"`, interpolations),
    appends `""` and its newlines to `out`; returns the index after it."""
    start = i
    hashes = len(re.match(r"#*", code[i:]).group())
    i += hashes
    quote = '"""' if code.startswith('"""', i) else '"'
    i += len(quote)
    close = quote + "#" * hashes
    escape = "\\" + "#" * hashes
    while i < len(code):
        if code.startswith(escape + "(", i):
            i += len(escape) + 1
            depth = 1
            while i < len(code) and depth:
                if code[i] == '"' or (code[i] == "#" and re.match(r'#+"', code[i:])):
                    i = skip_string(code, i, [])
                    continue
                depth += {"(": 1, ")": -1}.get(code[i], 0)
                i += 1
        elif code.startswith(escape, i):
            i += len(escape) + 1
        elif code.startswith(close, i):
            i += len(close)
            break
        else:
            i += 1
    out.append('""' + "\n" * code.count("\n", start, i))
    return i


def split_args(text):
    """Top-level comma-separated parts of an argument or parameter list."""
    parts, depth, cur = [], 0, []
    for c in text:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(c, 0)
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


def balanced(code, open_at):
    """The text between the parenthesis at `open_at` and its match, and the match's index."""
    depth = 0
    for j in range(open_at, len(code)):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(code[j], 0)
        if depth == 0:
            return code[open_at + 1 : j], j
    raise ValueError("unbalanced parentheses")


def params(text):
    """[(label or None for `_`, has default)] of a declaration's parameter list."""
    out = []
    for p in split_args(text):
        names = p.split(":", 1)[0].split()
        if not names:
            continue
        out.append((None if names[0] == "_" else names[0], "=" in p.split(":", 1)[1]))
    return out


def declarations(sources):
    """{callee name: [parameter lists]}, {XNonceError case: its parameter list}."""
    decls, cases = {}, {}
    for _path, code in sources:
        code = strip(code)
        owner = None
        for m in re.finditer(
            rf"\b(?:class|struct|extension)\s+({IDENT})|"
            rf"\bpublic\s+(?:convenience\s+)?init\s*\(|"
            rf"\b(?:public|open)\s+func\s+({IDENT})\s*\(|"
            rf"\benum\s+XNonceError\b",
            code,
        ):
            text = m.group()
            if m.group(1):
                # A class's nested `struct NoHandle` (uniffi's fakes) does not end the class.
                if m.group(1) != "NoHandle":
                    owner = m.group(1)
                continue
            if text.startswith("enum"):
                body, _ = balanced(code, code.index("{", m.end()))
                for c in re.finditer(rf"\bcase\s+({IDENT})\s*\(", body):
                    inner, _ = balanced(body, c.end() - 1)
                    cases[c.group(1)] = params(inner)
                continue
            inner, _ = balanced(code, m.end() - 1)
            if m.group(2) is None:  # an init
                # `NoHandle`'s `init()` (nested in each class) and the handle initializers
                # build no API value.
                handle = re.search(r"\bnoHandle\s*:|\bunsafeFromHandle\b", inner)
                if owner is None or not inner.strip() or handle:
                    continue
                decls.setdefault(owner, []).append(params(inner))
            else:
                name = m.group(2)
                internal = ("lift", "lower", "read", "write")
                if name.startswith(("uniffi", "FfiConverter")) or name in internal:
                    continue
                decls.setdefault(name, []).append(params(inner))
    return decls, cases


def scheme_cases(generated):
    """The case names of the generated `enum Scheme`."""
    code = strip(generated)
    m = re.search(r"\benum\s+Scheme\b[^{]*\{", code)
    if not m:
        return set()
    body, _ = balanced(code, m.end() - 1)
    return set(re.findall(rf"\bcase\s+({IDENT})", body))


def fits(labels, decl):
    """Whether call labels (None: unlabelled) fit a parameter list."""
    i = 0
    for label, has_default in decl:
        if i < len(labels) and labels[i] == label:
            i += 1
        elif not has_default:
            return False
    return i == len(labels)


def arg_labels(inner):
    out = []
    for a in split_args(inner):
        m = re.match(rf"\s*({IDENT})\s*:(?!:)", a)
        out.append(m.group(1) if m else None)
    return out


def check_code(where, first_line, code, decls, cases, schemes):
    """Problems found in one piece of Swift, and how many calls were checked."""
    code = strip(code)
    problems, checked = [], 0
    # A scheme named as `scheme: .v2`, `scheme = .v1`, `Scheme.v1`, `schemes: [.v1, .v2]`.
    named = [
        (m.start(1), m.group(1))
        for m in re.finditer(rf"(?:\bscheme\s*[:=]|\bScheme)\s*\.({IDENT})", code)
    ]
    for m in re.finditer(r"\bschemes\s*:\s*\[([^\]]*)\]", code):
        for n in re.finditer(rf"\.({IDENT})", m.group(1)):
            named.append((m.start(1) + n.start(1), n.group(1)))
    for at, case in named:
        checked += 1
        if case not in schemes:
            line = first_line + code.count("\n", 0, at)
            known = ", ".join(sorted(schemes))
            problems.append(f"{where}:{line}: .{case} is no case of Scheme ({known})")
    names = "|".join(sorted(decls, key=len, reverse=True))
    for m in re.finditer(rf"(?<![A-Za-z0-9_])(\.)?({names})\s*\(", code):
        before = code[: m.start()]
        # A declaration (`func sign(`, `init(`) is not a call.
        if re.search(r"\b(func|init|case)\s*$", before):
            continue
        inner, _ = balanced(code, m.end() - 1)
        labels = arg_labels(inner)
        line = first_line + code.count("\n", 0, m.start())
        checked += 1
        if not any(fits(labels, d) for d in decls[m.group(2)]):
            shown = ", ".join(f"{lab}:" if lab else "_" for lab in labels)
            want = " | ".join(
                "(" + ", ".join(f"{lab or '_'}:{'=' if dflt else ''}" for lab, dflt in d) + ")"
                for d in decls[m.group(2)]
            )
            problems.append(f"{where}:{line}: {m.group(2)}({shown}) fits no declaration {want}")
    error_case = rf"(?<![A-Za-z0-9_])(?:XNonceError)?\.({'|'.join(cases)})\b(\s*\()?"
    for m in re.finditer(error_case, code):
        line = first_line + code.count("\n", 0, m.start())
        checked += 1
        if not m.group(2):
            continue
        inner, _ = balanced(code, m.end() - 1)
        labels = arg_labels(inner)
        want = cases[m.group(1)]
        if any(labels):  # made: labels exactly as declared
            ok = labels == [lab for lab, _ in want]
        else:  # a pattern: one binding per value
            ok = len(labels) == len(want)
        if not ok:
            problems.append(
                f"{where}:{line}: .{m.group(1)} with {len(labels)} value(s) {labels},"
                f" declared ({', '.join(lab for lab, _ in want)})"
            )
    return problems, checked


def check_prose(readme, decls):
    """A README's inline code naming a declaration: a selector (`Verifier(secrets:windowMs:)`)
    must list all of one declaration's labels, a field list (`Header(scheme, client)`) all of
    a record's fields, in order. Other inline code (`link(..., baseUrl: …)`) is not read."""
    text = readme.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", lambda m: "\n" * m.group().count("\n"), text, flags=re.DOTALL)
    problems, checked = [], 0
    for m in re.finditer(rf"`[^`]*?(?<![A-Za-z0-9_])({IDENT})\(([^`()]*)\)`", text):
        name, inner = m.group(1), m.group(2)
        if name not in decls:
            continue
        line = text.count("\n", 0, m.start()) + 1
        if re.fullmatch(rf"(?:{IDENT}:)*", inner):
            labels = re.findall(IDENT, inner)
        elif re.fullmatch(rf"{IDENT}(?:, {IDENT})*", inner) and name[0].isupper():
            labels = inner.split(", ")
        else:
            continue
        checked += 1
        if labels not in [[lab for lab, _ in d] for d in decls[name]]:
            problems.append(f"{readme}:{line}: `{name}({inner})` lists no declaration's labels")
    return problems, checked


def main():
    args = [Path(a) for a in sys.argv[1:]]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    swift = [a for a in args if a.suffix == ".swift"]
    readmes = [a for a in args if a.suffix == ".md"]
    sources = [(p, p.read_text(encoding="utf-8")) for p in swift]
    decls, cases = declarations([sources[0]] + [s for s in sources[1:] if "Sources" in s[0].parts])
    schemes = scheme_cases(sources[0][1])
    if not decls or not cases or not schemes:
        print(f"FAIL: no API declarations read from {swift[0]}", file=sys.stderr)
        return 1
    units = [(str(p), 1, code) for p, code in sources[1:]]
    for readme in readmes:
        text = readme.read_text(encoding="utf-8")
        for m in re.finditer(r"```swift\n(.*?)```", text, re.DOTALL):
            line = text.count("\n", 0, m.start(1)) + 1
            units.append((str(readme), line, m.group(1)))
    problems, checked = [], 0
    for readme in readmes:
        p, c = check_prose(readme, decls)
        problems += p
        checked += c
    for where, first_line, code in units:
        p, c = check_code(where, first_line, code, decls, cases, schemes)
        problems += p
        checked += c
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    if problems or checked == 0:
        if checked == 0:
            print("FAIL: no call into the generated API found", file=sys.stderr)
        return 1
    print(
        f"swift-api: {checked} calls and error patterns in {len(units)} files/blocks fit the"
        f" generated API ({sum(len(v) for v in decls.values())} declarations)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
