//! The workspace's `uniffi-bindgen`: the same uniffi version as the library, so generated
//! Swift/Kotlin/Python code always matches the compiled scaffolding.

fn main() {
    uniffi::uniffi_bindgen_main()
}
