#!/usr/bin/env bash
# Builds libxnonce_uniffi and the workspace's pinned uniffi-bindgen (one cargo build), then
# generates bindings for one language from that very library.
#
#   bash bindings-uniffi/generate.sh swift|kotlin|python OUT_DIR
#
# Prints the path of the library it generated from (last line of stdout).
set -euo pipefail
lang=${1:?usage: generate.sh swift|kotlin|python OUT_DIR}
out=${2:?usage: generate.sh swift|kotlin|python OUT_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

# Library and generator come from the same build, with the same features, so the
# generator's uniffi version is exactly the library's.
(cd "$root" && cargo build -q -p xnonce-uniffi --features cli) >&2
case "$(uname -s)" in
  Darwin) lib=$target/debug/libxnonce_uniffi.dylib ;;
  *) lib=$target/debug/libxnonce_uniffi.so ;;
esac
mkdir -p "$out"
# --no-format: the output must not depend on whether swift-format/ktlint happen to be installed.
(cd "$root" && "$target/debug/uniffi-bindgen" generate --no-format --library "$lib" \
  --language "$lang" --out-dir "$out") >&2
echo "$lib"
