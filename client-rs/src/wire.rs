//! How a request is laid out on the wire for each scheme, before any I/O.
//!
//! * v1 follows em-secure-api's `ReSvcClient::Requester#make_request`, which handed the params
//!   to `HTTPClient` (2.3.4.1): the query string for GET/DELETE (and any other method without
//!   a body), an `application/x-www-form-urlencoded` body for POST/PUT/PATCH; values written
//!   with HTTPClient's `escape` (see [`escape_v1`]). Keys are written with `CGI.escape`, which
//!   keeps every unreserved byte: the v1 server reads keys raw, and HTTPClient's `%7E` for a
//!   `~` (a key v1 may sign) would never verify. The path is sent as signed.
//! * v2 puts the params in the same places, RFC 3986-encoded, unless a JSON body is given:
//!   then the params go in the query and the body's SHA-256 is signed. The path is sent in
//!   its canonical form, so what the server reads is what was signed.
//!
//! The requester then checks that the URL parser leaves the path as it was signed (dot
//! segments, backslashes, v1 percent-encoding: see `Requester::make_request`).
//!
//! Extra (unsigned) params are appended after the signed ones, in the same place.

use xnonce_core::percent::{cgi_escape, encode_rfc3986, is_unreserved};
use xnonce_core::{canonical, Error, ErrorCode, Scheme, SignInput};

/// The content type of a form body, as HTTPClient sent it.
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";
/// The content type of a v2 JSON body.
pub(crate) const JSON: &str = "application/json";

/// em-secure-api's path rule: with a controller, `/<controller>/<action>`; without one, an
/// action holding a `/` is the whole path, anything else becomes `/<action>`.
pub(crate) fn resolve_path(action: &str, controller: Option<&str>) -> String {
    match controller {
        None if action.contains('/') => action.to_string(),
        _ => {
            let mut path = String::new();
            if let Some(c) = controller.filter(|c| !c.is_empty()) {
                path.push('/');
                path.push_str(c);
            }
            path.push('/');
            path.push_str(action);
            path
        }
    }
}

/// HTTPClient 2.3's `escape` (used for both query strings and form bodies): keeps
/// `A-Z a-z 0-9 _ . -`, writes a space as `+` and every other byte as `%XX` (upper-case).
/// It differs from Ruby 3's `CGI.escape` only for `~` (sent as `%7E`), which the server
/// unescapes to the same value — in a value. Keys are read raw, so they are not written with
/// it (see [`encode_pairs`]).
pub(crate) fn escape_v1(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for &b in s.as_bytes() {
        if b != b'~' && is_unreserved(b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// Writes `k=v&k=v` with the scheme's encoding: v1 keys `CGI.escape`d (a signed v1 key is
/// all unreserved, so it goes out raw, as the v1 server reads it) and values with
/// HTTPClient's [`escape_v1`]; v2 keys and values RFC 3986-encoded.
pub(crate) fn encode_pairs<'a>(
    scheme: Scheme,
    pairs: impl IntoIterator<Item = &'a (String, String)>,
) -> String {
    type Encode = fn(&str) -> String;
    let (key, value): (Encode, Encode) = match scheme {
        Scheme::V1 => (cgi_escape, escape_v1),
        Scheme::V2 => (rfc3986, rfc3986),
    };
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&key(k));
        out.push('=');
        out.push_str(&value(v));
    }
    out
}

fn rfc3986(s: &str) -> String {
    encode_rfc3986(s.as_bytes())
}

/// True when the params travel as a form body (POST, PUT, PATCH), as HTTPClient did.
pub(crate) fn method_has_form_body(method_upper: &str) -> bool {
    matches!(method_upper, "POST" | "PUT" | "PATCH")
}

/// A request ready to be signed and sent.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The upper-cased method.
    pub method: String,
    /// Path and query as sent: `/path?query`.
    pub target: String,
    /// Content type and bytes of the body, if any.
    pub body: Option<(&'static str, Vec<u8>)>,
    /// What is signed (timestamp and nonce still to be filled).
    pub input: SignInput,
}

/// Everything [`layout`] needs.
pub(crate) struct Parts<'a> {
    pub scheme: Scheme,
    pub method: &'a str,
    pub path: &'a str,
    pub client: &'a str,
    pub params: &'a [(String, String)],
    pub extra_params: &'a [(String, String)],
    pub json: Option<&'a serde_json::Value>,
    /// v2 only: a JSON body sent exactly as these bytes (checked to be JSON).
    pub json_raw: Option<&'a [u8]>,
    /// v2: the authority that is signed (and sent as `Host`).
    pub host: &'a str,
}

/// The bytes of the JSON body, if one is given: `json` serialised, or `json_raw` as it is
/// once it is known to be JSON. v1 cannot sign a body; both kinds at once are refused.
fn json_body(p: &Parts<'_>) -> Result<Option<Vec<u8>>, Error> {
    let bad = |msg: String| Err(Error::new(ErrorCode::InvalidBody, msg));
    if p.json.is_none() && p.json_raw.is_none() {
        return Ok(None);
    }
    if p.scheme == Scheme::V1 {
        return bad("scheme v1 cannot sign a JSON body; send params or use v2".into());
    }
    match (p.json, p.json_raw) {
        (Some(_), Some(_)) => {
            bad("give either a JSON value or raw JSON bytes as the body, not both".into())
        }
        (Some(json), None) => serde_json::to_vec(json)
            .map(Some)
            .or_else(|e| bad(format!("JSON body: {e}"))),
        (None, Some(raw)) => match raw_json_problem(raw) {
            None => Ok(Some(raw.to_vec())),
            Some(problem) => bad(format!("the raw JSON body {problem}")),
        },
        (None, None) => Ok(None),
    }
}

/// serde_json's nesting limit (its parser's recursion limit, without the `unbounded_depth`
/// feature): arrays and objects 127 deep parse, 128 do not. Core has no limit of its own: it
/// signs a body's bytes, never parses them.
pub(crate) const MAX_JSON_DEPTH: usize = 127;

/// Why `raw` cannot be sent as a raw JSON body (`None` when it can), to follow its name: it
/// is not JSON, or it nests deeper than can be checked — not that it is not JSON, then.
pub(crate) fn raw_json_problem(raw: &[u8]) -> Option<String> {
    let e = serde_json::from_slice::<serde_json::Value>(raw).err()?;
    Some(
        match e.to_string().starts_with("recursion limit exceeded") {
            true => format!(
                "nests deeper than the {MAX_JSON_DEPTH} levels that can be checked (arrays and \
             objects within each other): {e}"
            ),
            false => format!("is not JSON: {e}"),
        },
    )
}

/// Lays a request out: where params go, how they are encoded, the body, what is signed.
pub(crate) fn layout(p: &Parts<'_>) -> Result<Layout, Error> {
    let method = canonical::method(p.method)?;
    if method == "CONNECT" {
        // Its request target is `host:port` (RFC 9110 §9.3.6): the signed path and params
        // would never reach the server.
        return Err(Error::new(
            ErrorCode::InvalidMethod,
            "a CONNECT request carries an authority, not a path and params: it cannot be sent signed",
        ));
    }
    let mut input = SignInput::new(p.scheme, method.clone(), p.path, p.client);
    input.params = p.params.to_vec();
    let wire_path = match p.scheme {
        Scheme::V1 => canonical::path_v1(p.path)?.to_string(),
        Scheme::V2 => {
            input.host = Some(p.host.to_string());
            canonical::path_v2(p.path)?.to_string()
        }
    };
    let all = p.params.iter().chain(p.extra_params.iter());
    let (query, body) = match (json_body(p)?, method_has_form_body(&method)) {
        (Some(bytes), _) => {
            input.body = Some(bytes.clone());
            (encode_pairs(p.scheme, all), Some((JSON, bytes)))
        }
        (None, true) => (
            String::new(),
            Some((FORM, encode_pairs(p.scheme, all).into_bytes())),
        ),
        (None, false) => (encode_pairs(p.scheme, all), None),
    };
    let target = if query.is_empty() {
        wire_path
    } else {
        format!("{wire_path}?{query}")
    };
    Ok(Layout {
        method,
        target,
        body,
        input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_em_secure_api() {
        assert_eq!(resolve_path("/admin/status", None), "/admin/status");
        assert_eq!(
            resolve_path("action1", Some("controller1")),
            "/controller1/action1"
        );
        assert_eq!(resolve_path("status", None), "/status");
        assert_eq!(resolve_path("status", Some("")), "/status");
    }

    #[test]
    fn v1_escape_is_httpclients() {
        assert_eq!(escape_v1("hello phil"), "hello+phil");
        assert_eq!(escape_v1("a~b*c/é&="), "a%7Eb%2Ac%2F%C3%A9%26%3D");
        assert_eq!(escape_v1("A-z_0.9"), "A-z_0.9");
    }

    #[test]
    fn v1_keys_go_out_as_the_server_reads_them() {
        let pairs = [("a~b".to_string(), "c~d e".to_string())];
        assert_eq!(encode_pairs(Scheme::V1, &pairs), "a~b=c%7Ed+e");
        assert_eq!(encode_pairs(Scheme::V2, &pairs), "a~b=c~d%20e");
        // Unsigned extra keys that need escaping are still escaped (not signable in v1).
        let extra = [("a&b".to_string(), "1".to_string())];
        assert_eq!(encode_pairs(Scheme::V1, &extra), "a%26b=1");
    }

    fn parts<'a>(
        scheme: Scheme,
        method: &'a str,
        params: &'a [(String, String)],
        json: Option<&'a serde_json::Value>,
    ) -> Parts<'a> {
        Parts {
            scheme,
            method,
            path: "/controller2/action1",
            client: "c",
            params,
            extra_params: &[],
            json,
            json_raw: None,
            host: "127.0.0.1:9",
        }
    }

    #[test]
    fn params_go_where_httpclient_put_them() {
        let params = vec![("opt1".to_string(), "go for it".to_string())];
        let get = layout(&parts(Scheme::V1, "get", &params, None)).unwrap();
        assert_eq!(get.target, "/controller2/action1?opt1=go+for+it");
        assert!(get.body.is_none());
        let post = layout(&parts(Scheme::V1, "post", &params, None)).unwrap();
        assert_eq!(post.target, "/controller2/action1");
        assert_eq!(post.body.unwrap(), (FORM, b"opt1=go+for+it".to_vec()));
        let v2 = layout(&parts(Scheme::V2, "PUT", &params, None)).unwrap();
        assert_eq!(v2.body.unwrap(), (FORM, b"opt1=go%20for%20it".to_vec()));
        assert_eq!(v2.input.host.as_deref(), Some("127.0.0.1:9"));
        let json = serde_json::json!({"a": 1});
        let j = layout(&parts(Scheme::V2, "POST", &params, Some(&json))).unwrap();
        assert_eq!(j.target, "/controller2/action1?opt1=go%20for%20it");
        assert_eq!(j.input.body.as_deref(), Some(&b"{\"a\":1}"[..]));
        let e = layout(&parts(Scheme::V1, "POST", &params, Some(&json))).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidBody);
    }

    /// Raw JSON nested as deep as can be checked is sent; one level more is refused, saying
    /// so rather than that it is not JSON.
    #[test]
    fn raw_json_nests_at_most_127_levels() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes();
        let raw = |bytes: &[u8]| {
            let mut p = parts(Scheme::V2, "POST", &[], None);
            p.json_raw = Some(bytes);
            json_body(&p)
        };
        let deepest = nested(127);
        assert_eq!(raw(&deepest).unwrap().as_deref(), Some(&deepest[..]));
        let e = raw(&nested(128)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidBody);
        assert!(e.message().contains("deeper than the 127 levels"), "{e}");
        let e = raw(b"{").unwrap_err();
        assert!(e.message().contains("is not JSON"), "{e}");
    }
}
