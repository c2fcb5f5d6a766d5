//! Percent-encoding, exactly as each scheme needs it.
//!
//! * [`cgi_escape`]: Ruby's `CGI.escape`, used by v1 values and v1 links.
//! * [`encode_rfc3986`]: RFC 3986 with only unreserved bytes kept, used by v2.
//! * [`decode_form`] / [`decode_path`]: strict decoders used by the verifier.

use crate::error::{err, ErrorCode, Result};

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 unreserved: `A-Z a-z 0-9 - . _ ~`.
pub const fn is_unreserved(b: u8) -> bool {
    UNRESERVED[b as usize]
}

const UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        i += 1;
    }
    t
};

fn push_escaped(out: &mut String, b: u8) {
    out.push('%');
    out.push(UPPER_HEX[(b >> 4) as usize] as char);
    out.push(UPPER_HEX[(b & 15) as usize] as char);
}

/// Ruby's `CGI.escape`: keeps `A-Z a-z 0-9 _ . - ~`, writes a space as `+`, and every
/// other byte of the UTF-8 text as `%XX` with upper-case hex.
///
/// ```
/// assert_eq!(xnonce_core::percent::cgi_escape("a+b c/é"), "a%2Bb+c%2F%C3%A9");
/// ```
pub fn cgi_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    push_cgi_escaped(&mut out, s);
    out
}

/// [`cgi_escape`] appending to `out`.
pub fn push_cgi_escaped(out: &mut String, s: &str) {
    push_text_escaped(out, s, true);
}

/// [`push_cgi_escaped`] as Ruby's `CGI.escape` wrote it before Ruby 2.5: `~` as `%7E` too.
/// Only for verifying v1 requests signed on such Ruby versions (PROTOCOL §11.1); xnonce never
/// signs this way.
///
/// ```
/// let mut out = String::new();
/// xnonce_core::percent::push_cgi_escaped_before_ruby_2_5(&mut out, "~a b~");
/// assert_eq!(out, "%7Ea+b%7E");
/// ```
pub fn push_cgi_escaped_before_ruby_2_5(out: &mut String, s: &str) {
    for (i, part) in s.split('~').enumerate() {
        if i > 0 {
            out.push_str("%7E");
        }
        push_cgi_escaped(out, part);
    }
}

/// Appends `s` with unreserved bytes kept and every other byte `%XX`, except a space written
/// as `+` when `space_as_plus` (CGI) rather than `%20` (RFC 3986).
fn push_text_escaped(out: &mut String, s: &str, space_as_plus: bool) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) {
            continue;
        }
        if start < i {
            // A non-empty run of unreserved ASCII starts and ends on char boundaries.
            out.push_str(&s[start..i]);
        }
        if b == b' ' && space_as_plus {
            out.push('+');
        } else {
            push_escaped(out, b);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// RFC 3986 encoding of bytes: unreserved bytes kept, every other byte `%XX` (upper-case hex).
///
/// ```
/// assert_eq!(xnonce_core::percent::encode_rfc3986("a+b c/é".as_bytes()), "a%2Bb%20c%2F%C3%A9");
/// ```
pub fn encode_rfc3986(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) {
            continue;
        }
        // Kept bytes are ASCII, so the run is valid UTF-8.
        out.push_str(std::str::from_utf8(&bytes[start..i]).unwrap_or_default());
        push_escaped(&mut out, b);
        start = i + 1;
    }
    out.push_str(std::str::from_utf8(&bytes[start..]).unwrap_or_default());
    out
}

/// [`encode_rfc3986`] of text, appended to `out`.
pub fn push_rfc3986(out: &mut String, s: &str) {
    push_text_escaped(out, s, false);
}

fn decode(s: &str, plus_is_space: bool, code: ErrorCode) -> Result<Vec<u8>> {
    let bytes = s.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(crate::hex::digit);
                let lo = bytes.get(i + 2).copied().and_then(crate::hex::digit);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push((h << 4) | l),
                    _ => return err(code, "bad percent-escape"),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
/// A `%` not followed by two hex digits is `malformed_params`.
pub fn decode_form(s: &str) -> Result<Vec<u8>> {
    decode(s, true, ErrorCode::MalformedParams)
}

/// Decodes `%XX` escapes of a path (`+` stays `+`). A bad escape is `invalid_path`.
pub fn decode_path(s: &str) -> Result<Vec<u8>> {
    decode(s, false, ErrorCode::InvalidPath)
}

/// The first percent-escape in `s` that is not `%` and two hex digits, as written (the `%`
/// and at most the two characters after it), for a message saying what is wrong; `None`
/// when every `%` begins a well-formed escape.
///
/// ```
/// use xnonce_core::percent::bad_escape;
/// assert_eq!(bad_escape("/a%zz/b"), Some("%zz"));
/// assert_eq!(bad_escape("/a%2"), Some("%2"));
/// assert_eq!(bad_escape("/a%2f%C3%A9"), None);
/// ```
pub fn bad_escape(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    let at = (0..bytes.len()).find(|&i| {
        bytes[i] == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })?;
    let end = s[at + 1..]
        .char_indices()
        .nth(2)
        .map_or(s.len(), |(i, _)| at + 1 + i);
    Some(&s[at..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgi_escape_matches_ruby() {
        assert_eq!(
            cgi_escape("this & this = a question?"),
            "this+%26+this+%3D+a+question%3F"
        );
        assert_eq!(cgi_escape("~draft*"), "~draft%2A");
        assert_eq!(cgi_escape(""), "");
    }

    #[test]
    fn decoders_round_trip_and_refuse_bad_escapes() {
        assert_eq!(decode_form("a+b%2Bc").unwrap(), b"a b+c");
        assert_eq!(decode_path("/a+b%20c").unwrap(), b"/a+b c");
        assert_eq!(
            decode_form("%zz").unwrap_err().code(),
            ErrorCode::MalformedParams
        );
        assert_eq!(
            decode_form("%4").unwrap_err().code(),
            ErrorCode::MalformedParams
        );
        assert_eq!(
            decode_path("/%").unwrap_err().code(),
            ErrorCode::InvalidPath
        );
    }

    /// Text made only of `%` or `+` takes the decoding path too.
    #[test]
    fn lone_escape_characters_are_decoded() {
        assert_eq!(decode_form("+").unwrap(), b" ");
        assert_eq!(decode_form("++").unwrap(), b"  ");
        assert_eq!(decode_path("+").unwrap(), b"+");
        assert_eq!(
            decode_form("%").unwrap_err().code(),
            ErrorCode::MalformedParams
        );
        assert_eq!(decode_path("%").unwrap_err().code(), ErrorCode::InvalidPath);
    }
}
