import Foundation
import XCTest
import XNonce

let secret = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd"

final class ErrorTests: XCTestCase {
    func testInputErrorsCarryTheSharedCode() {
        XCTAssertThrowsError(try sign(scheme: .v1, method: "GET", path: "/a/b", params: [], client: "c", secret: "")) { error in
            guard case let XNonceError.Input(code, _) = error else { return XCTFail("not an input error: \(error)") }
            XCTAssertEqual(code, "invalid_secret")
        }
        XCTAssertThrowsError(try sign(scheme: .v2, method: "GET", path: "/a/b", params: [], client: "c", secret: secret)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "invalid_host")
        }
    }

    func testAnErrorMadeByHandHasTheStatusItIsAnsweredWith() {
        // A code that is none of the shared ones: refusalAnswer answers it as malformed_header
        // (400 to a v2 request), and httpStatus says the same instead of trapping.
        let made = XNonceError.Route(code: "no_such_code", reason: "made by hand")
        XCTAssertEqual(made.httpStatus, 400)
        XCTAssertEqual(refusalAnswer(error: made, target: "/a", xNonce: "v2 x").status, 400)
    }

    func testFormatErrors() {
        XCTAssertThrowsError(try parseHeader(value: "not a header")) { error in
            guard case let XNonceError.Format(code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "malformed_header")
        }
        XCTAssertThrowsError(try ottokenDecode(token: "!")) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "malformed_ottoken")
        }
    }

    func testVerifierAcceptsOnceAndExplainsRefusals() throws {
        let ts: UInt64 = 1_700_000_000_000
        let header = try sign(scheme: .v2, method: "GET", path: "/admin/status", params: [Param("a", "1")],
                              client: "svc", secret: secret, timestamp: ts, host: "api.test")
        let verifier = try Verifier(secrets: ["svc": [secret]])
        let ok = try verifier.verifyOnce(method: "GET", target: "/admin/status?a=1", host: "api.test",
                                         xNonce: header, now: ts + 1000)
        XCTAssertEqual(ok.client, "svc")
        XCTAssertEqual(ok.params, [Param("a", "1")])
        XCTAssertThrowsError(try verifier.verifyOnce(method: "GET", target: "/admin/status?a=1", host: "api.test",
                                                     xNonce: header, now: ts + 1000)) { error in
            guard case let XNonceError.Auth(code, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "replayed")
            XCTAssertEqual((error as? XNonceError)?.httpStatus, 409)
            // What a Swift server sends back: the reference server's bytes, in the credential's style.
            guard let refused = error as? XNonceError else { return XCTFail("\(error)") }
            let answer = refusalAnswer(error: refused, target: "/admin/status?a=1", xNonce: header)
            XCTAssertEqual(answer.status, 409)
            XCTAssertEqual(answer.headers, [HttpHeader(name: "Content-Type", value: "application/problem+json")])
            XCTAssertTrue(answer.body.hasPrefix("{\"type\":\"https://xnonce.dev/errors/replayed\","))
            let v1 = refusalAnswer(error: refused, target: "/admin/status?a=1",
                                   xNonce: String(repeating: "0", count: 64) + " svc 1700000000000")
            XCTAssertEqual(v1.body, "ottoken already used")
        }
        XCTAssertThrowsError(try verifier.verify(method: "GET", target: "/admin/status?a=1", host: "api.test",
                                                 xNonce: header, now: ts + 60_000)) { error in
            guard case let XNonceError.Auth(code, _, serverTime) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "expired")
            XCTAssertNotNil(serverTime)
            XCTAssertEqual((error as? XNonceError)?.httpStatus, 401)
            // A client sending with its own HTTP stack reads the stale answer's hint (PROTOCOL §12).
            XCTAssertEqual(try serverTimeFromAnswer(status: 401, hint: serverTime, sent: header, secret: secret),
                           ts + 60_000)
            XCTAssertNil(try serverTimeFromAnswer(status: 200, hint: serverTime, sent: header, secret: secret))
        }
        XCTAssertThrowsError(try verifier.verify(method: "GET", target: "/admin/status?a=2", host: "api.test",
                                                 xNonce: header, now: ts)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "signature_mismatch")
        }
        XCTAssertThrowsError(try verifier.verify(method: "GET", target: "/admin/status", now: ts)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "missing_header")
        }
        // Rotation keeps the replay store: the request accepted above is still a replay.
        try verifier.setSecrets(secrets: ["svc": [secret, String(repeating: "b", count: 64)]])
        XCTAssertThrowsError(try verifier.verifyOnce(method: "GET", target: "/admin/status?a=1", host: "api.test",
                                                     xNonce: header, now: ts + 1000)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "replayed")
        }
        XCTAssertThrowsError(try verifier.setSecrets(secrets: ["svc": ["has space"]])) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "invalid_secret")
        }
        // reconfigure: new settings, the same store; what the old settings may have accepted
        // keeps the narrower window (60 s would take it back once its 5 s key has expired).
        try verifier.reconfigure(windowMs: 5_000, now: ts)
        try verifier.reconfigure(windowMs: 60_000, now: ts)
        XCTAssertThrowsError(try verifier.verifyOnce(method: "GET", target: "/admin/status?a=1", host: "api.test",
                                                     xNonce: header, now: ts + 1000)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "replayed")
        }
        XCTAssertThrowsError(try verifier.verify(method: "GET", target: "/admin/status?a=1", host: "api.test",
                                                 xNonce: header, now: ts + 5_500)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "expired")
        }
        XCTAssertThrowsError(try verifier.reconfigure(schemes: [], now: ts)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "unsupported_scheme")
        }
        _ = try verifier.verify(method: "GET", target: "/admin/status?a=1", host: "api.test", xNonce: header,
                                now: ts + 4_000)
        let stranger = try Verifier(secrets: ["other": [secret]])
        XCTAssertThrowsError(try stranger.verify(method: "GET", target: "/admin/status?a=1", host: "api.test",
                                                 xNonce: header, now: ts)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "unknown_client")
        }
    }

    func testRoutesAreCheckedFirstAndATableNoRequestCouldMatchIsRefused() throws {
        // em-secure-api's routes hash: route and param rules before the credential, answered
        // with em-secure-api's text; a table no request could match throws when made.
        let routes = [
            RouteRules(controller: "controller1", key: "__default_parameters",
                       rules: [RouteRule(param: "username", rule: .required)]),
            RouteRules(controller: "controller1", key: "action3_get",
                       rules: [RouteRule(param: "opt1", rule: .required),
                               RouteRule(param: "password", rule: .excluded)]),
        ]
        let routed = try Verifier(secrets: ["svc": [secret]], routes: routes)
        let cases: [(String, String, UInt16, String)] = [
            ("/controller1/action3?username=u", "missing_param", 422, "Missing required parameter opt1"),
            ("/controller1/action3?username=u&password=p&opt1=x", "excluded_param", 422,
             "Included invalid parameter password"),
            ("/controller1/action1?username=u", "unknown_route", 404,
             "action_method (action1_get) not found in controller controller1"),
        ]
        for (target, code, status, text) in cases {
            XCTAssertThrowsError(try routed.verify(method: "GET", target: target, now: 1_700_000_000_000)) { error in
                guard case let XNonceError.Route(got, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(got, code)
                let answer = refusalAnswer(error: error as! XNonceError, target: target)
                XCTAssertEqual(answer.status, status)
                XCTAssertEqual(answer.body, text)
            }
        }
        let unmatchable = [RouteRules(controller: "/c", key: "a_get", rules: [])]
        XCTAssertThrowsError(try Verifier(secrets: ["svc": [secret]], routes: unmatchable)) { error in
            XCTAssertEqual((error as? XNonceError)?.code, "invalid_path")
        }
    }

    func testWindowsNamingNoRouteAreListed() throws {
        // A window on a controller or action no route names applies to no request: listed, to
        // be logged at start as xnonce-server logs it; none without routes.
        let controllers = [ControllerWindow(controller: "reports", windowMs: 5_000),
                           ControllerWindow(controller: "reprots", windowMs: 5_000)]
        let actions = [ActionWindow(controller: "reports", action: "daily", windowMs: 1_000),
                       ActionWindow(controller: "reports", action: "live", windowMs: 1_000)]
        let routes = [RouteRules(controller: "reports", key: "daily_get", rules: [])]
        let routed = try Verifier(secrets: ["svc": [secret]], controllerWindows: controllers,
                                  actionWindows: actions, routes: routes)
        XCTAssertEqual(routed.windowsNamingNoRoute(),
                       [RouteWindow(controller: "reprots", action: nil),
                        RouteWindow(controller: "reports", action: "live")])
        let unrouted = try Verifier(secrets: ["svc": [secret]], controllerWindows: controllers)
        XCTAssertEqual(unrouted.windowsNamingNoRoute(), [])
    }
}
