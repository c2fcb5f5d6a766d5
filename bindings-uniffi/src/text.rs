//! Text that callers pass in, crossing the FFI as bytes that Rust checks.
//!
//! uniffi's own `String` is encoded to UTF-8 by the generated foreign code, which fails there
//! for a string that is not valid Unicode: Kotlin's (JVM) strings can hold a lone UTF-16
//! surrogate (`"😀 x".take(1)`), and the generated `FfiConverterString` then throws
//! `MalformedInputException` — not an `XNonceException` — in the middle of a call, leaking the
//! object handle and every buffer already lowered for the earlier arguments. So every text
//! input is an [`XNonceText`] instead: the foreign side writes its string as bytes, a lone
//! surrogate as its 3-byte generalized UTF-8 form (which UTF-8 forbids), lowering never fails,
//! and lifting never fails either (uniffi's scaffolding returns at the first argument that
//! fails to lift, leaving the later arguments' buffers unfreed). The function then reads each
//! text with [`XNonceText::into_string`], and text that is not UTF-8 is refused as core's
//! table says of the input it was passed as ([`xnonce_core::Input::ill_formed`]: its code and
//! core's one message naming it), as in the Python, Node and WASM bindings.
//!
//! Every language still sees its own string type: `uniffi.toml` maps the custom type to
//! Kotlin's `String` (lowered by `utf8Bytes` in `Conveniences.kt`), Swift's `String` (always
//! valid Unicode) and Python's `str` (`surrogatepass`). The name is `XNonceText`, not `Text`,
//! because the generated bindings declare it as a public type alias: a `Text` in the `XNonce`
//! Swift module would make SwiftUI's `Text` ambiguous in every file importing both.

use std::borrow::Cow;
use std::fmt;

use xnonce_core::input::Pairs;
use xnonce_core::Input;

use crate::XNonceError;

/// Text passed in from Kotlin, Swift or Python, as the bytes its language encoded it to; not
/// yet known to be UTF-8 (see the module docs). Read it with [`XNonceText::into_string`].
///
/// Foreign code sees a plain string (a type alias of `String` / `str`).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct XNonceText(Vec<u8>);

uniffi::custom_type!(
    /// Text passed in: your language's own string type (this is an alias of it). Text that is
    /// not valid Unicode (a lone UTF-16 surrogate) is refused with the error code of the input
    /// it was passed as: an `Input` error (`Format` for an `X-Nonce` header or an ottoken).
    XNonceText,
    Vec<u8>,
    {
        lower: |text| text.0,
        // Never fails: the check is the function's, with the input's own error code.
        try_lift: |bytes| Ok(XNonceText(bytes)),
    }
);

impl XNonceText {
    /// The text, or `input`'s refusal (core's code and message naming it, never its content)
    /// when the bytes are not UTF-8: the foreign string held a lone surrogate.
    pub fn into_string(self, input: Input) -> Result<String, XNonceError> {
        String::from_utf8(self.0).map_err(|_| input.ill_formed().into())
    }

    /// [`XNonceText::into_string`] for an optional input.
    pub fn into_option(
        text: Option<XNonceText>,
        input: Input,
    ) -> Result<Option<String>, XNonceError> {
        text.map(|t| t.into_string(input)).transpose()
    }

    /// The text with each ill-formed sequence read as U+FFFD: only for text whose content
    /// never decides anything (printing, choosing the style of a refusal, an escape).
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Text of these bytes, as a foreign string encoded them (UTF-8 or not).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        XNonceText(bytes)
    }

    /// The bytes as passed in.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for XNonceText {
    fn from(s: String) -> Self {
        XNonceText(s.into_bytes())
    }
}

impl From<&str> for XNonceText {
    fn from(s: &str) -> Self {
        XNonceText(s.as_bytes().to_vec())
    }
}

impl PartialEq<str> for XNonceText {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for XNonceText {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Printed as the string it holds (read lossily).
impl fmt::Debug for XNonceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

/// Printed as the string it holds (read lossily).
impl fmt::Display for XNonceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

/// One pair of a list of `inputs`: its key, then its value (named by its key, as in every
/// binding; never by its content).
pub(crate) fn pair(
    key: XNonceText,
    value: XNonceText,
    inputs: Pairs,
) -> Result<(String, String), XNonceError> {
    let key = key.into_string(inputs.key)?;
    match String::from_utf8(value.0) {
        Ok(value) => Ok((key, value)),
        Err(_) => Err(inputs.value.ill_formed_value(&key).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Kotlin's `utf8Bytes("\uD83D")` and Python's `"\ud83d".encode("utf-8",
    /// "surrogatepass")` write for a lone high surrogate.
    const LONE_HIGH: &[u8] = &[0xED, 0xA0, 0xBD];

    #[test]
    fn utf8_is_the_text_and_anything_else_the_inputs_error() {
        let ok = XNonceText::from("caf\u{e9} \u{1F600}");
        assert_eq!(
            ok.clone().into_string(Input::Path),
            Ok("caf\u{e9} \u{1F600}".to_string())
        );
        assert_eq!(ok.as_bytes(), "caf\u{e9} \u{1F600}".as_bytes());

        for bytes in [
            LONE_HIGH.to_vec(),
            [b"a".as_slice(), &[0xED, 0xB8, 0x80], b"b"].concat(), // a lone low surrogate
            [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80].to_vec(),         // a pair, CESU-8 style
            vec![0xFF],
        ] {
            let e = XNonceText(bytes).into_string(Input::Secret).unwrap_err();
            assert!(matches!(e, XNonceError::Input { .. }), "{e:?}");
            assert_eq!(e.code(), "invalid_secret");
            assert_eq!(
                e.reason(),
                "the secret is not valid Unicode text (it holds a lone surrogate)"
            );
        }
        // Each code keeps its family: a header is a format error.
        let e = XNonceText(LONE_HIGH.to_vec())
            .into_string(Input::Header)
            .unwrap_err();
        assert!(matches!(e, XNonceError::Format { .. }), "{e:?}");
    }

    #[test]
    fn optional_text_and_lossy_reading() {
        assert_eq!(XNonceText::into_option(None, Input::Host), Ok(None));
        assert_eq!(
            XNonceText::into_option(Some("h".into()), Input::Host),
            Ok(Some("h".into()))
        );
        let e =
            XNonceText::into_option(Some(XNonceText(LONE_HIGH.to_vec())), Input::Host).unwrap_err();
        assert_eq!(e.code(), "invalid_host");
        let lone = XNonceText([b"a".as_slice(), LONE_HIGH].concat());
        assert_eq!(lone.to_string_lossy(), "a\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(format!("{lone}"), "a\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(format!("{:?}", XNonceText::from("k")), "\"k\"");
        let k = XNonceText::from_bytes(b"k".to_vec());
        assert!(k == "k" && k != "K");
    }

    /// The lowering is the bytes unchanged, and lifting takes any bytes without failing.
    #[test]
    fn lifting_never_fails() {
        use uniffi::{Lift, Lower};
        for bytes in [LONE_HIGH.to_vec(), b"ok".to_vec(), vec![]] {
            let buffer = <XNonceText as Lower<crate::UniFfiTag>>::lower(XNonceText(bytes.clone()));
            let lifted = <XNonceText as Lift<crate::UniFfiTag>>::try_lift(buffer).unwrap();
            assert_eq!(lifted.as_bytes(), bytes.as_slice());
        }
    }
}
