//! libFuzzer entry point of the `verify` target; the body is [`xnonce_fuzz::verify::run`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xnonce_fuzz::verify::run(data));
