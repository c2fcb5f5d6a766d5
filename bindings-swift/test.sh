#!/usr/bin/env bash
# Proves what can be proven about the Swift package on this machine:
#  1. the committed generated Swift/C sources are current (regenerate + git diff --exit-code);
#  2. the generated C header compiles (gcc) and links against libxnonce_uniffi;
#  3. uniffi's Python bindings, generated from the SAME compiled library, run every vector
#     (plus XNONCE_EXTRA_VECTORS) and the error checks, calling every FFI function the Swift
#     code calls, and the randomized differential test against the independent
#     conformance/independent/xnonce_spec.py (ffi-check/differential_uniffi.py);
#  4. every Swift block of README.md stands in Tests/XNonceTests/ReadmeExamples.swift, every
#     call of the generated API in the hand-written Swift and the README fits its declaration's
#     argument labels (ffi-check/swift_api_check.py), and the hand-written Swift parses
#     (tree-sitter);
#  5. `swift test` (XCTest, every vector) where a Swift toolchain exists; otherwise one loud
#     SKIPPED line, never counted as passed.
set -euo pipefail
export CI=${CI:-true}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/../conformance/hook/absolute-paths.sh
source "$root/conformance/hook/absolute-paths.sh"
target=${CARGO_TARGET_DIR:-$root/target}
work=$target/xnonce-swift-check
mkdir -p "$work"

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== shellcheck, cargo fmt / clippy / test (xnonce-uniffi)"
shellcheck -x "$here"/*.sh "$root"/bindings-uniffi/*.sh "$root"/conformance/hook/check.sh
if [ -n "${XNONCE_WORKSPACE_TESTED:-}" ]; then
  # scripts/test.sh's rust part formatted and linted the whole workspace, this crate with its
  # `cli` feature included.
  echo "cargo fmt and clippy ran in the rust part (whole workspace, --features xnonce-uniffi/cli)"
else
  (cd "$root" && cargo fmt -p xnonce-uniffi -- --check)
  (cd "$root" && cargo clippy -q -p xnonce-uniffi --features cli --all-targets -- -D warnings)
fi
(cd "$root" && cargo test -q -p xnonce-uniffi --features cli)

echo "== generated Swift is current"
bash "$here/regenerate.sh"
generated=(Sources/XNonce/XNonce.swift FFI/XNonceFFI.h FFI/XNonceFFI.modulemap)
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$here" && git diff --exit-code -- "${generated[@]}") || {
    echo "FAIL: the committed Swift bindings differ from what uniffi-bindgen generates now;" \
      "run bash bindings-swift/regenerate.sh and commit" >&2
    exit 1
  }
  untracked=$(cd "$here" && git ls-files --others --exclude-standard -- "${generated[@]}")
  if [ -n "$untracked" ]; then
    echo "FAIL: generated files not committed: $untracked" >&2
    exit 1
  fi
  echo "generated Swift bindings are current (${#generated[@]} files)"
else
  echo "not a git checkout: regenerated the bindings but could not compare them" >&2
  exit 1
fi

case "$(uname -s)" in
  Darwin) lib=$target/debug/libxnonce_uniffi.dylib; libpath_var=DYLD_LIBRARY_PATH ;;
  *) lib=$target/debug/libxnonce_uniffi.so; libpath_var=LD_LIBRARY_PATH ;;
esac

echo "== C header compiles and links against the library"
python3 "$here/ffi-check/header_check.py" "$here/FFI/XNonceFFI.h" "$work/header_check.c" >/dev/null
gcc -std=c11 -Wall -Wextra -Werror -D_Nonnull= -D_Nullable= -I"$here/FFI" \
  "$work/header_check.c" -L"$(dirname "$lib")" -lxnonce_uniffi -o "$work/header_check"
env "$libpath_var=$(dirname "$lib")" "$work/header_check"

echo "== uniffi Python bindings over the same library"
py=$work/python
rm -rf "$py"
bash "$root/bindings-uniffi/generate.sh" python "$py" >/dev/null
ln -sf "$lib" "$py/$(basename "$lib")"
uniffi_python=(python3 "$here/ffi-check/check_uniffi_python.py" "$py" "$root/conformance/vectors"
  "$here/Sources/XNonce/XNonce.swift")
"${uniffi_python[@]}"
echo "== differential test through the same uniffi Python bindings (against xnonce_spec.py)"
# XNONCE_DIFF_SEED / XNONCE_DIFF_CASES: another seed, more cases (default 3000, ~2 s).
timeout 600 python3 "$here/ffi-check/differential_uniffi.py" "$py"
echo "== extra-vectors hook (DESIGN §3): extra cases counted, a wrong case fails"
# shellcheck source=SCRIPTDIR/../conformance/hook/check.sh
source "$root/conformance/hook/check.sh"
hook_check uniffi-python timeout 300 "${uniffi_python[@]}"

echo "== README's Swift stands in the compiled examples"
python3 "$root/scripts/readme-examples-check.py" swift "$here/README.md" \
  "$here/Tests/XNonceTests/ReadmeExamples.swift"

echo "== hand-written Swift calls fit the generated API (argument labels; not a compile)"
python3 "$here/ffi-check/swift_api_check.py" "$here/Sources/XNonce/XNonce.swift" \
  "$here/Sources/XNonce/XNonceError+Code.swift" "$here/Sources/XNonce/Signed+Redaction.swift" \
  "$here/Sources/XNonce/RequestOptions+Redaction.swift" \
  "$here"/Tests/XNonceTests/*.swift "$here/README.md"

echo "== hand-written Swift parses"
venv=$work/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check "tree-sitter==0.26.1" "tree-sitter-swift==0.7.4"
"$venv/bin/python" "$here/ffi-check/swift_syntax.py" "$here/Package.swift" \
  "$here/Sources/XNonce/XNonceError+Code.swift" "$here/Sources/XNonce/Signed+Redaction.swift" \
  "$here/Sources/XNonce/RequestOptions+Redaction.swift" \
  "$here"/Tests/XNonceTests/*.swift

echo "== XCTest"
if command -v swift >/dev/null 2>&1; then
  (cd "$here" && XNONCE_FFI_LIB_DIR=$(dirname "$lib") env "$libpath_var=$(dirname "$lib")" \
    swift test 2>&1 | tee "$work/swift-test.log")
  grep -q "^swift: [1-9][0-9]* vectors passed" "$work/swift-test.log" || {
    echo "FAIL: swift test did not report its vectors" >&2
    exit 1
  }
else
  echo "SKIPPED: no swift toolchain (swift tests not run, not counted as passed)"
fi
