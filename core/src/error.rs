//! The one error type of xnonce, and the shared vocabulary of error codes.
//!
//! Every language binding maps [`Error`] to its native exception carrying the same
//! snake_case [`ErrorCode::as_str`] string as `.code`.
//!
//! ```
//! use xnonce_core::{Error, ErrorCode, ErrorFamily};
//! let e = Error::new(ErrorCode::Replayed, "ottoken already used");
//! assert_eq!((e.code().as_str(), e.message()), ("replayed", "ottoken already used"));
//! assert_eq!(e.code().family(), ErrorFamily::Auth);
//! assert_eq!(ErrorFamily::Auth.as_str(), "auth"); // a binding's `AuthError`
//! assert_eq!(e.code().http_status(), 409);
//! assert!(e.server_time().is_none()); // only stale (`expired`) rejections carry one
//! assert_eq!(ErrorCode::from_code("replayed"), Some(ErrorCode::Replayed));
//! assert_eq!(e.to_string(), "replayed: ottoken already used");
//!
//! // A server's stale answer: the hint lets the client correct its clock.
//! use xnonce_core::{Secret, ServerTimeHint};
//! let secret = Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd").unwrap();
//! let hint = ServerTimeHint::issue(&secret, "svc", "00112233445566778899aabbccddeeff", 1_700_000_000_000);
//! let stale = Error::new(ErrorCode::Expired, "Request has timed out").with_server_time(hint.clone());
//! assert_eq!(stale.server_time(), Some(&hint));
//! ```

use std::fmt;

use crate::time_hint::ServerTimeHint;

/// The shared, language-independent error codes (DESIGN §2), as snake_case strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A client id is empty, too long, or has characters outside `A-Z a-z 0-9 _ . - ~`.
    InvalidClientId,
    /// A parameter key cannot be signed (v1: outside `A-Z a-z 0-9 _ . - ~`; both: empty or `ottoken`).
    InvalidParamKey,
    /// A parameter value cannot be turned into text (NaN, infinity, bytes, nested values).
    InvalidParamValue,
    /// A secret is empty or too long (v1), or not 64 hex characters (v2).
    InvalidSecret,
    /// A method is not 1 to 16 ASCII letters.
    InvalidMethod,
    /// A path does not start with `/`, holds `?`, `#`, a control character, or a bad `%` escape.
    InvalidPath,
    /// A v2 host is missing or not a valid lower-case-able authority.
    InvalidHost,
    /// A v2 nonce is missing or not 32 lower-case hex characters.
    InvalidNonce,
    /// A timestamp is missing or out of range.
    InvalidTimestamp,
    /// A body was given where it cannot be signed (v1, or a link).
    InvalidBody,
    /// A base URL for a link is not `http(s)://authority[/prefix]`.
    InvalidUrl,
    /// An `X-Nonce` header value does not follow the grammar of either scheme.
    MalformedHeader,
    /// An `ottoken` value does not decode to a header of either scheme.
    MalformedOttoken,
    /// A query string or form body has bad escapes or is not UTF-8 (v2).
    MalformedParams,
    /// Neither an `X-Nonce` header nor an `ottoken` parameter was present.
    MissingHeader,
    /// The header's scheme is not accepted by this verifier.
    UnsupportedScheme,
    /// The client id is not registered.
    UnknownClient,
    /// No live secret of the client reproduces the token.
    SignatureMismatch,
    /// The timestamp is outside the window around the server clock.
    Expired,
    /// The token was already accepted once.
    Replayed,
    /// A required route parameter is absent.
    MissingParam,
    /// A route parameter the route excludes is present.
    ExcludedParam,
    /// No route matches the controller/action/method.
    UnknownRoute,
    /// The replay store cannot be reached: the request is refused, never accepted unverified.
    StoreUnavailable,
    /// A requester could not reach the server or read its answer (client side only).
    ConnectionFailed,
    /// The client sent more requests than its rate limit allows; retry after the server's
    /// `Retry-After` (nothing was accepted).
    RateLimited,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidClientId,
        ErrorCode::InvalidParamKey,
        ErrorCode::InvalidParamValue,
        ErrorCode::InvalidSecret,
        ErrorCode::InvalidMethod,
        ErrorCode::InvalidPath,
        ErrorCode::InvalidHost,
        ErrorCode::InvalidNonce,
        ErrorCode::InvalidTimestamp,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidUrl,
        ErrorCode::MalformedHeader,
        ErrorCode::MalformedOttoken,
        ErrorCode::MalformedParams,
        ErrorCode::MissingHeader,
        ErrorCode::UnsupportedScheme,
        ErrorCode::UnknownClient,
        ErrorCode::SignatureMismatch,
        ErrorCode::Expired,
        ErrorCode::Replayed,
        ErrorCode::MissingParam,
        ErrorCode::ExcludedParam,
        ErrorCode::UnknownRoute,
        ErrorCode::StoreUnavailable,
        ErrorCode::ConnectionFailed,
        ErrorCode::RateLimited,
    ];

    /// The snake_case code string shared by every language.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidClientId => "invalid_client_id",
            ErrorCode::InvalidParamKey => "invalid_param_key",
            ErrorCode::InvalidParamValue => "invalid_param_value",
            ErrorCode::InvalidSecret => "invalid_secret",
            ErrorCode::InvalidMethod => "invalid_method",
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::InvalidHost => "invalid_host",
            ErrorCode::InvalidNonce => "invalid_nonce",
            ErrorCode::InvalidTimestamp => "invalid_timestamp",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidUrl => "invalid_url",
            ErrorCode::MalformedHeader => "malformed_header",
            ErrorCode::MalformedOttoken => "malformed_ottoken",
            ErrorCode::MalformedParams => "malformed_params",
            ErrorCode::MissingHeader => "missing_header",
            ErrorCode::UnsupportedScheme => "unsupported_scheme",
            ErrorCode::UnknownClient => "unknown_client",
            ErrorCode::SignatureMismatch => "signature_mismatch",
            ErrorCode::Expired => "expired",
            ErrorCode::Replayed => "replayed",
            ErrorCode::MissingParam => "missing_param",
            ErrorCode::ExcludedParam => "excluded_param",
            ErrorCode::UnknownRoute => "unknown_route",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::ConnectionFailed => "connection_failed",
            ErrorCode::RateLimited => "rate_limited",
        }
    }

    /// Parses a code string back (for vectors and bindings).
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }

    /// The family a code belongs to; bindings use it for their exception hierarchy.
    pub const fn family(self) -> ErrorFamily {
        use ErrorCode::*;
        match self {
            InvalidClientId | InvalidParamKey | InvalidParamValue | InvalidSecret
            | InvalidMethod | InvalidPath | InvalidHost | InvalidNonce | InvalidTimestamp
            | InvalidBody | InvalidUrl => ErrorFamily::Input,
            MalformedHeader | MalformedOttoken | MalformedParams | MissingHeader
            | UnsupportedScheme => ErrorFamily::Format,
            UnknownClient | SignatureMismatch | Expired | Replayed => ErrorFamily::Auth,
            MissingParam | ExcludedParam | UnknownRoute => ErrorFamily::Route,
            StoreUnavailable | ConnectionFailed | RateLimited => ErrorFamily::Unavailable,
        }
    }

    /// The HTTP status a server answers with for this code.
    pub const fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            Replayed => 409,
            RateLimited => 429,
            UnknownRoute => 404,
            MissingParam | ExcludedParam => 422,
            StoreUnavailable | ConnectionFailed => 503,
            UnknownClient | SignatureMismatch | Expired | MissingHeader => 401,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Families of codes: the base classes of each binding's exception hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorFamily {
    /// The caller passed something that cannot be signed (`invalid_*`).
    Input,
    /// A header, ottoken or parameter string could not be parsed.
    Format,
    /// Authentication failed: unknown client, bad signature, stale, replayed.
    Auth,
    /// The route's parameter rules refused the request.
    Route,
    /// A dependency (the replay store, the network) or the client's rate budget is unavailable
    /// for now; nothing was accepted.
    Unavailable,
}

impl ErrorFamily {
    /// The family's name, as used for class names in bindings (`InputError`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorFamily::Input => "input",
            ErrorFamily::Format => "format",
            ErrorFamily::Auth => "auth",
            ErrorFamily::Route => "route",
            ErrorFamily::Unavailable => "unavailable",
        }
    }
}

/// An xnonce error: a [code](ErrorCode), a human message that never contains a secret,
/// and, for [`ErrorCode::Expired`] rejections of authentic requests, the server-time hint.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
    server_time: Option<ServerTimeHint>,
}

impl Error {
    /// The refusal of text that is not valid Unicode — a string holding a lone UTF-16
    /// surrogate, which JavaScript and Python strings can — for the input named `what`, with
    /// that input's `code` (PROTOCOL §3.6). The one message every binding uses; it names the
    /// input, never its content (which may be a secret). Bindings call it through
    /// [`Input::ill_formed`](crate::Input::ill_formed), whose table gives each input its
    /// code and name.
    ///
    /// ```
    /// use xnonce_core::{Error, ErrorCode};
    /// let e = Error::ill_formed_text(ErrorCode::InvalidSecret, "the secret");
    /// assert_eq!(e.code(), ErrorCode::InvalidSecret);
    /// assert_eq!(e.message(), "the secret is not valid Unicode text (it holds a lone surrogate)");
    /// ```
    pub fn ill_formed_text(code: ErrorCode, what: &str) -> Self {
        Error::new(
            code,
            format!("{what} is not valid Unicode text (it holds a lone surrogate)"),
        )
    }

    /// Makes an error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            server_time: None,
        }
    }

    /// Attaches the authenticated server-time hint (stale rejections).
    pub fn with_server_time(mut self, hint: ServerTimeHint) -> Self {
        self.server_time = Some(hint);
        self
    }

    /// The shared error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable message (never contains secrets).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The server-time hint of a stale rejection, if any.
    pub fn server_time(&self) -> Option<&ServerTimeHint> {
        self.server_time.as_ref()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code.as_str())
            .field("message", &self.message)
            .field("server_time", &self.server_time)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn err<T>(code: ErrorCode, message: impl Into<String>) -> Result<T> {
    Err(Error::new(code, message))
}
