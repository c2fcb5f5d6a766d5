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
 * The HTTP status a server answers this refusal with to a v2 client (`expired` 401, `replayed`
 * 409, `missing_param` 422, ...: what `xnonce-server` answers, PROTOCOL §13). A v1 client, or
 * one that sent no credential, is answered as em-secure-api answers (401 for a malformed
 * header or bad input): `refusalAnswer(...).status` is the status for any client. An
 * exception made by hand whose code is none of the shared codes is 400, `malformed_header`'s
 * status, as `refusalAnswer` answers it to a v2 client (a property read does not throw).
 */
val XNonceException.httpStatus: Int
    get() = httpStatusOf(code)?.toInt() ?: 400

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

/**
 * The UTF-8 bytes of [s], except that a lone UTF-16 surrogate (`"😀 x".take(1)`) is written as
 * its 3-byte generalized form (`0xED 0xA0..0xBF ..`), which is not UTF-8: Rust refuses it with
 * the code of the input it was passed as (`XNonceException.Input`, `invalid_secret`, ...).
 * How the generated bindings lower every text argument (see `bindings-uniffi/uniffi.toml`);
 * `String.toByteArray()` would write `?` instead and sign text the caller never passed.
 */
internal fun utf8Bytes(s: String): ByteArray {
    if (!hasLoneSurrogate(s)) return s.toByteArray(Charsets.UTF_8)
    val out = java.io.ByteArrayOutputStream(s.length * 3)
    var i = 0
    while (i < s.length) {
        val c = s[i]
        val next = if (i + 1 < s.length) s[i + 1] else null
        if (c.isHighSurrogate() && next != null && next.isLowSurrogate()) {
            val cp = Character.toCodePoint(c, next)
            out.write(0xF0 or (cp shr 18))
            out.write(0x80 or ((cp shr 12) and 0x3F))
            out.write(0x80 or ((cp shr 6) and 0x3F))
            out.write(0x80 or (cp and 0x3F))
            i += 2
            continue
        }
        val u = c.code
        when {
            u < 0x80 -> {
                out.write(u)
            }

            u < 0x800 -> {
                out.write(0xC0 or (u shr 6))
                out.write(0x80 or (u and 0x3F))
            }

            // Three bytes, lone surrogates (U+D800..U+DFFF) included.
            else -> {
                out.write(0xE0 or (u shr 12))
                out.write(0x80 or ((u shr 6) and 0x3F))
                out.write(0x80 or (u and 0x3F))
            }
        }
        i++
    }
    return out.toByteArray()
}

/** Whether [s] holds a UTF-16 surrogate that is not half of a pair. */
private fun hasLoneSurrogate(s: String): Boolean {
    var i = 0
    while (i < s.length) {
        val c = s[i]
        if (c.isSurrogate()) {
            if (c.isHighSurrogate() && i + 1 < s.length && s[i + 1].isLowSurrogate()) {
                i += 2
                continue
            }
            return true
        }
        i++
    }
    return false
}
