import Foundation
import XCTest
import XNonce

/// A known secret (64 hex: valid for v1 and v2) that no hash or token will contain by chance.
let leakCanarySecret = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

/// Printing a `Signed` / `SignedLink` must never show the secret: a v1 canonical string
/// CONTAINS it (it is what gets SHA-256'd). The canonical is read only explicitly.
final class RedactionTests: XCTestCase {
    func testPrintingNeverShowsTheSecret() throws {
        let ts: UInt64 = 1_700_000_000_000
        let params = [Param("user", "phil"), Param("opt", "a b")]
        let signed = try signDetailed(scheme: .v1, method: "GET", path: "/admin/status", params: params,
                                      client: "svc", secret: leakCanarySecret, timestamp: ts)
        let signedLink = try linkDetailed(scheme: .v1, method: "GET", path: "/admin/status", params: params,
                                          client: "svc", secret: leakCanarySecret, baseUrl: "https://api.test",
                                          timestamp: ts)
        // Meaningful only because the secret really is in the v1 canonical string, which stays
        // reachable when asked for explicitly (the vector tests compare it).
        XCTAssertEqual(signed.canonical, "GET/admin/statususer=phil&opt=a+bsvc\(leakCanarySecret)\(ts)")
        XCTAssertEqual(signedLink.signed.canonical, signed.canonical)

        let values: [(String, Any)] = [("signed", signed), ("signedLink", signedLink)]
        for (what, value) in values {
            var dumped = ""
            dump(value, to: &dumped)
            let printed: [(String, String)] = [
                ("interpolation", "\(value)"),
                ("String(describing:)", String(describing: value)),
                ("String(reflecting:)", String(reflecting: value)),
                ("an array holding it", "\([value])"),
                ("dump", dumped),
            ]
            for (how, text) in printed {
                XCTAssertFalse(text.contains(leakCanarySecret), "\(how) of \(what) shows the secret: \(text)")
            }
        }

        // Redacted, not dropped: everything else still prints, and the output says what was hidden.
        XCTAssertTrue(signed.description.hasPrefix("Signed("), signed.description)
        XCTAssertTrue(signed.description.contains("canonical=<redacted>"), signed.description)
        XCTAssertTrue(signed.description.contains(signed.xNonce), signed.description)
        XCTAssertTrue(signed.debugDescription.contains("canonical: <redacted>"), signed.debugDescription)
        XCTAssertTrue(signedLink.description.contains(signedLink.url), signedLink.description)
        var dumped = ""
        dump(signed, to: &dumped)
        XCTAssertTrue(dumped.contains("<redacted>") && dumped.contains(signed.ottoken), dumped)

        // v2 canonicals hold no secret, but are redacted the same way (one rule, no scheme to check).
        let v2 = try signDetailed(scheme: .v2, method: "GET", path: "/a/b", params: [], client: "svc",
                                  secret: leakCanarySecret, timestamp: ts, host: "api.test")
        XCTAssertFalse("\(v2)".contains(v2.canonical), "\(v2)")
        XCTAssertTrue("\(v2)".contains("nonce=\(v2.nonce ?? "")"), "\(v2)")

        // Value semantics are unchanged: equal inputs, equal results.
        XCTAssertEqual(signed, try signDetailed(scheme: .v1, method: "GET", path: "/admin/status", params: params,
                                                client: "svc", secret: leakCanarySecret, timestamp: ts))
    }
}
