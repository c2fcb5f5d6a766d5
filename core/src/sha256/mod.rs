//! SHA-256, the one hash xnonce uses: the v1 token and v2 body digests (`canonical`), HMAC
//! (`mac`) and replay-key digests (`replay`) all hash through here.
//!
//! Natively this is the `sha2` crate, which picks the CPU's SHA extensions at run time (SHA-NI
//! on x86-64, the ARMv8 crypto extensions). WebAssembly has no SHA instructions, so on
//! `wasm32` the [`portable`] implementation is used instead: its compression function is
//! written for how engines compile WebAssembly (the message schedule four words at a time in
//! 128-bit lanes when the module is built with `simd128`, the rounds on scalar registers), about
//! a third faster in V8 than `sha2`'s portable code. The portable code is compiled and tested
//! natively too (against `sha2`, on every length 0..=300, random inputs and split points, and
//! the NIST examples).

#[cfg(any(target_arch = "wasm32", test))]
mod lanes;
#[cfg(any(target_arch = "wasm32", test))]
mod portable;

/// Bytes in one SHA-256 block.
pub(crate) const BLOCK: usize = 64;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
pub(crate) const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use sha2::digest::generic_array::GenericArray;
    use sha2::Digest;

    /// One SHA-256 compression of `block` into `state` (sha2: SHA-NI when the CPU has it).
    pub(crate) fn compress(state: &mut [u32; 8], block: &[u8; super::BLOCK]) {
        sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
    }

    /// Streaming SHA-256 (`sha2::Sha256`).
    #[derive(Clone, Default)]
    pub(crate) struct Sha256(sha2::Sha256);

    impl Sha256 {
        pub(crate) fn new() -> Sha256 {
            Sha256::default()
        }

        pub(crate) fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }

        pub(crate) fn finalize(self) -> [u8; 32] {
            self.0.finalize().into()
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::{compress, Sha256};
#[cfg(target_arch = "wasm32")]
pub(crate) use portable::{compress, Sha256};

/// SHA-256 of `data`.
pub(crate) fn digest(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finalize()
}
