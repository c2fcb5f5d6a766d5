// Requester (client-rs's blocking requester through uniffi) against a real
// `xnonce-server serve --demo` on 127.0.0.1, started by test.sh, which passes the server and a
// registered client in XNONCE_LIVE_URL / XNONCE_LIVE_CLIENT / XNONCE_LIVE_SECRET. Prints one
// `kotlin live: ...` line per check and `kotlin live: N requester checks passed`; exits 1 on
// any failure.
package xnonce

import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.Callable
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread
import kotlin.system.exitProcess

private fun env(name: String): String = System.getenv(name) ?: throw IllegalStateException("$name is not set (run test.sh)")

private fun dataOf(res: Response): Any? {
    val text = res.dataJson ?: throw AssertionError("no JSON in the answer ${res.code}: ${res.body}")
    return Json(text).parse()
}

private fun expectCode(
    res: Response,
    code: Int,
    what: String,
) {
    if (res.code.toInt() != code) throw AssertionError("$what: expected $code, got ${res.code}: ${res.body}")
}

private fun expectThrows(
    code: String,
    what: String,
    block: () -> Unit,
): XNonceException {
    try {
        block()
    } catch (e: XNonceException) {
        if (e.code != code) throw AssertionError("$what: expected $code, got ${e.code}: ${e.reason}")
        return e
    }
    throw AssertionError("$what: expected $code, but the call succeeded")
}

/**
 * Runs [block] with a loopback port that refuses connections: a socket holds it bound but
 * never listens, so no other process can take it meanwhile (as one could a port found free,
 * then released).
 */
private fun <T> withRefusedPort(block: (Int) -> T): T =
    Socket().use { socket ->
        socket.bind(InetSocketAddress("127.0.0.1", 0))
        block(socket.localPort)
    }

/**
 * Runs [block] with the URL of a loopback peer that answers every request `200 ok`, [delayMs]
 * after reading its head (one thread per connection, keep-alive honoured), and the count of
 * request heads it has read so far.
 */
private fun <T> withSlowPeer(
    delayMs: Long,
    block: (String, AtomicInteger) -> T,
): T =
    ServerSocket(0, 50, InetAddress.getLoopbackAddress()).use { server ->
        val heads = AtomicInteger()
        thread(isDaemon = true) {
            while (!server.isClosed) {
                val conn =
                    try {
                        server.accept()
                    } catch (e: java.io.IOException) {
                        break
                    }
                thread(isDaemon = true) { answerSlowly(conn, delayMs, heads) }
            }
        }
        block("http://127.0.0.1:${server.localPort}", heads)
    }

private fun answerSlowly(
    conn: Socket,
    delayMs: Long,
    heads: AtomicInteger,
) = conn.use {
    val input = it.getInputStream()
    val head = StringBuilder()
    while (true) {
        val b = input.read()
        if (b < 0) return@use
        head.append(b.toChar())
        if (head.endsWith("\r\n\r\n")) {
            heads.incrementAndGet()
            Thread.sleep(delayMs)
            it.getOutputStream().write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".toByteArray())
            it.getOutputStream().flush()
            head.clear()
        }
    }
}

fun main() {
    val url = env("XNONCE_LIVE_URL")
    val client = env("XNONCE_LIVE_CLIENT")
    val secret = env("XNONCE_LIVE_SECRET")
    val action1 = params("username" to "phil", "password" to "hello phil", "opt1" to "this")
    val checks =
        listOf<Pair<String, () -> String>>(
            "v1 and v2 GET accepted" to {
                val seen = mutableListOf<String>()
                for (scheme in listOf(Scheme.V1, Scheme.V2)) {
                    val api = Requester(url, client, secret, scheme = scheme, timeoutMs = 5000uL)
                    val res = api.makeRequest("GET", action1, "action1", controller = "controller1")
                    expectCode(res, 200, "$scheme GET")
                    // em-secure-api's controller1_action1_get echoes opt1 upper-cased.
                    val data = dataOf(res)
                    check(data == mapOf("opt1" to "THIS", "opt2" to null)) { "$scheme data: $data" }
                    check(res.headers.any { it.name == "content-type" && "json" in it.value }) { "${res.headers}" }
                    seen.add("$scheme ${res.code} ${res.dataJson}")
                }
                seen.joinToString("; ")
            },
            "v2 JSON body (JSON text) accepted" to {
                val api = Requester(url, client, secret)
                val res =
                    api.makeRequest(
                        "POST",
                        params("username" to "phil", "password" to "pw", "opt1" to "1", "opt3" to "3"),
                        "/controller2/action1",
                        options = RequestOptions(json = """{"items": ["a", 1], "ok": true}"""),
                    )
                expectCode(res, 200, "POST with JSON")
                check(String(res.bytes, Charsets.UTF_8) == res.body) { "bytes are the body as received" }
                "POST ${res.code} ${res.dataJson}"
            },
            "replay refused" to {
                val api = Requester(url, client, secret, correctClock = false)
                val forced =
                    RequestOptions(
                        timestamp = System.currentTimeMillis().toULong(),
                        nonce = "0123456789abcdef0123456789abcdef",
                    )
                val first = api.makeRequest("GET", action1, "/controller1/action1", options = forced)
                expectCode(first, 200, "first")
                val again = api.makeRequest("GET", action1, "/controller1/action1", options = forced)
                expectCode(again, 409, "replay")
                "same forced timestamp + nonce twice: ${first.code} then ${again.code}"
            },
            "tampering refused" to {
                val api = Requester(url, client, secret)
                val extra = listOf(Param("opt2", "x"))
                val res = api.makeRequest("GET", action1, "/controller1/action1", options = RequestOptions(extraParams = extra))
                expectCode(res, 401, "extra unsigned param")
                val code = (dataOf(res) as Map<*, *>)["code"]
                check(code == "signature_mismatch") { "tamper code: $code" }
                "unsigned extra param: ${res.code} $code"
            },
            "unknown client refused" to {
                val api = Requester(url, "nobody_registered", secret)
                val res = api.makeRequest("GET", action1, "/controller1/action1")
                expectCode(res, 401, "unknown client")
                val code = (dataOf(res) as Map<*, *>)["code"]
                check(code == "unknown_client") { "unknown client code: $code" }
                "unknown client: ${res.code} $code"
            },
            "clock correction" to {
                val hour = 3_600_000L
                val api = Requester(url, client, secret, clockOffsetMs = -hour)
                check(api.clockOffsetMs() == -hour)
                val res = api.makeRequest("GET", action1, "/controller1/action1")
                expectCode(res, 200, "corrected")
                val learned = api.clockOffsetMs()
                check(kotlin.math.abs(learned) < 60_000) { "learned offset $learned" }
                "an hour slow: ${res.code} after one corrected retry, clockOffsetMs ${-hour} -> $learned"
            },
            "answer over maxResponseBytes" to {
                // The demo's answer ({"opt1":"THIS","opt2":null}) is 27 bytes.
                val small = Requester(url, client, secret, maxResponseBytes = 20uL)
                val e = expectThrows("connection_failed", "20-byte limit") { small.makeRequest("GET", action1, "/controller1/action1") }
                check("larger than the 20-byte limit" in e.reason) { "reason: ${e.reason}" }
                val res = Requester(url, client, secret, maxResponseBytes = 27uL).makeRequest("GET", action1, "/controller1/action1")
                expectCode(res, 200, "27-byte limit")
                "20-byte limit: ${e::class.simpleName}; 27-byte limit: ${res.code}"
            },
            "connection refused" to {
                withRefusedPort { port ->
                    val api = Requester("http://127.0.0.1:$port", client, secret, timeoutMs = 2000uL)
                    val e = expectThrows("connection_failed", "dead port") { api.makeRequest("GET", action1, "/controller1/action1") }
                    check(e is XNonceException.Unavailable) { "family: ${e::class.simpleName}" }
                    "nothing listening: XNonceException.Unavailable ${e.code}"
                }
            },
            "invalid JSON refused" to {
                val api = Requester(url, client, secret)
                val e =
                    expectThrows("invalid_body", "bad JSON") {
                        api.makeRequest("POST", action1, "/controller2/action1", options = RequestOptions(json = "{nope"))
                    }
                check(e is XNonceException.Input) { "family: ${e::class.simpleName}" }
                "json = \"{nope\": XNonceException.Input ${e.code}"
            },
            "a lone surrogate refused, then the same requester sends" to {
                val api = Requester(url, client, secret)
                val lone = "\uD83D" // "😀 x".take(1)
                val e =
                    expectThrows("invalid_param_value", "lone surrogate") {
                        api.makeRequest("GET", params("username" to "phil", "password" to "pw", "opt1" to lone), "/controller1/action1")
                    }
                check(e is XNonceException.Input && e.reason == "param \"opt1\" is not valid Unicode text (it holds a lone surrogate)") {
                    "${e::class.simpleName}: ${e.reason}"
                }
                expectThrows("invalid_param_value", "lone surrogate in a header") {
                    val options = RequestOptions(headers = listOf(HttpHeader("X-Note", lone)))
                    api.makeRequest("GET", action1, "/controller1/action1", options = options)
                }
                // A pair (an emoji) is valid text: signed and sent as UTF-8, echoed upper-cased.
                val emoji = params("username" to "phil", "password" to "pw", "opt1" to "ok 😀")
                val res = api.makeRequest("GET", emoji, "/controller1/action1")
                expectCode(res, 200, "after the refusals")
                val data = dataOf(res)
                check(data == mapOf("opt1" to "OK 😀", "opt2" to null)) { "data: $data" }
                "XNonceException.Input ${e.code} twice, then ${res.code} ${res.dataJson}"
            },
            "one Requester shared by threads" to {
                // The README: thread-safe, one per server.
                val api = Requester(url, client, secret, timeoutMs = 10_000uL)
                val pool = Executors.newFixedThreadPool(8)
                try {
                    val send = Callable { api.makeRequest("GET", action1, "/controller1/action1").code.toInt() }
                    val codes = List(32) { pool.submit(send) }.map { it.get() }
                    check(codes.all { it == 200 }) { "codes: $codes" }
                } finally {
                    pool.shutdown()
                    api.close()
                }
                "8 threads, 32 requests: 200 each"
            },
            "close() while requests are in flight" to {
                // The README: a request in flight on another thread ends normally; a call made
                // after close() throws IllegalStateException. A loopback peer answering each
                // request a second late keeps them in flight while close() runs.
                withSlowPeer(1000L) { slow, heads ->
                    val api = Requester(slow, client, secret, timeoutMs = 10_000uL)
                    val pool = Executors.newFixedThreadPool(4)
                    try {
                        val inFlight = List(4) { pool.submit(Callable { api.makeRequest("GET", action1, "/a/b").code.toInt() }) }
                        // Every request has reached the peer: all four are in flight.
                        val deadline = System.nanoTime() + 10_000_000_000L
                        while (heads.get() < 4 && System.nanoTime() < deadline) Thread.sleep(5)
                        check(heads.get() == 4) { "requests that reached the peer: ${heads.get()}" }
                        api.close()
                        val ended = inFlight.map { it.get() }
                        check(ended.all { it == 200 }) { "in flight at close(): $ended" }
                    } finally {
                        pool.shutdown()
                    }
                    val after =
                        try {
                            api.makeRequest("GET", action1, "/a/b")
                            "no exception"
                        } catch (e: IllegalStateException) {
                            "IllegalStateException"
                        }
                    check(after == "IllegalStateException") { "after close(): $after" }
                    "4 in flight at close(): 200 each; then $after"
                }
            },
            "printing hides secrets" to {
                val api = Requester(url, client, secret)
                val options = RequestOptions(headers = listOf(HttpHeader("Authorization", "Bearer s3cr3t-t0ken")))
                for (text in listOf(api.toString(), "$options")) {
                    check(secret !in text && "s3cr3t" !in text) { "printed a secret: $text" }
                }
                check("$options" == "RequestOptions(extraParams=[], headerNames=[Authorization])") { "$options" }
                "Requester and RequestOptions toString(): no secret, no header value"
            },
        )
    var passed = 0
    val failures = mutableListOf<String>()
    for ((name, check) in checks) {
        try {
            println("kotlin live: $name: ${check()}")
            passed++
        } catch (e: Throwable) {
            failures.add("$name: ${e::class.simpleName}: ${e.message}")
        }
    }
    failures.forEach { System.err.println("FAIL live $it") }
    if (failures.isNotEmpty() || passed == 0) {
        System.err.println("kotlin live: $passed requester checks passed, ${failures.size} failures")
        exitProcess(1)
    }
    println("kotlin live: $passed requester checks passed against xnonce-server at $url")
}
