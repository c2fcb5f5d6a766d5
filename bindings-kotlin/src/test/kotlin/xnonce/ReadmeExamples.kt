// The README's examples, compiled by test.sh in the same kotlinc step as the test program
// (they are not run: the first needs a live server). Every Kotlin block of README.md must
// stand here, comments and layout aside: readme-examples-check.py checks it. In a package of
// their own, importing `xnonce.*` as the README's programs do: in package `xnonce` an example
// could use the test program's own names (`SECRET`, `Checks`, `Json`, ...) and still compile.
@file:Suppress("ktlint:standard:no-wildcard-imports") // the README's `import xnonce.*`

package xnonce.readme

import xnonce.*
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

fun firstRequesterRequest() {
    val secret = File("demo.secret").readText().trim()
    // Scheme.V2 unless told otherwise; makeRequest blocks: call it off the UI thread
    // (a thread of your own, an executor, or withContext(Dispatchers.IO) { ... }).
    val api = Requester("http://127.0.0.1:8080", "demo_client", secret)
    val res =
        api.makeRequest(
            "GET",
            params("username" to "phil", "password" to "hello phil", "opt1" to "this"),
            "action1",
            controller = "controller1",
        )
    println("${res.code} ${res.dataJson}") // 200 {"opt1":"THIS","opt2":null}
}

fun requestOptionsExample(api: Requester) {
    val res =
        api.makeRequest(
            "POST",
            params("username" to "phil", "password" to "pw", "opt1" to "1", "opt3" to "3"),
            "/controller2/action1",
            options =
                RequestOptions(
                    timestamp = System.currentTimeMillis().toULong(), // em-secure-api's force_timestamp
                    json = """{"items": ["a", 1]}""", // v2: a JSON body, as JSON text
                    headers = listOf(HttpHeader("X-Request-Id", "abc")),
                ),
        )
    if (res.code.toInt() != 200) println("refused: ${res.body}")
    println(res.headers.firstOrNull { it.name == "content-type" }?.value)
}

fun firstSignedRequest() {
    val secret = File("demo.secret").readText().trim()
    // v2 signs the method, host, path, every param, the body digest, time and a random nonce.
    val header =
        sign(
            Scheme.V2,
            "GET",
            "/controller1/action1",
            params("username" to "phil", "password" to "hello phil", "opt1" to "this"),
            client = "demo_client",
            secret = secret,
            host = "127.0.0.1:8080",
        )
    val request =
        HttpRequest
            .newBuilder(
                URI("http://127.0.0.1:8080/controller1/action1?username=phil&password=hello%20phil&opt1=this"),
            ).header("X-Nonce", header)
            .GET()
            .build()
    val response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString())
    println("${response.statusCode()} ${response.body()}")
}

fun serverTimeExample(
    response: HttpResponse<String>,
    header: String,
    secret: String,
): Long? {
    var offset: Long? = null
    val hint = response.headers().firstValue("X-Nonce-Server-Time").orElse(null)
    serverTimeFromAnswer(response.statusCode().toUShort(), hint, header, secret)?.let {
        offset = it.toLong() - System.currentTimeMillis()
    }
    return offset
}

fun signRequestExample(secret: String): String {
    val uri = URI("http://127.0.0.1:8080/controller1/action1?username=phil&password=hello%20phil&opt1=this")
    val asSent =
        signRequest(
            Scheme.V2,
            "GET",
            uri.rawPath + "?" + uri.rawQuery,
            client = "demo_client",
            secret = secret,
            host = uri.rawAuthority,
        )
    return asSent
}

fun signedExample(secret: String) {
    val signed = signDetailed(Scheme.V1, "GET", "/a/b", listOf(), "demo_client", secret, timestamp = 1700000000000uL)
    println(signed) // Signed(xNonce=… demo_client 1700000000000, ottoken=…, canonical=<redacted>, timestamp=1700000000000)
    val hashed = signed.canonical // the real string: never log it
    check(hashed.isNotEmpty())
}

fun verifyExample(
    secret: String,
    header: String,
) {
    val verifier = Verifier(mapOf("demo_client" to listOf(secret))) // several secrets during rotation
    val ok =
        verifier.verifyOnce(
            "GET",
            "/controller1/action1?username=phil&password=hello%20phil&opt1=this",
            host = "127.0.0.1:8080",
            xNonce = header,
        )
    println("${ok.client} ${ok.params}") // verifyOnce refuses a replay
}

// setNxPx sends SET key 1 NX PX ms on your Redis client and says whether Redis answered OK;
// with Jedis: { key, ms -> jedis.set(key, "1", SetParams().nx().px(ms)) == "OK" }
class RedisReplayStore(
    private val setNxPx: (String, Long) -> Boolean,
) : ReplayStore {
    override fun insertIfAbsent(
        key: String,
        expiresAtMs: ULong,
        nowMs: ULong,
    ): Boolean {
        val name = "xnonce:replay:{" + key.replace('{', '_').replace('}', '_') + "}"
        val ms = (if (expiresAtMs > nowMs) expiresAtMs - nowMs else 0uL) + 1000uL
        return setNxPx(name, ms.toLong()) // what it throws refuses the request: 503
    }
}

fun sharedVerifier(
    secret: String,
    setNxPx: (String, Long) -> Boolean,
) = Verifier(mapOf("demo_client" to listOf(secret)), replayStore = RedisReplayStore(setNxPx))

fun errorsExample(secret: String) {
    try {
        sign(Scheme.V1, "GET", "/a/b", listOf(), "bad client", secret)
    } catch (e: XNonceException) {
        println(e.code) // "invalid_client_id"
        when (e) {
            is XNonceException.Input -> println("fix the input: ${e.reason}")
            is XNonceException.Auth -> println("auth failed; server time: ${e.serverTime}")
            else -> throw e
        }
    }
}
