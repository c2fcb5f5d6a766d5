//! Canonical forms of each signed field, and the canonical strings of both schemes.
//!
//! [`v1::canonical`] and [`v2::canonical`] build the exact string that is hashed; the field
//! functions ([`method`], [`path_v1`], [`path_v2`], [`host`], [`params_v2`]) validate and
//! normalise one field each.

pub mod v1;
pub mod v2;

use std::borrow::Cow;

use crate::error::{err, ErrorCode, Result};
use crate::percent;

/// Upper-cases a method after checking it is 1 to 16 ASCII letters (`invalid_method`).
///
/// ```
/// assert_eq!(xnonce_core::canonical::method("get").unwrap(), "GET");
/// ```
pub fn method(m: &str) -> Result<String> {
    let mut out = String::with_capacity(m.len());
    push_method(&mut out, m)?;
    Ok(out)
}

/// [`method`] appending to `out`.
pub(crate) fn push_method(out: &mut String, m: &str) -> Result<()> {
    if m.is_empty() || m.len() > 16 || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
        return err(
            ErrorCode::InvalidMethod,
            "method must be 1 to 16 ASCII letters",
        );
    }
    out.extend(m.bytes().map(|b| b.to_ascii_uppercase() as char));
    Ok(())
}

/// What a path byte may be: fine, a space (v1 refuses it), or never allowed (`?`, `#`,
/// control characters).
const PATH_OK: u8 = 0;
const PATH_SPACE: u8 = 1;
const PATH_FORBIDDEN: u8 = 2;
const PATH_BYTES: [u8; 256] = {
    let mut t = [PATH_OK; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b == b'?' || b == b'#' || b.is_ascii_control() {
            t[i] = PATH_FORBIDDEN;
        } else if b == b' ' {
            t[i] = PATH_SPACE;
        }
        i += 1;
    }
    t
};

/// Checks a path's shape in one pass; returns whether it holds a space.
fn check_path_shape(p: &str) -> Result<bool> {
    if !p.starts_with('/') {
        return err(ErrorCode::InvalidPath, "path must start with '/'");
    }
    if p.len() > 8192 {
        return err(ErrorCode::InvalidPath, "path is longer than 8192 bytes");
    }
    let seen = p
        .bytes()
        .fold(PATH_OK, |seen, b| seen | PATH_BYTES[b as usize]);
    if seen & PATH_FORBIDDEN != 0 {
        return err(
            ErrorCode::InvalidPath,
            "path must not contain '?', '#' or control characters (pass the query as params)",
        );
    }
    Ok(seen & PATH_SPACE != 0)
}

/// The v1 path: signed exactly as given (em-secure-api signs the routed path as it is),
/// after checking it starts with `/` and holds no `?`, `#`, space or control character.
pub fn path_v1(p: &str) -> Result<&str> {
    if check_path_shape(p)? {
        return err(
            ErrorCode::InvalidPath,
            "a v1 path must not contain spaces (it is signed as sent)",
        );
    }
    Ok(p)
}

/// The v2 canonical path: split on `/`, each segment's `%XX` escapes decoded to bytes and the
/// bytes re-encoded with only unreserved characters kept (`%XX`, upper-case hex), segments
/// joined with `/` again. So `/a%7eb c` and `/a~b%20c` share the canonical form `/a~b%20c`,
/// while an escaped slash stays distinct from a separator: `/a%2Fb` → `/a%2Fb`, not `/a/b`.
///
/// ```
/// use xnonce_core::canonical::path_v2;
/// assert_eq!(path_v2("/files/my doc%2etxt").unwrap(), "/files/my%20doc.txt");
/// assert_ne!(path_v2("/a%2Fb").unwrap(), path_v2("/a/b").unwrap());
/// ```
pub fn path_v2(p: &str) -> Result<Cow<'_, str>> {
    check_path_shape(p)?;
    if p.bytes().all(|b| b == b'/' || percent::is_unreserved(b)) {
        return Ok(Cow::Borrowed(p)); // already canonical
    }
    let mut out = String::with_capacity(p.len() + 8);
    for (i, segment) in p.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&percent::encode_rfc3986(&percent::decode_path(segment)?));
    }
    Ok(Cow::Owned(out))
}

/// The v2 canonical host: the authority lower-cased, with a trailing `:80` or `:443` removed.
/// Allowed characters (after lower-casing): `a-z 0-9 . - _ : [ ]`; 1 to 255 bytes.
///
/// ```
/// assert_eq!(xnonce_core::canonical::host("API.Example.com:443").unwrap(), "api.example.com");
/// assert_eq!(xnonce_core::canonical::host("127.0.0.1:8080").unwrap(), "127.0.0.1:8080");
/// ```
pub fn host(h: &str) -> Result<Cow<'_, str>> {
    if h.is_empty() || h.len() > 255 {
        return err(ErrorCode::InvalidHost, "host must be 1 to 255 characters");
    }
    if !h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
    {
        return err(
            ErrorCode::InvalidHost,
            "host may only contain a-z 0-9 . - _ : [ ] (use punycode for IDNs)",
        );
    }
    let trimmed = h
        .strip_suffix(":80")
        .or_else(|| h.strip_suffix(":443"))
        .unwrap_or(h);
    if trimmed.is_empty() || trimmed.starts_with(':') {
        return err(ErrorCode::InvalidHost, "host has no name before the port");
    }
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Cow::Owned(trimmed.to_ascii_lowercase()))
    } else {
        Ok(Cow::Borrowed(trimmed))
    }
}

/// Checks a parameter key for the given scheme: never empty, never `ottoken` (reserved for the
/// link token); for v1 only `A-Z a-z 0-9 _ . - ~` (em-secure-api's server reads keys raw, so
/// any other key could never verify).
pub fn param_key(key: &str, scheme: crate::Scheme) -> Result<()> {
    if key.is_empty() {
        return err(ErrorCode::InvalidParamKey, "parameter key is empty");
    }
    if key == crate::ottoken::PARAM {
        return err(
            ErrorCode::InvalidParamKey,
            "parameter key 'ottoken' is reserved for the link token",
        );
    }
    if scheme == crate::Scheme::V1 && !key.bytes().all(percent::is_unreserved) {
        return err(
            ErrorCode::InvalidParamKey,
            "a v1 parameter key may only contain A-Z a-z 0-9 _ . - ~ (the v1 server reads keys unescaped)",
        );
    }
    Ok(())
}

/// The v2 canonical parameter line: each key and value RFC 3986-encoded, the pairs sorted by
/// (encoded key, encoded value) in byte order, duplicates kept, written `k=v` and joined by `&`.
///
/// ```
/// let p = [("b", "2"), ("a", "x y"), ("a", "1")];
/// assert_eq!(xnonce_core::canonical::params_v2(&p).unwrap(), "a=1&a=x%20y&b=2");
/// let owned: Vec<(String, String)> = p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
/// assert_eq!(xnonce_core::canonical::params_v2(&owned).unwrap(), "a=1&a=x%20y&b=2");
/// ```
pub fn params_v2<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Result<String> {
    let mut out = String::new();
    push_params_v2(&mut out, params)?;
    Ok(out)
}

/// [`params_v2`] appending to `out`, without building the encoded pairs: the order of two
/// encoded strings is decided at their first differing raw byte (see `cmp_encoded`), so the
/// params are sorted by index and each is encoded once, straight into `out`.
pub fn push_params_v2<K: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    params: &[(K, V)],
) -> Result<()> {
    for (k, _) in params {
        param_key(k.as_ref(), crate::Scheme::V2)?;
    }
    let by_encoded = |&a: &usize, &b: &usize| {
        let ((ka, va), (kb, vb)) = (&params[a], &params[b]);
        cmp_encoded(ka.as_ref().as_bytes(), kb.as_ref().as_bytes())
            .then_with(|| cmp_encoded(va.as_ref().as_bytes(), vb.as_ref().as_bytes()))
    };
    let mut small = [0usize; 16];
    let mut large = Vec::new();
    let order: &mut [usize] = if params.len() <= small.len() {
        &mut small[..params.len()]
    } else {
        large.resize(params.len(), 0);
        &mut large
    };
    for (i, slot) in order.iter_mut().enumerate() {
        *slot = i;
    }
    order.sort_unstable_by(by_encoded);
    for (i, &ix) in order.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent::push_rfc3986(out, params[ix].0.as_ref());
        out.push('=');
        percent::push_rfc3986(out, params[ix].1.as_ref());
    }
    Ok(())
}

/// Compares the RFC 3986 encodings of two byte strings without encoding them. Equal raw bytes
/// encode equally, so the order is decided at the first differing byte: by the encodings of
/// those two bytes, or, when one string is a prefix of the other, by length. Two differing
/// bytes' encodings compare by their first characters — the byte itself when kept, `%` when
/// escaped (a kept byte is never `%`) — and, when both are escaped, by their upper-case hex
/// digits, which sort as the byte values do.
fn cmp_encoded(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let first = |x: u8| if percent::is_unreserved(x) { x } else { b'%' };
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some(i) => first(a[i]).cmp(&first(b[i])).then(a[i].cmp(&b[i])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
        r.unwrap_err().code()
    }

    /// Each field's length limit holds exactly at its edge.
    #[test]
    fn field_lengths_are_checked_at_their_edges() {
        assert_eq!(method(&"g".repeat(16)).unwrap(), "G".repeat(16));
        assert_eq!(code(method(&"g".repeat(17))), ErrorCode::InvalidMethod);
        assert_eq!(code(method("")), ErrorCode::InvalidMethod);

        let longest = format!("/{}", "a".repeat(8191));
        assert_eq!(path_v1(&longest).unwrap(), longest);
        assert_eq!(path_v2(&longest).unwrap(), longest);
        let too_long = format!("{longest}a");
        assert_eq!(code(path_v1(&too_long)), ErrorCode::InvalidPath);
        assert_eq!(code(path_v2(&too_long)), ErrorCode::InvalidPath);

        let longest = "h".repeat(255);
        assert_eq!(host(&longest).unwrap(), longest);
        assert_eq!(code(host(&format!("{longest}h"))), ErrorCode::InvalidHost);
        assert_eq!(code(host("")), ErrorCode::InvalidHost);
    }

    /// `?`, `#` and control characters are refused in both schemes' paths; spaces only in
    /// v1's, however many there are.
    #[test]
    fn paths_refuse_what_cannot_be_sent_as_a_path() {
        for bad in [
            "/a?b",
            "/a#b",
            "/a\nb",
            "/a\0b",
            "/a\u{7f}b",
            "/a?b#c",
            "/a\tb\rc",
        ] {
            assert_eq!(code(path_v1(bad)), ErrorCode::InvalidPath, "{bad:?}");
            assert_eq!(code(path_v2(bad)), ErrorCode::InvalidPath, "{bad:?}");
        }
        for spaced in ["/a b", "/a b c", "/a  b c"] {
            assert_eq!(code(path_v1(spaced)), ErrorCode::InvalidPath, "{spaced:?}");
        }
        assert_eq!(path_v2("/a b c").unwrap(), "/a%20b%20c");
        assert_eq!(code(path_v1("a/b")), ErrorCode::InvalidPath);
    }

    /// Every pair of bytes, alone and after a shared prefix, orders as its encodings do.
    #[test]
    fn raw_bytes_order_as_their_encodings() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let (ea, eb) = (percent::encode_rfc3986(&[a]), percent::encode_rfc3986(&[b]));
                assert_eq!(cmp_encoded(&[a], &[b]), ea.cmp(&eb), "{a:#04x} {b:#04x}");
                assert_eq!(
                    cmp_encoded(&[b'k', a, b'z'], &[b'k', b]),
                    format!("k{ea}z").cmp(&format!("k{eb}")),
                    "{a:#04x} {b:#04x}"
                );
            }
        }
    }
}
