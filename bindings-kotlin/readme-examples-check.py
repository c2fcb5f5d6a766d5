#!/usr/bin/env python3
"""Checks that every Kotlin code block of README.md (Gradle build scripts aside) stands in
src/test/kotlin/xnonce/ReadmeExamples.kt, which test.sh compiles: comments, whitespace,
imports and trailing commas aside, and a README `fun main() { ... }` by its body. So the
README's code is compiled code, and the two cannot drift apart."""

import re
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
readme = (here / "README.md").read_text(encoding="utf-8")
examples = (here / "src/test/kotlin/xnonce/ReadmeExamples.kt").read_text(
    encoding="utf-8"
)


def normal(code: str) -> str:
    code = "\n".join(
        line for line in code.split("\n") if not line.startswith("import ")
    )
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.DOTALL)
    code = re.sub(r"//[^\n]*", "", code)
    return re.sub(r"\s+", "", code).replace(",)", ")")


compiled = normal(examples)
checked, missing = 0, []
for block in re.findall(r"```kotlin\n(.*?)```", readme, re.DOTALL):
    if re.search(r"^\s*(plugins|dependencies)\s*\{", block, re.MULTILINE):
        continue  # Gradle build scripts
    code = normal(block)
    if code.startswith("funmain(){") and code.endswith("}"):
        code = code[len("funmain(){") : -1]
    checked += 1
    if code not in compiled:
        missing.append(block.strip().split("\n")[0])
if missing or checked == 0:
    for first in missing:
        print(
            f"FAIL: README Kotlin block not in ReadmeExamples.kt: {first} ...",
            file=sys.stderr,
        )
    sys.exit(1)
print(f"readme: {checked} Kotlin blocks of README.md are compiled (ReadmeExamples.kt)")
