// swift-tools-version:5.9
// The XNonce Swift package: uniffi-generated Swift (Sources/XNonce/XNonce.swift) over the
// Rust library libxnonce_uniffi (bindings-uniffi/).
//
// Where the compiled Rust library comes from:
// * default (Apple platforms): XNonceFFI.xcframework beside this file, built on macOS by
//   `bash bindings-swift/build-xcframework.sh`;
// * XNONCE_FFI_LIB_DIR=/dir/with/libxnonce_uniffi.{so,dylib}: links that shared library
//   (Linux, and the repository's own `swift test`; see test.sh).
import Foundation
import PackageDescription

let libDir = ProcessInfo.processInfo.environment["XNONCE_FFI_LIB_DIR"]

let ffiTarget: Target
var linkerSettings: [LinkerSetting] = []
if let libDir {
    ffiTarget = .systemLibrary(name: "XNonceFFI", path: "FFI")
    linkerSettings = [.unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir])]
} else {
    ffiTarget = .binaryTarget(name: "XNonceFFI", path: "XNonceFFI.xcframework")
}

let package = Package(
    name: "XNonce",
    platforms: [.iOS(.v13), .macOS(.v10_15)],
    products: [
        .library(name: "XNonce", targets: ["XNonce"]),
    ],
    targets: [
        ffiTarget,
        .target(
            name: "XNonce",
            dependencies: ["XNonceFFI"],
            path: "Sources/XNonce",
            linkerSettings: linkerSettings
        ),
        .testTarget(
            name: "XNonceTests",
            dependencies: ["XNonce"],
            path: "Tests/XNonceTests"
        ),
    ]
)
