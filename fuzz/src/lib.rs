//! Bodies of the xnonce-core fuzz targets.
//!
//! Each target is a plain `fn(&[u8])` that panics when a property fails. The libFuzzer
//! binaries in `fuzz_targets/` (nightly, `cargo fuzz run NAME`) and the stable corpus
//! regression test (`tests/corpus.rs`) call the same functions, so every file committed under
//! `corpus/<target>/` is replayed by CI without nightly or libFuzzer.
//!
//! The targets check properties, not only "no panic":
//! * [`header`]: `parse(format(h)) == h`, a parsed value formats back to the exact input text,
//!   every rejection is `malformed_header`.
//! * [`ottoken`]: decode/encode round trips (byte-exact for v2), the query form decodes back,
//!   every rejection is `malformed_ottoken`.
//! * [`params`]: query/form parsing against an independent model (encode pairs, parse them
//!   back; v1 `Hash#merge` of equal values, a different one kept apart), `ottoken` never reaches the params, float text reads back.
//! * [`link`]: links against a WHATWG URL parser (the `url` crate): a link is refused with an
//!   input error, or a browser sends its host (v2), path and query exactly as signed.
//! * [`verify`]: requests signed by core (with the right secret, a rotated one, a legacy one or
//!   an attacker's), then mutated: verify is deterministic, never accepts a signature that no
//!   live secret of the client produced, accepts every unmodified genuine fresh request, agrees
//!   with `verify_once` and a `MemoryReplayStore` (a second copy is `replayed`, in either
//!   transport), and never puts secret text in an error.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod header;
pub mod link;
pub mod ottoken;
pub mod params;
pub mod pick;
pub mod verify;

/// A target body: panics when a property fails.
pub type Target = fn(&[u8]);

/// Every target by name (the names of `fuzz_targets/*.rs` and `corpus/*`).
pub const TARGETS: &[(&str, Target)] = &[
    ("header", header::run),
    ("link", link::run),
    ("ottoken", ottoken::run),
    ("params", params::run),
    ("verify", verify::run),
];
