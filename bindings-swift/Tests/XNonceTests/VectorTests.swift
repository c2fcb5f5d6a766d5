import Foundation
import XCTest
import XNonce

/// One case of a vector file (format: conformance/src/vector.rs). Absent fields are nil.
struct Vector: Decodable {
    let id: String
    let scheme: String?
    let method: String
    let path: String
    let params: [[String]]
    let client: String
    let secret: String
    let timestamp: UInt64
    let host: String?
    let body: String?
    let nonce: String?
    let baseUrl: String?
    let canonical: String?
    let xNonce: String?
    let ottoken: String?
    let ottokenQueryValue: String?
    let link: String?
    let error: String?
}

/// Every conformance/vectors/*.json (sorted), then every path in XNONCE_EXTRA_VECTORS.
func vectorFiles() throws -> [URL] {
    let env = ProcessInfo.processInfo.environment
    let dir: URL
    if let d = env["XNONCE_VECTORS_DIR"] {
        dir = URL(fileURLWithPath: d)
    } else {
        // Tests/XNonceTests/VectorTests.swift -> repository root.
        dir = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("conformance/vectors")
    }
    var files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
        .filter { $0.pathExtension == "json" }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
    for p in (env["XNONCE_EXTRA_VECTORS"] ?? "").split(separator: ":") where !p.isEmpty {
        files.append(URL(fileURLWithPath: String(p)))
    }
    return files
}

func same(_ field: String, _ expected: String?, _ got: String) -> String? {
    if let e = expected, e != got { return "\(field): expected \(e.debugDescription), got \(got.debugDescription)" }
    return nil
}

/// Every field of the vector format (conformance/README.md): any other fails the case, as a
/// misspelt expected field (`ottokn`) would otherwise go unchecked (`Decodable` skips it).
let vectorFields: Set<String> = [
    "id", "scheme", "method", "path", "params", "client", "secret", "timestamp", "host",
    "body", "nonce", "base_url", "canonical", "x_nonce", "ottoken", "ottoken_query_value",
    "link", "error",
]

/// Runs one case the way conformance/src/check.rs does; nil when it passes, else why not.
func check(_ v: Vector) -> String? {
    // An error case's outputs would never be compared (the call fails): such a case is
    // malformed, as the Rust checker (conformance/src/vector.rs) refuses it.
    let outputs = [v.canonical, v.xNonce, v.ottoken, v.ottokenQueryValue, v.link]
    if v.error != nil && outputs.contains(where: { $0 != nil }) {
        return "error case also carries outputs (they would go unchecked)"
    }
    // Only a case with a base URL is linked: another case's `link` would go unchecked.
    if v.link != nil && v.baseUrl == nil { return "case has link but no base_url" }
    let scheme: Scheme
    switch v.scheme ?? "v1" {
    case "v1": scheme = .v1
    case "v2": scheme = .v2
    default: return "unknown scheme \(v.scheme ?? "")"
    }
    // A checker never draws a nonce (conformance/README.md, the checking rule).
    if scheme == .v2 && v.nonce == nil && v.error == nil { return "v2 case has no nonce" }
    var body: Data?
    if let b = v.body {
        guard let d = Data(base64Encoded: b) else { return "body is not base64" }
        body = d
    }
    guard v.params.allSatisfy({ $0.count == 2 }) else { return "params must be [key, value] pairs" }
    let params = v.params.map { Param($0[0], $0[1]) }
    do {
        let signed: Signed
        var url: String?
        // A case with a base URL is linked (which signs, host taken from the URL); others are signed.
        if let base = v.baseUrl {
            let l = try linkDetailed(
                scheme: scheme, method: v.method, path: v.path, params: params, client: v.client,
                secret: v.secret, baseUrl: base, timestamp: v.timestamp, nonce: v.nonce,
                host: v.host, body: body)
            signed = l.signed
            url = l.url
        } else {
            signed = try signDetailed(
                scheme: scheme, method: v.method, path: v.path, params: params, client: v.client,
                secret: v.secret, timestamp: v.timestamp, nonce: v.nonce, host: v.host, body: body)
        }
        if let code = v.error { return "expected error \(code), but signing succeeded" }
        guard v.xNonce != nil else { return "case has neither x_nonce nor error" }
        if let why = same("canonical", v.canonical, signed.canonical)
            ?? same("x_nonce", v.xNonce, signed.xNonce)
            ?? same("ottoken", v.ottoken, signed.ottoken)
            ?? same("ottoken_query_value", v.ottokenQueryValue, ottokenQueryValue(token: signed.ottoken)) {
            return why
        }
        if let u = url, let why = same("link", v.link, u) { return why }
        if try ottokenDecode(token: signed.ottoken) != signed.xNonce
            || ottokenEncode(header: signed.xNonce) != signed.ottoken {
            return "header/ottoken do not round-trip"
        }
        let header = try parseHeader(value: signed.xNonce)
        if header.client != v.client || header.timestamp != v.timestamp || header.scheme != scheme {
            return "parseHeader disagrees with the inputs"
        }
        // Equality and hash are Rust's (the mac compared in constant time).
        let again = try parseHeader(value: signed.xNonce)
        var other = header
        other.mac = String(header.mac.dropLast()) + (header.mac.hasSuffix("0") ? "1" : "0")
        if header != again || header.hashValue != again.hashValue || header == other {
            return "Header equality disagrees with the fields"
        }
        return nil
    } catch let e as XNonceError {
        guard let code = v.error else { return "signing failed: \(e)" }
        return e.code == code ? nil : "expected error \(code), got \(e.code)"
    } catch {
        return "unexpected error: \(error)"
    }
}

final class VectorTests: XCTestCase {
    func testEveryVector() throws {
        var passed = 0
        var failures: [String] = []
        for file in try vectorFiles() {
            let data = try Data(contentsOf: file)
            let cases = try JSONDecoder.snakeCase.decode([Vector].self, from: data)
            let raw = (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
            for (i, v) in cases.enumerated() {
                let fields: [String: Any] = i < raw.count ? raw[i] : [:]
                let unknown = Set(fields.keys).subtracting(vectorFields).sorted()
                // `Decodable` reads a null as absent; the format has no nullable field.
                let nulls = fields.filter { $0.value is NSNull }.map { $0.key }.sorted()
                if !unknown.isEmpty {
                    failures.append("\(file.lastPathComponent) \(v.id): unknown field(s) \(unknown)")
                } else if !nulls.isEmpty {
                    failures.append("\(file.lastPathComponent) \(v.id): field(s) \(nulls) are null (leave a field out instead)")
                } else if let why = check(v) {
                    failures.append("\(file.lastPathComponent) \(v.id): \(why)")
                } else {
                    passed += 1
                }
            }
        }
        for f in failures { XCTFail(f) }
        XCTAssertGreaterThan(passed, 0, "no vector ran")
        if failures.isEmpty && passed > 0 {
            print("swift: \(passed) vectors passed")
        }
    }
}

extension JSONDecoder {
    static var snakeCase: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
