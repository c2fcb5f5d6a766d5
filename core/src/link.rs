//! Links: a URL that carries the params and the `ottoken`, for a browser to open once.

use crate::environment::Environment;
use crate::error::{err, ErrorCode, Result};
use crate::sign::{sign_with, SignInput, Signed};
use crate::{percent, Scheme, Secret};

/// A signed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The full URL: `base + path + "?" + params + "ottoken=" + token`.
    pub url: String,
    /// The signature behind it.
    pub signed: Signed,
}

/// Splits `http(s)://authority[/prefix]` into (authority, base without trailing `/`).
fn split_base_url(base_url: &str) -> Result<(&str, &str)> {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .ok_or_else(|| {
            crate::Error::new(
                ErrorCode::InvalidUrl,
                "base URL must start with http:// or https://",
            )
        })?;
    if base_url
        .bytes()
        .any(|b| matches!(b, b'?' | b'#' | b' ') || b.is_ascii_control())
    {
        return err(
            ErrorCode::InvalidUrl,
            "base URL must not contain a query, fragment, space or control character",
        );
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return err(
            ErrorCode::InvalidUrl,
            "base URL needs a host and no user info",
        );
    }
    Ok((authority, base_url.trim_end_matches('/')))
}

/// Signs `input` and builds the link under `base_url` (`http(s)://authority[/prefix]`).
///
/// For v2 the signed host is the base URL's authority (a given `input.host` must agree).
/// The params keep the given order: v1 writes `key=CGI.escape(value)`, v2 RFC 3986-encodes
/// keys and values; the path is written as signed (v2: its canonical form); `ottoken` comes
/// last. A body cannot travel in a link (`invalid_body`).
///
/// ```
/// use xnonce_core::{link_with, FixedEnvironment, Scheme, Secret, SignInput};
/// let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd")?;
/// let input = SignInput::new(Scheme::V2, "GET", "/files/fetch", "test_client")
///     .param("name", "report 2013.pdf").timestamp_ms(1700000000000);
/// let env = FixedEnvironment { now_ms: 0, nonce: [7; 16] };
/// let link = link_with(&input, &secret, "https://API.example.com:443/", &env)?;
/// assert!(link.url.starts_with("https://API.example.com:443/files/fetch?name=report%202013.pdf&ottoken=djIg"));
/// # Ok::<(), xnonce_core::Error>(())
/// ```
pub fn link_with(
    input: &SignInput,
    secret: &Secret,
    base_url: &str,
    env: &dyn Environment,
) -> Result<Link> {
    let (authority, base) = split_base_url(base_url)?;
    if input.body.as_ref().is_some_and(|b| !b.is_empty()) {
        return err(ErrorCode::InvalidBody, "a link cannot carry a body");
    }
    let mut input = input.clone();
    if input.scheme == Scheme::V2 {
        let from_url = crate::canonical::host(authority)?;
        match &input.host {
            Some(h) if crate::canonical::host(h)? != from_url => {
                return err(
                    ErrorCode::InvalidHost,
                    "the host differs from the base URL's authority",
                );
            }
            _ => input.host = Some(authority.to_string()),
        }
    }
    let signed = sign_with(&input, secret, env)?;
    let (path, mut query) = match input.scheme {
        Scheme::V1 => (
            input.path.clone(),
            crate::canonical::v1::content(&input.params)?,
        ),
        Scheme::V2 => {
            let pairs: Vec<String> = input
                .params
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        percent::encode_rfc3986(k.as_bytes()),
                        percent::encode_rfc3986(v.as_bytes())
                    )
                })
                .collect();
            (
                crate::canonical::path_v2(&input.path)?.into_owned(),
                pairs.join("&"),
            )
        }
    };
    if !query.is_empty() {
        query.push('&');
    }
    let url = format!(
        "{base}{path}?{query}{}={}",
        crate::ottoken::PARAM,
        crate::ottoken::query_value(&signed.ottoken)
    );
    Ok(Link { url, signed })
}

/// [`link_with`] on the system clock and OS random generator.
#[cfg(feature = "os")]
pub fn link(input: &SignInput, secret: &Secret, base_url: &str) -> Result<Link> {
    link_with(
        input,
        secret,
        base_url,
        &crate::environment::SystemEnvironment,
    )
}
