//! libFuzzer entry point of the `link` target; the body is [`xnonce_fuzz::link::run`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xnonce_fuzz::link::run(data));
