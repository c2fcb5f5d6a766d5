//! libFuzzer entry point of the `header` target; the body is [`xnonce_fuzz::header::run`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xnonce_fuzz::header::run(data));
