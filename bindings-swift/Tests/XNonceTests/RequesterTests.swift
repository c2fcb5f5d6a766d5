import Foundation
import XCTest
import XNonce

/// The Requester without a server (the live checks, v1/v2 accepted, replay 409, tampering and
/// unknown client 401, run in bindings-kotlin/test.sh over the same Rust functions).
final class RequesterTests: XCTestCase {
    /// A loopback port with nothing listening (nothing binds the discard port on a test host).
    let deadServer = "http://127.0.0.1:9"

    func testConstructorErrorsAndDefaults() throws {
        XCTAssertThrowsError(try Requester(server: "ftp://x", client: "svc", secret: secret)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "invalid_url")
        }
        XCTAssertThrowsError(try Requester(server: deadServer, client: "svc", secret: "short")) { error in
            guard case let XNonceError.Input(code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "invalid_secret")   // the default scheme is v2: 64 hex characters
        }
        let v1 = try Requester(server: deadServer, client: "svc", secret: "legacy", scheme: .v1)
        XCTAssertEqual(v1.clockOffsetMs(), 0)
        let slow = try Requester(server: deadServer, client: "svc", secret: secret, clockOffsetMs: -3_600_000)
        XCTAssertEqual(slow.clockOffsetMs(), -3_600_000)
        // An offset no timestamp could carry (beyond ±(2^53 - 1) ms) is refused at once.
        for offset in [Int64(1) << 53, -(Int64(1) << 53), Int64.max, Int64.min] {
            XCTAssertThrowsError(try Requester(server: deadServer, client: "svc", secret: secret, clockOffsetMs: offset)) { error in
                guard case let XNonceError.Input(code, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(code, "invalid_timestamp")
            }
        }
    }

    func testInvalidJsonTextIsInvalidBody() throws {
        let api = try Requester(server: deadServer, client: "svc", secret: secret)
        XCTAssertThrowsError(try api.makeRequest(method: "POST", params: [Param("opt1", "1")], path: "/controller2/action1",
                                                 options: RequestOptions(json: "{nope"))) { error in
            guard case let XNonceError.Input(code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "invalid_body")
        }
    }

    func testNothingListeningIsConnectionFailed() throws {
        let api = try Requester(server: deadServer, client: "svc", secret: secret, timeoutMs: 2000)
        XCTAssertThrowsError(try api.makeRequest(method: "GET", params: [], path: "action1", controller: "controller1")) { error in
            guard case let XNonceError.Unavailable(code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "connection_failed")
        }
    }

    func testPrintingShowsNoSecret() throws {
        let api = try Requester(server: deadServer, client: "svc", secret: secret)
        let options = RequestOptions(timestamp: 1, headers: [HttpHeader(name: "Authorization", value: "Bearer s3cr3t")])
        XCTAssertEqual("\(options)", "RequestOptions(timestamp=1, extraParams=[], headerNames=[Authorization])")
        // `dump` reads a Mirror, not the description: RequestOptions+Redaction.swift lists names.
        var dumped = ""
        dump(options, to: &dumped)
        XCTAssertTrue(dumped.contains("Authorization"), dumped)
        for text in ["\(api)", String(reflecting: api), "\(options)", String(reflecting: options), dumped] {
            XCTAssertFalse(text.contains(secret) || text.contains("s3cr3t"), text)
        }
    }
}
