//! SHA-256 without CPU hash instructions (FIPS 180-4): on `wasm32`, and natively on CPUs
//! without SHA extensions.
//!
//! The compression function keeps the eight working variables in scalar registers and runs
//! the message schedule four words at a time in [`U32x4`] lanes (`v128` with `simd128`):
//! each group of four words `W[t..t+4]` is computed from the previous sixteen with the lane
//! operations, `K[t..t+4]` added in the lanes, and the four sums read out for four rounds. The
//! two `σ1` terms that depend on words of the same group (`W[t+2]` needs `W[t]`) are done in a
//! second half-step. The streaming [`Sha256`] zeroizes its buffer and state when dropped: it
//! absorbs the v1 secret and HMAC key pads.

use zeroize::Zeroize;

use super::lanes::U32x4;
use super::{BLOCK, H0};

/// The round constants (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

#[inline(always)]
fn rotr(x: U32x4, n: u32) -> U32x4 {
    x.shr(n).or(x.shl(32 - n))
}

/// σ0 of four words.
#[inline(always)]
fn small_sigma0(x: U32x4) -> U32x4 {
    rotr(x, 7).xor(rotr(x, 18)).xor(x.shr(3))
}

/// σ1 of four words.
#[inline(always)]
fn small_sigma1(x: U32x4) -> U32x4 {
    rotr(x, 17).xor(rotr(x, 19)).xor(x.shr(10))
}

/// `W[t..t+4]` from `W[t-16..t-12]`, `W[t-12..t-8]`, `W[t-8..t-4]`, `W[t-4..t]`:
/// `W[i] = σ1(W[i-2]) + W[i-7] + σ0(W[i-15]) + W[i-16]`.
#[inline(always)]
fn schedule(w16: U32x4, w12: U32x4, w8: U32x4, w4: U32x4) -> U32x4 {
    let zero = U32x4::new(0, 0, 0, 0);
    let w15 = w16.shuffle::<1, 2, 3, 4>(w12);
    let w7 = w8.shuffle::<1, 2, 3, 4>(w4);
    let t = w16.add(small_sigma0(w15)).add(w7);
    // σ1(W[i-2]) for the first two words comes from the previous group ...
    let t = t.add(small_sigma1(w4.shuffle::<2, 3, 2, 3>(w4)).shuffle::<0, 1, 4, 5>(zero));
    // ... and for the last two from the first two words of this one.
    t.add(small_sigma1(t.shuffle::<0, 1, 0, 1>(t)).shuffle::<4, 5, 2, 3>(zero))
}

#[inline(always)]
fn k4(t: usize) -> U32x4 {
    U32x4::new(K[t], K[t + 1], K[t + 2], K[t + 3])
}

/// One round, with the variables renamed instead of moved: `h` becomes the new `a`.
///
/// `Σ1(e) = ROTR⁶(e ^ ROTR⁵(e ^ ROTR¹⁴(e)))` and `Σ0(a) = ROTR²(a ^ ROTR¹¹(a ^ ROTR⁹(a)))` (the
/// same three rotations, nested: each depends on fewer registers at once), and
/// `Maj(a, b, c) = ((a ^ b) & (b ^ c)) ^ b`, whose `b ^ c` is the previous round's `a ^ b`
/// (the compiler keeps it): together ~15 % fewer cycles per block natively than the textbook
/// forms (docs/BENCHMARKS.md, "SHA-256 without SHA extensions").
macro_rules! round {
    ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $wk:expr) => {
        $h = $h
            .wrapping_add(($e ^ ($e ^ $e.rotate_right(14)).rotate_right(5)).rotate_right(6))
            .wrapping_add($g ^ ($e & ($f ^ $g)))
            .wrapping_add($wk);
        $d = $d.wrapping_add($h);
        $h = $h
            .wrapping_add(($a ^ ($a ^ $a.rotate_right(9)).rotate_right(11)).rotate_right(2))
            .wrapping_add((($a ^ $b) & ($b ^ $c)) ^ $b);
    };
}

/// One SHA-256 compression of `block` into `state`.
pub(crate) fn compress(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    // Four rounds from the words `w` of rounds `t..t+4`; the variable names rotate by four.
    macro_rules! four {
        ($w:expr, $t:expr, first) => {{
            let wk = $w.add(k4($t));
            round!(a, b, c, d, e, f, g, h, wk.lane::<0>());
            round!(h, a, b, c, d, e, f, g, wk.lane::<1>());
            round!(g, h, a, b, c, d, e, f, wk.lane::<2>());
            round!(f, g, h, a, b, c, d, e, wk.lane::<3>());
        }};
        ($w:expr, $t:expr, second) => {{
            let wk = $w.add(k4($t));
            round!(e, f, g, h, a, b, c, d, wk.lane::<0>());
            round!(d, e, f, g, h, a, b, c, wk.lane::<1>());
            round!(c, d, e, f, g, h, a, b, wk.lane::<2>());
            round!(b, c, d, e, f, g, h, a, wk.lane::<3>());
        }};
    }
    let (mut w0, mut w1, mut w2, mut w3) = (
        U32x4::from_be_bytes(quarter(block, 0)),
        U32x4::from_be_bytes(quarter(block, 1)),
        U32x4::from_be_bytes(quarter(block, 2)),
        U32x4::from_be_bytes(quarter(block, 3)),
    );
    four!(w0, 0, first);
    four!(w1, 4, second);
    four!(w2, 8, first);
    four!(w3, 12, second);
    // A counted loop: iterating `[16, 32, 48]` compiled to code ~30 % slower in V8.
    for r in 1..4 {
        let t = 16 * r;
        w0 = schedule(w0, w1, w2, w3);
        four!(w0, t, first);
        w1 = schedule(w1, w2, w3, w0);
        four!(w1, t + 4, second);
        w2 = schedule(w2, w3, w0, w1);
        four!(w2, t + 8, first);
        w3 = schedule(w3, w0, w1, w2);
        four!(w3, t + 12, second);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// Quarter `i` (0..4) of a block: 16 bytes.
#[inline(always)]
fn quarter(block: &[u8; BLOCK], i: usize) -> &[u8; 16] {
    let q: &[u8] = &block[16 * i..16 * i + 16];
    q.try_into().expect("a quarter of a block is 16 bytes")
}

/// Streaming SHA-256 over [`super::compress`] (the CPU's SHA extensions where it has them).
#[derive(Clone)]
pub(crate) struct Sha256 {
    state: [u32; 8],
    buffer: [u8; BLOCK],
    /// Bytes in `buffer`.
    filled: usize,
    /// Bytes absorbed in all.
    len: u64,
}

impl Sha256 {
    pub(crate) fn new() -> Sha256 {
        Sha256 {
            state: H0,
            buffer: [0; BLOCK],
            filled: 0,
            len: 0,
        }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let take = (BLOCK - self.filled).min(data.len());
            self.buffer[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled < BLOCK {
                return;
            }
            super::compress(&mut self.state, &self.buffer);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(BLOCK);
        for block in &mut blocks {
            super::compress(
                &mut self.state,
                block.try_into().expect("chunks of 64 bytes"),
            );
        }
        let rest = blocks.remainder();
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    pub(crate) fn finalize(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        let filled = self.filled;
        self.buffer[filled] = 0x80;
        self.buffer[filled + 1..].fill(0);
        if filled + 1 > BLOCK - 8 {
            super::compress(&mut self.state, &self.buffer);
            self.buffer.fill(0);
        }
        self.buffer[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        super::compress(&mut self.state, &self.buffer);
        let mut out = [0u8; 32];
        for (o, word) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

impl Drop for Sha256 {
    fn drop(&mut self) {
        self.state.zeroize();
        self.buffer.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::Digest;

    fn ours(data: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(data);
        h.finalize()
    }

    fn reference(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }

    #[test]
    fn nist_examples() {
        // FIPS 180-4 examples (csrc.nist.gov "SHA256.pdf", "SHA2_Additional.pdf").
        let cases: [(&[u8], &str); 4] = [
            (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
            ),
        ];
        for (message, digest) in cases {
            assert_eq!(crate::hex::encode(&ours(message)), digest);
        }
        let million_a = vec![b'a'; 1_000_000];
        assert_eq!(
            crate::hex::encode(&ours(&million_a)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn agrees_with_sha2_on_every_length_up_to_300() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 167 + 13) as u8).collect();
        for len in 0..=300 {
            assert_eq!(ours(&data[..len]), reference(&data[..len]), "length {len}");
        }
    }

    #[test]
    fn compress_agrees_with_sha2_from_any_state() {
        let mut ours_state = [1u32, 2, 3, 4, 0xffff_ffff, 0x8000_0000, 7, 8];
        let mut their_state = ours_state;
        let mut block = [0u8; BLOCK];
        for round in 0..200u32 {
            for (i, b) in block.iter_mut().enumerate() {
                *b = (i as u32 * 31 + round * 7) as u8;
            }
            compress(&mut ours_state, &block);
            sha2::compress256(
                &mut their_state,
                std::slice::from_ref(sha2::digest::generic_array::GenericArray::from_slice(
                    &block,
                )),
            );
            assert_eq!(ours_state, their_state, "block {round}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_sha2_on_random_input_split_anywhere(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(any::<usize>(), 0..5),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut h = Sha256::new();
            let mut from = 0;
            for cut in cuts {
                h.update(&data[from..cut]);
                from = cut;
            }
            h.update(&data[from..]);
            prop_assert_eq!(h.finalize(), reference(&data));
        }
    }
}
