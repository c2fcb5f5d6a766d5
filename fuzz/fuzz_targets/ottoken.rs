//! libFuzzer entry point of the `ottoken` target; the body is [`xnonce_fuzz::ottoken::run`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xnonce_fuzz::ottoken::run(data));
