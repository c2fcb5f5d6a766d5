//! libFuzzer entry point of the `params` target; the body is [`xnonce_fuzz::params::run`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xnonce_fuzz::params::run(data));
