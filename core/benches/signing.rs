//! Core signing/verifying cost against the raw primitive over the same canonical bytes,
//! measured in the same run (ratios, not absolute numbers, are what docs/BENCHMARKS.md reports).
//!
//! `cargo bench -p xnonce-core --bench signing`

use std::collections::HashMap;
use std::hint::black_box;

mod common;

use common::{input, key_bytes, CLIENT, HOST, NOW, PATH, QUERY, SECRET};
use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use xnonce_core::{
    sign_header_value_with, sign_with, FixedEnvironment, Incoming, Scheme, Secret, Verifier,
};

fn bench(c: &mut Criterion) {
    let secret = Secret::new(SECRET).unwrap();
    let env = FixedEnvironment {
        now_ms: NOW,
        nonce: [0; 16],
    };
    let v1 = sign_with(&input(Scheme::V1), &secret, &env).unwrap();
    let v2 = sign_with(&input(Scheme::V2), &secret, &env).unwrap();
    let v1_bytes = v1.canonical().as_bytes().to_vec();
    let v2_bytes = v2.canonical().as_bytes().to_vec();
    let key_bytes = key_bytes();

    let mut g = c.benchmark_group("core");
    g.bench_function("raw_sha256_of_v1_canonical", |b| {
        b.iter(|| Sha256::digest(black_box(&v1_bytes)))
    });
    let (in1, in2) = (input(Scheme::V1), input(Scheme::V2));
    g.bench_function("v1_header", |b| {
        b.iter(|| sign_header_value_with(black_box(&in1), &secret, &env).unwrap())
    });
    g.bench_function("v1_sign_with_ottoken", |b| {
        b.iter(|| sign_with(black_box(&in1), &secret, &env).unwrap())
    });
    g.bench_function("raw_hmac_of_v2_canonical", |b| {
        b.iter(|| {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(black_box(&key_bytes)).unwrap();
            m.update(black_box(&v2_bytes));
            m.finalize()
        })
    });
    g.bench_function("v2_header", |b| {
        b.iter(|| sign_header_value_with(black_box(&in2), &secret, &env).unwrap())
    });
    g.bench_function("v2_sign_with_ottoken", |b| {
        b.iter(|| sign_with(black_box(&in2), &secret, &env).unwrap())
    });

    let clients = HashMap::from([(CLIENT.to_string(), secret.clone())]);
    let verifier = Verifier::new();
    let q = QUERY;
    g.bench_function("v1_verify", |b| {
        b.iter(|| {
            let req = Incoming {
                method: "GET",
                path: PATH,
                query: q,
                x_nonce: Some(&v1.x_nonce),
                ..Default::default()
            };
            verifier.verify(black_box(&req), &clients, NOW).unwrap()
        })
    });
    g.bench_function("v2_verify", |b| {
        b.iter(|| {
            let req = Incoming {
                method: "GET",
                host: Some(HOST),
                path: PATH,
                query: q,
                x_nonce: Some(&v2.x_nonce),
                ..Default::default()
            };
            verifier.verify(black_box(&req), &clients, NOW).unwrap()
        })
    });
    g.finish();

    // Reading params for verification, before the client is known: v1's Hash#merge against
    // v2's plain list over the same query. Their ratio stays near 1 as the count grows when
    // v1's merge is linear (it was quadratic before 2026-12-03: 10,000 keys took 0.4 s).
    let mut g = c.benchmark_group("params");
    for n in [4usize, 1_000, 10_000] {
        let query: String = (0..n)
            .map(|i| format!("key{i}=value{i}"))
            .collect::<Vec<_>>()
            .join("&");
        for scheme in [Scheme::V1, Scheme::V2] {
            g.bench_function(format!("{scheme}_read_{n}_keys"), |b| {
                b.iter(|| {
                    xnonce_core::params::from_query_and_form(scheme, black_box(&query), None, true)
                        .unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
