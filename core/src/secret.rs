//! Client secrets: never printed, zeroized on drop.

use std::fmt;
use std::sync::{Arc, OnceLock};

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{err, ErrorCode, Result};
use crate::mac::HmacKey;

/// The longest secret text accepted (bytes).
pub const MAX_SECRET_LEN: usize = 1024;

/// A client's shared secret.
///
/// The canonical form is 32 random bytes written as 64 hex characters; v1 signs that text as
/// it is, v2 keys HMAC-SHA256 with the 32 decoded bytes. v1 also accepts any other non-empty
/// text (legacy em-secure-api deployments), which v2 refuses with `invalid_secret`.
///
/// The v2 key (decoded bytes and HMAC key schedule) is derived on first use and kept, so a
/// `Secret` that signs many requests pays for it once and a v1-only one never does.
///
/// Clones share one copy (reference-counted), so handing a client's secrets to every request
/// is cheap; `Debug` and `Display` print `Secret(**redacted**)`; the memory is zeroized when
/// the last clone is dropped.
///
/// ```
/// use xnonce_core::Secret;
/// let s = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd").unwrap();
/// assert_eq!(format!("{s:?}"), "Secret(**redacted**)");
/// assert!(s.v2_key().is_ok());
/// assert_eq!(Secret::from_bytes(*s.v2_key()?), s); // the same 64 hex characters
/// assert!(s.v2_hmac().is_ok()); // key schedule derived once, shared by clones
/// let fresh = Secret::generate()?; // 32 bytes from the OS CSPRNG
/// assert_eq!(fresh.expose().len(), 64); // the text to store or hand to the client
/// // v1 also signs legacy non-hex secrets, which v2 refuses.
/// let legacy = Secret::new("correct-horse-battery")?;
/// assert_eq!(legacy.v2_key().unwrap_err().code().as_str(), "invalid_secret");
/// assert!(Secret::new("has space").is_err());
/// # Ok::<(), xnonce_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    inner: Arc<Inner>,
}

struct Inner {
    text: String,
    /// `Some` when the text is 64 hex characters; filled on first use.
    v2: OnceLock<Option<V2Key>>,
}

/// The v2 key: the decoded secret and its HMAC key schedule.
#[derive(Clone, Zeroize)]
struct V2Key {
    bytes: [u8; 32],
    hmac: HmacKey,
}

impl V2Key {
    fn new(bytes: [u8; 32]) -> V2Key {
        V2Key {
            hmac: HmacKey::new(&bytes),
            bytes,
        }
    }
}

impl Secret {
    /// Wraps secret text. Refuses empty text, text over [`MAX_SECRET_LEN`] bytes, and text
    /// with whitespace or control characters (`invalid_secret`).
    pub fn new(text: impl Into<String>) -> Result<Secret> {
        let mut text = text.into();
        if let Err(e) = check_text(&text) {
            // A refused text is still the secret, or most of it (a final newline read from a
            // file, a stray space): zeroized, not left in freed memory (a WebAssembly
            // module's memory, which any script of the page can read).
            text.zeroize();
            return Err(e);
        }
        Ok(Secret::from_parts(text, OnceLock::new()))
    }

    /// Reads a secret as it is written in a file or an environment variable: a leading
    /// UTF-8 byte-order mark (which Windows editors add) and surrounding whitespace (the
    /// final newline) are not part of it; the rest must be what [`Secret::new`] takes.
    ///
    /// ```
    /// use xnonce_core::Secret;
    /// let hex = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
    /// let s = Secret::from_file_text(&format!("\u{feff}{hex}\r\n"))?;
    /// assert_eq!(s.expose(), hex);
    /// assert!(Secret::from_file_text(" \n").is_err());
    /// # Ok::<(), xnonce_core::Error>(())
    /// ```
    pub fn from_file_text(text: &str) -> Result<Secret> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Secret::new(text.trim())
    }

    /// Builds the canonical 64-hex-character secret from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Secret {
        Secret::from_parts(
            crate::hex::encode(&bytes),
            OnceLock::from(Some(V2Key::new(bytes))),
        )
    }

    fn from_parts(text: String, v2: OnceLock<Option<V2Key>>) -> Secret {
        Secret {
            inner: Arc::new(Inner { text, v2 }),
        }
    }

    /// A fresh secret: 32 bytes from the OS CSPRNG.
    #[cfg(feature = "os")]
    pub fn generate() -> Result<Secret> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|_| {
            crate::Error::new(ErrorCode::InvalidSecret, "the OS random generator failed")
        })?;
        let secret = Secret::from_bytes(bytes);
        bytes.zeroize();
        Ok(secret)
    }

    /// The secret text, for v1 signing and for storing. Handle with care.
    pub fn expose(&self) -> &str {
        &self.inner.text
    }

    /// The 32-byte HMAC key of v2: the hex text decoded (either case accepted).
    pub fn v2_key(&self) -> Result<&[u8; 32]> {
        self.v2().map(|k| &k.bytes)
    }

    /// The v2 HMAC key, key schedule done (`invalid_secret` unless the text is 64 hex).
    pub fn v2_hmac(&self) -> Result<&HmacKey> {
        self.v2().map(|k| &k.hmac)
    }

    fn v2(&self) -> Result<&V2Key> {
        match self
            .inner
            .v2
            .get_or_init(|| decode_key(&self.inner.text).map(V2Key::new))
        {
            Some(k) => Ok(k),
            None => err(
                ErrorCode::InvalidSecret,
                "a v2 secret must be 64 hex characters (32 bytes)",
            ),
        }
    }
}

/// What [`Secret::new`] refuses: empty text, text over [`MAX_SECRET_LEN`] bytes, and text with
/// whitespace or control characters.
fn check_text(text: &str) -> Result<()> {
    if text.is_empty() {
        return err(ErrorCode::InvalidSecret, "secret is empty");
    }
    if text.len() > MAX_SECRET_LEN {
        return err(
            ErrorCode::InvalidSecret,
            format!("secret is longer than {MAX_SECRET_LEN} bytes"),
        );
    }
    let bad = if text.is_ascii() {
        // A fold, not `any`: no early exit, so it compiles to a vector loop.
        text.bytes()
            .fold(false, |bad, b| bad | (b <= b' ') | (b == 0x7f))
    } else {
        text.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if bad {
        return err(
            ErrorCode::InvalidSecret,
            "secret contains whitespace or control characters",
        );
    }
    Ok(())
}

/// A secret file's name as an error message may show it: the name itself, unless it has the
/// form of a v2 secret (64 hex digits) — a secret given where a file's path was expected,
/// which a message repeating it would print to a terminal or a CI log.
///
/// ```
/// use xnonce_core::secret::file_name_for_message;
/// assert_eq!(file_name_for_message("/etc/xnonce/client.secret"), "/etc/xnonce/client.secret");
/// let hex = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
/// assert!(!file_name_for_message(hex).contains(hex));
/// ```
pub fn file_name_for_message(name: &str) -> std::borrow::Cow<'_, str> {
    if decode_key(name).is_some() {
        "(a name of 64 hex digits, like a secret: give the path of a file holding the secret, \
         not the secret)"
            .into()
    } else {
        name.into()
    }
}

impl PartialEq for Secret {
    /// Equal when the secret texts are equal (compared in constant time).
    fn eq(&self, other: &Secret) -> bool {
        crate::mac::constant_time_eq(&self.inner.text, &other.inner.text)
    }
}

impl Eq for Secret {}

impl Drop for Inner {
    fn drop(&mut self) {
        self.text.zeroize();
        if let Some(Some(key)) = self.v2.get_mut() {
            key.zeroize();
        }
    }
}

impl ZeroizeOnDrop for Secret {}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    crate::hex::decode::<32>(text.as_bytes())
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("**redacted**")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let s = crate::fixtures::secret();
        assert!(!format!("{s:?}{s}").contains("20a6"));
        assert_eq!(format!("{s:?}"), "Secret(**redacted**)");
        assert_eq!(format!("{s}"), "**redacted**");
    }

    #[test]
    fn secrets_are_equal_when_their_texts_are() {
        let text = crate::fixtures::SECRET;
        assert_eq!(Secret::new(text).unwrap(), Secret::new(text).unwrap());
        assert_ne!(Secret::new(text).unwrap(), Secret::new(&text[1..]).unwrap());
    }

    #[test]
    fn v2_key_needs_64_hex() {
        assert_eq!(
            Secret::new("abc").unwrap().v2_key().unwrap_err().code(),
            ErrorCode::InvalidSecret
        );
        let zz = "z".repeat(64);
        assert_eq!(
            Secret::new(zz).unwrap().v2_key().unwrap_err().code(),
            ErrorCode::InvalidSecret
        );
        let k = *Secret::new("0F".repeat(32)).unwrap().v2_key().unwrap();
        assert_eq!(k, [0x0f; 32]);
    }

    #[test]
    fn refuses_empty_and_whitespace() {
        assert_eq!(
            Secret::new("").unwrap_err().code(),
            ErrorCode::InvalidSecret
        );
        assert_eq!(
            Secret::new("a b").unwrap_err().code(),
            ErrorCode::InvalidSecret
        );
        assert!(!Secret::new("a b").unwrap_err().message().contains("a b"));
    }

    #[cfg(feature = "os")]
    #[test]
    fn generated_secrets_are_canonical_and_distinct() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.expose().len(), 64);
        assert!(a.v2_key().is_ok());
        assert_ne!(a, b);
    }
}
