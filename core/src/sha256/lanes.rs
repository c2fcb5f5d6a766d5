//! Four `u32` lanes, the width of SHA-256's message-schedule step: one WebAssembly `v128`
//! when the module is built with `simd128`, one SSE2 register on x86-64, otherwise a plain
//! array with the same operations, so the compression function above it is one piece of code.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::*;

    /// Four `u32` lanes in one `v128`.
    #[derive(Clone, Copy)]
    pub(crate) struct U32x4(v128);

    impl U32x4 {
        #[inline(always)]
        pub(crate) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
            U32x4(u32x4(a, b, c, d))
        }

        /// The four big-endian words of 16 bytes (one `v128.load` and a byte shuffle).
        #[inline(always)]
        pub(crate) fn from_be_bytes(w: &[u8; 16]) -> Self {
            let v = u8x16(
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11], w[12],
                w[13], w[14], w[15],
            );
            U32x4(i8x16_shuffle::<
                3,
                2,
                1,
                0,
                7,
                6,
                5,
                4,
                11,
                10,
                9,
                8,
                15,
                14,
                13,
                12,
            >(v, v))
        }

        #[inline(always)]
        pub(crate) fn add(self, o: Self) -> Self {
            U32x4(u32x4_add(self.0, o.0))
        }

        #[inline(always)]
        pub(crate) fn xor(self, o: Self) -> Self {
            U32x4(v128_xor(self.0, o.0))
        }

        #[inline(always)]
        pub(crate) fn or(self, o: Self) -> Self {
            U32x4(v128_or(self.0, o.0))
        }

        #[inline(always)]
        pub(crate) fn shr(self, n: u32) -> Self {
            U32x4(u32x4_shr(self.0, n))
        }

        #[inline(always)]
        pub(crate) fn shl(self, n: u32) -> Self {
            U32x4(u32x4_shl(self.0, n))
        }

        /// Lanes picked from `self` (0..4) and `o` (4..8).
        #[inline(always)]
        pub(crate) fn shuffle<const A: usize, const B: usize, const C: usize, const D: usize>(
            self,
            o: Self,
        ) -> Self {
            U32x4(i32x4_shuffle::<A, B, C, D>(self.0, o.0))
        }

        #[inline(always)]
        pub(crate) fn lane<const I: usize>(self) -> u32 {
            u32x4_extract_lane::<I>(self.0)
        }
    }
}

/// x86-64: SSE2 registers. About 1.4× the speed of `sha2`'s portable code per block, where
/// the lanes as a plain array were 1.2× (the compiler scalarised them).
///
/// The crate's only `unsafe`: calls of SSE2 intrinsics, which Rust marks unsafe because a
/// CPU might lack the feature. SSE2 is part of x86-64 itself (every x86-64 CPU has it, and
/// the `x86_64` targets enable it), and these intrinsics take and return registers only: no
/// pointer, no memory access.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod sse2 {
    use core::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub(crate) struct U32x4(__m128i);

    impl U32x4 {
        #[inline(always)]
        pub(crate) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
            // SAFETY: SSE2 is always present on x86-64 (see the module doc).
            U32x4(unsafe { _mm_set_epi32(d as i32, c as i32, b as i32, a as i32) })
        }

        #[inline(always)]
        pub(crate) fn from_be_bytes(w: &[u8; 16]) -> Self {
            let word =
                |i: usize| u32::from_be_bytes([w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]]);
            Self::new(word(0), word(1), word(2), word(3))
        }

        #[inline(always)]
        pub(crate) fn add(self, o: Self) -> Self {
            // SAFETY: as in `new`.
            U32x4(unsafe { _mm_add_epi32(self.0, o.0) })
        }

        #[inline(always)]
        pub(crate) fn xor(self, o: Self) -> Self {
            // SAFETY: as in `new`.
            U32x4(unsafe { _mm_xor_si128(self.0, o.0) })
        }

        #[inline(always)]
        pub(crate) fn or(self, o: Self) -> Self {
            // SAFETY: as in `new`.
            U32x4(unsafe { _mm_or_si128(self.0, o.0) })
        }

        #[inline(always)]
        pub(crate) fn shr(self, n: u32) -> Self {
            // SAFETY: as in `new`.
            U32x4(unsafe { _mm_srl_epi32(self.0, _mm_cvtsi32_si128(n as i32)) })
        }

        #[inline(always)]
        pub(crate) fn shl(self, n: u32) -> Self {
            // SAFETY: as in `new`.
            U32x4(unsafe { _mm_sll_epi32(self.0, _mm_cvtsi32_si128(n as i32)) })
        }

        /// Lanes `A, B, C, D` of `self ++ o` (0–3 from `self`, 4–7 from `o`): the shapes the
        /// message schedule uses are one or two instructions; any other is picked lane by lane.
        #[inline(always)]
        pub(crate) fn shuffle<const A: usize, const B: usize, const C: usize, const D: usize>(
            self,
            o: Self,
        ) -> Self {
            let (x, y) = (self.0, o.0);
            // SAFETY: as in `new`.
            unsafe {
                match (A, B, C, D) {
                    (1, 2, 3, 4) => U32x4(_mm_or_si128(
                        _mm_srli_si128::<4>(x),
                        _mm_slli_si128::<12>(y),
                    )),
                    (2, 3, 2, 3) => U32x4(_mm_shuffle_epi32::<0b11_10_11_10>(x)),
                    (0, 1, 0, 1) => U32x4(_mm_shuffle_epi32::<0b01_00_01_00>(x)),
                    (0, 1, 4, 5) => U32x4(_mm_unpacklo_epi64(x, y)),
                    (4, 5, 2, 3) => U32x4(_mm_unpackhi_epi64(_mm_unpacklo_epi64(y, y), x)),
                    _ => {
                        let pick = |i: usize| {
                            let v = if i < 4 { self } else { o };
                            match i % 4 {
                                0 => v.lane::<0>(),
                                1 => v.lane::<1>(),
                                2 => v.lane::<2>(),
                                _ => v.lane::<3>(),
                            }
                        };
                        Self::new(pick(A), pick(B), pick(C), pick(D))
                    }
                }
            }
        }

        #[inline(always)]
        pub(crate) fn lane<const I: usize>(self) -> u32 {
            // SAFETY: as in `new`.
            (unsafe {
                match I {
                    0 => _mm_cvtsi128_si32(self.0),
                    1 => _mm_cvtsi128_si32(_mm_shuffle_epi32::<1>(self.0)),
                    2 => _mm_cvtsi128_si32(_mm_shuffle_epi32::<2>(self.0)),
                    _ => _mm_cvtsi128_si32(_mm_shuffle_epi32::<3>(self.0)),
                }
            }) as u32
        }
    }
}

/// Plain arrays: other CPUs (and, in tests, the reference the registers are checked against).
#[cfg(any(
    test,
    not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    ))
))]
mod array {
    /// Four `u32` lanes in an array.
    #[derive(Clone, Copy)]
    pub(crate) struct U32x4([u32; 4]);

    impl U32x4 {
        #[inline(always)]
        pub(crate) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
            U32x4([a, b, c, d])
        }

        /// The four big-endian words of 16 bytes.
        #[inline(always)]
        pub(crate) fn from_be_bytes(w: &[u8; 16]) -> Self {
            let word =
                |i: usize| u32::from_be_bytes([w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]]);
            U32x4([word(0), word(1), word(2), word(3)])
        }

        #[inline(always)]
        fn zip(self, o: Self, f: impl Fn(u32, u32) -> u32) -> Self {
            let [a, b, c, d] = self.0;
            let [e, g, h, i] = o.0;
            U32x4([f(a, e), f(b, g), f(c, h), f(d, i)])
        }

        #[inline(always)]
        pub(crate) fn add(self, o: Self) -> Self {
            self.zip(o, u32::wrapping_add)
        }

        #[inline(always)]
        pub(crate) fn xor(self, o: Self) -> Self {
            self.zip(o, |a, b| a ^ b)
        }

        #[inline(always)]
        pub(crate) fn or(self, o: Self) -> Self {
            self.zip(o, |a, b| a | b)
        }

        #[inline(always)]
        pub(crate) fn shr(self, n: u32) -> Self {
            self.zip(self, |a, _| a >> n)
        }

        #[inline(always)]
        pub(crate) fn shl(self, n: u32) -> Self {
            self.zip(self, |a, _| a << n)
        }

        /// Lanes picked from `self` (0..4) and `o` (4..8).
        #[inline(always)]
        pub(crate) fn shuffle<const A: usize, const B: usize, const C: usize, const D: usize>(
            self,
            o: Self,
        ) -> Self {
            let [a, b, c, d] = self.0;
            let [e, f, g, h] = o.0;
            let all = [a, b, c, d, e, f, g, h];
            U32x4([all[A], all[B], all[C], all[D]])
        }

        #[inline(always)]
        pub(crate) fn lane<const I: usize>(self) -> u32 {
            self.0[I]
        }
    }
}

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
pub(crate) use array::U32x4;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) use simd128::U32x4;
#[cfg(target_arch = "x86_64")]
pub(crate) use sse2::U32x4;

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::array::U32x4 as Array;
    use super::sse2::U32x4 as Sse2;

    /// The four lanes of either implementation.
    macro_rules! lanes {
        ($v:expr) => {{
            let v = $v;
            [v.lane::<0>(), v.lane::<1>(), v.lane::<2>(), v.lane::<3>()]
        }};
    }

    #[test]
    fn sse2_lanes_do_what_the_arrays_do() {
        let (x, y): ([u32; 4], [u32; 4]) = (
            [0x0123_4567, 0x89ab_cdef, 0xdead_beef, 0x8000_0001],
            [0xffff_ffff, 0, 0x7fff_ffff, 0x1357_9bdf],
        );
        let (sx, sy) = (
            Sse2::new(x[0], x[1], x[2], x[3]),
            Sse2::new(y[0], y[1], y[2], y[3]),
        );
        let (ax, ay) = (
            Array::new(x[0], x[1], x[2], x[3]),
            Array::new(y[0], y[1], y[2], y[3]),
        );
        // `op` applied to (x, y) in both implementations gives the same lanes.
        macro_rules! same {
            ($($op:tt)+) => {
                assert_eq!(lanes!(sx.$($op)+(sy)), lanes!(ax.$($op)+(ay)), stringify!($($op)+))
            };
        }
        let bytes: [u8; 16] = std::array::from_fn(|i| (i * 37 + 5) as u8);
        assert_eq!(
            lanes!(Sse2::from_be_bytes(&bytes)),
            lanes!(Array::from_be_bytes(&bytes))
        );
        same!(add);
        same!(xor);
        same!(or);
        for n in [3, 7, 10, 17, 18, 19, 25, 31] {
            assert_eq!(lanes!(sx.shr(n)), lanes!(ax.shr(n)), "shr {n}");
            assert_eq!(lanes!(sx.shl(n)), lanes!(ax.shl(n)), "shl {n}");
        }
        // The shapes the message schedule uses, and one picked lane by lane.
        same!(shuffle::<1, 2, 3, 4>);
        same!(shuffle::<2, 3, 2, 3>);
        same!(shuffle::<0, 1, 0, 1>);
        same!(shuffle::<0, 1, 4, 5>);
        same!(shuffle::<4, 5, 2, 3>);
        same!(shuffle::<7, 0, 5, 2>);
        same!(shuffle::<4, 3, 6, 1>);
    }
}
