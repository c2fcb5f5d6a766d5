//! Four `u32` lanes, the width of SHA-256's message-schedule step: one WebAssembly `v128`
//! when the module is built with `simd128`, otherwise (and in native tests) a plain array with
//! the same operations, so the compression function above it is one piece of code.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
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

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
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

pub(crate) use imp::U32x4;
