// The randomized differential test in Kotlin: runs the seeded cases that
// conformance/independent/differential.py wrote (`python3 differential.py uniffi-json OUT`,
// the same generator as the Python, uniffi-Python, Node and WASM tests, projected onto what the
// uniffi API takes) through the Kotlin bindings, and compares each result with what the
// independent implementation xnonce_spec.py gave: byte-identical results (header, ottoken,
// canonical string, link, parsed header, server time) or the same error code. So the generated
// Kotlin conversion code (strings with lone surrogates, ULong, UShort, ByteArray, records,
// the sealed exception) is exercised on thousands of inputs, not only on the vectors.
// Prints `kotlin differential: N cases agree (A accepted, R refused)`; exits 1 on any
// difference (operation, index, seed, inputs, both results) or when an operation has fewer
// accepted cases than its minimum share (a run that refuses everything proves nothing).
// usage: DifferentialTestKt CASES_JSON
package xnonce

import java.io.File
import java.util.Base64
import kotlin.system.exitProcess

/** A case's text input (a JSON string; `\ud800` escapes become lone surrogates). */
private fun Map<*, *>.text(key: String): String = this[key] as? String ?: error("case field `$key` is no string")

private fun Map<*, *>.optText(key: String): String? = this[key] as String?

/** The case's scheme (`v1` or `v2`: differential.py lower-cases it). */
private fun Map<*, *>.scheme(): Scheme =
    when (text("scheme")) {
        "v1" -> Scheme.V1
        "v2" -> Scheme.V2
        else -> error("scheme ${this["scheme"]}")
    }

/** The case's inputs of sign / link, as the Kotlin API takes them. */
private class SignArgs(
    c: Map<*, *>,
) {
    val scheme = c.scheme()
    val method = c.text("method")
    val path = c.text("path")
    val params =
        (c["params"] as List<*>).map {
            val pair = it as List<*>
            Param(pair[0] as String, pair[1] as String)
        }
    val client = c.text("client")
    val secret = c.text("secret")
    val timestamp = c.text("timestamp").toULong()
    val nonce = c.optText("nonce")
    val host = c.optText("host")
    val body = c.optText("body")?.let { Base64.getDecoder().decode(it) }
}

/** The binding's result for one case, shaped as differential.py's `uniffi_json` shapes the spec's. */
private fun binding(
    operation: String,
    c: Map<*, *>,
): Map<String, String?> =
    when (operation) {
        "sign" -> {
            val a = SignArgs(c)
            val d = signDetailed(a.scheme, a.method, a.path, a.params, a.client, a.secret, a.timestamp, a.nonce, a.host, a.body)
            val h = sign(a.scheme, a.method, a.path, a.params, a.client, a.secret, a.timestamp, a.nonce, a.host, a.body)
            check(h == d.xNonce) { "sign() and signDetailed() disagree: $h vs ${d.xNonce}" }
            mapOf(
                "x_nonce" to d.xNonce,
                "ottoken" to d.ottoken,
                "canonical" to d.canonical,
                "timestamp" to d.timestamp.toString(),
                "nonce" to d.nonce,
                "ottoken_query_value" to ottokenQueryValue(d.ottoken),
            )
        }

        "link" -> {
            val a = SignArgs(c)
            val base = c.text("base_url")
            val d = linkDetailed(a.scheme, a.method, a.path, a.params, a.client, a.secret, base, a.timestamp, a.nonce, a.host, a.body)
            val url = link(a.scheme, a.method, a.path, a.params, a.client, a.secret, base, a.timestamp, a.nonce, a.host, a.body)
            check(url == d.url) { "link() and linkDetailed() disagree: $url vs ${d.url}" }
            mapOf(
                "x_nonce" to d.signed.xNonce,
                "ottoken" to d.signed.ottoken,
                "canonical" to d.signed.canonical,
                "timestamp" to d.signed.timestamp.toString(),
                "nonce" to d.signed.nonce,
                "link" to d.url,
            )
        }

        "sign_request" -> {
            val header =
                signRequest(
                    c.scheme(),
                    c.text("method"),
                    c.text("target"),
                    c.text("client"),
                    c.text("secret"),
                    host = c.optText("host"),
                    contentType = c.optText("content_type"),
                    body = c.optText("body")?.let { Base64.getDecoder().decode(it) },
                    timestamp = c.text("timestamp").toULong(),
                    nonce = c.optText("nonce"),
                )
            mapOf("value" to header)
        }

        "parse_header" -> {
            val p = parseHeader(c.text("value"))
            mapOf(
                "scheme" to (if (p.scheme == Scheme.V1) "v1" else "v2"),
                "client" to p.client,
                "timestamp" to p.timestamp.toString(),
                "nonce" to p.nonce,
                "mac" to p.mac,
            )
        }

        "ottoken" -> {
            val v = c.text("value")
            val out =
                when (c.text("op")) {
                    "encode" -> ottokenEncode(v)
                    "decode" -> ottokenDecode(v)
                    "query_value" -> ottokenQueryValue(v)
                    else -> error("ottoken op ${c["op"]}")
                }
            mapOf("value" to out)
        }

        "server_time" -> {
            val status = (c["status"] as Long).toInt().toUShort()
            val t = serverTimeFromAnswer(status, c.optText("hint"), c.text("sent"), c.text("secret"))
            mapOf("value" to t?.toString())
        }

        else -> {
            error("unknown operation $operation")
        }
    }

/** Text as readable ASCII: every char outside printable ASCII (a lone surrogate too) as `\uXXXX`. */
fun show(x: Any?): String =
    when (x) {
        null -> {
            "null"
        }

        is String -> {
            "\"" +
                x
                    .map { ch -> if (ch.code in 0x20..0x7e && ch != '"' && ch != '\\') "$ch" else "\\u%04x".format(ch.code) }
                    .joinToString("") + "\""
        }

        is Map<*, *> -> {
            x.entries.joinToString(", ", "{", "}") { (k, v) -> "${show(k)}: ${show(v)}" }
        }

        is List<*> -> {
            x.joinToString(", ", "[", "]") { show(it) }
        }

        else -> {
            x.toString()
        }
    }

fun main(args: Array<String>) {
    val data = Json(File(args[0]).readText()).parse() as Map<*, *>
    val seed = data["seed"]
    val minAccepted = data["min_accepted"] as Map<*, *>
    val cases = data["cases"] as List<*>
    val failures = mutableListOf<String>()
    val accepted = LinkedHashMap<String, Int>()
    val total = LinkedHashMap<String, Int>()
    for (item in cases) {
        val entry = item as Map<*, *>
        val operation = entry["operation"] as String
        val c = entry["case"] as Map<*, *>
        val expect = entry["expect"] as Map<*, *>
        val got: Map<String, Any?> =
            try {
                mapOf("ok" to binding(operation, c))
            } catch (e: XNonceException) {
                mapOf("err" to e.code)
            } catch (e: Exception) {
                mapOf("exc" to "${e::class.simpleName}: ${e.message}")
            }
        total[operation] = (total[operation] ?: 0) + 1
        if (got != expect) {
            failures.add(
                "$operation: the Kotlin binding and the spec differ (XNONCE_DIFF_SEED=$seed, case ${entry["index"]}," +
                    " Random($seed:$operation:${entry["index"]}))\n  input:  ${show(c)}\n  kotlin: ${show(got)}\n" +
                    "  spec:   ${show(expect)}",
            )
        } else if ("ok" in got) {
            accepted[operation] = (accepted[operation] ?: 0) + 1
        }
    }
    for ((operation, n) in total) {
        val a = accepted[operation] ?: 0
        println("kotlin differential $operation (seed $seed): $n cases, $a accepted, ${n - a} refused")
        val least = (minAccepted[operation] as Number).toDouble()
        if (a < least * n) {
            failures.add("$operation: only $a of $n cases accepted by both: the cases hardly exercise real signing")
        }
    }
    if (total.keys != minAccepted.keys) failures.add("operations run ${total.keys}, expected ${minAccepted.keys}")
    failures.take(10).forEach { System.err.println("FAIL kotlin differential $it") }
    if (failures.isNotEmpty()) {
        System.err.println("kotlin differential: ${failures.size} failures")
        exitProcess(1)
    }
    val n = total.values.sum()
    val a = accepted.values.sum()
    println("kotlin differential: $n cases agree ($a accepted, ${n - a} refused)")
}
