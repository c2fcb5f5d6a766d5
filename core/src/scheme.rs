//! The two signing schemes.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorCode};

/// Which scheme signs a request.
///
/// ```
/// use xnonce_core::Scheme;
/// assert_eq!("v2".parse::<Scheme>()?, Scheme::V2);
/// assert_eq!(Scheme::V1.as_str(), "v1");
/// assert_eq!("v3".parse::<Scheme>().unwrap_err().code().as_str(), "unsupported_scheme");
/// # Ok::<(), xnonce_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// em-secure-api's legacy SHA-256 token (byte-compatible; legacy deployments only).
    V1,
    /// The hardened HMAC-SHA256 scheme with host, body and a random nonce.
    V2,
}

impl Scheme {
    /// `"v1"` or `"v2"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::V1 => "v1",
            Scheme::V2 => "v2",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = Error;
    fn from_str(s: &str) -> Result<Scheme, Error> {
        match s {
            "v1" | "V1" => Ok(Scheme::V1),
            "v2" | "V2" => Ok(Scheme::V2),
            _ => Err(Error::new(
                ErrorCode::UnsupportedScheme,
                "scheme must be \"v1\" or \"v2\"",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemes_read_in_either_case_and_print_as_written_on_the_wire() {
        for (text, scheme) in [
            ("v1", Scheme::V1),
            ("V1", Scheme::V1),
            ("v2", Scheme::V2),
            ("V2", Scheme::V2),
        ] {
            assert_eq!(text.parse::<Scheme>().unwrap(), scheme, "{text}");
        }
        assert_eq!(Scheme::V1.to_string(), "v1");
        assert_eq!(Scheme::V2.to_string(), "v2");
    }

    #[test]
    fn anything_else_is_an_unsupported_scheme() {
        for text in ["", "v3", "v", "1", " v1", "v1 ", "v01"] {
            let e = text.parse::<Scheme>().unwrap_err();
            assert_eq!(e.code(), ErrorCode::UnsupportedScheme, "{text:?}");
        }
    }
}
