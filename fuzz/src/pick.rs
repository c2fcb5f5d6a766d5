//! Structured choices for the targets: mostly realistic values, sometimes arbitrary ones,
//! so that the fuzzer reaches deep states (valid signatures) and the edges around them.

use arbitrary::Arbitrary;

/// One of a fixed list of realistic strings, or an arbitrary one.
#[derive(Arbitrary, Debug, Clone)]
pub enum Text {
    /// An index into the target's list of realistic values (taken modulo its length).
    Known(u8),
    /// Any UTF-8 text.
    Raw(String),
}

impl Text {
    /// The chosen string.
    pub fn resolve(&self, known: &[&str]) -> String {
        match self {
            Text::Known(i) => known[*i as usize % known.len()].to_string(),
            Text::Raw(s) => s.clone(),
        }
    }
}

/// Realistic client ids (valid ones and an unknown one).
pub const CLIENTS: &[&str] = &[
    "test_client",
    "beta",
    "legacy",
    "ghost",
    "svc.billing-1~x_Y",
];

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    xnonce_core::hex::encode(bytes)
}

/// True when `s` is exactly `len` lower-case hex digits.
pub fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}
