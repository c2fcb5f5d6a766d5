//! The `X-Nonce` header value of both schemes: format and parse.
//!
//! * v1: `<64 hex token> <client> <timestamp>`
//! * v2: `v2 <client> <timestamp> <32 hex nonce> <64 hex signature>`
//!
//! Fields are separated by exactly one space; the first field tells the schemes apart.

use std::fmt;
use std::str::FromStr;

use crate::error::{err, Error, ErrorCode, Result};
use crate::Scheme;

/// The header's name.
pub const NAME: &str = "X-Nonce";
/// The longest header value accepted by [`XNonce::parse`].
pub const MAX_LEN: usize = 512;
/// The largest timestamp accepted (2^53 − 1: exact in every language's numbers).
pub const MAX_TIMESTAMP_MS: u64 = (1 << 53) - 1;

/// A timestamp a binding was given as an integer (a JS bigint, a Python int), checked to
/// `0..=`[`MAX_TIMESTAMP_MS`] (`invalid_timestamp`). Pass `i128::MAX` for an integer beyond
/// the `i128` range: it is out of range too.
///
/// ```
/// use xnonce_core::header::timestamp_from_i128;
/// assert_eq!(timestamp_from_i128(1_700_000_000_000).unwrap(), 1_700_000_000_000);
/// assert!(timestamp_from_i128(-1).is_err());
/// assert!(timestamp_from_i128(1 << 53).is_err());
/// ```
pub fn timestamp_from_i128(ms: i128) -> Result<u64> {
    ms_from_i128(ms, MAX_TIMESTAMP_MS).ok_or_else(invalid_timestamp)
}

/// `ms` when it is in `0..=max`.
pub(crate) fn ms_from_i128(ms: i128, max: u64) -> Option<u64> {
    u64::try_from(ms).ok().filter(|&ms| ms <= max)
}

/// `ms` when it is a whole number in `0..=max` (`max` at most 2^53, exact as an `f64`).
pub(crate) fn ms_from_f64(ms: f64, max: u64) -> Option<u64> {
    (ms.is_finite() && ms >= 0.0 && ms.fract() == 0.0 && ms <= max as f64).then_some(ms as u64)
}

/// A timestamp given as a floating-point number (JavaScript's numbers): an integer in
/// `0..=`[`MAX_TIMESTAMP_MS`], else `invalid_timestamp` (a bigint: [`timestamp_from_i128`]).
///
/// ```
/// use xnonce_core::header::timestamp_from_f64;
/// assert_eq!(timestamp_from_f64(1_700_000_000_000.0).unwrap(), 1_700_000_000_000);
/// assert!(timestamp_from_f64(1.5).is_err());
/// assert!(timestamp_from_f64(-1.0).is_err());
/// ```
pub fn timestamp_from_f64(ms: f64) -> Result<u64> {
    ms_from_f64(ms, MAX_TIMESTAMP_MS).ok_or_else(invalid_timestamp)
}

/// The `invalid_timestamp` error for a timestamp given as a value that is not an integer in
/// `0..=`[`MAX_TIMESTAMP_MS`], the one message every binding uses.
pub fn invalid_timestamp() -> Error {
    Error::new(
        ErrorCode::InvalidTimestamp,
        "timestamp must be an integer number of milliseconds in 0..=2^53-1",
    )
}

/// A parsed `X-Nonce` header value.
///
/// ```
/// use xnonce_core::{Scheme, XNonce};
/// let h: XNonce = "v2 svc 1700000000000 00112233445566778899aabbccddeeff \
///     0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap();
/// assert_eq!(h.client(), "svc");
/// assert_eq!((h.scheme(), h.timestamp_ms()), (Scheme::V2, 1_700_000_000_000));
/// assert_eq!(h.request_id(), "00112233445566778899aabbccddeeff"); // v1: the token
/// assert_eq!(h.mac(), "0".repeat(64));
/// assert_eq!(XNonce::parse(&h.value()).unwrap(), h);
/// assert_eq!(h.to_string().parse::<XNonce>().unwrap(), h);
/// assert_eq!(xnonce_core::ottoken::decode(&h.to_ottoken()).unwrap(), h);
/// assert_eq!(XNonce::parse("v2 svc").unwrap_err().code().as_str(), "malformed_header");
/// ```
#[derive(Debug, Clone, Eq)]
pub enum XNonce {
    /// em-secure-api's header.
    V1 {
        /// Lower-case hex SHA-256 of the v1 canonical string.
        token: String,
        /// Client id.
        client: String,
        /// Milliseconds since the epoch.
        timestamp_ms: u64,
    },
    /// The v2 header.
    V2 {
        /// Client id.
        client: String,
        /// Milliseconds since the epoch.
        timestamp_ms: u64,
        /// 32 lower-case hex characters.
        nonce: String,
        /// Lower-case hex HMAC-SHA256 of the v2 canonical string.
        signature: String,
    },
}

/// Equal when every field is; the v1 token and the v2 signature are compared in constant time
/// (comparing a received header with one signed here must not tell how much of it matched).
impl PartialEq for XNonce {
    fn eq(&self, other: &Self) -> bool {
        use crate::mac::constant_time_eq;
        match (self, other) {
            (
                XNonce::V1 {
                    token: t1,
                    client: c1,
                    timestamp_ms: ts1,
                },
                XNonce::V1 {
                    token: t2,
                    client: c2,
                    timestamp_ms: ts2,
                },
            ) => constant_time_eq(t1, t2) & (c1 == c2) & (ts1 == ts2),
            (
                XNonce::V2 {
                    client: c1,
                    timestamp_ms: ts1,
                    nonce: n1,
                    signature: s1,
                },
                XNonce::V2 {
                    client: c2,
                    timestamp_ms: ts2,
                    nonce: n2,
                    signature: s2,
                },
            ) => constant_time_eq(s1, s2) & (c1 == c2) & (ts1 == ts2) & (n1 == n2),
            _ => false,
        }
    }
}

/// Every field, as [`PartialEq`] compares them.
impl std::hash::Hash for XNonce {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.scheme().hash(state);
        self.client().hash(state);
        self.timestamp_ms().hash(state);
        self.request_id().hash(state);
        self.mac().hash(state);
    }
}

impl XNonce {
    /// The scheme of this header.
    pub fn scheme(&self) -> Scheme {
        match self {
            XNonce::V1 { .. } => Scheme::V1,
            XNonce::V2 { .. } => Scheme::V2,
        }
    }

    /// The client id.
    pub fn client(&self) -> &str {
        match self {
            XNonce::V1 { client, .. } | XNonce::V2 { client, .. } => client,
        }
    }

    /// The request timestamp in milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        match self {
            XNonce::V1 { timestamp_ms, .. } | XNonce::V2 { timestamp_ms, .. } => *timestamp_ms,
        }
    }

    /// The value that identifies this request for replay protection: the v2 nonce, or the
    /// v1 token (v1 has no nonce; its token is unique per request).
    pub fn request_id(&self) -> &str {
        match self {
            XNonce::V1 { token, .. } => token,
            XNonce::V2 { nonce, .. } => nonce,
        }
    }

    /// The signature or token as presented (compared in constant time by the verifier).
    pub fn mac(&self) -> &str {
        match self {
            XNonce::V1 { token, .. } => token,
            XNonce::V2 { signature, .. } => signature,
        }
    }

    /// Parses a header value of either scheme (`malformed_header` on any deviation).
    pub fn parse(value: &str) -> Result<XNonce> {
        HeaderRef::parse(value).map(HeaderRef::to_owned)
    }

    /// This header's fields, borrowed.
    pub(crate) fn fields(&self) -> HeaderRef<'_> {
        match self {
            XNonce::V1 {
                token,
                client,
                timestamp_ms,
            } => HeaderRef {
                scheme: Scheme::V1,
                client,
                timestamp_ms: *timestamp_ms,
                request_id: token,
                mac: token,
            },
            XNonce::V2 {
                client,
                timestamp_ms,
                nonce,
                signature,
            } => HeaderRef {
                scheme: Scheme::V2,
                client,
                timestamp_ms: *timestamp_ms,
                request_id: nonce,
                mac: signature,
            },
        }
    }

    /// The header value (the same text as `Display`, built without formatting machinery).
    pub fn value(&self) -> String {
        let mut out = String::with_capacity(VALUE_CAPACITY);
        match self {
            XNonce::V1 {
                token,
                client,
                timestamp_ms,
            } => push_v1(&mut out, token, client, *timestamp_ms),
            XNonce::V2 {
                client,
                timestamp_ms,
                nonce,
                signature,
            } => push_v2(&mut out, client, *timestamp_ms, nonce, signature),
        }
        out
    }

    /// The `ottoken` form of this header (see [`crate::ottoken`]).
    pub fn to_ottoken(&self) -> String {
        crate::ottoken::encode(self)
    }
}

/// A parsed header value's fields borrowed from the text: what the verifier reads, parsed
/// without allocating (an [`XNonce`] owns the same fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderRef<'a> {
    pub(crate) scheme: Scheme,
    pub(crate) client: &'a str,
    pub(crate) timestamp_ms: u64,
    /// What identifies the request for replay protection: the v1 token or the v2 nonce.
    pub(crate) request_id: &'a str,
    /// The v1 token or the v2 signature.
    pub(crate) mac: &'a str,
}

impl<'a> HeaderRef<'a> {
    /// [`XNonce::parse`] without copying the fields.
    pub(crate) fn parse(value: &'a str) -> Result<HeaderRef<'a>> {
        if value.len() > MAX_LEN {
            return err(
                ErrorCode::MalformedHeader,
                format!("X-Nonce is longer than {MAX_LEN} bytes"),
            );
        }
        // The common case first: a well-formed v2 header, found by position (~1,300 → ~400
        // instructions). Anything it does not accept is parsed, and its error worded, below.
        if let Some(header) = v2_by_position(value) {
            return Ok(header);
        }
        HeaderRef::parse_fields(value)
    }

    /// [`HeaderRef::parse`] by splitting on spaces (any input; the errors' wording).
    fn parse_fields(value: &'a str) -> Result<HeaderRef<'a>> {
        // Up to six fields kept (more can match no scheme), without allocating. `split` finds
        // the spaces a word at a time, where a byte loop took ~4× the instructions.
        let mut slots = [""; 6];
        let mut count = 0;
        for field in value.split(' ') {
            match slots.get_mut(count) {
                Some(slot) => *slot = field,
                None => break,
            }
            count += 1;
        }
        let fields = &slots[..count];
        let bad = |what: &str| Error::new(ErrorCode::MalformedHeader, format!("X-Nonce: {what}"));
        let client_ok = |c: &str| crate::client_id::validate(c).map_err(|_| bad("bad client id"));
        match *fields {
            ["v2", client, ts, nonce, sig] => {
                client_ok(client)?;
                let timestamp_ms = parse_timestamp(ts).ok_or_else(|| bad("bad timestamp"))?;
                if !crate::hex::is_lower_hex(nonce, 32) {
                    return Err(bad("nonce must be 32 lower-case hex characters"));
                }
                if !crate::hex::is_lower_hex(sig, 64) {
                    return Err(bad("signature must be 64 lower-case hex characters"));
                }
                Ok(HeaderRef { scheme: Scheme::V2, client, timestamp_ms, request_id: nonce, mac: sig })
            }
            [token, client, ts] if crate::hex::is_lower_hex(token, 64) => {
                client_ok(client)?;
                let timestamp_ms = parse_timestamp(ts).ok_or_else(|| bad("bad timestamp"))?;
                Ok(HeaderRef { scheme: Scheme::V1, client, timestamp_ms, request_id: token, mac: token })
            }
            [first, ..] if first.starts_with('v') && first.len() <= 3 => Err(Error::new(
                ErrorCode::MalformedHeader,
                "X-Nonce: unknown scheme tag or wrong number of fields",
            )),
            _ => Err(bad("expected '<token> <client> <timestamp>' (v1) or 'v2 <client> <timestamp> <nonce> <signature>'")),
        }
    }

    /// The owned header.
    pub(crate) fn to_owned(self) -> XNonce {
        let client = self.client.to_string();
        match self.scheme {
            Scheme::V1 => XNonce::V1 {
                token: self.mac.to_string(),
                client,
                timestamp_ms: self.timestamp_ms,
            },
            Scheme::V2 => XNonce::V2 {
                client,
                timestamp_ms: self.timestamp_ms,
                nonce: self.request_id.to_string(),
                signature: self.mac.to_string(),
            },
        }
    }
}

/// A well-formed `v2 <client> <timestamp> <nonce> <signature>`, read by position: the nonce
/// and signature have fixed lengths, so only `<client> <timestamp>` is searched for its space.
/// `None` for anything else, including every malformed v2 header (the caller then splits the
/// value and words the error); what it accepts, [`HeaderRef::parse_fields`] accepts alike.
fn v2_by_position(value: &str) -> Option<HeaderRef<'_>> {
    // ` <nonce> <signature>`: 1 + 32 + 1 + 64 bytes.
    const TAIL: usize = 98;
    let head = value.strip_prefix("v2 ")?;
    let bytes = head.as_bytes();
    let cut = bytes.len().checked_sub(TAIL)?;
    if bytes[cut] != b' ' || bytes[cut + 33] != b' ' {
        return None;
    }
    let (front, nonce, signature) = (
        head.get(..cut)?,
        head.get(cut + 1..cut + 33)?,
        head.get(cut + 34..)?,
    );
    let space = front.bytes().position(|b| b == b' ')?;
    let (client, ts) = (&front[..space], &front[space + 1..]);
    let timestamp_ms = parse_timestamp(ts)?;
    let valid = crate::client_id::validate(client).is_ok()
        && crate::hex::is_lower_hex(nonce, 32)
        && crate::hex::is_lower_hex(signature, 64);
    valid.then_some(HeaderRef {
        scheme: Scheme::V2,
        client,
        timestamp_ms,
        request_id: nonce,
        mac: signature,
    })
}

/// Room for any header value with a client id of up to 64 characters.
pub(crate) const VALUE_CAPACITY: usize = 200;

/// Writes a v1 header value: `<token> <client> <timestamp>`.
pub(crate) fn push_v1(out: &mut String, token: &str, client: &str, timestamp_ms: u64) {
    out.push_str(token);
    out.push(' ');
    out.push_str(client);
    out.push(' ');
    crate::canonical::v1::push_u64(out, timestamp_ms);
}

/// Writes a v2 header value: `v2 <client> <timestamp> <nonce> <signature>`.
pub(crate) fn push_v2(
    out: &mut String,
    client: &str,
    timestamp_ms: u64,
    nonce: &str,
    signature: &str,
) {
    out.push_str("v2 ");
    out.push_str(client);
    out.push(' ');
    crate::canonical::v1::push_u64(out, timestamp_ms);
    out.push(' ');
    out.push_str(nonce);
    out.push(' ');
    out.push_str(signature);
}

/// Parses a timestamp: 1 to 16 decimal digits, no leading zero, at most [`MAX_TIMESTAMP_MS`].
pub(crate) fn parse_timestamp(s: &str) -> Option<u64> {
    if s.is_empty()
        || s.len() > 16
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse::<u64>().ok().filter(|&t| t <= MAX_TIMESTAMP_MS)
}

impl fmt::Display for XNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value())
    }
}

impl FromStr for XNonce {
    type Err = Error;
    fn from_str(s: &str) -> Result<XNonce> {
        XNonce::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written (constant-time) equality and its hash still compare every field.
    #[test]
    fn equality_and_hash_cover_every_field() {
        use std::collections::HashSet;
        let v2 = |client: &str, ts: u64, nonce: &str, sig: &str| XNonce::V2 {
            client: client.into(),
            timestamp_ms: ts,
            nonce: nonce.into(),
            signature: sig.into(),
        };
        let v1 = |token: &str, client: &str, ts: u64| XNonce::V1 {
            token: token.into(),
            client: client.into(),
            timestamp_ms: ts,
        };
        let (n, s) = ("0".repeat(32), "a".repeat(64));
        let base = v2("svc", 1, &n, &s);
        assert_eq!(base, base.clone());
        let others = [
            v2("svd", 1, &n, &s),
            v2("svc", 2, &n, &s),
            v2("svc", 1, &"1".repeat(32), &s),
            v2("svc", 1, &n, &format!("{}b", "a".repeat(63))),
            v2("svc", 1, &n, &"a".repeat(63)),
            v1(&s, "svc", 1),
        ];
        for other in &others {
            assert_ne!(&base, other, "{other:?}");
        }
        assert_eq!(v1(&s, "svc", 1), v1(&s, "svc", 1));
        assert_ne!(v1(&s, "svc", 1), v1(&"b".repeat(64), "svc", 1));
        assert_ne!(v1(&s, "svc", 1), v1(&s, "svd", 1));
        assert_ne!(v1(&s, "svc", 1), v1(&s, "svc", 2));
        let set: HashSet<XNonce> = others.iter().cloned().chain([base.clone()]).collect();
        assert_eq!(set.len(), others.len() + 1);
        assert!(set.contains(&base.clone()));
    }

    #[test]
    fn the_positional_v2_parse_agrees_with_splitting() {
        let valid = "v2 svc.a-1 1700000000000 00112233445566778899aabbccddeeff \
                     0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let parsed = v2_by_position(valid).expect("the common case is found by position");
        assert_eq!(Ok(parsed), HeaderRef::parse_fields(valid));
        // Every one-byte substitution, deletion and insertion of the valid header (and of a v1
        // one): the positional parse accepts only what splitting accepts, with the same fields,
        // and parse answers exactly as splitting does (errors worded alike).
        let v1 = "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b a 1";
        let mut cases = Vec::new();
        for base in [valid, v1] {
            let chars: Vec<char> = base.chars().collect();
            for i in 0..=chars.len() {
                for c in [' ', 'a', 'A', '0', 'g', '.', '%', 'é'] {
                    let mut inserted = chars.clone();
                    inserted.insert(i, c);
                    cases.push(inserted.into_iter().collect::<String>());
                    if i < chars.len() {
                        let mut replaced = chars.clone();
                        replaced[i] = c;
                        cases.push(replaced.into_iter().collect());
                    }
                }
                if i < chars.len() {
                    let mut deleted = chars.clone();
                    deleted.remove(i);
                    cases.push(deleted.into_iter().collect());
                }
            }
        }
        fn words(
            r: Result<HeaderRef<'_>>,
        ) -> std::result::Result<HeaderRef<'_>, (ErrorCode, String)> {
            r.map_err(|e| (e.code(), e.message().to_string()))
        }
        let mut by_position = 0;
        for case in &cases {
            if let Some(h) = v2_by_position(case) {
                by_position += 1;
                assert_eq!(Ok(h), HeaderRef::parse_fields(case), "{case:?}");
            }
            assert_eq!(
                words(HeaderRef::parse(case)),
                words(HeaderRef::parse_fields(case)),
                "{case:?}"
            );
        }
        // Some mutations stay valid v2 headers (another client, timestamp or hex digit).
        assert!(by_position > 100, "{by_position}");
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "v2",
            "v3 a 1 b c",
            "v2 a 01 00112233445566778899aabbccddeeff 0000000000000000000000000000000000000000000000000000000000000000",
            "v2 a -1 00112233445566778899aabbccddeeff 0000000000000000000000000000000000000000000000000000000000000000",
            "v2 a 99999999999999999 00112233445566778899aabbccddeeff 0000000000000000000000000000000000000000000000000000000000000000",
            "v2 a 1 00112233445566778899AABBCCDDEEFF 0000000000000000000000000000000000000000000000000000000000000000",
            "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b  1",
            "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b a 1 extra",
            "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b a 12x",
        ] {
            assert_eq!(XNonce::parse(bad).unwrap_err().code(), ErrorCode::MalformedHeader, "{bad:?}");
        }
    }

    #[test]
    fn a_v1_token_is_64_lower_case_hex_characters() {
        let hex = "440f4ddd130532f9f07bbf798b8c273546093a086f0ebcd29e8279c14fb4a49b";
        assert_eq!(
            XNonce::parse(&format!("{hex} a 1")).unwrap().scheme(),
            Scheme::V1
        );
        for token in ["nope", &hex[1..], &hex.to_uppercase(), &format!("{hex}0")] {
            let value = format!("{token} a 1");
            assert_eq!(
                XNonce::parse(&value).unwrap_err().code(),
                ErrorCode::MalformedHeader,
                "{value:?}"
            );
        }
    }

    #[test]
    fn timestamps_are_plain_decimal_up_to_2_pow_53_minus_1() {
        const NONCE: &str = "00112233445566778899aabbccddeeff";
        let sig = "0".repeat(64);
        for template in [format!("v2 a {{}} {NONCE} {sig}"), format!("{sig} a {{}}")] {
            let with = |ts: &str| template.replace("{}", ts);
            for (ts, ms) in [("0", 0), ("9007199254740991", 9_007_199_254_740_991)] {
                assert_eq!(XNonce::parse(&with(ts)).unwrap().timestamp_ms(), ms, "{ts}");
            }
            for ts in ["9007199254740992", "+1", "1e3", "01"] {
                let e = XNonce::parse(&with(ts)).unwrap_err();
                assert_eq!(e.code(), ErrorCode::MalformedHeader, "{ts}");
            }
        }
    }

    #[test]
    fn values_past_512_bytes_are_refused_by_length_others_by_form() {
        for (value, because) in [
            ("a".repeat(513), "X-Nonce is longer than 512 bytes"),
            (
                "a".repeat(512),
                "X-Nonce: expected '<token> <client> <timestamp>'",
            ),
            (
                "v3 a 1 b c".into(),
                "X-Nonce: unknown scheme tag or wrong number of fields",
            ),
            (
                "v2 a 1".into(),
                "X-Nonce: unknown scheme tag or wrong number of fields",
            ),
            (
                "vv12 a".into(),
                "X-Nonce: expected '<token> <client> <timestamp>'",
            ),
            (
                "x a".into(),
                "X-Nonce: expected '<token> <client> <timestamp>'",
            ),
        ] {
            let e = XNonce::parse(&value).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MalformedHeader);
            assert!(e.message().starts_with(because), "{value:?}: {e}");
        }
    }
}
