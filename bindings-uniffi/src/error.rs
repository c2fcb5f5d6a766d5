//! The one place where core's [`xnonce_core::Error`] becomes the foreign error type.

use xnonce_core::ErrorFamily;

/// The error every function throws: one variant per family of the shared codes, each with
/// the shared snake_case `code` (`"invalid_client_id"`, `"expired"`, ...) and a `reason` that
/// never contains a secret.
///
/// Swift sees `enum XNonceError: Error` (`.Input(code:reason:)`, ...); Kotlin a sealed
/// `XNonceException` (`XNonceException.Input`, ...); Python `XNonceError.Input`, ...
/// Each package adds a `code` property on the base type. The text field is `reason`, not
/// `message`: Kotlin exceptions already have a `message` (uniffi fills it with both).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
pub enum XNonceError {
    /// The caller passed something that cannot be signed (`invalid_*`).
    Input {
        /// The shared error code.
        code: String,
        /// Human-readable detail (never contains a secret).
        reason: String,
    },
    /// A header, ottoken or parameter string could not be parsed (`malformed_*`,
    /// `missing_header`, `unsupported_scheme`).
    Format {
        /// The shared error code.
        code: String,
        /// Human-readable detail (never contains a secret).
        reason: String,
    },
    /// Authentication failed (`unknown_client`, `signature_mismatch`, `expired`, `replayed`).
    Auth {
        /// The shared error code.
        code: String,
        /// Human-readable detail (never contains a secret).
        reason: String,
        /// For `expired` rejections of authentic requests: the value of the
        /// `X-Nonce-Server-Time` response header (`"<server ms> <mac>"`) a server sends back.
        server_time: Option<String>,
    },
    /// The route's parameter rules refused the request (`missing_param`, `excluded_param`,
    /// `unknown_route`).
    Route {
        /// The shared error code.
        code: String,
        /// Human-readable detail (never contains a secret).
        reason: String,
    },
    /// A dependency or the client's rate budget is unavailable for now; nothing was accepted
    /// (`store_unavailable`, `connection_failed`, `rate_limited`).
    Unavailable {
        /// The shared error code.
        code: String,
        /// Human-readable detail (never contains a secret).
        reason: String,
    },
}

impl XNonceError {
    /// The shared error code of any variant.
    pub fn code(&self) -> &str {
        match self {
            XNonceError::Input { code, .. }
            | XNonceError::Format { code, .. }
            | XNonceError::Auth { code, .. }
            | XNonceError::Route { code, .. }
            | XNonceError::Unavailable { code, .. } => code,
        }
    }
}

impl std::fmt::Display for XNonceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (XNonceError::Input { code, reason }
        | XNonceError::Format { code, reason }
        | XNonceError::Auth { code, reason, .. }
        | XNonceError::Route { code, reason }
        | XNonceError::Unavailable { code, reason }) = self;
        write!(f, "{code}: {reason}")
    }
}

impl std::error::Error for XNonceError {}

impl From<xnonce_core::Error> for XNonceError {
    fn from(e: xnonce_core::Error) -> Self {
        let code = e.code().as_str().to_string();
        let reason = e.message().to_string();
        match e.code().family() {
            ErrorFamily::Input => XNonceError::Input { code, reason },
            ErrorFamily::Format => XNonceError::Format { code, reason },
            ErrorFamily::Auth => XNonceError::Auth {
                code,
                reason,
                server_time: e.server_time().map(|h| h.to_string()),
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
}
