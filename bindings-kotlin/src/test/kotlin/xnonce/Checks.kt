// The count of checks a Kotlin test file ran: each failed one throws IllegalStateException,
// which ConformanceTest.kt's main reports; each passed one is counted here, never by hand.
package xnonce

/** The checks one test function ran. */
class Checks {
    /** How many ran (and passed: a failed one throws). */
    var ran = 0

    /** Checks [cond]; [what] is the failure's message. */
    fun ok(
        cond: Boolean,
        what: String,
    ) {
        check(cond) { what }
        ran++
    }

    /** Runs [block], which must throw an XNonceException of type [T] with [code]; returns it. */
    inline fun <reified T : XNonceException> refuses(
        code: String,
        block: () -> Unit,
    ): T {
        try {
            block()
        } catch (e: XNonceException) {
            check(e is T) { "expected ${T::class.simpleName}, got ${e::class.simpleName}: ${e.message}" }
            check(e.code == code) { "expected $code, got ${e.code}" }
            ran++
            return e
        }
        error("expected $code, but the call succeeded")
    }
}
