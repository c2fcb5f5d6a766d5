#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

uniffi::setup_scaffolding!("xnonce_uniffi");

mod answer;
mod error;
mod header;
mod replay;
mod requester;
mod sign;
mod text;
mod time_hint;
mod verify;

pub use answer::{refusal_answer, Answer};
pub use error::{http_status_of, XNonceError};
pub use header::{ottoken_decode, ottoken_encode, ottoken_query_value, parse_header, Header};
pub use replay::{memory_replay_store, ReplayStore, ReplayStoreError};
pub use requester::{HttpHeader, RequestOptions, Requester, Response};
pub use sign::{
    link, link_detailed, sign, sign_detailed, sign_request, Param, Scheme, Signed, SignedLink,
};
pub use text::XNonceText;
pub use time_hint::server_time_from_answer;
pub use verify::{
    ActionWindow, ControllerWindow, ParamRule, RouteRule, RouteRules, RouteWindow, Verified,
    Verifier,
};
