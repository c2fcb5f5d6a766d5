//! The CLI's copies of a secret it reads are zeroized before their memory is freed: an
//! allocator that inspects every block freed while a secret is read fails the test when one
//! still holds a piece of it. (One test in this binary: the allocator is the process's.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use xnonce::cli::args::SignArgs;

/// 64 hex characters; any 16 of them in a row in a freed block is a leak.
const SECRET: &[u8; 64] = b"5f0e9a1c7b3d2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7";
const PIECE: usize = 16;

struct Inspecting;

static ARMED: AtomicBool = AtomicBool::new(false);
static LEAKS: AtomicUsize = AtomicUsize::new(0);

fn holds_a_piece(block: &[u8]) -> bool {
    SECRET
        .chunks(PIECE)
        .any(|piece| block.windows(PIECE).any(|w| w == piece))
}

unsafe impl GlobalAlloc for Inspecting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // `realloc` is GlobalAlloc's default (alloc, copy, dealloc): a grown buffer's old
        // block passes here too.
        if ARMED.load(Ordering::SeqCst)
            && holds_a_piece(std::slice::from_raw_parts(ptr, layout.size()))
        {
            LEAKS.fetch_add(1, Ordering::SeqCst);
        }
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOC: Inspecting = Inspecting;

fn args(secret_file: Option<PathBuf>) -> SignArgs {
    SignArgs {
        scheme: "v2".into(),
        method: "GET".into(),
        path: "/a".into(),
        params: Vec::new(),
        client: "svc".into(),
        secret_file,
        secret: None,
        timestamp: None,
        nonce: None,
        host: None,
        body_file: None,
    }
}

/// Freed blocks holding a piece of the secret while `read` runs and its result is dropped.
fn leaks(read: impl FnOnce() -> bool) -> (usize, bool) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap();
    LEAKS.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    let ok = read();
    ARMED.store(false, Ordering::SeqCst);
    (LEAKS.load(Ordering::SeqCst), ok)
}

#[test]
fn the_secret_read_from_a_file_or_the_environment_leaves_no_copy_in_freed_memory() {
    let dir = std::env::temp_dir().join(format!("xnonce-secret-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The file's contents are written from static bytes: no heap copy of the test's own.
    let good = dir.join("good.secret");
    std::fs::write(&good, [&b"\xef\xbb\xbf"[..], SECRET, b"\r\n"].concat()).unwrap();
    // Refused after it was read: not UTF-8, and whitespace inside.
    let not_utf8 = dir.join("not-utf8.secret");
    std::fs::write(&not_utf8, [SECRET, &b"\xff\n"[..]].concat()).unwrap();
    let spaced = dir.join("spaced.secret");
    std::fs::write(&spaced, [SECRET, &b" x\n"[..]].concat()).unwrap();

    let a = args(Some(good));
    let (n, ok) = leaks(|| a.secret().map(|s| s.v2_key().is_ok()).unwrap_or(false));
    assert!(ok, "the secret file was not read as a v2 secret");
    assert_eq!(n, 0, "--secret-file: {n} freed blocks held the secret");

    for path in [not_utf8, spaced] {
        let a = args(Some(path.clone()));
        let (n, ok) = leaks(|| {
            let e = a.secret().unwrap_err();
            e.code().as_str() == "invalid_secret" && !holds_a_piece(e.message().as_bytes())
        });
        assert!(
            ok,
            "{}: not refused, or the message holds the secret",
            path.display()
        );
        assert_eq!(n, 0, "{}: {n} freed blocks held the secret", path.display());
    }

    // The environment variable (the process's environment keeps its own copy, which is the
    // user's to manage; the CLI's copy is freed zeroized).
    let secret = std::str::from_utf8(SECRET).unwrap();
    std::env::set_var(xnonce::cli::args::SECRET_ENV, format!("{secret}\n"));
    let a = args(None);
    let (n, ok) = leaks(|| a.secret().map(|s| s.v2_key().is_ok()).unwrap_or(false));
    std::env::remove_var(xnonce::cli::args::SECRET_ENV);
    assert!(ok, "XNONCE_SECRET was not read as a v2 secret");
    assert_eq!(n, 0, "XNONCE_SECRET: {n} freed blocks held the secret");

    std::fs::remove_dir_all(&dir).unwrap();
}
