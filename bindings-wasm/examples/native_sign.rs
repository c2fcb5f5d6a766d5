//! Native baseline for `bench/bench-sign.mjs`: signs the same inputs as the WASM benchmark
//! with `xnonce-core` directly and prints one JSON line per case with nanoseconds per call
//! (the best of 5 batches). The case `v2-body` adds a 64 KiB body: its time minus `v2`'s is
//! 1024 SHA-256 blocks of the body digest (the bench's per-block figure).
//!
//! `cargo run --release -p xnonce-wasm --example native_sign -- [iterations]`

use std::hint::black_box;
use std::time::Instant;

use xnonce_core::{sign_header_value_with, FixedEnvironment, Scheme, Secret, SignInput};

const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";

/// The body of the `v2-body` case (the bench builds the same bytes in JS).
pub const BODY_LEN: usize = 65536;

fn input(scheme: Scheme) -> SignInput {
    SignInput::new(scheme, "GET", "/controller1/action1", "link-maker")
        .param("username", "alice")
        .param("password", "s3cret pass")
        .param("opt1", "été & co")
        .host("127.0.0.1:8080")
        .timestamp_ms(1_700_000_000_000)
        .nonce("00112233445566778899aabbccddeeff")
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let env = FixedEnvironment {
        now_ms: 0,
        nonce: [0; 16],
    };
    let body: Vec<u8> = (0..BODY_LEN).map(|i| i as u8).collect();
    let cases = [
        ("v1", input(Scheme::V1)),
        ("v2", input(Scheme::V2)),
        ("v2-body", input(Scheme::V2).body(body)),
    ];
    for (name, input) in cases {
        // The body case hashes 1024 blocks: fewer calls keep its batches as long as the others
        // (at least 5, one per batch, as the bench's JS side).
        let iterations = if input.body.is_some() {
            (iterations / 100).max(5)
        } else {
            iterations.max(5)
        };
        // The WASM call converts its arguments and builds the secret each time; so does this.
        let run = || {
            let secret = Secret::new(SECRET).expect("valid secret");
            sign_header_value_with(black_box(&input), &secret, &env).expect("signs")
        };
        for _ in 0..iterations / 10 {
            black_box(run());
        }
        // The best of 5 batches: the machine is shared, the minimum is the least disturbed.
        let ns = (0..5)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..iterations / 5 {
                    black_box(run());
                }
                start.elapsed().as_nanos() as f64 / f64::from(iterations / 5)
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "{{\"case\":\"{name}\",\"ns_per_op\":{ns:.1},\"x_nonce\":\"{}\"}}",
            run()
        );
    }
}
