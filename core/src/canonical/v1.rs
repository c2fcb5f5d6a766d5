//! The v1 (em-secure-api) canonical string.
//!
//! `METHOD + path + content + client + secret + timestamp`, no separators, where
//! `content` is the params in the given order, each `key=CGI.escape(value)`, joined by `&`.
//!
//! Signing hashes the part before the secret (the *prefix*), the secret and the timestamp
//! as three pieces of one SHA-256 ([`token`]), so the secret is never copied into a string
//! and a verifier trying several live secrets builds the prefix once.

use crate::error::Result;
use crate::Scheme;

/// v1 `content`: params in order, `key=CGI.escape(value)`, joined by `&`.
pub fn content<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Result<String> {
    let mut out = String::new();
    push_content(&mut out, params)?;
    Ok(out)
}

/// [`content`] appending to `out`.
pub fn push_content<K: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    params: &[(K, V)],
) -> Result<()> {
    push_content_with(out, params, Tilde::Kept)
}

/// How a `~` in a value is written in `content`.
///
/// Ruby's `CGI.escape` keeps `~` since Ruby 2.5 (what em-secure-api's ground-truth vectors,
/// and xnonce, sign with); before, it wrote `%7E`, so a requester of 2013 on Ruby 1.9–2.4
/// signed values holding `~` that way. A verifier accepts both (PROTOCOL §11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tilde {
    /// `~` kept (Ruby ≥ 2.5; what xnonce signs).
    Kept,
    /// `~` written `%7E` (Ruby ≤ 2.4; only ever verified).
    Escaped,
}

fn push_content_with<K: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    params: &[(K, V)],
    tilde: Tilde,
) -> Result<()> {
    let mut seen = SeenKeys::new(params.len());
    for (i, (k, v)) in params.iter().enumerate() {
        let (k, v) = (k.as_ref(), v.as_ref());
        super::param_key(k, Scheme::V1)?;
        if seen.repeated(k, &params[..i]) {
            return Err(crate::Error::new(
                crate::ErrorCode::InvalidParamKey,
                format!(
                    "v1 parameter key '{k}' is given twice; a v1 server keeps one value per key \
                     (em-secure-api's params are a Hash), so the request could never verify"
                ),
            ));
        }
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        match tilde {
            Tilde::Kept => crate::percent::push_cgi_escaped(out, v),
            Tilde::Escaped => crate::percent::push_cgi_escaped_before_ruby_2_5(out, v),
        }
    }
    Ok(())
}

/// Which keys came before: a scan of the earlier params for a few, a set for many (a request
/// may carry thousands).
enum SeenKeys<'a> {
    Scan,
    Set(std::collections::HashSet<&'a str>),
}

impl<'a> SeenKeys<'a> {
    /// Below [`crate::params::V1_INDEX_FROM`] params the earlier ones are scanned (no
    /// allocation).
    fn new(len: usize) -> Self {
        if len < crate::params::V1_INDEX_FROM {
            SeenKeys::Scan
        } else {
            SeenKeys::Set(std::collections::HashSet::with_capacity(len))
        }
    }

    /// True when `key` is among the keys of `earlier` (the params before it); records it.
    fn repeated<K: AsRef<str>, V>(&mut self, key: &'a str, earlier: &[(K, V)]) -> bool {
        match self {
            SeenKeys::Scan => earlier.iter().any(|(k, _)| k.as_ref() == key),
            SeenKeys::Set(set) => !set.insert(key),
        }
    }
}

/// `METHOD + path + content + client`: the canonical string up to the secret, every field
/// validated (method, path, client id, then param keys).
pub fn prefix<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    path: &str,
    params: &[(K, V)],
    client: &str,
) -> Result<String> {
    prefix_with(method, path, params, client, Tilde::Kept)
}

/// [`prefix`] with values' `~` written as `tilde` says.
///
/// ```
/// use xnonce_core::canonical::v1::{prefix_with, Tilde};
/// let p = [("q", "a~b")];
/// assert_eq!(prefix_with("get", "/c/a", &p, "cl", Tilde::Kept).unwrap(), "GET/c/aq=a~bcl");
/// assert_eq!(prefix_with("get", "/c/a", &p, "cl", Tilde::Escaped).unwrap(), "GET/c/aq=a%7Ebcl");
/// ```
pub fn prefix_with<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    path: &str,
    params: &[(K, V)],
    client: &str,
    tilde: Tilde,
) -> Result<String> {
    let params_len: usize = params
        .iter()
        .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 2)
        .sum();
    // Room for the secret and timestamp too, so `canonical` does not reallocate; escapes in
    // values may still grow it once.
    let capacity = method.len() + path.len() + params_len + client.len() + 128;
    let mut out = String::with_capacity(capacity);
    super::push_method(&mut out, method)?;
    out.push_str(super::path_v1(path)?);
    crate::client_id::validate(client)?;
    push_content_with(&mut out, params, tilde)?;
    out.push_str(client);
    Ok(out)
}

/// The full v1 canonical string. It contains the secret: never log it.
pub fn canonical<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    path: &str,
    params: &[(K, V)],
    client: &str,
    secret: &str,
    timestamp_ms: u64,
) -> Result<String> {
    Ok(complete(
        prefix(method, path, params, client)?,
        secret,
        timestamp_ms,
    ))
}

/// The canonical string from its [`prefix`]: `prefix + secret + timestamp`. Room for the
/// secret and the timestamp is made first, while the string holds no secret: growing it
/// after the secret is in would leave a copy of it in the freed buffer, which no one zeroes.
pub(crate) fn complete(mut prefix: String, secret: &str, timestamp_ms: u64) -> String {
    prefix.reserve_exact(secret.len() + 20);
    prefix.push_str(secret);
    push_u64(&mut prefix, timestamp_ms);
    prefix
}

/// The v1 token: SHA-256 of `prefix + secret + timestamp` (the canonical string), hashed in
/// pieces.
pub fn token(prefix: &str, secret: &str, timestamp_ms: u64) -> [u8; 32] {
    let mut h = crate::sha256::Sha256::new();
    h.update(prefix.as_bytes());
    h.update(secret.as_bytes());
    h.update(itoa::Buffer::new().format(timestamp_ms).as_bytes());
    h.finalize()
}

/// Appends the decimal form of `n`.
pub(crate) fn push_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// em1-public-001 of the vectors made by running em-secure-api's Ruby code
    /// (PROTOCOL §5.4).
    #[test]
    fn canonical_and_token_match_em_secure_api() {
        let secret = crate::fixtures::SECRET;
        let params = [
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", "this"),
        ];
        let timestamp = 1_384_300_800_123;
        let c = canonical(
            "GET",
            "/controller1/action1",
            &params,
            "test_client-irb",
            secret,
            timestamp,
        )
        .unwrap();
        assert_eq!(
            c,
            "GET/controller1/action1username=phil&password=hello+phil&opt1=thistest_client-irb\
             20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd1384300800123"
        );
        let prefix = prefix("GET", "/controller1/action1", &params, "test_client-irb").unwrap();
        assert_eq!(
            crate::hex::encode(&token(&prefix, secret, timestamp)),
            "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b"
        );
    }

    /// A repeated key is refused at its second occurrence, for a few params (scanned) and for
    /// many (a set), since the v1 server would merge it away (PROTOCOL §3.6).
    #[test]
    fn repeated_keys_are_refused() {
        let few = [("tag", "a"), ("n", "1"), ("tag", "b")];
        let e = content(&few).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidParamKey);
        assert!(e.to_string().contains("'tag' is given twice"), "{e}");

        let mut many: Vec<(String, String)> =
            (0..40).map(|i| (format!("k{i}"), i.to_string())).collect();
        assert!(content(&many).is_ok(), "distinct keys pass");
        many.push(("k7".into(), "again".into()));
        let e = content(&many).unwrap_err();
        assert!(e.to_string().contains("'k7' is given twice"), "{e}");

        // The key's own checks come first: an invalid repeated key reports its invalidity.
        let e = content(&[("a b", "1"), ("a b", "2")]).unwrap_err();
        assert!(e.to_string().contains("may only contain"), "{e}");
        // Keys that differ only in case are different keys.
        assert!(content(&[("a", "1"), ("A", "2")]).is_ok());
    }
}
