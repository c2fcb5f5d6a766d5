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
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
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
