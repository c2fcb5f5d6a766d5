//! The one place where core's [`xnonce_core::Error`] becomes the foreign error type.

use std::borrow::Cow;

use xnonce_core::ErrorFamily;

use crate::text::XNonceText;

/// The error every function throws: one variant per family of the shared codes, each with
/// the shared snake_case `code` (`"invalid_client_id"`, `"expired"`, ...) and a `reason` that
/// never contains a secret.
///
/// Swift sees `enum XNonceError: Error` (`.Input(code:reason:)`, ...); Kotlin a sealed
/// `XNonceException` (`XNonceException.Input`, ...); Python `XNonceError.Input`, ...
/// Each package adds a `code` property on the base type. The text field is `reason`, not
/// `message`: Kotlin exceptions already have a `message` (uniffi fills it with both).
///
/// Its text fields are each language's string type, crossing as `XNonceText`: an error is
/// passed in too (`refusal_answer`), and one made by hand in Kotlin may hold a lone surrogate
/// (a reason cut by `take(n)` in the middle of an emoji), which uniffi's own `String` would
/// fail to lower there (`MalformedInputException`, not an answer); Rust reads such text
/// lossily.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
pub enum XNonceError {
    /// The caller passed something that cannot be signed (`invalid_*`).
    Input {
        /// The shared error code.
        code: XNonceText,
        /// Human-readable detail (never contains a secret).
        reason: XNonceText,
    },
    /// A header, ottoken or parameter string could not be parsed (`malformed_*`,
    /// `missing_header`, `unsupported_scheme`).
    Format {
        /// The shared error code.
        code: XNonceText,
        /// Human-readable detail (never contains a secret).
        reason: XNonceText,
    },
    /// Authentication failed (`unknown_client`, `signature_mismatch`, `expired`, `replayed`).
    Auth {
        /// The shared error code.
        code: XNonceText,
        /// Human-readable detail (never contains a secret).
        reason: XNonceText,
        /// For `expired` rejections of authentic requests: the value of the
        /// `X-Nonce-Server-Time` response header (`"<server ms> <mac>"`) a server sends back.
        server_time: Option<XNonceText>,
    },
    /// The route's parameter rules refused the request (`missing_param`, `excluded_param`,
    /// `unknown_route`).
    Route {
        /// The shared error code.
        code: XNonceText,
        /// Human-readable detail (never contains a secret).
        reason: XNonceText,
    },
    /// A dependency or the client's rate budget is unavailable for now; nothing was accepted
    /// (`store_unavailable`, `connection_failed`, `rate_limited`).
    Unavailable {
        /// The shared error code.
        code: XNonceText,
        /// Human-readable detail (never contains a secret).
        reason: XNonceText,
    },
}

impl XNonceError {
    /// Every variant's `code` and `reason` fields.
    fn code_and_reason(&self) -> (&XNonceText, &XNonceText) {
        match self {
            XNonceError::Input { code, reason }
            | XNonceError::Format { code, reason }
            | XNonceError::Auth { code, reason, .. }
            | XNonceError::Route { code, reason }
            | XNonceError::Unavailable { code, reason } => (code, reason),
        }
    }

    /// The human-readable detail of any variant (read lossily: only an error made by hand
    /// can hold text that is not valid Unicode).
    pub fn reason(&self) -> Cow<'_, str> {
        self.code_and_reason().1.to_string_lossy()
    }

    /// The shared error code of any variant (read lossily, as [`XNonceError::reason`]).
    pub fn code(&self) -> Cow<'_, str> {
        self.code_and_reason().0.to_string_lossy()
    }

    /// The shared error code this error carries, if it is one (`None` for a code made by
    /// hand that is none of them, or that is not valid Unicode).
    pub(crate) fn shared_code(&self) -> Option<xnonce_core::ErrorCode> {
        std::str::from_utf8(self.code_and_reason().0.as_bytes())
            .ok()
            .and_then(xnonce_core::ErrorCode::from_code)
    }
}

/// The HTTP status a server answers a refusal with, by its shared code (`"expired"` → 401,
/// `"replayed"` → 409, `"missing_param"` → 422, ...: PROTOCOL §13, what `xnonce-server`
/// answers); `None` for a string that is not one of the codes. The Kotlin and Swift packages
/// read it as the error's `httpStatus`. (Text that is not valid Unicode is no code either.)
#[uniffi::export]
pub fn http_status_of(code: XNonceText) -> Option<u16> {
    let code = std::str::from_utf8(code.as_bytes()).ok()?;
    xnonce_core::ErrorCode::from_code(code).map(xnonce_core::ErrorCode::http_status)
}

impl std::fmt::Display for XNonceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.reason())
    }
}

impl std::error::Error for XNonceError {}

impl From<xnonce_core::Error> for XNonceError {
    fn from(e: xnonce_core::Error) -> Self {
        let code = XNonceText::from(e.code().as_str());
        let reason = XNonceText::from(e.message());
        match e.code().family() {
            ErrorFamily::Input => XNonceError::Input { code, reason },
            ErrorFamily::Format => XNonceError::Format { code, reason },
            ErrorFamily::Auth => XNonceError::Auth {
                code,
                reason,
                server_time: e.server_time().map(|h| h.to_string().into()),
            },
            ErrorFamily::Route => XNonceError::Route { code, reason },
            ErrorFamily::Unavailable => XNonceError::Unavailable { code, reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnonce_core::{Error, ErrorCode};

    #[test]
    fn every_code_keeps_its_code_and_family() {
        for &c in ErrorCode::ALL {
            let e = XNonceError::from(Error::new(c, "m"));
            assert_eq!(e.code(), c.as_str());
            let family = match e {
                XNonceError::Input { .. } => ErrorFamily::Input,
                XNonceError::Format { .. } => ErrorFamily::Format,
                XNonceError::Auth { .. } => ErrorFamily::Auth,
                XNonceError::Route { .. } => ErrorFamily::Route,
                XNonceError::Unavailable { .. } => ErrorFamily::Unavailable,
            };
            assert_eq!(family, c.family());
            assert_eq!(e.to_string(), format!("{}: m", c.as_str()));
        }
    }

    #[test]
    fn http_status_of_reads_each_code() {
        let status = |c: &str| http_status_of(c.into());
        assert_eq!(status("expired"), Some(401));
        assert_eq!(status("signature_mismatch"), Some(401));
        assert_eq!(status("replayed"), Some(409));
        assert_eq!(status("missing_param"), Some(422));
        assert_eq!(status("unknown_route"), Some(404));
        assert_eq!(status("invalid_client_id"), Some(400));
        assert_eq!(status("store_unavailable"), Some(503));
        assert_eq!(status("Expired"), None);
        assert_eq!(status(""), None);
        // A lone surrogate, as Kotlin and Python write one: no code, no panic.
        assert_eq!(
            http_status_of(XNonceText::from_bytes(vec![0xED, 0xA0, 0x80])),
            None
        );
    }
}
