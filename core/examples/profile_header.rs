//! Runs header signing (or, with `verify`, verification) in a loop, for instruction-count
//! profiling: `valgrind --tool=callgrind target/release/examples/profile_header [v2] [verify]`.
use std::collections::HashMap;

use xnonce_core::{
    sign_header_value_with, sign_with, FixedEnvironment, Incoming, Scheme, Secret, SignInput,
    Verifier,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scheme = if args.iter().any(|a| a == "v2") {
        Scheme::V2
    } else {
        Scheme::V1
    };
    let secret =
        Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd").unwrap();
    let env = FixedEnvironment {
        now_ms: 1,
        nonce: [0; 16],
    };
    let input = SignInput::new(scheme, "GET", "/controller1/action1", "test_client-irb")
        .params([
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", "this"),
        ])
        .host("api.example.com")
        .timestamp_ms(1_384_300_800_123)
        .nonce("00112233445566778899aabbccddeeff");
    let mut n = 0;
    if args.iter().any(|a| a == "verify") {
        let header = sign_with(&input, &secret, &env).unwrap().x_nonce;
        let secrets = HashMap::from([("test_client-irb".to_string(), secret)]);
        let verifier = Verifier::new();
        let req = Incoming {
            method: "GET",
            host: Some("api.example.com"),
            path: "/controller1/action1",
            query: "username=phil&password=hello+phil&opt1=this",
            x_nonce: Some(&header),
            ..Default::default()
        };
        for _ in 0..20_000 {
            n += verifier
                .verify(&req, &secrets, 1_384_300_800_123)
                .unwrap()
                .params
                .len();
        }
    } else {
        for _ in 0..20_000 {
            n += sign_header_value_with(&input, &secret, &env).unwrap().len();
        }
    }
    println!("{n}");
}
