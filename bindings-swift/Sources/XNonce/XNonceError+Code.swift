// Hand-written conveniences over the generated `XNonceError` (XNonce.swift is generated:
// never edit it by hand). The mapping from Rust errors lives in one place, in
// bindings-uniffi/src/error.rs; this only reads the fields every case carries.

extension XNonceError {
    /// The shared snake_case error code (`"invalid_client_id"`, `"expired"`, ...): the same
    /// string in every xnonce language.
    public var code: String {
        switch self {
        case let .Input(code, _), let .Format(code, _), let .Route(code, _),
             let .Unavailable(code, _), let .Auth(code, _, _):
            return code
        }
    }

    /// The HTTP status a server answers this refusal with (`expired` 401, `replayed` 409,
    /// `missing_param` 422, ...: what `xnonce-server` answers, PROTOCOL §13). An error made by
    /// hand whose code is none of the shared codes is 400, `malformed_header`'s status, as
    /// `refusalAnswer` answers it (never a trap: reading a property must not end the process).
    public var httpStatus: Int {
        Int(httpStatusOf(code: code) ?? 400)
    }

    /// The human-readable reason (never contains a secret).
    public var reason: String {
        switch self {
        case let .Input(_, reason), let .Format(_, reason), let .Route(_, reason),
             let .Unavailable(_, reason), let .Auth(_, reason, _):
            return reason
        }
    }
}

extension Param {
    /// `Param("key", "value")`.
    public init(_ key: String, _ value: String) {
        self.init(key: key, value: value)
    }
}
