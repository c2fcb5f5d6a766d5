//! The verification layer alone, without HTTP: what `XNonceLayer` costs per request, for
//! profiling. Builds the layer exactly as `xnonce-server serve --demo` does (demo routes and
//! windows, a registry in a temporary data dir, the default journal replay store), pre-signs
//! `N` unique v2 requests like the throughput benchmark's (`GET /controller1/action1` with
//! `username`, `password`, `opt1` and a unique `opt2`), and sends them through the layer in
//! front of an inner service that answers an empty 200, on a current-thread runtime.
//!
//! Timings on a shared machine are noisy; instruction counts are not:
//!
//! ```sh
//! cargo build --release -p xnonce-server --example profile_layer
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/layer.cg \
//!     target/release/examples/profile_layer 20000 [v1]
//! callgrind_annotate --inclusive=yes /tmp/layer.cg | head -60
//! ```
//!
//! `profile_layer N` prints ns and heap allocations per request of the layer alone (with the
//! driver's own cost measured and subtracted: the same requests sent straight to the inner
//! service).

use std::alloc::{GlobalAlloc, Layout};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, Response};
use tower::{Layer, Service, ServiceExt};
use xnonce_core::{sign, Scheme, SignInput};
use xnonce_server::journal::JournalStore;
use xnonce_server::{layer_for, now_ms, Config, Registry};

/// The allocator of the `xnonce-server` binary, counting its allocations.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to mimalloc.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to mimalloc.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to mimalloc, which made `ptr`.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to mimalloc, which made `ptr`.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const HOST: &str = "127.0.0.1:8080";

fn requests(
    scheme: Scheme,
    secret: &xnonce_core::Secret,
    n: usize,
    tag: &str,
) -> Vec<Request<Body>> {
    let base = SignInput::new(scheme, "GET", "/controller1/action1", "bench")
        .params([
            ("username", "phil"),
            ("password", "hello phil"),
            ("opt1", "this"),
        ])
        .host(HOST);
    let space = if scheme == Scheme::V1 { "+" } else { "%20" };
    (0..n)
        .map(|i| {
            let opt2 = format!("{tag}-{i}");
            let signed = sign(&base.clone().param("opt2", opt2.as_str()), secret).expect("signs");
            Request::builder()
                .uri(format!(
                    "/controller1/action1?username=phil&password=hello{space}phil&opt1=this&opt2={opt2}"
                ))
                .header("host", HOST)
                .header("x-nonce", signed.x_nonce)
                .body(Body::empty())
                .expect("request")
        })
        .collect()
}

async fn empty_ok(_req: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::empty()))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let scheme = match args.next().as_deref() {
        Some("v1") => Scheme::V1,
        _ => Scheme::V2,
    };
    let dir = std::env::temp_dir().join(format!("xnonce-profile-layer-{}", std::process::id()));
    let data = dir.join("data");
    let registry = Registry::open_with_key_file(&data, Some(dir.join("registry.key")));
    registry.check(true).expect("registry");
    let secret = registry.add("bench").expect("client");
    let store = JournalStore::open(&data, now_ms()).expect("journal");
    let layer = layer_for(&Config::demo(), Arc::new(registry), store);
    let mut verified = layer.layer(tower::service_fn(empty_ok));
    let mut bare = tower::service_fn(empty_ok);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // Warm-up (registry snapshot, allocator, replay map).
        for req in requests(scheme, &secret, 1_000, "warm") {
            let res = ServiceExt::<Request<Body>>::ready(&mut verified).await.unwrap().call(req).await.unwrap();
            assert_eq!(res.status(), 200);
        }
        let reqs = requests(scheme, &secret, n, "bare");
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let start = Instant::now();
        for req in reqs {
            let res = ServiceExt::<Request<Body>>::ready(&mut bare).await.unwrap().call(req).await.unwrap();
            assert_eq!(res.status(), 200);
        }
        let driver = start.elapsed().as_nanos() as f64 / n as f64;
        let driver_allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
        let reqs = requests(scheme, &secret, n, "run");
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let start = Instant::now();
        for req in reqs {
            let res = ServiceExt::<Request<Body>>::ready(&mut verified).await.unwrap().call(req).await.unwrap();
            assert_eq!(res.status(), 200, "every request is accepted once");
        }
        let total = start.elapsed().as_nanos() as f64 / n as f64;
        let layer_allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations - driver_allocations;
        println!(
            "{scheme}: layer {:.0} ns/request ({total:.0} through the layer − {driver:.0} driver), {:.1} allocations/request, {n} requests",
            total - driver,
            layer_allocations as f64 / n as f64
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
