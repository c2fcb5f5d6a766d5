#!/usr/bin/env python3
"""Checks that every code block of a README in one language stands in a file of compiled
examples, so the README's code is compiled code and the two cannot drift apart.

    readme-examples-check.py kotlin bindings-kotlin/README.md .../ReadmeExamples.kt
    readme-examples-check.py swift  bindings-swift/README.md  .../ReadmeExamples.swift

Blocks are compared with comments, whitespace, imports (Swift: also `#if canImport` guards
around them) and trailing commas removed; a Kotlin `fun main() { ... }` block by its body.
Build-script blocks (Gradle's `plugins`/`dependencies`, SwiftPM's `dependencies:`) are not
code of the package and are skipped. Exits 1 if a block is missing or none was checked."""

import re
import sys
from pathlib import Path

BUILD_SCRIPT = {
    "kotlin": r"^\s*(plugins|dependencies)\s*\{",
    "swift": r"^\s*(dependencies|targets)\s*:",
}


def normal(code: str) -> str:
    code = "\n".join(
        line
        for line in code.split("\n")
        if not re.match(r"\s*(import\s|#if\s+canImport|#endif)", line)
    )
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.DOTALL)
    code = re.sub(r"//[^\n]*", "", code)
    return re.sub(r"\s+", "", code).replace(",)", ")")


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in BUILD_SCRIPT:
        print(__doc__, file=sys.stderr)
        return 2
    lang, readme_path, examples_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    readme = readme_path.read_text(encoding="utf-8")
    compiled = normal(examples_path.read_text(encoding="utf-8"))
    checked, missing = 0, []
    for block in re.findall(rf"```{lang}\n(.*?)```", readme, re.DOTALL):
        if re.search(BUILD_SCRIPT[lang], block, re.MULTILINE):
            continue
        code = normal(block)
        if lang == "kotlin" and code.startswith("funmain(){") and code.endswith("}"):
            code = code[len("funmain(){") : -1]
        checked += 1
        if code not in compiled:
            missing.append(block.strip().split("\n")[0])
    for first in missing:
        print(
            f"FAIL: {readme_path.name} {lang} block not in {examples_path.name}: {first} ...",
            file=sys.stderr,
        )
    if missing or checked == 0:
        if checked == 0:
            print(f"FAIL: no {lang} block found in {readme_path}", file=sys.stderr)
        return 1
    print(
        f"readme: {checked} {lang} blocks of {readme_path.name} are compiled ({examples_path.name})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
