//! The v1 (em-secure-api) canonical string.
//!
//! `METHOD + path + content + client + secret + timestamp`, no separators, where
//! `content` is the params in the given order, each `key=CGI.escape(value)`, joined by `&`.

use crate::error::Result;
use crate::Scheme;

/// v1 `content`: params in order, `key=CGI.escape(value)`, joined by `&`.
pub fn content(params: &[(String, String)]) -> Result<String> {
    let mut out = String::new();
    push_content(&mut out, params)?;
    Ok(out)
}

/// [`content`] appending to `out`.
pub fn push_content(out: &mut String, params: &[(String, String)]) -> Result<()> {
    for (i, (k, v)) in params.iter().enumerate() {
        super::param_key(k, Scheme::V1)?;
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        crate::percent::push_cgi_escaped(out, v);
    }
    Ok(())
}

/// The full v1 canonical string. It contains the secret: never log it.
pub fn canonical(
    method: &str,
    path: &str,
    params: &[(String, String)],
    client: &str,
    secret: &str,
    timestamp_ms: u64,
) -> Result<String> {
    let method = super::method(method)?;
    let path = super::path_v1(path)?;
    crate::client_id::validate(client)?;
    let content = content(params)?;
    Ok(format!(
        "{method}{path}{content}{client}{secret}{timestamp_ms}"
    ))
}

/// Appends the decimal form of `n`.
pub(crate) fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}
