// A replay store of the application's: a Kotlin class implementing ReplayStore, shared by two
// verifiers (as by two processes of one API over Redis), refuses the copy one of them accepted;
// one that throws — its declared ReplayStoreException or any other exception — refuses the
// request store_unavailable without its words; memoryReplayStore() shares one process's
// memory between verifiers; fenceAfterLossMs follows the longest window. Called from
// ConformanceTest.kt's main.
package xnonce

import java.util.concurrent.ConcurrentHashMap

private const val TS = 1700000000000uL

/** A store over a map, as one over Redis would be over `SET key 1 NX PX ms`. */
private class MapStore : ReplayStore {
    val keys = ConcurrentHashMap<String, ULong>()

    @Volatile var failure: Exception? = null

    override fun insertIfAbsent(
        key: String,
        expiresAtMs: ULong,
        nowMs: ULong,
    ): Boolean {
        failure?.let { throw it }
        var first = false
        keys.compute(key) { _, until ->
            if (until != null && until >= nowMs) {
                until
            } else {
                first = true
                expiresAtMs
            }
        }
        return first
    }
}

/** The replay store checks; each failed check throws IllegalStateException. Returns how many ran. */
fun replayStoreChecks(): Int {
    val c = Checks()
    val secrets = mapOf("svc" to listOf(SECRET))

    fun signed(nonce: String) = sign(Scheme.V2, "GET", "/a/b", listOf(), "svc", SECRET, timestamp = TS, nonce = nonce, host = "api.test")

    fun Verifier.once(header: String) = verifyOnce("GET", "/a/b", host = "api.test", xNonce = header, now = TS + 500uL)

    val store = MapStore()
    val a = Verifier(secrets, replayStore = store)
    val b = Verifier(secrets, replayStore = store)
    val first = signed("a".repeat(32))
    c.ok(a.once(first).rememberUntilMs == TS + 30000uL, "remembered for the window")
    c.refuses<XNonceException.Auth>("replayed") { b.once(first) }
    c.ok(store.keys == mapOf("v2:svc:${"a".repeat(32)}" to TS + 30000uL), "the store holds ${store.keys}")
    // Each verifier's own memory is not used: one without the store accepts the request.
    c.ok(Verifier(secrets).once(first).client == "svc", "a verifier of its own memory")

    for (failure in listOf(
        ReplayStoreException.Unavailable("redis://:hunter2@10.0.0.5 refused"),
        java.io.IOException("redis://:hunter2@10.0.0.5 refused"),
    )) {
        store.failure = failure
        val e = c.refuses<XNonceException.Unavailable>("store_unavailable") { a.once(signed("b".repeat(32))) }
        c.ok(!"$e ${e.reason}".contains("hunter2") && !"$e".contains("10.0.0.5"), "the store's words stay out: $e")
        c.ok(e.httpStatus == 503, "store_unavailable is 503")
    }
    store.failure = null
    c.ok(a.once(signed("b".repeat(32))).client == "svc", "the store answers again")

    val memory = memoryReplayStore()
    c.ok(memory.insertIfAbsent("v2:c:n", 2000uL, 1000uL), "memory store: the first copy")
    c.ok(!memory.insertIfAbsent("v2:c:n", 2000uL, 1500uL), "memory store: a copy")
    Verifier(secrets, replayStore = memory).use { it.once(first) }
    Verifier(secrets, replayStore = memory).use { other ->
        c.refuses<XNonceException.Auth>("replayed") { other.once(first) }
    }

    // The README's store names and expires keys as PROTOCOL §11.4's example does.
    val sent = mutableListOf<Pair<String, Long>>()
    val readme = xnonce.readme.RedisReplayStore { key, ms -> sent.add(key to ms) }
    c.ok(readme.insertIfAbsent("v2:svc:0011", 31000uL, 1000uL), "the README's store: first copy")
    c.ok(readme.insertIfAbsent("v1:a{b}:x", 500uL, 1000uL), "the README's store: a key with braces, past its expiry")
    c.ok(sent == listOf("xnonce:replay:{v2:svc:0011}" to 31000L, "xnonce:replay:{v1:a_b_:x}" to 1000L), "SET NX PX: $sent")

    val verifier = Verifier(secrets)
    c.ok(verifier.fenceAfterLossMs() == 61000uL, "fenceAfterLossMs: ${verifier.fenceAfterLossMs()}")
    verifier.reconfigure(windowMs = 120000uL)
    c.ok(verifier.fenceAfterLossMs() == 241000uL, "fenceAfterLossMs after reconfigure")
    listOf(a, b, verifier).forEach { it.close() }
    return c.ran
}
