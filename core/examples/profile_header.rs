//! Runs header signing (or, with `verify`, verification) in a loop, for instruction-count
//! profiling: `valgrind --tool=callgrind target/release/examples/profile_header [v2] [verify]`;
//! `packed` signs core's packed JS request instead (`xnonce_core::packed::sign_header_packed`, the
//! WASM binding's fast path, with the `Secret` made from the packed text on every call).
use std::collections::HashMap;

#[path = "../benches/common/mod.rs"]
mod common;

use common::{input, CLIENT, HOST, NOW, PATH, QUERY, SECRET};
use xnonce_core::{
    sign_header_value_with, sign_with, FixedEnvironment, Incoming, Scheme, Secret, Verifier,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scheme = if args.iter().any(|a| a == "v2") {
        Scheme::V2
    } else {
        Scheme::V1
    };
    let secret = Secret::new(SECRET).unwrap();
    let env = FixedEnvironment {
        now_ms: 1,
        nonce: [0; 16],
    };
    let input = input(scheme);
    let mut n = 0;
    if args.iter().any(|a| a == "verify") {
        let header = sign_with(&input, &secret, &env).unwrap().x_nonce;
        let secrets = HashMap::from([(CLIENT.to_string(), secret)]);
        let verifier = Verifier::new();
        let req = Incoming {
            method: "GET",
            host: Some(HOST),
            path: PATH,
            query: QUERY,
            x_nonce: Some(&header),
            ..Default::default()
        };
        for _ in 0..20_000 {
            n += verifier.verify(&req, &secrets, NOW).unwrap().params.len();
        }
    } else if args.iter().any(|a| a == "packed") {
        let mut packed = format!(
            "{}\0{}\0{}\0{}\0{SECRET}\0={}\0={}",
            input.scheme.as_str(),
            input.method,
            input.path,
            input.client,
            input.nonce.as_deref().unwrap_or_default(),
            input.host.as_deref().unwrap_or_default()
        );
        for (k, v) in &input.params {
            packed.push_str(&format!("\0{k}\0{v}"));
        }
        let mut out = String::new();
        for _ in 0..20_000 {
            out.clear();
            let (pairs, ts) = (input.params.len(), input.timestamp_ms);
            xnonce_core::packed::sign_header_packed(&packed, pairs, ts, None, &env, &mut out)
                .unwrap();
            n += out.len();
        }
    } else {
        for _ in 0..20_000 {
            n += sign_header_value_with(&input, &secret, &env).unwrap().len();
        }
    }
    println!("{n}");
}
