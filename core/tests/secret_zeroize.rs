//! A dropped `Secret` leaves no copy of its text or of its v2 key in freed memory (its
//! rustdoc: "the memory is zeroized when the last clone is dropped"), and neither does a
//! dropped v1 `Signed` or `Link`, whose canonical string holds the secret.
//!
//! This test binary's allocator looks through every block as it is freed for the bytes of
//! one secret; its own binary, so that no other test's allocations are watched.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use xnonce_core::{link, sign, Scheme, Secret, SignInput};

/// The secret's text, and the 32 bytes it decodes to (the v2 key).
const TEXT: &str = "5a17e0c0ffee5a17e0c0ffee5a17e0c0ffee5a17e0c0ffee5a17e0c0ffee5a17";
const KEY: [u8; 32] = [
    0x5a, 0x17, 0xe0, 0xc0, 0xff, 0xee, 0x5a, 0x17, 0xe0, 0xc0, 0xff, 0xee, 0x5a, 0x17, 0xe0, 0xc0,
    0xff, 0xee, 0x5a, 0x17, 0xe0, 0xc0, 0xff, 0xee, 0x5a, 0x17, 0xe0, 0xc0, 0xff, 0xee, 0x5a, 0x17,
];

/// Blocks freed while watching that held the text, and that held the key.
static WATCHING: AtomicBool = AtomicBool::new(false);
static FREED_TEXT: AtomicUsize = AtomicUsize::new(0);
static FREED_KEY: AtomicUsize = AtomicUsize::new(0);
/// One test watches at a time (the counters are shared).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `f` with freed blocks watched; how many held the text and the key.
fn watched(f: impl FnOnce()) -> (usize, usize) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    FREED_TEXT.store(0, Ordering::SeqCst);
    FREED_KEY.store(0, Ordering::SeqCst);
    WATCHING.store(true, Ordering::SeqCst);
    f();
    WATCHING.store(false, Ordering::SeqCst);
    (
        FREED_TEXT.load(Ordering::SeqCst),
        FREED_KEY.load(Ordering::SeqCst),
    )
}

struct Watching;

fn holds(block: &[u8], needle: &[u8]) -> bool {
    block.windows(needle.len()).any(|w| w == needle)
}

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if WATCHING.load(Ordering::SeqCst) {
            // The block is still ours until `System.dealloc` below.
            let block = std::slice::from_raw_parts(ptr, layout.size());
            if holds(block, TEXT.as_bytes()) {
                FREED_TEXT.fetch_add(1, Ordering::SeqCst);
            }
            if holds(block, &KEY) {
                FREED_KEY.fetch_add(1, Ordering::SeqCst);
            }
        }
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

#[test]
fn a_dropped_secret_leaves_neither_its_text_nor_its_key_in_freed_memory() {
    let (text, key) = watched(|| {
        let secret = Secret::new(String::from(TEXT)).unwrap();
        assert_eq!(secret.v2_key().unwrap(), &KEY); // derived and kept inside the secret
        let clone = secret.clone();
        drop(secret);
        // Clones share one copy: the other clone still holds it.
        assert_eq!(clone.expose(), TEXT);
        drop(clone);
    });
    assert_eq!(text, 0, "text left in freed memory");
    assert_eq!(key, 0, "key left in freed memory");
}

#[test]
fn a_dropped_v1_signature_or_link_leaves_no_copy_of_the_secret_in_freed_memory() {
    let (text, _) = watched(|| {
        let secret = Secret::new(String::from(TEXT)).unwrap();
        let mut input = SignInput::new(Scheme::V1, "GET", "/controller1/action1", "svc");
        for i in 0..20 {
            input = input.param(format!("key{i}"), "a value long enough to grow buffers");
        }
        let signed = sign(&input, &secret).unwrap();
        assert!(
            signed.canonical().contains(TEXT),
            "v1's canonical holds the secret"
        );
        drop(signed);
        let made = link(&input, &secret, "https://api.test").unwrap();
        assert!(made.signed.canonical().contains(TEXT));
        drop(made);
        drop(secret);
    });
    assert_eq!(text, 0, "the secret's text left in freed memory");
}
