//! Links: a URL that carries the params and the `ottoken`, for a browser to open once.
//!
//! ```
//! use xnonce_core::{link, Link, Scheme, Secret, SignInput};
//! let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
//! let input = SignInput::new(Scheme::V2, "GET", "/files/fetch", "svc").param("name", "q1.pdf");
//! let Link { url, signed } = link(&input, &secret, "https://api.example.com")?;
//! assert_eq!(url, format!("https://api.example.com/files/fetch?name=q1.pdf&ottoken={}", signed.ottoken));
//! # Ok::<(), xnonce_core::Error>(())
//! ```

use crate::environment::Environment;
use crate::error::{err, ErrorCode, Result};
use crate::sign::{sign_with, SignInput, Signed};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{percent, Scheme, Secret};

/// A signed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The full URL: `base + path + "?" + params + "ottoken=" + token`.
    pub url: String,
    /// The signature behind it.
    pub signed: Signed,
}

/// Splits `http(s)://authority[/prefix]` into (authority, base without trailing `/`).
/// For v2, whose signature binds the authority, it must be written as WHATWG URL clients
/// (browsers, `fetch`) send it ([`check_authority`]).
fn split_base_url(base_url: &str, scheme: Scheme) -> Result<(&str, &str)> {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .ok_or_else(|| {
            crate::Error::new(
                ErrorCode::InvalidUrl,
                "base URL must start with http:// or https://",
            )
        })?;
    if base_url
        .bytes()
        .any(|b| matches!(b, b'?' | b'#' | b' ' | b'\\') || b.is_ascii_control())
    {
        return err(
            ErrorCode::InvalidUrl,
            "base URL must not contain a query, fragment, backslash, space or control character",
        );
    }
    let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() || authority.contains('@') {
        return err(
            ErrorCode::InvalidUrl,
            "base URL needs a host and no user info",
        );
    }
    // The prefix is written as given in either scheme: what a link's path may not hold,
    // it may not hold either.
    if let Err(e) = check_link_path(prefix) {
        return Err(crate::Error::new(
            ErrorCode::InvalidUrl,
            format!("base URL's path: {}", e.message()),
        ));
    }
    match scheme {
        Scheme::V1 => check_v1_authority(authority)?,
        Scheme::V2 => check_authority(authority)?,
    }
    Ok((authority, base_url.trim_end_matches('/')))
}

/// True when a path (no query) has a segment that WHATWG URL parsers and path-normalising
/// servers treat as `.` or `..`: `.`, `..`, and the same with any dot written `%2e` /
/// `%2E`. A gateway that puts a prefix before a verified path must not forward such a one
/// (`/api` + `/../admin` would leave the prefix).
///
/// ```
/// use xnonce_core::link::has_dot_segment;
/// assert!(has_dot_segment("/../admin/x") && has_dot_segment("/a/%2E%2e/b") && has_dot_segment("/a/."));
/// assert!(!has_dot_segment("/a/..b/.c/x.y"));
/// ```
pub fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(dot_segment)
}

/// True for a segment that WHATWG URL parsers treat as `.` or `..` and remove:
/// `.`, `..`, and the same with any dot written `%2e` / `%2E`.
fn dot_segment(segment: &str) -> bool {
    let rest = segment
        .strip_prefix('.')
        .or_else(|| strip_escaped_dot(segment));
    match rest {
        Some("") => true,
        Some(r) => r == "." || strip_escaped_dot(r) == Some(""),
        None => false,
    }
}

fn strip_escaped_dot(s: &str) -> Option<&str> {
    let head = s.get(..3)?;
    head.eq_ignore_ascii_case("%2e").then(|| &s[3..])
}

/// Refuses a link path that WHATWG URL clients change before sending it, so that the
/// server would verify another path than the one signed: a dot segment (removed), a
/// backslash (turned into `/`), and — only possible in v1, whose path is written as given —
/// a byte they percent-encode (non-ASCII, `"` `<` `>` `^` `` ` `` `{` `|` `}`; the WHATWG
/// standard leaves `^` and `|` alone, but Chromium escapes both, so they are refused too).
fn check_link_path(path: &str) -> Result<()> {
    let refuse = |why: String| {
        Err(crate::Error::new(
            ErrorCode::InvalidPath,
            format!("a link's path {why}, which browsers and other URL clients change before sending it, so the signature would not verify"),
        ))
    };
    if let Some(dots) = path.split('/').find(|s| dot_segment(s)) {
        return refuse(format!("must not contain the dot segment {dots:?}"));
    }
    if path.contains('\\') {
        return refuse("must not contain a backslash".into());
    }
    if let Some(c) = path
        .chars()
        .find(|&c| !c.is_ascii() || matches!(c, '"' | '<' | '>' | '^' | '`' | '{' | '|' | '}'))
    {
        return refuse(format!(
            "must not contain {c:?} (write it percent-encoded as the server routes it)"
        ));
    }
    Ok(())
}

/// Either scheme: an authority a URL parser can read at all, split into its host and its
/// port without leading zeros (`None` for no port or an empty one, which URL clients drop):
/// brackets only around a whole IPv6-literal host, a port of decimal digits at most 65535.
fn authority_parts(authority: &str) -> std::result::Result<(&str, Option<&str>), String> {
    let (host, port) = split_authority(authority)?;
    if !host.starts_with('[') && host.contains(['[', ']']) {
        return Err("'[' and ']' may only enclose an IPv6 literal".into());
    }
    let port = match port {
        None | Some("") => None,
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(format!("the port {p:?} must be decimal digits"))
        }
        Some(p) => match p.trim_start_matches('0') {
            "" => Some("0"),
            d if d.len() > 5 || d.parse::<u32>().map_or(true, |n| n > 65535) => {
                return Err(format!("the port {p} is out of range (0 to 65535)"))
            }
            d => Some(d),
        },
    };
    Ok((host, port))
}

/// v1: the base URL's authority is left as typed (v1 signs no host), but it must be readable
/// as a host and port at all: [`authority_parts`], and a host before any port.
fn check_v1_authority(authority: &str) -> Result<()> {
    match authority_parts(authority) {
        Ok(("", _)) => Err("a host is needed before the port".to_string()),
        Ok(_) => Ok(()),
        Err(why) => Err(why),
    }
    .map_err(|why| {
        crate::Error::new(
            ErrorCode::InvalidUrl,
            format!("base URL authority {authority:?}: {why}"),
        )
    })
}

/// v2: the base URL's authority must be what a WHATWG URL parser (browsers, `fetch`) writes
/// in the `Host` header, since the signature binds it and the server compares what it
/// receives: an IPv6 literal in its normal form (lower-case hex, leading zeros dropped, the
/// longest run of two or more zero groups — the first of equal runs — written `::`, no
/// embedded IPv4), a host ending in a number as a dotted-decimal IPv4 address (`127.1`,
/// `0x7f.0.0.1`, `0177.0.0.1` and `127.0.0.1.` are all rewritten `127.0.0.1`), a port of
/// decimal digits without leading zeros and at most 65535, no empty port. Case and the
/// default ports are left alone: the canonical host (§6.2) already ignores them.
fn check_authority(authority: &str) -> Result<()> {
    let lower = authority.to_ascii_lowercase();
    let not_normal = |normal: String| {
        Err(crate::Error::new(
            ErrorCode::InvalidUrl,
            format!(
                "base URL authority {authority:?} is not written as browsers and other URL clients send it (the v2 signature binds it): write {normal:?}"
            ),
        ))
    };
    let invalid = |why: String| {
        Err(crate::Error::new(
            ErrorCode::InvalidUrl,
            format!("base URL authority {authority:?}: {why}"),
        ))
    };
    let (host, normal_port) = match authority_parts(&lower) {
        Ok(parts) => parts,
        Err(why) => return invalid(why),
    };
    let normal_host = if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        match inner.parse::<Ipv6Addr>() {
            Ok(addr) => format!("[{}]", whatwg_ipv6(&addr)),
            Err(_) => return invalid(format!("{host} is not an IPv6 address")),
        }
    } else {
        match whatwg_ipv4(host) {
            None => host.to_string(),
            Some(Some(addr)) => addr.to_string(),
            Some(None) => {
                return invalid(format!(
                    "{host:?} ends in a number, so URL clients read it as an IPv4 address, and it is not one"
                ))
            }
        }
    };
    let normal = match normal_port {
        Some(p) => format!("{normal_host}:{p}"),
        None => normal_host,
    };
    if normal == lower {
        Ok(())
    } else {
        not_normal(normal)
    }
}

/// Splits a URL's authority (without user info) into its host and the text after the
/// host's `:`, if any: an IPv6 literal keeps its brackets and may only be followed by
/// `:port`; any other host ends at its first `:`. The port is not checked.
///
/// ```
/// use xnonce_core::link::split_authority;
/// assert_eq!(split_authority("[::1]:8080"), Ok(("[::1]", Some("8080"))));
/// assert_eq!(split_authority("h:"), Ok(("h", Some(""))));
/// assert_eq!(split_authority("h"), Ok(("h", None)));
/// assert!(split_authority("[::1]x").is_err());
/// ```
pub fn split_authority(authority: &str) -> std::result::Result<(&str, Option<&str>), &'static str> {
    if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or("an IPv6 literal needs a closing ']'")?;
        match &authority[end + 1..] {
            "" => Ok((&authority[..=end], None)),
            rest => match rest.strip_prefix(':') {
                Some(port) => Ok((&authority[..=end], Some(port))),
                None => Err("only ':port' may follow an IPv6 literal"),
            },
        }
    } else {
        Ok(match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        })
    }
}

/// An IPv6 address as the WHATWG URL standard serialises it (RFC 5952 without its
/// dotted-quad form for IPv4-mapped addresses, which `Ipv6Addr`'s `Display` uses).
fn whatwg_ipv6(addr: &Ipv6Addr) -> String {
    let groups = addr.segments();
    // The longest run of at least two zero groups; the first of equally long ones.
    let (mut best, mut run) = (None::<(usize, usize)>, None::<(usize, usize)>);
    for (i, &g) in groups.iter().enumerate() {
        run = match (g, run) {
            (0, Some((start, len))) => Some((start, len + 1)),
            (0, None) => Some((i, 1)),
            _ => None,
        };
        if let Some((start, len)) = run {
            if len >= 2 && best.is_none_or(|(_, l)| len > l) {
                best = Some((start, len));
            }
        }
    }
    let hex = |gs: &[u16]| {
        gs.iter()
            .map(|g| format!("{g:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    match best {
        Some((start, len)) => format!("{}::{}", hex(&groups[..start]), hex(&groups[start + len..])),
        None => hex(&groups),
    }
}

/// The WHATWG URL standard's reading of a host that ends in a number: `None` when the host
/// does not end in a number (a domain name), `Some(None)` when it does but is not a valid
/// IPv4 address (URL clients refuse it), else the address.
fn whatwg_ipv4(host: &str) -> Option<Option<Ipv4Addr>> {
    let mut parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    let last = parts.last()?;
    let ends_in_number = (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
        || ipv4_number(last).is_some();
    if !ends_in_number {
        return None;
    }
    if parts.len() > 4 {
        return Some(None);
    }
    let Some(numbers) = parts
        .iter()
        .map(|p| ipv4_number(p))
        .collect::<Option<Vec<u64>>>()
    else {
        return Some(None);
    };
    let (last, init) = numbers.split_last()?;
    if init.iter().any(|&n| n > 255) || *last >= 256u64.pow(5 - numbers.len() as u32) {
        return Some(None);
    }
    let mut addr = *last;
    for (i, &n) in init.iter().enumerate() {
        addr += n << (8 * (3 - i));
    }
    Some(u32::try_from(addr).ok().map(Ipv4Addr::from))
}

/// One part of a WHATWG IPv4 address: decimal, `0x` hex or `0`-prefixed octal; `None` on
/// anything else (or a number too large to matter).
fn ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        return Some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // More than 2^32 is refused by the caller whatever its exact value.
    Some(u64::from_str_radix(digits, radix).unwrap_or(u64::MAX))
}

/// Signs `input` and builds the link under `base_url` (`http(s)://authority[/prefix]`).
///
/// For v2 the signed host is the base URL's authority (a given `input.host` must agree).
/// The params keep the given order: v1 writes `key=CGI.escape(value)`, v2 RFC 3986-encodes
/// keys and values; the path is written as signed (v2: its canonical form); `ottoken` comes
/// last. A body cannot travel in a link (`invalid_body`).
///
/// A link must reach the server as it was signed, so what browsers and other WHATWG URL
/// clients rewrite before sending is refused: a path with a dot segment (`.`, `..`, with any
/// dot written `%2e`), or for v1 (path written as given) a backslash, a non-ASCII character
/// or one of `"` `<` `>` `^` `` ` `` `{` `|` `}` (`invalid_path`); a base URL with a backslash or
/// a dot segment in its prefix, and for v2 an authority not written as those clients send it
/// (`[0:0::1]` for `[::1]`, `127.1` for `127.0.0.1`, port `08080` for `8080`): `invalid_url`,
/// naming the form to write.
///
/// ```
/// use xnonce_core::{link_with, FixedEnvironment, Scheme, Secret, SignInput};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let input = SignInput::new(Scheme::V2, "GET", "/files/fetch", "test_client")
///     .param("name", "report 2013.pdf").timestamp_ms(1700000000000);
/// let env = FixedEnvironment { now_ms: 0, nonce: [7; 16] };
/// let link = link_with(&input, &secret, "https://API.example.com:443/", &env)?;
/// assert!(link.url.starts_with("https://API.example.com:443/files/fetch?name=report%202013.pdf&ottoken=djIg"));
/// # Ok::<(), xnonce_core::Error>(())
/// ```
pub fn link_with(
    input: &SignInput,
    secret: &Secret,
    base_url: &str,
    env: &dyn Environment,
) -> Result<Link> {
    let (authority, base) = split_base_url(base_url, input.scheme)?;
    if input.body.as_ref().is_some_and(|b| !b.is_empty()) {
        return err(ErrorCode::InvalidBody, "a link cannot carry a body");
    }
    let mut input = input.clone();
    if input.scheme == Scheme::V2 {
        let from_url = crate::canonical::host(authority)?;
        match &input.host {
            Some(h) if crate::canonical::host(h)? != from_url => {
                return err(
                    ErrorCode::InvalidHost,
                    "the host differs from the base URL's authority",
                );
            }
            _ => input.host = Some(authority.to_string()),
        }
    }
    let signed = sign_with(&input, secret, env)?;
    let (path, mut query) = match input.scheme {
        Scheme::V1 => (
            input.path.clone(),
            crate::canonical::v1::content(&input.params)?,
        ),
        Scheme::V2 => {
            let pairs: Vec<String> = input
                .params
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        percent::encode_rfc3986(k.as_bytes()),
                        percent::encode_rfc3986(v.as_bytes())
                    )
                })
                .collect();
            (
                crate::canonical::path_v2(&input.path)?.into_owned(),
                pairs.join("&"),
            )
        }
    };
    check_link_path(&path)?;
    if !query.is_empty() {
        query.push('&');
    }
    let url = format!(
        "{base}{path}?{query}{}={}",
        crate::ottoken::PARAM,
        crate::ottoken::query_value(&signed.ottoken)
    );
    Ok(Link { url, signed })
}

/// [`link_with`] on the system clock and OS random generator.
#[cfg(feature = "os")]
pub fn link(input: &SignInput, secret: &Secret, base_url: &str) -> Result<Link> {
    link_with(
        input,
        secret,
        base_url,
        &crate::environment::SystemEnvironment,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::FixedEnvironment;

    fn link_of(scheme: Scheme, path: &str, base_url: &str) -> Result<Link> {
        let secret = crate::fixtures::secret();
        let input = SignInput::new(scheme, "GET", path, "test_client")
            .param("a", "b")
            .timestamp_ms(1_700_000_000_000);
        let env = FixedEnvironment {
            now_ms: 0,
            nonce: [7; 16],
        };
        link_with(&input, &secret, base_url, &env)
    }

    #[test]
    fn dot_segments_in_every_spelling() {
        for s in [".", "..", "%2e", "%2E", ".%2e", "%2E.", "%2e%2E"] {
            assert!(dot_segment(s), "{s}");
        }
        for s in [
            "",
            "...",
            ".a",
            "a.",
            "%2e%2e%2e",
            "%2",
            "%2f",
            "..%2f",
            "%2ex",
        ] {
            assert!(!dot_segment(s), "{s}");
        }
    }

    #[test]
    fn paths_that_url_clients_change_are_refused() {
        for scheme in [Scheme::V1, Scheme::V2] {
            for path in [
                "/controller1/./action1",
                "/a/../controller1/action1",
                "/controller1/%2e%2E/x",
                "/controller1/.%2e",
                "/controller1/action1/.",
            ] {
                let e = link_of(scheme, path, "http://127.0.0.1:8080").unwrap_err();
                assert_eq!(e.code(), ErrorCode::InvalidPath, "{scheme} {path}");
                assert!(e.message().contains("dot segment"), "{e}");
            }
        }
        // v1 writes the path as given: what URL clients turn or escape is refused.
        // Chromium sends `/a|b` as `/a%7Cb` (the WHATWG standard and Node keep `|`).
        for path in [
            "/a\\b", "/a/é", "/a\"b", "/<a>", "/a^b", "/a`b", "/{a}", "/a|b",
        ] {
            let e = link_of(Scheme::V1, path, "http://127.0.0.1:8080").unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidPath, "{path}");
        }
        // v2 writes its canonical path, where all of those are escaped: accepted.
        for path in [
            "/a\\b",
            "/a/é",
            "/a\"b",
            "/<a>",
            "/a^b",
            "/a`b",
            "/{a}",
            "/a|b",
            "/a/..b/c.",
        ] {
            let l = link_of(Scheme::V2, path, "http://127.0.0.1:8080").unwrap();
            assert!(l.url.starts_with("http://127.0.0.1:8080/"), "{}", l.url);
        }
        // Paths URL clients keep are still fine in v1.
        for path in ["/a/..b/c.", "/a/%C3%A9", "/a%7Cb[1]", "/a%2e%2e"] {
            link_of(Scheme::V1, path, "http://127.0.0.1:8080").unwrap();
        }
    }

    #[test]
    fn base_urls_that_url_clients_change_are_refused() {
        for scheme in [Scheme::V1, Scheme::V2] {
            for base in [
                "http://h\\x",
                "http://h/api/../x",
                "http://h/%2e/",
                "http://h/pre<fix",
                "http://h/pré",
                "http://h/a|b",
            ] {
                let e = link_of(scheme, "/a/b", base).unwrap_err();
                assert_eq!(e.code(), ErrorCode::InvalidUrl, "{scheme} {base}");
            }
        }
    }

    #[test]
    fn base_urls_need_a_host_and_no_user_info() {
        for scheme in [Scheme::V1, Scheme::V2] {
            for base in ["http://", "http:///api", "http://u@h", "https://u:p@h/api"] {
                let e = link_of(scheme, "/a/b", base).unwrap_err();
                assert_eq!(e.code(), ErrorCode::InvalidUrl, "{scheme} {base}");
                assert!(e.message().contains("needs a host"), "{scheme} {base}: {e}");
            }
        }
    }

    #[test]
    fn v2_authorities_must_be_as_url_clients_send_them() {
        let refused = [
            ("http://[0:0::1]:18434", Some("[::1]:18434")),
            ("http://[::1]:018434", Some("[::1]:18434")),
            ("http://[::1]:", Some("[::1]")),
            ("http://[1:0:0:0:0:0:0:1]", Some("[1::1]")),
            ("http://[::FFFF:1.2.3.4]", Some("[::ffff:102:304]")),
            ("http://[0:0:1:0:0:0:1:0]", Some("[0:0:1::1:0]")),
            ("http://[1:0:0:2:0:0:3:4]", Some("[1::2:0:0:3:4]")),
            ("http://127.1:8080", Some("127.0.0.1:8080")),
            ("http://0x7f.0.0.1", Some("127.0.0.1")),
            ("http://0177.0.0.1", Some("127.0.0.1")),
            ("http://127.000.000.001", Some("127.0.0.1")),
            ("http://127.0.0.1.", Some("127.0.0.1")),
            ("http://2130706433", Some("127.0.0.1")),
            ("http://h:080", Some("h:80")),
            ("http://h:", Some("h")),
            ("http://h:65536", None),
            ("http://h:99999999999999999999", None),
            ("http://h:8a", None),
            ("http://h:+80", None),
            ("http://1.256.1.1", None),
            ("http://1.2.3.256", None),
            ("http://1.2.65536", None),
            ("http://4294967296", None),
            ("http://1.65536", Some("1.1.0.0")),
            ("http://1.2.258", Some("1.2.1.2")),
            ("http://0x1.0x2.0x3.0x4", Some("1.2.3.4")),
            ("http://h:1:2", None),
            ("http://1.2.3.4.5", None),
            ("http://256.1.1.1", None),
            ("http://example.123", None),
            ("http://[::1", None),
            ("http://[::1]x", None),
            ("http://1xj]", None),
            ("http://a[b]", None),
            ("http://[12345::]", None),
        ];
        for (base, normal) in refused {
            let e = link_of(Scheme::V2, "/a/b", base).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidUrl, "{base}: {e}");
            match normal {
                Some(n) => assert!(e.message().contains(&format!("write {n:?}")), "{base}: {e}"),
                None => assert!(!e.message().contains("write "), "{base}: {e}"),
            }
            // v1 does not sign the authority: left as typed, unless no URL client could
            // read it (a bad port, brackets out of place).
            let v1_refused = [
                "http://h:65536",
                "http://h:99999999999999999999",
                "http://h:8a",
                "http://h:+80",
                "http://h:1:2",
                "http://[::1",
                "http://[::1]x",
                "http://1xj]",
                "http://a[b]",
            ];
            match link_of(Scheme::V1, "/a/b", base) {
                Ok(_) => assert!(!v1_refused.contains(&base), "v1 accepted {base}"),
                Err(e) => {
                    assert!(v1_refused.contains(&base), "v1 refused {base}: {e}");
                    assert_eq!(e.code(), ErrorCode::InvalidUrl, "{base}: {e}");
                }
            }
        }
        let e = link_of(Scheme::V1, "/a/b", "http://:3000").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidUrl, "{e}");
        for base in [
            "http://[::1]:18434",
            "http://[::ffff:102:304]",
            "http://[1::1]",
            "http://[::]",
            "https://[2001:db8::1]/api",
            "http://127.0.0.1:8080",
            "http://1.2.3.4",
            "http://255.255.255.255",
            "http://0.0.0.0:0",
            "http://h:65535",
            "https://API.Example.com:443/",
            "http://example.com.",
            "http://a.b-c_d.example",
            "http://1.2.3.4.example",
        ] {
            let l = link_of(Scheme::V2, "/a/b", base).unwrap_or_else(|e| panic!("{base}: {e}"));
            assert!(l.url.starts_with(base.trim_end_matches('/')), "{}", l.url);
        }
    }

    #[test]
    fn ipv6_normal_form_matches_std_except_for_embedded_ipv4() {
        for text in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1::2:0:0:3",
            "0:0:1::",
            "fe80::1:0:0:1",
        ] {
            let a: Ipv6Addr = text.parse().unwrap();
            assert_eq!(whatwg_ipv6(&a), a.to_string(), "{text}");
        }
        let mapped: Ipv6Addr = "::ffff:1.2.3.4".parse().unwrap();
        assert_eq!(whatwg_ipv6(&mapped), "::ffff:102:304");
    }
}
