"""Writes a C program that includes the generated XNonceFFI.h and takes the address of every
Rust function it declares, so that compiling and linking it against libxnonce_uniffi proves
the header and the library agree (every declared symbol exists, every prototype parses).

usage: python3 header_check.py XNonceFFI.h OUT.c   (prints the number of functions)
"""

import re
import sys

header, out = sys.argv[1:3]
with open(header, encoding="utf-8") as f:
    text = f.read()
names = sorted(set(re.findall(r"\b((?:uniffi|ffi)_xnonce_uniffi_\w+)\s*\(", text)))
if not names:
    sys.exit("no function declarations found in the header")
with open(out, "w", encoding="utf-8") as f:
    f.write('#include <stdio.h>\n#include "XNonceFFI.h"\n\n')
    f.write("typedef void (*any_fn)(void);\n")
    f.write("static const any_fn every_fn[] = {\n")
    for n in names:
        f.write(f"    (any_fn)&{n},\n")
    f.write("};\n\n")
    f.write("int main(void) {\n")
    f.write("    uint32_t v = ffi_xnonce_uniffi_uniffi_contract_version();\n")
    f.write('    printf("c-header: %zu functions link, uniffi contract version %u\\n",\n')
    f.write("           sizeof every_fn / sizeof every_fn[0], (unsigned)v);\n")
    f.write("    return v == 0;\n}\n")
print(len(names))
