import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
import XNonce

// setNxPx sends SET key 1 NX PX ms on your Redis client and says whether Redis answered OK.
final class RedisReplayStore: ReplayStore {
    let setNxPx: @Sendable (String, UInt64) throws -> Bool
    init(setNxPx: @escaping @Sendable (String, UInt64) throws -> Bool) { self.setNxPx = setNxPx }

    func insertIfAbsent(key: String, expiresAtMs: UInt64, nowMs: UInt64) throws -> Bool {
        let tag = key.replacingOccurrences(of: "{", with: "_").replacingOccurrences(of: "}", with: "_")
        let ms = (expiresAtMs > nowMs ? expiresAtMs - nowMs : 0) + 1000
        return try setNxPx("xnonce:replay:{" + tag + "}", ms)   // what it throws refuses the request: 503
    }
}

func sharedVerifier(secret: String, setNxPx: @escaping @Sendable (String, UInt64) throws -> Bool) throws -> Verifier {
    try Verifier(secrets: ["demo_client": [secret]], replayStore: RedisReplayStore(setNxPx: setNxPx))
}

/// The README's examples, run by `swift test` (those that need a running server are compiled,
/// not run). `scripts/readme-examples-check.py` fails the tests when a README block is not
/// here.
final class ReadmeExamples: XCTestCase {
    /// The README's first request (compiled, not run: it needs `xnonce-server serve --demo`).
    func firstRequesterRequest() throws {
        let secret = try String(contentsOfFile: "demo.secret", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // Scheme .v2 unless told otherwise. makeRequest blocks: call it off the main thread.
        let api = try Requester(server: "http://127.0.0.1:8080", client: "demo_client", secret: secret)
        let res = try api.makeRequest(
            method: "GET",
            params: [Param("username", "phil"), Param("password", "hello phil"), Param("opt1", "this")],
            path: "action1", controller: "controller1")
        print(res.code, res.dataJson ?? "")   // 200 {"opt1":"THIS","opt2":null}
        if let json = res.dataJson, let data = json.data(using: .utf8) {
            let object = try JSONSerialization.jsonObject(with: data)
            print(object)
        }
        let posted = try api.makeRequest(
            method: "POST",
            params: [Param("username", "phil"), Param("password", "pw"), Param("opt1", "1"), Param("opt3", "3")],
            path: "/controller2/action1",
            options: RequestOptions(
                timestamp: UInt64(Date().timeIntervalSince1970 * 1000),   // em-secure-api's force_timestamp
                json: #"{"items": ["a", 1]}"#,                              // v2: a JSON body, as JSON text
                headers: [HttpHeader(name: "X-Request-Id", value: "abc")]))
        print(posted.code, posted.headers.first { $0.name == "content-type" }?.value ?? "")
    }

    /// The README's request signed by hand and sent with URLSession (compiled, not run).
    /// `URLSession.data(for:)` is iOS 15 / macOS 12 API (the package's floor is iOS 13 /
    /// macOS 10.15, so without `@available` this file does not compile there), and
    /// swift-corelibs-foundation (`FoundationNetworking`: Linux) has it only from Swift 6.0.
#if !canImport(FoundationNetworking) || compiler(>=6.0)
    @available(iOS 15.0, macOS 12.0, tvOS 15.0, watchOS 8.0, *)
    func signedURLSessionRequest() async throws {
        let secret = try String(contentsOfFile: "demo.secret", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let header = try sign(
            scheme: .v2, method: "GET", path: "/controller1/action1",
            params: [Param("username", "phil"), Param("password", "hello phil"), Param("opt1", "this")],
            client: "demo_client", secret: secret, host: "127.0.0.1:8080")

        var request = URLRequest(url: URL(string:
            "http://127.0.0.1:8080/controller1/action1?username=phil&password=hello%20phil&opt1=this")!)
        request.setValue(header, forHTTPHeaderField: "X-Nonce")
        let (body, response) = try await URLSession.shared.data(for: request)
        print((response as! HTTPURLResponse).statusCode, String(decoding: body, as: UTF8.self))
    }
#endif

    /// The README's request signed as it goes out (`signRequest`), from its URL.
    func signRequestExample(secret: String) throws -> String {
        let url = URLComponents(string:
            "http://127.0.0.1:8080/controller1/action1?username=phil&password=hello%20phil&opt1=this")!
        let asSent = try signRequest(
            scheme: .v2, method: "GET", target: url.percentEncodedPath + "?" + url.percentEncodedQuery!,
            client: "demo_client", secret: secret, host: "127.0.0.1:8080")
        return asSent
    }

    /// The README's error handling, as written there: an input error is printed, not thrown.
    func readmeErrorHandling(secret: String) throws {
        do {
            _ = try sign(scheme: .v1, method: "GET", path: "/a/b", params: [], client: "bad client", secret: secret)
        } catch let error as XNonceError {
            print(error.code)                                     // "invalid_client_id"
            switch error {
            case let .Input(code, reason): print("fix the input:", code, reason)
            case let .Auth(code, _, serverTime): print("auth failed:", code, serverTime ?? "")
            case .Format, .Route, .Unavailable: throw error
            }
        }
    }

    func testSignVerifyAndErrors() throws {
        let secret = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
        // v2 signs the method, host, path, every param, the body digest, time and a random nonce.
        let header = try sign(
            scheme: .v2, method: "GET", path: "/controller1/action1",
            params: [Param("username", "phil"), Param("password", "hello phil"), Param("opt1", "this")],
            client: "demo_client", secret: secret, host: "127.0.0.1:8080")

        let signed = try signDetailed(scheme: .v1, method: "GET", path: "/a/b", params: [],
                                      client: "demo_client", secret: secret, timestamp: 1_700_000_000_000)
        print(signed)   // Signed(xNonce=… demo_client 1700000000000, ottoken=…, canonical=<redacted>, timestamp=1700000000000)
        let hashed = signed.canonical   // the real string: never log it
        XCTAssertFalse("\(signed)".contains(secret))
        XCTAssertTrue(hashed.contains(secret))

        let verifier = try Verifier(secrets: ["demo_client": [secret]])   // several during rotation
        let ok = try verifier.verifyOnce(
            method: "GET", target: "/controller1/action1?username=phil&password=hello%20phil&opt1=this",
            host: "127.0.0.1:8080", xNonce: header)
        print(ok.client, ok.params)                 // verifyOnce refuses a replay (in-memory store)
        XCTAssertEqual(ok.params.count, 3)

        XCTAssertThrowsError(
            try sign(scheme: .v1, method: "GET", path: "/a/b", params: [], client: "bad client", secret: secret)
        ) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "invalid_client_id")
            guard case .Input = error as? XNonceError else { return XCTFail("not an Input error: \(error)") }
        }
        XCTAssertNoThrow(try readmeErrorHandling(secret: secret))   // caught and printed, not rethrown
    }

    /// The README's store, over a set standing in for Redis: two verifiers sharing it accept a
    /// request once, under PROTOCOL §11.4's key names and expiries.
    func testSharedReplayStore() throws {
        let secret = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"
        final class FakeRedis: @unchecked Sendable {
            let lock = NSLock()
            var keys: [String: UInt64] = [:]
            func setNxPx(_ key: String, _ ms: UInt64) -> Bool {
                lock.lock()
                defer { lock.unlock() }
                if keys[key] != nil { return false }
                keys[key] = ms
                return true
            }
        }
        let redis = FakeRedis()
        let a = try sharedVerifier(secret: secret, setNxPx: { redis.setNxPx($0, $1) })
        let b = try sharedVerifier(secret: secret, setNxPx: { redis.setNxPx($0, $1) })
        let header = try sign(scheme: .v2, method: "GET", path: "/a/b", params: [], client: "demo_client",
                              secret: secret, timestamp: 1_700_000_000_000, host: "api.test")
        _ = try a.verifyOnce(method: "GET", target: "/a/b", host: "api.test", xNonce: header,
                             now: 1_700_000_000_500)
        XCTAssertThrowsError(try b.verifyOnce(method: "GET", target: "/a/b", host: "api.test", xNonce: header,
                                              now: 1_700_000_000_500)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "replayed")
        }
        let nonce = try XCTUnwrap(parseHeader(value: header).nonce)
        XCTAssertEqual(redis.keys, ["xnonce:replay:{v2:demo_client:\(nonce)}": 30_500])
        XCTAssertEqual(a.fenceAfterLossMs(), 61_000)
    }
}
