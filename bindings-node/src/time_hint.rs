//! `serverTimeFromAnswer`: what the answer to a signed request says of the server's clock
//! (core's [`ServerTimeHint::server_time_from_answer`], PROTOCOL §12, *Client side*).

use napi::Env;
use napi_derive::napi;
use xnonce_core::{time_hint, ServerTimeHint};

use crate::error::guard;
use crate::params::Text;

/// The server's time (ms since the epoch) that the answer to a request this client sent
/// tells it: `status` and `hint` are the answer's status and `X-Nonce-Server-Time` header,
/// `sent` the `X-Nonce` value the request carried. A number only for a stale refusal (401)
/// whose hint authenticates, with `secret`, for the client id and request id (the v2 nonce,
/// the v1 token) of `sent`; `null` for anything else (another status, no hint, a malformed
/// one, one made for another request or with another secret, `sent` not an `X-Nonce` value),
/// which the client ignores. The clock offset to adopt is this time minus the local clock at
/// receipt. A secret that no request could be signed with is `invalid_secret`.
#[napi(
    strict,
    js_name = "serverTimeFromAnswer",
    ts_args_type = "status: number, hint: string | null | undefined, sent: string, secret: string",
    ts_return_type = "number | null"
)]
pub fn server_time_from_answer(
    env: &Env,
    status: f64,
    hint: Option<Text>,
    sent: Text,
    secret: Text,
) -> napi::Result<Option<f64>> {
    guard(env, || {
        let secret = crate::sign::secret_of(secret)?;
        // A number that is no status code (401.5, 65937) is not 401; a string that is not
        // well-formed text (a lone surrogate) is no header value.
        let Some(status) = time_hint::status_from_f64(status) else {
            return Ok(None);
        };
        let hint = hint.and_then(Text::into_well_formed);
        let Some(sent) = sent.into_well_formed() else {
            return Ok(None);
        };
        let time = ServerTimeHint::server_time_from_answer(status, hint.as_deref(), &sent, &secret);
        Ok(time.map(|ms| ms as f64))
    })
}
