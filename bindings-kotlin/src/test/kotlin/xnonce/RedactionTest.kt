// Regression test: printing a `Signed` / `SignedLink` must never show the secret. A v1
// canonical string CONTAINS the secret (it is what gets SHA-256'd), so `toString()`, string
// templates and anything built on them redact it; the canonical is read only explicitly, as
// `signed.canonical`. Called from ConformanceTest.kt's main.
package xnonce

/** A known secret (64 hex: valid for v1 and v2) that no hash or token will contain by chance. */
const val LEAK_CANARY_SECRET = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

/** The redaction checks; each failed check throws IllegalStateException. Returns how many ran. */
fun redactionChecks(): Int {
    val c = Checks()

    fun noSecret(
        text: String,
        what: String,
    ) = c.ok(!text.contains(LEAK_CANARY_SECRET), "$what shows the secret: $text")

    val ts = 1_700_000_000_000uL
    val p = params("user" to "phil", "opt" to "a b")
    val signed = signDetailed(Scheme.V1, "GET", "/admin/status", p, "svc", LEAK_CANARY_SECRET, timestamp = ts)
    val signedLink =
        linkDetailed(Scheme.V1, "GET", "/admin/status", p, "svc", LEAK_CANARY_SECRET, "https://api.test", timestamp = ts)

    // The test means something only if the secret really is in the v1 canonical string, and
    // the canonical stays reachable when asked for explicitly (the conformance vectors need it).
    c.ok(
        signed.canonical == "GET/admin/statususer=phil&opt=a+bsvc${LEAK_CANARY_SECRET}$ts",
        "v1 canonical: ${signed.canonical.length} chars",
    )
    c.ok(signedLink.signed.canonical == signed.canonical, "the link's canonical")
    val (_, _, destructured) = signed
    c.ok(destructured == signed.canonical, "destructuring still yields the canonical")

    for ((what, value) in listOf<Pair<String, Any>>("signed" to signed, "signedLink" to signedLink)) {
        noSecret(value.toString(), "$what.toString()")
        noSecret("$value", "\"\$$what\"")
        noSecret("${listOf(value)}", "a list holding $what")
        noSecret(String.format("%s", value), "String.format(\"%s\", $what)")
        noSecret(StringBuilder().append(value).toString(), "StringBuilder.append($what)")
        noSecret(java.util.Objects.toString(value), "Objects.toString($what)")
    }
    noSecret(signed.copy(nonce = null).toString(), "a copy's toString()")

    // Redacted, not dropped: everything else still prints, and the output says what was hidden.
    val shown = signed.toString()
    c.ok(shown.startsWith("Signed(") && shown.contains("canonical=<redacted>"), "Signed.toString(): $shown")
    c.ok(shown.contains(signed.xNonce) && shown.contains(signed.ottoken) && shown.contains("timestamp=$ts"), "other fields: $shown")
    c.ok(signedLink.toString().contains(signedLink.url), "SignedLink.toString() shows the url: $signedLink")

    // v2 canonicals hold no secret, but are redacted the same way (one rule, no scheme to check).
    val v2 = signDetailed(Scheme.V2, "GET", "/a/b", listOf(), "svc", LEAK_CANARY_SECRET, timestamp = ts, host = "api.test")
    c.ok(!v2.toString().contains(v2.canonical) && v2.toString().contains("nonce=${v2.nonce}"), "v2 Signed.toString(): $v2")

    // A Signed or SignedLink made (or copied) by hand may hold a lone surrogate ("😀 x".take(1)):
    // toString() lowers the record to Rust, and must still print (redacted), never throw
    // (uniffi's own String lowering throws MalformedInputException, from toString()).
    val lone = "ok 😀".take(4)
    for ((what, value) in listOf<Pair<String, Any>>(
        "a Signed with a lone surrogate in xNonce" to signed.copy(xNonce = lone),
        "a Signed with a lone surrogate in its canonical" to signed.copy(canonical = "$LEAK_CANARY_SECRET$lone"),
        "a Signed with a lone surrogate in its nonce" to v2.copy(nonce = lone),
        "a SignedLink with a lone surrogate in its url" to signedLink.copy(url = lone),
    )) {
        val text =
            try {
                value.toString()
            } catch (e: Exception) {
                "${e::class.simpleName}"
            }
        c.ok(text.startsWith("Signed") && text.contains("<redacted>"), "$what: toString() gave $text")
        noSecret(text, what)
    }

    // The data class's equality is unchanged by the custom toString.
    c.ok(signed == signDetailed(Scheme.V1, "GET", "/admin/status", p, "svc", LEAK_CANARY_SECRET, timestamp = ts), "equals")
    return c.ran
}
