//! Runs one vector through `xnonce-core` and reports the first field that differs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use xnonce_core::{
    link_with, ottoken, sign_with, Error, FixedEnvironment, Scheme, Secret, SignInput, XNonce,
};

use crate::vector::Vector;

/// The core input a vector describes.
pub fn input_of(v: &Vector) -> Result<SignInput, String> {
    let scheme = match v.scheme.as_deref() {
        None | Some("v1") => Scheme::V1,
        Some("v2") => Scheme::V2,
        Some(other) => return Err(format!("unknown scheme {other:?}")),
    };
    let body = match &v.body {
        Some(b) => Some(
            STANDARD
                .decode(b)
                .map_err(|e| format!("body is not base64: {e}"))?,
        ),
        None => None,
    };
    Ok(SignInput {
        scheme,
        method: v.method.clone(),
        path: v.path.clone(),
        params: v.params.clone(),
        client: v.client.clone(),
        timestamp_ms: Some(v.timestamp),
        nonce: v.nonce.clone(),
        host: v.host.clone(),
        body,
    })
}

/// What signing (and linking) a vector produces.
pub struct Outcome {
    /// Canonical string.
    pub canonical: String,
    /// Header.
    pub x_nonce: String,
    /// ottoken.
    pub ottoken: String,
    /// Link, when the vector has a base URL.
    pub link: Option<String>,
}

/// Signs (and links) a vector's inputs with core.
pub fn run(v: &Vector) -> Result<Outcome, Error> {
    // Vectors fix time and nonce; the environment is never consulted for a complete vector.
    let env = FixedEnvironment {
        now_ms: v.timestamp,
        nonce: [0; 16],
    };
    let input = input_of(v).map_err(|m| Error::new(xnonce_core::ErrorCode::MalformedParams, m))?;
    let secret = Secret::new(v.secret.clone())?;
    // A case with a base URL is linked (which signs, taking the host from the URL); others are signed.
    let (signed, link) = match &v.base_url {
        Some(base) => {
            let l = link_with(&input, &secret, base, &env)?;
            (l.signed, Some(l.url))
        }
        None => (sign_with(&input, &secret, &env)?, None),
    };
    Ok(Outcome {
        canonical: signed.canonical().to_string(),
        x_nonce: signed.x_nonce,
        ottoken: signed.ottoken,
        link,
    })
}

fn same(field: &str, expected: &Option<String>, got: &str) -> Result<(), String> {
    match expected {
        Some(e) if e != got => Err(format!("{field}: expected {e:?}, got {got:?}")),
        _ => Ok(()),
    }
}

/// Checks a vector; `Err` names the first differing field.
pub fn check(v: &Vector) -> Result<(), String> {
    // Only a case with a base URL is linked: any other case's `link` would go unchecked.
    if v.link.is_some() && v.base_url.is_none() {
        return Err("case has link but no base_url (only a link case makes one)".into());
    }
    // An error case's outputs would never be compared (the call fails): `load` refuses
    // such a file; a case built in code is refused here.
    if v.error.is_some() {
        let outputs = [
            &v.canonical,
            &v.x_nonce,
            &v.ottoken,
            &v.ottoken_query_value,
            &v.link,
        ];
        if outputs.iter().any(|o| o.is_some()) {
            return Err("error case also carries outputs (they would go unchecked)".into());
        }
    }
    // A case that does not describe an input (an unknown scheme, a body that is not base64)
    // fails whatever it expects: `run` reports it as an error, which an `error` case would
    // otherwise take for the signer's.
    let input = input_of(v).map_err(|m| format!("case does not describe an input: {m}"))?;
    // Checkers never draw a nonce (README: the checking rule): an output computed with one
    // the case does not hold could not be reproduced by any other language's checker.
    if input.scheme == Scheme::V2 && v.nonce.is_none() && v.error.is_none() {
        return Err("v2 case has no nonce (a checker never draws one)".into());
    }
    match (run(v), &v.error) {
        (Err(e), Some(code)) if e.code().as_str() == code => Ok(()),
        (Err(e), Some(code)) => Err(format!("expected error {code}, got {}", e.code())),
        (Ok(_), Some(code)) => Err(format!("expected error {code}, but signing succeeded")),
        (Err(e), None) => Err(format!("signing failed: {e}")),
        (Ok(out), None) => {
            if v.x_nonce.is_none() {
                return Err("case has neither x_nonce nor error".into());
            }
            same("canonical", &v.canonical, &out.canonical)?;
            same("x_nonce", &v.x_nonce, &out.x_nonce)?;
            same("ottoken", &v.ottoken, &out.ottoken)?;
            same(
                "ottoken_query_value",
                &v.ottoken_query_value,
                &ottoken::query_value(&out.ottoken),
            )?;
            if let Some(l) = &out.link {
                same("link", &v.link, l)?;
            }
            let parsed = XNonce::parse(&out.x_nonce)
                .map_err(|e| format!("own header does not parse: {e}"))?;
            if parsed.to_string() != out.x_nonce
                || ottoken::decode(&out.ottoken).as_ref() != Ok(&parsed)
            {
                return Err("header/ottoken do not round-trip".into());
            }
            Ok(())
        }
    }
}
