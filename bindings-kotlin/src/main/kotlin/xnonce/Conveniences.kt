// Hand-written conveniences over the generated bindings (xnonce_uniffi.kt is generated:
// never edit it by hand). Errors are mapped from Rust in one place, bindings-uniffi/src/error.rs;
// these only read the fields every variant carries.
package xnonce

/** The shared snake_case error code (`"invalid_client_id"`, `"expired"`, ...), the same in every language. */
val XNonceException.code: String
    get() =
        when (this) {
            is XNonceException.Input -> code
            is XNonceException.Format -> code
            is XNonceException.Auth -> code
            is XNonceException.Route -> code
            is XNonceException.Unavailable -> code
        }

/**
 * The HTTP status a server answers this refusal with (`expired` 401, `replayed` 409,
 * `missing_param` 422, ...: what `xnonce-server` answers, PROTOCOL §13).
 */
val XNonceException.httpStatus: Int
    get() = checkNotNull(httpStatusOf(code)) { "not an xnonce error code: $code" }.toInt()

/** The human-readable reason (never contains a secret). */
val XNonceException.reason: String
    get() =
        when (this) {
            is XNonceException.Input -> reason
            is XNonceException.Format -> reason
            is XNonceException.Auth -> reason
            is XNonceException.Route -> reason
            is XNonceException.Unavailable -> reason
        }

/** Ordered params from pairs: `params("username" to "phil", "opt1" to "this")`. */
fun params(vararg pairs: Pair<String, String>): List<Param> = pairs.map { (k, v) -> Param(k, v) }
