#!/usr/bin/env bash
# Regenerates the committed Kotlin bindings from the current Rust library with the workspace's
# pinned uniffi-bindgen (the same library and generator as the Swift package). Run it after
# changing bindings-uniffi/, then commit the result.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$here/../bindings-uniffi/generate.sh" kotlin "$tmp" >/dev/null
mkdir -p "$here/src/main/kotlin/xnonce"
cp "$tmp/xnonce/xnonce_uniffi.kt" "$here/src/main/kotlin/xnonce/xnonce_uniffi.kt"
