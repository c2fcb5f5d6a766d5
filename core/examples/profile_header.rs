//! Runs header signing in a loop, for instruction-count profiling (`valgrind --tool=callgrind`).
use xnonce_core::{sign_header_value_with, FixedEnvironment, Scheme, Secret, SignInput};

fn main() {
    let scheme = if std::env::args().any(|a| a == "v2") {
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
    for _ in 0..20_000 {
        n += sign_header_value_with(&input, &secret, &env).unwrap().len();
    }
    println!("{n}");
}
