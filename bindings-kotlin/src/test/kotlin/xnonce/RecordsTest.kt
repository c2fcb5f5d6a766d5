// Regression test: the records the bindings hand back behave as Kotlin values. A `Response`
// carries its body's bytes as a `ByteArray`, which a plain data class compares by identity:
// two identical answers were unequal (`assertEquals`, `setOf`, `distinct()` all saw two), while
// their hash codes were equal. Called from ConformanceTest.kt's main.
package xnonce

/** The record checks; each failed check throws IllegalStateException. Returns how many ran. */
fun recordChecks(): Int {
    val c = Checks()

    fun response(
        bytes: ByteArray,
        body: String = "{}",
    ) = Response(
        200u,
        body,
        body,
        listOf(HttpHeader("content-type", "application/json")),
        bytes,
    )

    val a = response(byteArrayOf(123, 125))
    val b = response(byteArrayOf(123, 125))
    c.ok(a == b, "two answers with the same bytes are equal: $a vs $b")
    c.ok(a.hashCode() == b.hashCode(), "equal answers have equal hash codes")
    c.ok(setOf(a, b).size == 1, "a set holds one of two equal answers")
    c.ok(a != response(byteArrayOf(123, 126)), "answers whose bytes differ are not equal")
    c.ok(a != a.copy(code = 201u), "answers whose status differs are not equal")
    c.ok(a != a.copy(headers = listOf()), "answers whose headers differ are not equal")
    // Made or copied by hand, a Response may hold a lone surrogate: comparing it must still
    // answer, never throw (its text crosses to Rust to be compared).
    val lone = "ok 😀".take(4)
    val odd = response(byteArrayOf(1), body = lone)
    c.ok(odd == response(byteArrayOf(1), body = lone), "equal answers holding a lone surrogate")
    c.ok(odd != response(byteArrayOf(1), body = "ok "), "a lone surrogate is not its absence")
    c.ok(odd.hashCode() == odd.copy().hashCode(), "hash code of an answer holding a lone surrogate")
    c.ok(a.toString().contains("bytes=[123, 125]"), "toString shows the bytes: $a")
    return c.ran
}
