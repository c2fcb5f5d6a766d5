//! The request every core benchmark and the profiling example sign and verify: em-secure-api's
//! `GET /controller1/action1` with three params (one value needs escaping), fixed time/nonce.
#![allow(dead_code)] // each user takes what it needs

use xnonce_core::{Scheme, SignInput};

pub const SECRET: &str = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
pub const NOW: u64 = 1_384_300_800_123;
pub const CLIENT: &str = "test_client-irb";
pub const HOST: &str = "api.example.com";
pub const PATH: &str = "/controller1/action1";
/// The params as a verifier receives them in the query string.
pub const QUERY: &str = "username=phil&password=hello+phil&opt1=this";

pub fn input(scheme: Scheme) -> SignInput {
    SignInput::new(scheme, "GET", PATH, CLIENT)
        .params([
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", "this"),
        ])
        .host(HOST)
        .timestamp_ms(NOW)
        .nonce("00112233445566778899aabbccddeeff")
}

/// The 32 bytes the v2 HMAC is keyed with (the secret's hex decoded).
pub fn key_bytes() -> Vec<u8> {
    (0..32)
        .map(|i| u8::from_str_radix(&SECRET[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}
