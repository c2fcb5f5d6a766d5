// Text that is not valid Unicode: a Kotlin string holding a lone UTF-16 surrogate, in any text
// argument (of a function, a method, a constructor, or a record passed in), throws
// XNonceException with that input's code and core's message naming the input, never its
// content; the object called works on afterwards. Strings with surrogate pairs (emoji) are
// valid and sign as their UTF-8. Called from ConformanceTest.kt's main.
package xnonce

/** `"😀 x".take(1)`: half of a surrogate pair. */
private const val LONE = "\uD83D"

/** Text around the surrogate that no message may show. */
private const val CANARY = "c4n4ry"

private const val BAD = "$CANARY$LONE"

/** Runs [block], which must refuse text as [what] with [code] in family [T] (one check). */
private inline fun <reified T : XNonceException> Checks.refused(
    code: String,
    what: String,
    block: () -> Unit,
): T {
    val e = refuses<T>(code, block)
    val reason = "$what is not valid Unicode text (it holds a lone surrogate)"
    check(e.reason == reason) { "$code: expected reason \"$reason\", got \"${e.reason}\"" }
    check(e.message?.contains(CANARY) == false && e.message?.contains(reason) == true) { "$code: message \"${e.message}\"" }
    return e
}

/** The checks; each failed check throws IllegalStateException. Returns how many ran. */
fun textChecks(): Int {
    val c = Checks()

    // The encoding the bindings lower text with: UTF-8 for valid text (pairs as 4 bytes), a
    // lone surrogate as its 3-byte form, which Rust refuses.
    val valid = "a é € 😀 \u0000 \uFFFF"
    c.ok(utf8Bytes(valid).contentEquals(valid.toByteArray(Charsets.UTF_8)), "valid text is its UTF-8")
    val hex = { s: String -> utf8Bytes(s).joinToString("") { "%02x".format(it) } }
    c.ok(hex("a\uD83D") == "61eda0bd", "lone high surrogate: ${hex("a\uD83D")}")
    c.ok(hex("\uDE00b") == "edb880" + "62", "lone low surrogate: ${hex("\uDE00b")}")
    c.ok(hex("\uDE00\uD83D") == "edb880eda0bd", "reversed pair: two lone surrogates")
    c.ok(hex("😀\uD83D") == "f09f9880eda0bd", "a pair, then a lone one")

    val ts = 1_700_000_000_000uL
    val nonce = "00112233445566778899aabbccddeeff"

    // Free functions: every text argument, and both fields of a Param record.
    fun signWith(
        method: String = "GET",
        path: String = "/a/b",
        params: List<Param> = params("user" to "phil"),
        client: String = "svc",
        secret: String = SECRET,
        nonce2: String = nonce,
        host: String = "api.test",
    ) = sign(Scheme.V2, method, path, params, client, secret, ts, nonce2, host)
    c.refused<XNonceException.Input>("invalid_method", "the method") { signWith(method = BAD) }
    c.refused<XNonceException.Input>("invalid_path", "the path") { signWith(path = "/a/$BAD") }
    c.refused<XNonceException.Input>("invalid_param_key", "a param key") { signWith(params = params(BAD to "v")) }
    c.refused<XNonceException.Input>("invalid_param_value", "param \"user\"") { signWith(params = params("user" to BAD)) }
    c.refused<XNonceException.Input>("invalid_client_id", "the client id") { signWith(client = BAD) }
    c.refused<XNonceException.Input>("invalid_secret", "the secret") { signWith(secret = SECRET + LONE) }
    c.refused<XNonceException.Input>("invalid_nonce", "the nonce") { signWith(nonce2 = BAD) }
    c.refused<XNonceException.Input>("invalid_host", "the host") { signWith(host = BAD) }
    c.refused<XNonceException.Input>("invalid_secret", "the secret") {
        signDetailed(Scheme.V1, "GET", "/a/b", listOf(), "svc", LONE)
    }
    c.refused<XNonceException.Input>("invalid_url", "the base URL") {
        link(Scheme.V1, "GET", "/a/b", listOf(), "svc", SECRET, "https://api.test/$BAD")
    }
    c.refused<XNonceException.Input>("invalid_param_value", "param \"q\"") {
        linkDetailed(Scheme.V1, "GET", "/a/b", params("q" to BAD), "svc", SECRET, "https://api.test")
    }
    c.refused<XNonceException.Format>("malformed_header", "the X-Nonce header") { parseHeader(BAD) }
    c.refused<XNonceException.Format>("malformed_header", "the X-Nonce header") { ottokenEncode(BAD) }
    c.refused<XNonceException.Format>("malformed_ottoken", "the ottoken") { ottokenDecode(BAD) }
    // A pair is valid text: signed as its UTF-8, the same through sign and a verified link.
    val emoji = signWith(params = params("user" to "ph😀l"))
    c.ok(emoji.startsWith("v2 svc 1700000000000 $nonce "), "an emoji signs: $emoji")
    // Helpers that throw nothing: no code, and an escape of what was given (read lossily).
    c.ok(httpStatusOf(LONE) == null, "httpStatusOf(lone surrogate) is null")
    // (U+FFFD for each of the 3 bytes, none of which starts valid UTF-8 here.)
    val escaped = ottokenQueryValue("a$LONE")
    c.ok(escaped == "a" + "%EF%BF%BD".repeat(3), "ottokenQueryValue escapes U+FFFD: $escaped")

    // Constructor: a secrets table's client id and secret, a window's route.
    c.refused<XNonceException.Input>("invalid_client_id", "a client id in the secrets table") {
        Verifier(mapOf(BAD to listOf(SECRET))).close()
    }
    c.refused<XNonceException.Input>("invalid_secret", "a secret") { Verifier(mapOf("svc" to listOf(SECRET, BAD))).close() }
    c.refused<XNonceException.Input>("invalid_path", "a controller window's controller") {
        Verifier(mapOf("svc" to listOf(SECRET)), controllerWindows = listOf(ControllerWindow(BAD, 5uL))).close()
    }
    c.refused<XNonceException.Input>("invalid_path", "an action window's action") {
        Verifier(mapOf("svc" to listOf(SECRET)), actionWindows = listOf(ActionWindow("a", BAD, 5uL))).close()
    }
    c.refused<XNonceException.Input>("invalid_host", "a host the verifier serves") {
        Verifier(mapOf("svc" to listOf(SECRET)), hosts = listOf(BAD)).close()
    }
    c.refused<XNonceException.Input>("invalid_path", "a route's controller") {
        Verifier(mapOf("svc" to listOf(SECRET)), routes = listOf(RouteRules(BAD, "a_get", listOf()))).close()
    }
    c.refused<XNonceException.Input>("invalid_path", "a route's action_method key") {
        Verifier(mapOf("svc" to listOf(SECRET)), routes = listOf(RouteRules("c", BAD, listOf()))).close()
    }
    c.refused<XNonceException.Input>("invalid_param_key", "the param of a route rule") {
        Verifier(
            mapOf("svc" to listOf(SECRET)),
            routes = listOf(RouteRules("c", "a_get", listOf(RouteRule(BAD, ParamRule.REQUIRED)))),
        ).close()
    }

    // Methods on one object: each refusal, then the same verifier verifies.
    val v1Header = sign(Scheme.V1, "GET", "/admin/status", params("u" to "ph😀l"), "svc", SECRET, timestamp = ts)
    Verifier(mapOf("svc" to listOf(SECRET))).use { verifier ->
        val now = ts + 1000uL
        c.refused<XNonceException.Input>("invalid_method", "the method") { verifier.verify(BAD, "/a", now = now) }
        c.refused<XNonceException.Input>("invalid_path", "the target") { verifier.verifyOnce("GET", "/a?$BAD", now = now) }
        c.refused<XNonceException.Input>("invalid_host", "the host") { verifier.verify("GET", "/a", host = BAD, now = now) }
        val header =
            c.refused<XNonceException.Format>("malformed_header", "the X-Nonce header") {
                verifier.verifyOnce("GET", "/a", xNonce = "v2 $BAD", now = now)
            }
        c.refused<XNonceException.Input>("invalid_body", "the content type") {
            verifier.verify("GET", "/a", contentType = BAD, body = byteArrayOf(1), now = now)
        }
        // What a server answers such a refusal: read lossily, never thrown.
        val answer = refusalAnswer(header, "/a?$BAD", xNonce = "v2 $BAD")
        c.ok(answer.status.toInt() == 400 && answer.body.contains("malformed_header"), "answer: ${answer.status} ${answer.body}")
        c.ok(!answer.body.contains(CANARY), "the answer does not show the refused text")
        val got = verifier.verifyOnce("GET", "/admin/status?u=ph%F0%9F%98%80l", xNonce = v1Header, now = now)
        c.ok(got.client == "svc" && got.params == params("u" to "ph😀l"), "the verifier works afterwards: $got")
    }

    // A Requester (nothing listens on port 1): constructor, method, record fields.
    c.refused<XNonceException.Input>("invalid_url", "the server URL") { Requester("http://127.0.0.1:1/$BAD", "svc", SECRET).close() }
    c.refused<XNonceException.Input>("invalid_client_id", "the client id") { Requester("http://127.0.0.1:1", BAD, SECRET).close() }
    c.refused<XNonceException.Input>("invalid_secret", "the secret") { Requester("http://127.0.0.1:1", "svc", BAD).close() }
    c.refused<XNonceException.Input>("invalid_body", "the CA PEM") {
        Requester("http://127.0.0.1:1", "svc", SECRET, caPem = BAD).close()
    }
    Requester("http://127.0.0.1:1", "svc", SECRET, timeoutMs = 2000uL).use { api ->
        val p = params("q" to "1")
        c.refused<XNonceException.Input>("invalid_method", "the method") { api.makeRequest(BAD, p, "/a/b") }
        c.refused<XNonceException.Input>("invalid_param_value", "param \"q\"") { api.makeRequest("GET", params("q" to BAD), "/a/b") }
        c.refused<XNonceException.Input>("invalid_path", "the path") { api.makeRequest("GET", p, BAD) }
        c.refused<XNonceException.Input>("invalid_path", "the controller") { api.makeRequest("GET", p, "b", controller = BAD) }
        c.refused<XNonceException.Input>("invalid_nonce", "the nonce") {
            api.makeRequest("GET", p, "/a/b", options = RequestOptions(nonce = BAD))
        }
        c.refused<XNonceException.Input>("invalid_body", "the JSON body") {
            api.makeRequest("POST", p, "/a/b", options = RequestOptions(json = "\"$BAD\""))
        }
        c.refused<XNonceException.Input>("invalid_param_key", "an extra param key") {
            api.makeRequest("GET", p, "/a/b", options = RequestOptions(extraParams = params(BAD to "1")))
        }
        c.refused<XNonceException.Input>("invalid_param_key", "a header name") {
            api.makeRequest("GET", p, "/a/b", options = RequestOptions(headers = listOf(HttpHeader(BAD, "v"))))
        }
        c.refused<XNonceException.Input>("invalid_param_value", "header \"Authorization\"") {
            api.makeRequest("GET", p, "/a/b", options = RequestOptions(headers = listOf(HttpHeader("Authorization", BAD))))
        }
        // The same requester, asked properly: signed and sent, and nothing listens there.
        c.refuses<XNonceException.Unavailable>("connection_failed") { api.makeRequest("GET", p, "/a/b") }
    }
    return c.ran
}
