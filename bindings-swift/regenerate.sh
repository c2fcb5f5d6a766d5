#!/usr/bin/env bash
# Regenerates the committed Swift bindings from the current Rust library with the workspace's
# pinned uniffi-bindgen. Run it after changing bindings-uniffi/, then commit the result.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$here/../bindings-uniffi/generate.sh" swift "$tmp" >/dev/null
cp "$tmp/XNonce.swift" "$here/Sources/XNonce/XNonce.swift"
cp "$tmp/XNonceFFI.h" "$here/FFI/XNonceFFI.h"
cp "$tmp/XNonceFFI.modulemap" "$here/FFI/XNonceFFI.modulemap"
