// Runs every conformance vector (plus XNONCE_EXTRA_VECTORS), the error checks, the
// redaction checks (RedactionTest.kt) and the text checks (TextTest.kt) through the Kotlin
// bindings on the JVM. Prints
// `kotlin: N vectors passed`; exits 1 on any failure or when nothing ran.
// usage: ConformanceTestKt VECTORS_DIR
package xnonce

import java.io.File
import java.util.Base64
import kotlin.system.exitProcess

const val SECRET = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"

/** A minimal JSON reader (objects, arrays, strings, numbers, booleans, null): no dependency. */
class Json(
    private val s: String,
) {
    private var i = 0

    fun parse(): Any? =
        value().also {
            ws()
            require(i == s.length) { "trailing data at $i" }
        }

    private fun ws() {
        while (i < s.length && s[i].isWhitespace()) i++
    }

    private fun value(): Any? {
        ws()
        require(i < s.length) { "unexpected end" }
        return when (s[i]) {
            '{' -> obj()
            '[' -> arr()
            '"' -> str()
            't' -> lit("true", true)
            'f' -> lit("false", false)
            'n' -> lit("null", null)
            else -> num()
        }
    }

    private fun lit(
        word: String,
        v: Any?,
    ): Any? {
        require(s.startsWith(word, i)) { "bad literal at $i" }
        i += word.length
        return v
    }

    private fun num(): Any {
        val start = i
        while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
        val t = s.substring(start, i)
        return t.toLongOrNull() ?: t.toDouble()
    }

    private fun str(): String {
        i++ // opening quote
        val b = StringBuilder()
        while (true) {
            val c = s[i++]
            when (c) {
                '"' -> {
                    return b.toString()
                }

                '\\' -> {
                    when (val e = s[i++]) {
                        'n' -> {
                            b.append('\n')
                        }

                        't' -> {
                            b.append('\t')
                        }

                        'r' -> {
                            b.append('\r')
                        }

                        'b' -> {
                            b.append('\b')
                        }

                        'f' -> {
                            b.append('\u000c')
                        }

                        'u' -> {
                            b.append(s.substring(i, i + 4).toInt(16).toChar())
                            i += 4
                        }

                        else -> {
                            b.append(e)
                        } // \" \\ \/
                    }
                }

                else -> {
                    b.append(c)
                }
            }
        }
    }

    private fun arr(): List<Any?> {
        i++
        val out = mutableListOf<Any?>()
        ws()
        if (s[i] == ']') return out.also { i++ }
        while (true) {
            out.add(value())
            ws()
            when (s[i++]) {
                ',' -> continue
                ']' -> return out
                else -> error("expected , or ] at ${i - 1}")
            }
        }
    }

    private fun obj(): Map<String, Any?> {
        i++
        val out = LinkedHashMap<String, Any?>()
        ws()
        if (s[i] == '}') return out.also { i++ }
        while (true) {
            ws()
            val k = str()
            ws()
            require(s[i++] == ':') { "expected : at ${i - 1}" }
            out[k] = value()
            ws()
            when (s[i++]) {
                ',' -> continue
                '}' -> return out
                else -> error("expected , or } at ${i - 1}")
            }
        }
    }
}

fun vectorFiles(dir: File): List<File> {
    val files = (dir.listFiles { f -> f.name.endsWith(".json") } ?: emptyArray()).sortedBy { it.name }
    val extra = (System.getenv("XNONCE_EXTRA_VECTORS") ?: "").split(':').filter { it.isNotEmpty() }.map(::File)
    return files + extra
}

fun same(
    field: String,
    expected: Any?,
    got: String,
): String? = if (expected != null && expected != got) "$field: expected \"$expected\", got \"$got\"" else null

/**
 * Every field of the vector format (conformance/README.md): any other fails the case, as a
 * misspelt expected field (`ottokn`) would otherwise go unchecked.
 */
val VECTOR_FIELDS =
    (
        "id scheme method path params client secret timestamp host body nonce base_url " +
            "canonical x_nonce ottoken ottoken_query_value link error"
    ).split(" ").toSet()

val VECTOR_OUTPUTS = listOf("canonical", "x_nonce", "ottoken", "ottoken_query_value", "link")
val VECTOR_REQUIRED_TEXT = listOf("id", "method", "path", "client", "secret")
val VECTOR_OPTIONAL_TEXT = listOf("scheme", "host", "body", "nonce", "base_url", "error") + VECTOR_OUTPUTS

/**
 * Why a case is not well formed, as the Rust checker (conformance/src/vector.rs) refuses it:
 * another JSON type than the format's (a number param value, a float timestamp), a `null` or
 * missing field, or an `error` case that also carries expected outputs (never compared).
 */
fun shapeProblem(c: Any?): String? {
    val v = c as? Map<*, *> ?: return "a case must be a JSON object"
    val unknown = (v.keys.map { it as String } - VECTOR_FIELDS).sorted()
    if (unknown.isNotEmpty()) return "unknown field(s) $unknown"
    val nulls =
        v
            .filterValues { it == null }
            .keys
            .map { it as String }
            .sorted()
    if (nulls.isNotEmpty()) return "field(s) $nulls are null (leave a field out instead)"
    val missing = (VECTOR_REQUIRED_TEXT + listOf("params", "timestamp")).filter { it !in v }
    if (missing.isNotEmpty()) return "missing field(s) $missing"
    for (k in VECTOR_REQUIRED_TEXT + VECTOR_OPTIONAL_TEXT) {
        if (k in v && v[k] !is String) return "field `$k` must be a string, got ${v[k]}"
    }
    val ts = v["timestamp"]
    if (ts !is Long || ts < 0) return "field `timestamp` must be a non-negative integer (ms), got $ts"
    val params = v["params"]
    if (params !is List<*> || !params.all { it is List<*> && it.size == 2 && it.all { s -> s is String } }) {
        return "field `params` must be a list of [key, value] string pairs, got $params"
    }
    val outputs = VECTOR_OUTPUTS.filter { it in v }
    if ("error" in v && outputs.isNotEmpty()) return "error case also carries outputs $outputs (they would go unchecked)"
    return null
}

/** One case, as conformance/src/check.rs does it; null when it passes, else why not. */
fun checkVector(v: Map<String, Any?>): String? {
    shapeProblem(v)?.let { return it }
    // Only a case with a base URL is linked: another case's `link` would go unchecked.
    if ("link" in v && "base_url" !in v) return "case has link but no base_url"
    val scheme =
        when (v["scheme"] ?: "v1") {
            "v1" -> Scheme.V1
            "v2" -> Scheme.V2
            else -> return "unknown scheme ${v["scheme"]}"
        }
    // A checker never draws a nonce (conformance/README.md, the checking rule).
    if (scheme == Scheme.V2 && "nonce" !in v && "error" !in v) return "v2 case has no nonce"
    val params =
        (v["params"] as List<*>).map {
            val pair = it as List<*>
            if (pair.size != 2) return "params must be [key, value] pairs"
            Param(pair[0] as String, pair[1] as String)
        }
    val body = (v["body"] as String?)?.let { Base64.getDecoder().decode(it) }
    val method = v["method"] as String
    val path = v["path"] as String
    val client = v["client"] as String
    val secret = v["secret"] as String
    val ts = (v["timestamp"] as Long).toULong()
    val nonce = v["nonce"] as String?
    val host = v["host"] as String?
    val baseUrl = v["base_url"] as String?
    val expectedError = v["error"] as String?
    val signed: Signed
    var url: String? = null
    try {
        // A case with a base URL is linked (which signs, host taken from the URL); others are signed.
        if (baseUrl != null) {
            val l = linkDetailed(scheme, method, path, params, client, secret, baseUrl, ts, nonce, host, body)
            signed = l.signed
            url = l.url
        } else {
            signed = signDetailed(scheme, method, path, params, client, secret, ts, nonce, host, body)
        }
    } catch (e: XNonceException) {
        if (expectedError == null) return "signing failed: ${e.message}"
        return if (e.code == expectedError) null else "expected error $expectedError, got ${e.code}"
    }
    if (expectedError != null) return "expected error $expectedError, but signing succeeded"
    if (v["x_nonce"] == null) return "case has neither x_nonce nor error"
    return same("canonical", v["canonical"], signed.canonical)
        ?: same("x_nonce", v["x_nonce"], signed.xNonce)
        ?: same("ottoken", v["ottoken"], signed.ottoken)
        ?: same("ottoken_query_value", v["ottoken_query_value"], ottokenQueryValue(signed.ottoken))
        ?: url?.let { same("link", v["link"], it) }
        ?: if (ottokenDecode(signed.ottoken) != signed.xNonce || ottokenEncode(signed.xNonce) != signed.ottoken) {
            "header/ottoken do not round-trip"
        } else {
            val h = parseHeader(signed.xNonce)
            val again = parseHeader(signed.xNonce)
            // Equality and hash are Rust's (the mac compared in constant time).
            val other = h.copy(mac = h.mac.dropLast(1) + if (h.mac.last() == '0') "1" else "0")
            if (h.client != client || h.timestamp != ts || h.scheme != scheme) {
                "parseHeader disagrees with the inputs"
            } else if (h != again || h.hashCode() != again.hashCode() || h == other) {
                "Header equality disagrees with the fields"
            } else {
                null
            }
        }
}

/** The error checks; each failed check throws IllegalStateException. Returns how many ran. */
fun errorChecks(): Int {
    val c = Checks()
    val ts = 1_700_000_000_000uL
    c.refuses<XNonceException.Input>("invalid_secret") { sign(Scheme.V1, "GET", "/a/b", listOf(), "c", "") }
    c.refuses<XNonceException.Input>("invalid_host") { sign(Scheme.V2, "GET", "/a/b", listOf(), "c", SECRET) }
    c.refuses<XNonceException.Format>("malformed_header") { parseHeader("not a header") }
    c.refuses<XNonceException.Format>("malformed_ottoken") { ottokenDecode("!") }
    // The base class carries the code too (what most callers catch).
    val base: XNonceException =
        c.refuses<XNonceException.Input>("invalid_client_id") {
            sign(Scheme.V1, "GET", "/a/b", listOf(), "bad client", SECRET)
        }
    c.ok(base.code == "invalid_client_id" && base.message!!.contains("invalid_client_id"), "base .code / .message")
    c.ok(base.httpStatus == 400, "invalid_client_id .httpStatus 400")
    // Made by hand, with a code that is none of the shared ones: refusalAnswer answers it as
    // malformed_header, and httpStatus gives that status instead of throwing.
    val made = XNonceException.Route("no_such_code", "made by hand")
    c.ok(made.httpStatus == 400 && refusalAnswer(made, "/a", xNonce = "v2 x").status.toInt() == 400, "made-up code .httpStatus 400")
    // Made by hand with a lone surrogate (a reason cut by take() in the middle of an emoji):
    // refusalAnswer still throws nothing (not MalformedInputException), reading it lossily.
    val cut = XNonceException.Route("missing_param", "param 😀".take(7))
    val cutAnswer = refusalAnswer(cut, "/a", xNonce = "v2 x")
    c.ok(cutAnswer.status.toInt() == 422 && cutAnswer.body.contains("\"detail\":\"param \uFFFD"), "cut reason: ${cutAnswer.body}")
    val oddCode = XNonceException.Auth("expired\uD83D", "r", "1700000000000 \uD83D")
    val oddAnswer = refusalAnswer(oddCode, "/a", xNonce = "v2 x")
    c.ok(oddAnswer.status.toInt() == 400 && oddAnswer.body.contains("\"code\":\"malformed_header\""), "cut code: ${oddAnswer.body}")
    c.ok(oddCode.httpStatus == 400 && cut.httpStatus == 422, "cut code .httpStatus 400, cut reason 422")
    // A starting clock offset no timestamp could carry (beyond ±(2^53 - 1) ms): refused at
    // once, not signed into every request as invalid_timestamp.
    for (offset in listOf(1L shl 53, -(1L shl 53), Long.MAX_VALUE, Long.MIN_VALUE)) {
        c.refuses<XNonceException.Input>("invalid_timestamp") {
            Requester("http://127.0.0.1:1", "svc", SECRET, clockOffsetMs = offset).close()
        }
    }
    Requester("http://127.0.0.1:1", "svc", SECRET, clockOffsetMs = -(1L shl 53) + 1).use { api ->
        c.ok(api.clockOffsetMs() == -(1L shl 53) + 1, "a clock offset at the bound is kept")
    }

    val header = sign(Scheme.V2, "GET", "/admin/status", params("a" to "1"), "svc", SECRET, timestamp = ts, host = "api.test")
    Verifier(mapOf("svc" to listOf(SECRET))).use { verifier ->
        val got = verifier.verifyOnce("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts + 1000uL)
        c.ok(got.client == "svc" && got.params == params("a" to "1") && got.scheme == Scheme.V2, "verified fields")
        val replayed =
            c.refuses<XNonceException.Auth>("replayed") {
                verifier.verifyOnce("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts + 1000uL)
            }
        c.ok(replayed.httpStatus == 409, "replayed .httpStatus 409")
        val stale =
            c.refuses<XNonceException.Auth>("expired") {
                verifier.verify("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts + 60_000uL)
            }
        c.ok(stale.serverTime?.split(' ')?.size == 2, "expired carries the server-time hint")
        c.ok(stale.httpStatus == 401, "expired .httpStatus 401")
        // RFC 9112 §3.2.2: an absolute-form target's authority is the host, not the Host field.
        val absolute = verifier.verify("GET", "http://api.test/admin/status?a=1", host = "proxy.test", xNonce = header, now = ts + 1000uL)
        c.ok(absolute.params == params("a" to "1"), "absolute-form target verified with its authority")
        // What a server sends back: the reference server's bytes, in the credential's style.
        val again = refusalAnswer(replayed, "/admin/status?a=1", xNonce = header)
        c.ok(again.status.toInt() == 409, "replayed answer 409")
        c.ok(again.headers == listOf(HttpHeader("Content-Type", "application/problem+json")), "problem headers")
        c.ok(again.body.startsWith("{\"type\":\"https://xnonce.dev/errors/replayed\",\"title\":\"Request already used\""), again.body)
        val staleAnswer = refusalAnswer(stale, "/admin/status?a=1", xNonce = header)
        c.ok(staleAnswer.headers.any { it.name == "X-Nonce-Server-Time" && it.value == stale.serverTime }, "stale answer's time header")
        c.ok(staleAnswer.body.contains("\"server_time_mac\""), "stale problem document's MAC")
        // A client sending with its own HTTP stack reads that answer's hint (PROTOCOL §12).
        c.ok(
            serverTimeFromAnswer(staleAnswer.status, stale.serverTime, header, SECRET) == ts + 60_000uL,
            "the stale answer tells the verifier's time",
        )
        c.ok(serverTimeFromAnswer(200u, stale.serverTime, header, SECRET) == null, "a hint on a 200 tells nothing")
        c.ok(serverTimeFromAnswer(401u, null, header, SECRET) == null, "a 401 without a hint tells nothing")
        val v1 = refusalAnswer(replayed, "/admin/status?a=1", xNonce = "${"0".repeat(64)} svc 1700000000000")
        c.ok(v1.status.toInt() == 409 && v1.body == "ottoken already used", "v1 answer: em-secure-api's text")
        val none = refusalAnswer(XNonceException.Format("missing_header", "no credential"), "/admin/status")
        c.ok(none.status.toInt() == 401 && none.body == "Method or nonce not provided", "no credential: v1 text")
        c.refuses<XNonceException.Auth>("signature_mismatch") {
            verifier.verify("GET", "/admin/status?a=2", host = "api.test", xNonce = header, now = ts)
        }
        c.refuses<XNonceException.Format>("missing_header") { verifier.verify("GET", "/admin/status", now = ts) }
        // Rotation keeps the replay store: the request accepted above is still a replay.
        verifier.setSecrets(mapOf("svc" to listOf(SECRET, "b".repeat(64))))
        c.refuses<XNonceException.Auth>("replayed") {
            verifier.verifyOnce("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts + 1000uL)
        }
        c.refuses<XNonceException.Input>("invalid_secret") { verifier.setSecrets(mapOf("svc" to listOf("has space"))) }
        // reconfigure: new settings, the same store; what the old settings may have accepted
        // keeps the narrower window (60 s would take it back once its 5 s key has expired).
        verifier.reconfigure(windowMs = 5_000uL, now = ts)
        verifier.reconfigure(windowMs = 60_000uL, now = ts)
        c.refuses<XNonceException.Auth>("replayed") {
            verifier.verifyOnce("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts + 1000uL)
        }
        c.refuses<XNonceException.Auth>("expired") {
            verifier.verify("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts + 5_500uL)
        }
        c.refuses<XNonceException.Format>("unsupported_scheme") { verifier.reconfigure(schemes = listOf(), now = ts) }
        verifier.verify("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts + 4_000uL)
    }
    Verifier(mapOf("other" to listOf(SECRET))).use { stranger ->
        c.refuses<XNonceException.Auth>("unknown_client") {
            stranger.verify("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts)
        }
    }
    Verifier(mapOf("svc" to listOf(SECRET)), schemes = listOf(Scheme.V1)).use { v1Only ->
        c.refuses<XNonceException.Format>("unsupported_scheme") {
            v1Only.verify("GET", "/admin/status?a=1", host = "api.test", xNonce = header, now = ts)
        }
    }
    c.refuses<XNonceException.Format>("unsupported_scheme") {
        Verifier(mapOf("svc" to listOf(SECRET)), schemes = listOf()).close()
    }
    // A window no request path can select never applied (the default did): refused by core.
    for ((controller, action) in listOf("reports" to "", "reports" to "live/now", "/reports" to "live")) {
        val e =
            c.refuses<XNonceException.Input>("invalid_path") {
                Verifier(mapOf("svc" to listOf(SECRET)), actionWindows = listOf(ActionWindow(controller, action, 5000uL))).close()
            }
        c.ok(e.message!!.contains("can never apply"), "an unreachable action window's message: ${e.message}")
    }
    c.refuses<XNonceException.Input>("invalid_path") {
        Verifier(mapOf("svc" to listOf(SECRET)), controllerWindows = listOf(ControllerWindow("api//v1", 5000uL))).close()
    }
    // A service's own hosts: a v2 request signed for another (staging) is invalid_host.
    Verifier(mapOf("svc" to listOf(SECRET)), hosts = listOf("API.test")).use { served ->
        val here = served.verify("GET", "/admin/status?a=1", host = "api.test:443", xNonce = header, now = ts)
        c.ok(here.client == "svc", "hosts: the served host verifies")
        val staging =
            sign(Scheme.V2, "GET", "/admin/status", params("a" to "1"), "svc", SECRET, timestamp = ts, host = "staging.test")
        c.refuses<XNonceException.Input>("invalid_host") {
            served.verify("GET", "/admin/status?a=1", host = "staging.test", xNonce = staging, now = ts)
        }
    }
    // em-secure-api's routes hash: the route and param rules come first (404 / 422, with
    // em-secure-api's text), signed or not; a table no request could match is refused.
    val demoRoutes =
        listOf(
            RouteRules(
                "controller1",
                "__default_parameters",
                listOf(RouteRule("username", ParamRule.REQUIRED), RouteRule("password", ParamRule.REQUIRED)),
            ),
            RouteRules(
                "controller1",
                "action3_get",
                listOf(RouteRule("opt1", ParamRule.REQUIRED), RouteRule("password", ParamRule.EXCLUDED)),
            ),
        )
    Verifier(mapOf("svc" to listOf(SECRET)), routes = demoRoutes).use { routed ->
        for ((target, code, status, text) in listOf(
            listOf("/controller1/action3?username=u", "missing_param", "422", "Missing required parameter opt1"),
            listOf("/controller1/action3?username=u&password=p&opt1=x", "excluded_param", "422", "Included invalid parameter password"),
            listOf(
                "/controller1/action1?username=u&password=p",
                "unknown_route",
                "404",
                "action_method (action1_get) not found in controller controller1",
            ),
        )) {
            val e = c.refuses<XNonceException.Route>(code) { routed.verify("GET", target, now = ts) }
            val answer = refusalAnswer(e, target)
            c.ok(answer.status.toInt() == status.toInt() && answer.body == text, "routes: $target answered ${answer.status}")
        }
    }
    for ((routes, code) in listOf(
        listOf(RouteRules("/c", "a_get", listOf())) to "invalid_path",
        listOf(RouteRules("c", "a_get", listOf()), RouteRules("c", "a_GET", listOf())) to "invalid_path",
        listOf(RouteRules("c", "a_g3t", listOf())) to "invalid_method",
        listOf(RouteRules("c", "a_get", listOf(RouteRule("ottoken", ParamRule.EXCLUDED)))) to "invalid_param_key",
    )) {
        c.refuses<XNonceException.Input>(code) { Verifier(mapOf("svc" to listOf(SECRET)), routes = routes).close() }
    }
    // A window on a controller or action no route names applies to no request: listed, to be
    // logged at start as xnonce-server logs it; none without routes, where windows apply by path.
    val windows = listOf(ControllerWindow("controller1", 5_000uL), ControllerWindow("controlr1", 5_000uL))
    val actionWindows = listOf(ActionWindow("controller1", "action3", 1_000uL), ActionWindow("controller1", "action9", 1_000uL))
    Verifier(mapOf("svc" to listOf(SECRET)), controllerWindows = windows, actionWindows = actionWindows, routes = demoRoutes).use {
        val unrouted = it.windowsNamingNoRoute()
        c.ok(
            unrouted == listOf(RouteWindow("controlr1", null), RouteWindow("controller1", "action9")),
            "windows naming no route: $unrouted",
        )
    }
    Verifier(mapOf("svc" to listOf(SECRET)), controllerWindows = windows).use {
        c.ok(it.windowsNamingNoRoute().isEmpty(), "no route table: no window names no route")
    }

    // The hint made here with javax.crypto (PROTOCOL §12: the key is the secret's 32 decoded
    // bytes, or a v1 text secret's UTF-8; the request id the v2 nonce or the v1 token).
    fun hint(
        key: ByteArray,
        client: String,
        requestId: String,
        ms: ULong,
    ): String {
        val mac = javax.crypto.Mac.getInstance("HmacSHA256")
        mac.init(javax.crypto.spec.SecretKeySpec(key, "HmacSHA256"))
        val digest = mac.doFinal("XNONCE-TIME\n$client\n$requestId\n$ms".toByteArray())
        return "$ms " + digest.joinToString("") { "%02x".format(it) }
    }
    val hexKey = SECRET.chunked(2).map { it.toInt(16).toByte() }.toByteArray()
    val sentV2 = sign(Scheme.V2, "GET", "/a/b", listOf(), "svc", SECRET, timestamp = ts, host = "h")
    val nonce = parseHeader(sentV2).nonce!!
    val later = ts + 90_000uL
    c.ok(serverTimeFromAnswer(401u, hint(hexKey, "svc", nonce, later), sentV2, SECRET) == later, "v2 hint tells the time")
    c.ok(serverTimeFromAnswer(401u, hint(hexKey, "svc", "f".repeat(32), later), sentV2, SECRET) == null, "another request's hint")
    c.ok(serverTimeFromAnswer(401u, hint(hexKey, "other", nonce, later), sentV2, SECRET) == null, "another client's hint")
    val legacy = "correct-horse-battery"
    val sentV1 = sign(Scheme.V1, "GET", "/a/b", listOf(), "svc", legacy, timestamp = ts)
    val token = parseHeader(sentV1).mac
    c.ok(serverTimeFromAnswer(401u, hint(legacy.toByteArray(), "svc", token, later), sentV1, legacy) == later, "v1 hint tells the time")
    c.ok(serverTimeFromAnswer(401u, hint(legacy.toByteArray(), "svc", token, later), sentV1, SECRET) == null, "checked with another secret")
    c.refuses<XNonceException.Input>("invalid_secret") { serverTimeFromAnswer(401u, null, sentV1, "") }
    // httpStatus is the status a v2 client is answered with; a v1 client (or one with no
    // credential) gets em-secure-api's, which refusalAnswer gives: 401 for malformed input.
    val malformed = c.refuses<XNonceException.Format>("malformed_header") { parseHeader("not a header") }
    c.ok(malformed.httpStatus == 400 && refusalAnswer(malformed, "/a", xNonce = "v2 x").status.toInt() == 400, "v2 status")
    c.ok(refusalAnswer(malformed, "/a", xNonce = "not a header").status.toInt() == 401, "v1 status of malformed_header")
    // A closed object throws IllegalStateException, a programming error, not XNonceException
    // (the README says so); closing it again is harmless.
    val closed = Requester("http://127.0.0.1:1", "svc", SECRET).also { it.close() }
    closed.close()
    val closedVerifier = Verifier(mapOf("svc" to listOf(SECRET))).also { it.close() }
    for ((what, call) in listOf<Pair<String, () -> Unit>>(
        "Requester.makeRequest" to { closed.makeRequest("GET", listOf(), "/a/b") },
        "Requester.clockOffsetMs" to { closed.clockOffsetMs() },
        "Verifier.verify" to { closedVerifier.verify("GET", "/a/b", xNonce = header, now = ts) },
    )) {
        val thrown =
            try {
                call()
                null
            } catch (e: Throwable) {
                e
            }
        c.ok(thrown is IllegalStateException && thrown.message!!.contains("destroyed"), "$what after close(): $thrown")
    }
    return c.ran
}

fun main(args: Array<String>) {
    val dir = File(args.getOrElse(0) { "conformance/vectors" })
    var passed = 0
    val failures = mutableListOf<String>()
    for (file in vectorFiles(dir)) {
        val cases = Json(file.readText()).parse()
        if (cases !is List<*>) {
            failures.add("${file.name}: not a JSON array of cases")
            continue
        }
        for (v in cases) {
            val why =
                try {
                    @Suppress("UNCHECKED_CAST")
                    shapeProblem(v) ?: checkVector(v as Map<String, Any?>)
                } catch (e: Exception) {
                    "${e::class.simpleName}: ${e.message}"
                }
            if (why == null) passed++ else failures.add("${file.name} ${(v as? Map<*, *>)?.get("id")}: $why")
        }
    }
    var errorChecks = 0
    try {
        errorChecks = errorChecks()
    } catch (e: Exception) {
        failures.add("error checks: ${e::class.simpleName}: ${e.message}")
    }
    var redactionChecks = 0
    try {
        redactionChecks = redactionChecks()
    } catch (e: Exception) {
        failures.add("redaction checks: ${e::class.simpleName}: ${e.message}")
    }
    var textChecks = 0
    try {
        textChecks = textChecks()
    } catch (e: Exception) {
        failures.add("text checks: ${e::class.simpleName}: ${e.message}")
    }
    var recordChecks = 0
    try {
        recordChecks = recordChecks()
    } catch (e: Exception) {
        failures.add("record checks: ${e::class.simpleName}: ${e.message}")
    }
    var replayStoreChecks = 0
    try {
        replayStoreChecks = replayStoreChecks()
    } catch (e: Exception) {
        failures.add("replay store checks: ${e::class.simpleName}: ${e.message}")
    }
    failures.forEach { System.err.println("FAIL $it") }
    if (failures.isNotEmpty() || passed == 0 || errorChecks == 0 || redactionChecks == 0 || textChecks == 0 ||
        recordChecks == 0 || replayStoreChecks == 0
    ) {
        System.err.println("kotlin: $passed vectors passed, ${failures.size} failures")
        exitProcess(1)
    }
    println("kotlin: $errorChecks error checks passed (codes arrive as XNonceException with .code)")
    println("kotlin: $redactionChecks redaction checks passed (toString never shows the secret)")
    println("kotlin: $textChecks text checks passed (a lone surrogate is XNonceException with the input's code)")
    println("kotlin: $recordChecks record checks passed (a Response compares by its bytes)")
    println("kotlin: $replayStoreChecks replay store checks passed (a Kotlin ReplayStore shared by verifiers)")
    println("kotlin: $passed vectors passed")
}
