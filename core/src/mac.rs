//! HMAC-SHA256 and constant-time comparison (over SHA-256 from `sha256`, which also hashes
//! the v1 token in `canonical::v1` and the body digest in `canonical::v2`): the only
//! cryptography xnonce uses.
//!
//! [`HmacKey`] keeps the two SHA-256 states that the HMAC key schedule produces (the key
//! XOR-ed with `ipad` and with `opad`, one block each), so signing with a [`crate::Secret`]
//! that is used again costs only the compressions of the message itself — what `ring`'s
//! `hmac::Key` does. The states are as secret as the key: zeroized on drop, never printed.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::sha256::{compress, BLOCK, H0};

/// An HMAC-SHA256 key with its key schedule done once.
///
/// ```
/// use xnonce_core::mac::HmacKey;
/// // RFC 4231, test case 2.
/// let key = HmacKey::new(b"Jefe");
/// assert_eq!(
///     xnonce_core::hex::encode(&key.sign(b"what do ya want for nothing?")),
///     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
/// );
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

/// Constant-time: the states are key material.
impl PartialEq for HmacKey {
    fn eq(&self, other: &Self) -> bool {
        (self.inner.ct_eq(&other.inner) & self.outer.ct_eq(&other.outer)).into()
    }
}

impl Eq for HmacKey {}

impl HmacKey {
    /// Runs the key schedule (keys longer than a block are hashed first, as RFC 2104 says).
    pub fn new(key: &[u8]) -> HmacKey {
        let mut padded = [0u8; BLOCK];
        if key.len() > BLOCK {
            padded[..32].copy_from_slice(&crate::sha256::digest(key));
        } else {
            padded[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; BLOCK];
        let mut state = |byte: u8| {
            for (p, k) in pad.iter_mut().zip(padded.iter()) {
                *p = k ^ byte;
            }
            let mut s = H0;
            compress(&mut s, &pad);
            s
        };
        let key = HmacKey {
            inner: state(0x36),
            outer: state(0x5c),
        };
        pad.zeroize();
        padded.zeroize();
        key
    }

    /// HMAC-SHA256 of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut inner = finish(self.inner, message);
        let out = finish(self.outer, &inner);
        inner.zeroize();
        out
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(**redacted**)")
    }
}

/// Finishes SHA-256 from a state that has already absorbed exactly one block.
fn finish(mut state: [u32; 8], message: &[u8]) -> [u8; 32] {
    let mut blocks = message.chunks_exact(BLOCK);
    for block in &mut blocks {
        compress(&mut state, block.try_into().expect("chunks of 64 bytes"));
    }
    let rest = blocks.remainder();
    let mut tail = [0u8; 2 * BLOCK];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() + 9 <= BLOCK {
        BLOCK
    } else {
        2 * BLOCK
    };
    let bits = ((BLOCK + message.len()) as u64) * 8;
    tail[tail_len - 8..tail_len].copy_from_slice(&bits.to_be_bytes());
    for block in tail[..tail_len].chunks_exact(BLOCK) {
        compress(&mut state, block.try_into().expect("chunks of 64 bytes"));
    }
    tail.zeroize();
    let mut out = [0u8; 32];
    for (o, word) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&word.to_be_bytes());
    }
    state.zeroize();
    out
}

/// Lower-case hex HMAC-SHA256 of `message` under `key` (runs the key schedule every call;
/// keep an [`HmacKey`] to sign repeatedly).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    crate::hex::encode(&HmacKey::new(key).sign(message))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    constant_time_eq_bytes(a.as_bytes(), b.as_bytes())
}

/// [`constant_time_eq`] of bytes: every byte is compared whatever the earlier ones held
/// (the differences are OR-ed together 8 bytes at a time, then tested once, behind `subtle`'s
/// optimisation barrier). Only the lengths are compared early: they are public.
pub fn constant_time_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        u64::from_ne_bytes(w)
    };
    let diff = a
        .chunks(8)
        .zip(b.chunks(8))
        .fold(0u64, |acc, (x, y)| acc | (word(x) ^ word(y)));
    bool::from(diff.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    fn reference(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(message);
        m.finalize().into_bytes().to_vec()
    }

    #[test]
    fn agrees_with_the_hmac_crate_on_every_padding_boundary() {
        // Message lengths around each block boundary (55/56/63/64 bytes are where the
        // SHA-256 padding spills into a second block) and key lengths around 64.
        for key_len in [0usize, 1, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let hk = HmacKey::new(&key);
            for len in (0..200).chain([255, 256, 257, 1000]) {
                let message: Vec<u8> = (0..len).map(|i| (i * 31 + key_len) as u8).collect();
                assert_eq!(
                    hk.sign(&message).to_vec(),
                    reference(&key, &message),
                    "key {key_len} message {len}"
                );
            }
        }
    }

    #[test]
    fn hmac_keys_are_equal_only_for_the_same_key() {
        assert!(HmacKey::new(b"Jefe") == HmacKey::new(b"Jefe"));
        assert!(HmacKey::new(b"Jefe") != HmacKey::new(b"Jeff"));
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        for len in [0usize, 1, 7, 8, 9, 32, 63, 64, 65] {
            let a: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert!(constant_time_eq_bytes(&a, &a.clone()), "{len}");
            for i in 0..len {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!constant_time_eq_bytes(&a, &b), "{len} at {i}");
            }
            assert!(!constant_time_eq_bytes(&a, &[a.as_slice(), &[0]].concat()));
        }
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
    }

    #[test]
    fn differences_in_several_words_do_not_cancel_out() {
        // The same difference in two 8-byte words, and in every word of a 32-byte MAC.
        let a = [0u8; 32];
        let mut b = [0u8; 32];
        b[0] = 1;
        b[8] = 1;
        assert!(!constant_time_eq_bytes(&a, &b));
        assert!(!constant_time_eq_bytes(&a, &[0xff; 32]));
        assert!(!constant_time_eq(&"0".repeat(64), &"1".repeat(64)));
    }

    #[test]
    fn rfc_4231_case_1() {
        let key = HmacKey::new(&[0x0b; 20]);
        assert_eq!(
            crate::hex::encode(&key.sign(b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(format!("{key:?}"), "HmacKey(**redacted**)");
        assert_eq!(
            hmac_sha256_hex(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }
}
