#!/usr/bin/env bash
# Builds XNonceFFI.xcframework beside Package.swift: static libraries of libxnonce_uniffi for
# iOS devices, the iOS simulator (arm64 + x86_64) and macOS (arm64 + x86_64), each with the
# generated C header and module map. Package.swift's binary target `XNonceFFI` points at it.
#
# Needs macOS with Xcode (xcodebuild, lipo) and rustup.
#
#   bash bindings-swift/build-xcframework.sh          # release build
#   bash bindings-swift/build-xcframework.sh --zip    # also XNonceFFI.xcframework.zip + its
#                                                     # SwiftPM checksum, for a remote binaryTarget
#
# It first regenerates the Swift bindings from the macOS library and stops if they differ
# from the committed ones: the Swift sources and the static libraries must come from the
# same Rust code.
set -euo pipefail
if [ "$(uname -s)" != Darwin ]; then
  echo "build-xcframework.sh needs macOS (xcodebuild, lipo)" >&2
  exit 1
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
zip=false
[ "${1:-}" = "--zip" ] && zip=true

# Keep in step with `platforms` in Package.swift.
export IPHONEOS_DEPLOYMENT_TARGET=13.0
export MACOSX_DEPLOYMENT_TARGET=10.15

echo "== generated Swift is current"
bash "$here/regenerate.sh"
(cd "$here" && git diff --exit-code -- Sources/XNonce/XNonce.swift FFI/) || {
  echo "the Swift bindings changed: review and commit them, then run this again" >&2
  exit 1
}

targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
rustup target add "${targets[@]}"
for t in "${targets[@]}"; do
  echo "== cargo build ($t)"
  # The crate's own crate types are lib + cdylib; the static library is asked for here only.
  (cd "$root" && cargo rustc -q -p xnonce-uniffi --lib --release --target "$t" --crate-type staticlib)
done

stage=$target/xnonce-xcframework
rm -rf "$stage"
mkdir -p "$stage/headers" "$stage/ios-simulator" "$stage/macos"
cp "$here/FFI/XNonceFFI.h" "$stage/headers/"
cp "$here/FFI/XNonceFFI.modulemap" "$stage/headers/module.modulemap"
a() { echo "$target/$1/release/libxnonce_uniffi.a"; }
lipo -create "$(a aarch64-apple-ios-sim)" "$(a x86_64-apple-ios)" -output "$stage/ios-simulator/libxnonce_uniffi.a"
lipo -create "$(a aarch64-apple-darwin)" "$(a x86_64-apple-darwin)" -output "$stage/macos/libxnonce_uniffi.a"

out=$here/XNonceFFI.xcframework
rm -rf "$out"
xcodebuild -create-xcframework \
  -library "$(a aarch64-apple-ios)" -headers "$stage/headers" \
  -library "$stage/ios-simulator/libxnonce_uniffi.a" -headers "$stage/headers" \
  -library "$stage/macos/libxnonce_uniffi.a" -headers "$stage/headers" \
  -output "$out"
echo "built $out"

if $zip; then
  (cd "$here" && rm -f XNonceFFI.xcframework.zip &&
    ditto -c -k --sequesterRsrc --keepParent XNonceFFI.xcframework XNonceFFI.xcframework.zip)
  echo "built $here/XNonceFFI.xcframework.zip"
  echo "checksum: $(cd "$here" && swift package compute-checksum XNonceFFI.xcframework.zip)"
fi
