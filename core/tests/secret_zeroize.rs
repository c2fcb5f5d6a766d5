//! A dropped `Secret` leaves no copy of its text or of its v2 key in freed memory (its
//! rustdoc: "the memory is zeroized when the last clone is dropped").
//!
//! This test binary's allocator looks through every block as it is freed for the bytes of
//! one secret; its own binary, so that no other test's allocations are watched.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use xnonce_core::Secret;

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
    WATCHING.store(true, Ordering::SeqCst);
    let secret = Secret::new(String::from(TEXT)).unwrap();
    assert_eq!(secret.v2_key().unwrap(), &KEY); // derived and kept inside the secret
    let clone = secret.clone();
    drop(secret);
    // Clones share one copy: the other clone still holds it.
    assert_eq!(clone.expose(), TEXT);
    drop(clone);
    WATCHING.store(false, Ordering::SeqCst);
    assert_eq!(
        FREED_TEXT.load(Ordering::SeqCst),
        0,
        "text left in freed memory"
    );
    assert_eq!(
        FREED_KEY.load(Ordering::SeqCst),
        0,
        "key left in freed memory"
    );
}
