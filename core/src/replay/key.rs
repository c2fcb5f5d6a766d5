//! A request's replay key: the text a shared store records and the digest an in-process
//! store records, the digest computed at most once however many times a store asks for it.

use std::fmt;
use std::sync::OnceLock;

/// A request's replay key, `v1:<client>:<token>` or `v2:<client>:<nonce>` (see
/// [`crate::Verified::replay_key`]), with its 16-byte [`key_digest`].
///
/// A shared store (Redis) records the text; the in-process stores record the digest. The
/// digest is computed on first use and kept, so a verifier that lets a store prefetch the
/// key's slot and then insert it hashes the key once, and a verification without a store
/// never does.
///
/// Equality and hashing are those of the text (the digest follows from it).
/// `Debug` and `Display` print the text: it names the client and its nonce (or, for v1, the
/// token), which are public parts of the request, never the secret.
///
/// ```
/// use xnonce_core::replay::{key_digest, ReplayKey};
/// let key = ReplayKey::new("v2:svc:00112233445566778899aabbccddeeff");
/// assert_eq!(key.as_str(), "v2:svc:00112233445566778899aabbccddeeff");
/// assert_eq!(key.digest(), &key_digest(key.as_str()));
/// assert_eq!(key, ReplayKey::from("v2:svc:00112233445566778899aabbccddeeff"));
/// assert_eq!(key.into_string(), "v2:svc:00112233445566778899aabbccddeeff");
/// ```
#[derive(Clone)]
pub struct ReplayKey {
    text: String,
    digest: OnceLock<[u8; 16]>,
}

impl ReplayKey {
    /// Wraps a key's text (its digest is computed when first asked for).
    pub fn new(text: impl Into<String>) -> ReplayKey {
        ReplayKey {
            text: text.into(),
            digest: OnceLock::new(),
        }
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The 16-byte digest an in-process store records ([`key_digest`] of the text), computed
    /// on the first call.
    pub fn digest(&self) -> &[u8; 16] {
        self.digest.get_or_init(|| key_digest(&self.text))
    }

    /// The key's text, owned.
    pub fn into_string(self) -> String {
        self.text
    }

    /// Whether the digest has been computed (for tests of who computes it, and how often).
    #[cfg(test)]
    pub(crate) fn has_digest(&self) -> bool {
        self.digest.get().is_some()
    }
}

/// The 16-byte digest under which an in-process store records a key (SHA-256 of its text,
/// truncated); [`ReplayKey::digest`] computes it once per key.
pub fn key_digest(key: &str) -> [u8; 16] {
    let d = crate::sha256::digest(key.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

impl From<&str> for ReplayKey {
    fn from(text: &str) -> Self {
        ReplayKey::new(text)
    }
}

impl From<String> for ReplayKey {
    fn from(text: String) -> Self {
        ReplayKey::new(text)
    }
}

impl From<ReplayKey> for String {
    fn from(key: ReplayKey) -> Self {
        key.text
    }
}

impl AsRef<str> for ReplayKey {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl PartialEq for ReplayKey {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for ReplayKey {}

impl PartialEq<str> for ReplayKey {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for ReplayKey {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for ReplayKey {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

impl std::hash::Hash for ReplayKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state)
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_truncated_sha256_of_the_text() {
        // The digest is persisted in the server's replay journal, so it must not change:
        // `printf 'v2:svc:00112233445566778899aabbccddeeff' | sha256sum`, first 16 bytes.
        let key = ReplayKey::new("v2:svc:00112233445566778899aabbccddeeff");
        assert_eq!(
            crate::hex::encode(key.digest()),
            "d381b942ef19ac8b6d690f81858f7407"
        );
        // A clone keeps the digest already computed; equal texts are equal keys either way.
        let computed = key.clone();
        assert_eq!(computed.digest(), key.digest());
        assert_eq!(computed, ReplayKey::new(key.as_str()));
        assert_ne!(
            key,
            ReplayKey::new("v2:svc:00112233445566778899aabbccddeefe")
        );
        assert_ne!(
            ReplayKey::new("v2:a:00").digest(),
            ReplayKey::new("v2:b:00").digest()
        );
    }

    #[test]
    fn prints_and_compares_as_its_text() {
        let key = ReplayKey::from("v1:c:abc".to_string());
        assert_eq!(format!("{key}"), "v1:c:abc");
        assert_eq!(format!("{key:?}"), "\"v1:c:abc\"");
        assert_eq!(key, "v1:c:abc");
        assert_ne!(key, "v1:c:abd");
        assert_eq!(key, *"v1:c:abc");
        assert_ne!(key, *"v1:c:abd");
        assert_eq!(key, "v1:c:abc".to_string());
        assert_ne!(key, "v1:c:abd".to_string());
        assert_eq!(AsRef::<str>::as_ref(&key), "v1:c:abc");
        assert_eq!(String::from(key), "v1:c:abc");
    }

    #[test]
    fn hashes_as_its_text() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        let key = ReplayKey::new("v2:svc:00112233445566778899aabbccddeeff");
        assert_eq!(
            state.hash_one(&key),
            state.hash_one(key.as_str().to_string())
        );
        key.digest();
        assert_eq!(
            state.hash_one(&key),
            state.hash_one(key.as_str().to_string())
        );
    }
}
