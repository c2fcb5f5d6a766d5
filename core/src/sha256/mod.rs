//! SHA-256, the one hash xnonce uses: the v1 token and v2 body digests (`canonical`), HMAC
//! (`mac`) and replay-key digests (`replay`) all hash through here.
//!
//! Natively, on a CPU with SHA extensions (SHA-NI on x86-64, the ARMv8 crypto extensions,
//! detected at run time), each block is compressed by the `sha2` crate on those instructions.
//! Everywhere else — WebAssembly, which has no SHA instructions, and CPUs without them (many
//! cloud Xeons still hide SHA-NI) — the [`portable`] compression function is used: the message
//! schedule four words at a time in 128-bit lanes (`v128` with `simd128`, SSE2 on x86-64), the
//! rounds on scalar registers: about a third faster in V8, and ~1.4× natively on x86-64, than
//! `sha2`'s portable code.
//! The streaming hasher is always [`portable::Sha256`] (it zeroizes its buffer and state when
//! dropped). The portable code is tested natively against `sha2`, on every length 0..=300,
//! random inputs and split points, and the NIST examples.

mod lanes;
mod portable;

/// Bytes in one SHA-256 block.
pub(crate) const BLOCK: usize = 64;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
pub(crate) const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// One SHA-256 compression of `block` into `state`: the CPU's SHA extensions when it has
/// them (through `sha2`), else [`portable::compress`].
#[cfg(not(target_arch = "wasm32"))]
#[inline]
pub(crate) fn compress(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    if hardware::available() {
        use sha2::digest::generic_array::GenericArray;
        sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
    } else {
        portable::compress(state, block);
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) use portable::compress;
pub(crate) use portable::Sha256;

/// Whether `sha2` runs SHA-256 on the CPU's SHA instructions here (the features its own
/// run-time detection asks for; the answer is cached by `std`).
#[cfg(not(target_arch = "wasm32"))]
mod hardware {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    #[inline]
    pub(crate) fn available() -> bool {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse2")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1")
    }

    #[cfg(target_arch = "aarch64")]
    #[inline]
    pub(crate) fn available() -> bool {
        std::arch::is_aarch64_feature_detected!("sha2")
    }

    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    #[inline]
    pub(crate) fn available() -> bool {
        false
    }
}

/// SHA-256 of `data`.
pub(crate) fn digest(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finalize()
}
