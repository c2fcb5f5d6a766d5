//! Paired ratios on a noisy machine: each round times the raw primitive and xnonce's call on
//! the same canonical bytes back to back (order alternating), and the result is the median of
//! the per-round ratios plus the best time of each side. Load from other processes then hits
//! both sides of a round alike, which criterion's one-benchmark-after-another cannot promise.
//!
//! `cargo bench -p xnonce-core --bench ratios` (`-- --rounds N --slice-ms M`)

use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::{input, key_bytes, CLIENT, HOST, NOW, PATH, QUERY, SECRET};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use xnonce_core::{
    sign_header_value_with, sign_with, FixedEnvironment, Incoming, Scheme, Secret, Verifier,
};

/// Nanoseconds per call of `f` over a slice of about `slice`.
fn time(f: &mut dyn FnMut(), iters: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / iters as f64
}

fn calibrate(f: &mut dyn FnMut(), slice: Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() >= slice / 4 {
            return (iters * 4).max(1);
        }
        iters *= 2;
    }
}

/// The middle value, or the mean of the two middle values of an even count.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn pair(name: &str, rounds: usize, slice: Duration, raw: &mut dyn FnMut(), ours: &mut dyn FnMut()) {
    let (ni_raw, ni_ours) = (calibrate(raw, slice), calibrate(ours, slice));
    let (mut ratios, mut best_raw, mut best_ours) = (Vec::new(), f64::MAX, f64::MAX);
    for round in 0..rounds {
        let (r, o) = if round % 2 == 0 {
            let r = time(raw, ni_raw);
            (r, time(ours, ni_ours))
        } else {
            let o = time(ours, ni_ours);
            (time(raw, ni_raw), o)
        };
        best_raw = best_raw.min(r);
        best_ours = best_ours.min(o);
        ratios.push(o / r);
    }
    println!(
        "{name:<10} raw {best_raw:>8.1} ns  xnonce {best_ours:>8.1} ns  ratio (median of {rounds} rounds) {:.2}x  (of best times {:.2}x)",
        median(&mut ratios),
        best_ours / best_raw
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str, default: u64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = arg("--rounds", 41) as usize;
    let slice = Duration::from_millis(arg("--slice-ms", 20));

    let secret = Secret::new(SECRET).unwrap();
    let env = FixedEnvironment {
        now_ms: NOW,
        nonce: [0; 16],
    };
    let (in1, in2) = (input(Scheme::V1), input(Scheme::V2));
    let v1 = sign_with(&in1, &secret, &env).unwrap();
    let v2 = sign_with(&in2, &secret, &env).unwrap();
    let v1_bytes = v1.canonical().as_bytes().to_vec();
    let v2_bytes = v2.canonical().as_bytes().to_vec();
    let key = key_bytes();
    let mut raw_sha = || {
        black_box(Sha256::digest(black_box(&v1_bytes)));
    };
    let mut raw_hmac = || {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(black_box(&key)).unwrap();
        m.update(black_box(&v2_bytes));
        black_box(m.finalize());
    };
    println!("GET /controller1/action1, 3 params; raw = the primitive alone over the same canonical bytes");
    pair("v1 header", rounds, slice, &mut raw_sha, &mut || {
        black_box(sign_header_value_with(black_box(&in1), &secret, &env).unwrap());
    });
    pair("v2 header", rounds, slice, &mut raw_hmac, &mut || {
        black_box(sign_header_value_with(black_box(&in2), &secret, &env).unwrap());
    });
    let secrets = std::collections::HashMap::from([(CLIENT.to_string(), secret.clone())]);
    let verifier = Verifier::new();
    let q = QUERY;
    pair("v1 verify", rounds, slice, &mut raw_sha, &mut || {
        let req = Incoming {
            method: "GET",
            path: PATH,
            query: q,
            x_nonce: Some(&v1.x_nonce),
            ..Default::default()
        };
        black_box(verifier.verify(black_box(&req), &secrets, NOW).unwrap());
    });
    pair("v2 verify", rounds, slice, &mut raw_hmac, &mut || {
        let req = Incoming {
            method: "GET",
            host: Some(HOST),
            path: PATH,
            query: q,
            x_nonce: Some(&v2.x_nonce),
            ..Default::default()
        };
        black_box(verifier.verify(black_box(&req), &secrets, NOW).unwrap());
    });
}
