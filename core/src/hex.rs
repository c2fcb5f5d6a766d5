//! Lower-case hexadecimal, the text form of digests, nonces and secrets.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_encoded(&mut out, bytes);
    out
}

/// Appends the lower-case hex of `bytes` to `out`.
pub fn push_encoded(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.chunks(32) {
        let mut buf = [0u8; 64];
        let text = encode_into(&mut buf, chunk);
        out.push_str(text);
    }
}

/// Writes the hex of up to 32 bytes into `buf` and returns it as text.
fn encode_into<'a>(buf: &'a mut [u8; 64], bytes: &[u8]) -> &'a str {
    for (pair, b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 15) as usize];
    }
    // Only ASCII hex digits were written.
    std::str::from_utf8(&buf[..2 * bytes.len().min(32)]).unwrap_or_default()
}

/// The 64 lower-case hex characters of a 32-byte digest, without allocating.
pub(crate) fn digest_hex(digest: &[u8; 32]) -> [u8; 64] {
    let mut buf = [0u8; 64];
    encode_into(&mut buf, digest);
    buf
}

/// The value of one hex digit of either case.
pub(crate) fn digit(c: u8) -> Option<u8> {
    match DIGIT_VALUES[c as usize] {
        NOT_A_DIGIT => None,
        v => Some(v),
    }
}

const NOT_A_DIGIT: u8 = 0xff;

/// Each byte's hex digit value, or [`NOT_A_DIGIT`].
const DIGIT_VALUES: [u8; 256] = {
    let mut t = [NOT_A_DIGIT; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes `2 * N` hex digits of either case (`None` if any is not one), without branching
/// per digit: the values are OR-ed, so one check at the end finds a non-digit.
pub(crate) fn decode<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut seen = 0u8;
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (h, l) = (
            DIGIT_VALUES[pair[0] as usize],
            DIGIT_VALUES[pair[1] as usize],
        );
        seen |= h | l;
        *o = (h << 4) | l;
    }
    if seen > 15 {
        zeroize::Zeroize::zeroize(&mut out);
        return None;
    }
    Some(out)
}

/// True when `s` is exactly `len` lower-case hex digits.
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    // One table lookup per byte (the header's fields are public: no timing concern here).
    s.len() == len && s.bytes().fold(true, |ok, c| ok & LOWER_HEX[c as usize])
}

const LOWER_HEX: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = matches!(i as u8, b'0'..=b'9' | b'a'..=b'f');
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    #[test]
    fn decode_takes_both_cases_and_refuses_anything_else() {
        assert_eq!(super::decode::<2>(b"0aF9"), Some([0x0a, 0xf9]));
        for bad in [&b"0aF"[..], b"0aF9a", b"0aG9", b"0a 9", b"\xff0a9"] {
            assert_eq!(super::decode::<2>(bad), None, "{bad:?}");
        }
        for c in 0..=255u8 {
            let ok = c.is_ascii_hexdigit();
            assert_eq!(super::decode::<1>(&[b'0', c]).is_some(), ok, "{c}");
            assert_eq!(super::digit(c).is_some(), ok, "{c}");
        }
    }
}
