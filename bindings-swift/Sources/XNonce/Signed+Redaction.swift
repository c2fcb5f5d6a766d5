// Hand-written, over the generated `Signed` (XNonce.swift is generated: never edit it by hand).
//
// `Signed.canonical` is the exact string that was hashed; for v1 it CONTAINS THE SECRET.
// `print`, string interpolation, `String(describing:)` and `String(reflecting:)` already use
// the Rust `Display` / `Debug` implementations exported by bindings-uniffi/src/sign.rs, which
// write `<redacted>` in its place. `dump()` and other Mirror-based printers list the stored
// properties instead, so they get a mirror that leaves the canonical string out too.
// (`SignedLink` needs none: its `signed` child is reflected through this mirror.)

extension Signed: CustomReflectable {
    /// `Signed`'s fields for `dump()` and other Mirror-based printers, `canonical` redacted
    /// (read it explicitly, as `signed.canonical`).
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "xNonce": xNonce,
                "ottoken": ottoken,
                "canonical": "<redacted>",
                "timestamp": timestamp,
                "nonce": nonce as Any,
            ],
            displayStyle: .struct
        )
    }
}
