// Hand-written, over the generated `RequestOptions` (XNonce.swift is generated: never edit it
// by hand).
//
// `RequestOptions.headers` may hold a credential (`Authorization: Bearer …`, a cookie).
// `print`, string interpolation, `String(describing:)` and `String(reflecting:)` already use
// the Rust `Display` / `Debug` implementations exported by bindings-uniffi/src/requester.rs,
// which list the header names only. `dump()` and other Mirror-based printers list the stored
// properties instead, header values included, so they get a mirror that lists the names too.

extension RequestOptions: CustomReflectable {
    /// `RequestOptions`' fields for `dump()` and other Mirror-based printers, the headers by
    /// name only (read their values explicitly, as `options.headers`).
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "timestamp": timestamp as Any,
                "nonce": nonce as Any,
                "extraParams": extraParams,
                "json": json as Any,
                "headerNames": headers.map { $0.name },
            ],
            displayStyle: .struct
        )
    }
}
