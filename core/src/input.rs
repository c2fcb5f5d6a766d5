//! The text inputs a caller passes to xnonce, with the error code and the name each is refused
//! with when it is not valid Unicode text.
//!
//! JavaScript, Kotlin and Python strings can hold a lone UTF-16 surrogate, which is no text:
//! signing U+FFFD in its place would sign something the caller never passed. Every binding
//! refuses such a string where it reads it, with [`Input::ill_formed`]: the code of the input
//! it was passed as (PROTOCOL §3.6 for params: `invalid_param_key`, `invalid_param_value`)
//! and core's one message naming the input, never its content (which may be a secret). So
//! the same input gets the same code and the same message in every language.
//!
//! ```
//! use xnonce_core::{ErrorCode, Input};
//!
//! let e = Input::Method.ill_formed();
//! assert_eq!(e.code(), ErrorCode::InvalidMethod);
//! assert_eq!(e.message(), "the method is not valid Unicode text (it holds a lone surrogate)");
//!
//! // A param value is named by its key (keys are no secrets; values may be).
//! let e = Input::ParamValue.ill_formed_value("user");
//! assert_eq!(e.code(), ErrorCode::InvalidParamValue);
//! assert_eq!(e.message(), "param \"user\" is not valid Unicode text (it holds a lone surrogate)");
//! ```

use crate::error::{Error, ErrorCode};

/// A text input of xnonce's API, as every binding names it: what a string that is not valid
/// Unicode text is refused as ([`Input::ill_formed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Input {
    /// The scheme to sign with (`"v1"` / `"v2"`): `unsupported_scheme`.
    Scheme,
    /// One of the schemes a verifier accepts: `unsupported_scheme`.
    AcceptedScheme,
    /// The HTTP method: `invalid_method`.
    Method,
    /// The path of a request to sign or send: `invalid_path`.
    Path,
    /// A request target (`/path?query`), to sign or verify: `invalid_path`.
    Target,
    /// The controller a requester sends a request to: `invalid_path`.
    Controller,
    /// The client id: `invalid_client_id`.
    Client,
    /// The secret to sign with: `invalid_secret`.
    Secret,
    /// The v2 nonce: `invalid_nonce`.
    Nonce,
    /// The host (authority): `invalid_host`.
    Host,
    /// A link's base URL: `invalid_url`.
    BaseUrl,
    /// A requester's server URL: `invalid_url`.
    ServerUrl,
    /// A body given as text: `invalid_body`.
    Body,
    /// A requester's JSON body given as text: `invalid_body`.
    JsonBody,
    /// A body's `Content-Type`: `invalid_body`.
    ContentType,
    /// The certificate authorities a requester trusts, as PEM text: `invalid_body` (text given
    /// for bytes).
    CaPem,
    /// An `X-Nonce` header value: `malformed_header`.
    Header,
    /// An `ottoken`: `malformed_ottoken`.
    Ottoken,
    /// A key of params: `invalid_param_key` (PROTOCOL §3.6).
    ParamKey,
    /// A value of params: `invalid_param_value` (PROTOCOL §3.6), named by its key.
    ParamValue,
    /// A key of a requester's extra (unsigned) params: `invalid_param_key`, as for params.
    ExtraParamKey,
    /// A value of a requester's extra params: `invalid_param_value`, named by its key.
    ExtraParamValue,
    /// The name of a header a requester sends: `invalid_param_key`, as for params.
    HeaderName,
    /// The value of a header a requester sends: `invalid_param_value`, named by the header.
    HeaderValue,
    /// A client id in a verifier's secrets table: `invalid_client_id`.
    VerifierClient,
    /// A secret in a verifier's secrets table: `invalid_secret`.
    VerifierSecret,
    /// The controller of a verifier's per-controller window: `invalid_path`.
    ControllerWindow,
    /// The `controller/action` of a verifier's per-action window, given as one text:
    /// `invalid_path`.
    ActionWindow,
    /// The controller of a verifier's per-action window: `invalid_path`.
    ActionWindowController,
    /// The action of a verifier's per-action window: `invalid_path`.
    ActionWindowAction,
    /// One of the hosts a verifier serves: `invalid_host`.
    ServedHost,
    /// A controller of a verifier's route table: `invalid_path`.
    RouteController,
    /// A route table's `<action>_<method>` (or `__default_parameters`) key: `invalid_path`.
    RouteKey,
    /// The param a route rule names: `invalid_param_key`.
    RouteParam,
    /// A route rule (`req`, `opt`, `exc`): `invalid_param_value`.
    RouteRule,
}

impl Input {
    /// Every input, in declaration order.
    pub const ALL: &'static [Input] = &[
        Input::Scheme,
        Input::AcceptedScheme,
        Input::Method,
        Input::Path,
        Input::Target,
        Input::Controller,
        Input::Client,
        Input::Secret,
        Input::Nonce,
        Input::Host,
        Input::BaseUrl,
        Input::ServerUrl,
        Input::Body,
        Input::JsonBody,
        Input::ContentType,
        Input::CaPem,
        Input::Header,
        Input::Ottoken,
        Input::ParamKey,
        Input::ParamValue,
        Input::ExtraParamKey,
        Input::ExtraParamValue,
        Input::HeaderName,
        Input::HeaderValue,
        Input::VerifierClient,
        Input::VerifierSecret,
        Input::ControllerWindow,
        Input::ActionWindow,
        Input::ActionWindowController,
        Input::ActionWindowAction,
        Input::ServedHost,
        Input::RouteController,
        Input::RouteKey,
        Input::RouteParam,
        Input::RouteRule,
    ];

    /// The code an input is refused with when it is not valid Unicode text: the code core
    /// gives other bad values of it (an `Input` family code, or `Format` for a header, an
    /// ottoken or a scheme).
    ///
    /// ```
    /// use xnonce_core::{ErrorCode, Input};
    /// assert_eq!(Input::Target.code(), ErrorCode::InvalidPath);
    /// assert_eq!(Input::HeaderValue.code(), ErrorCode::InvalidParamValue);
    /// ```
    pub const fn code(self) -> ErrorCode {
        use Input::*;
        match self {
            Scheme | AcceptedScheme => ErrorCode::UnsupportedScheme,
            Method => ErrorCode::InvalidMethod,
            Path
            | Target
            | Controller
            | ControllerWindow
            | ActionWindow
            | ActionWindowController
            | ActionWindowAction
            | RouteController
            | RouteKey => ErrorCode::InvalidPath,
            Client | VerifierClient => ErrorCode::InvalidClientId,
            Secret | VerifierSecret => ErrorCode::InvalidSecret,
            Nonce => ErrorCode::InvalidNonce,
            Host | ServedHost => ErrorCode::InvalidHost,
            BaseUrl | ServerUrl => ErrorCode::InvalidUrl,
            Body | JsonBody | ContentType | CaPem => ErrorCode::InvalidBody,
            Header => ErrorCode::MalformedHeader,
            Ottoken => ErrorCode::MalformedOttoken,
            ParamKey | ExtraParamKey | HeaderName | RouteParam => ErrorCode::InvalidParamKey,
            ParamValue | ExtraParamValue | HeaderValue | RouteRule => ErrorCode::InvalidParamValue,
        }
    }

    /// How messages name the input, in every language (`"the method"`, `"a param key"`).
    /// A value of pairs is named by its key instead where the key is known
    /// ([`Input::ill_formed_value`]).
    ///
    /// ```
    /// use xnonce_core::Input;
    /// assert_eq!(Input::Client.name(), "the client id");
    /// assert_eq!(Input::ParamValue.name(), "a param value");
    /// ```
    pub const fn name(self) -> &'static str {
        use Input::*;
        match self {
            Scheme => "the scheme",
            AcceptedScheme => "a scheme",
            Method => "the method",
            Path => "the path",
            Target => "the target",
            Controller => "the controller",
            Client => "the client id",
            Secret => "the secret",
            Nonce => "the nonce",
            Host => "the host",
            BaseUrl => "the base URL",
            ServerUrl => "the server URL",
            Body => "the body",
            JsonBody => "the JSON body",
            ContentType => "the content type",
            CaPem => "the CA PEM",
            Header => "the X-Nonce header",
            Ottoken => "the ottoken",
            ParamKey => "a param key",
            ParamValue => "a param value",
            ExtraParamKey => "an extra param key",
            ExtraParamValue => "an extra param value",
            HeaderName => "a header name",
            HeaderValue => "a header value",
            VerifierClient => "a client id in the secrets table",
            VerifierSecret => "a secret",
            ControllerWindow => "a controller window's controller",
            ActionWindow => "an action window's controller/action",
            ActionWindowController => "an action window's controller",
            ActionWindowAction => "an action window's action",
            ServedHost => "a host the verifier serves",
            RouteController => "a route's controller",
            RouteKey => "a route's action_method key",
            RouteParam => "the param of a route rule",
            RouteRule => "a route rule",
        }
    }

    /// What a value of pairs is called before its key (`param` in `param "user"`); `None`
    /// for every input that is no such value.
    const fn value_prefix(self) -> Option<&'static str> {
        match self {
            Input::ParamValue => Some("param"),
            Input::ExtraParamValue => Some("extra param"),
            Input::HeaderValue => Some("header"),
            _ => None,
        }
    }

    /// The refusal of text passed as this input that is not valid Unicode text (it holds a
    /// lone surrogate): [`Input::code`], and core's one message naming the input
    /// ([`Error::ill_formed_text`] with [`Input::name`]).
    ///
    /// ```
    /// use xnonce_core::{ErrorCode, Input};
    /// let e = Input::Header.ill_formed();
    /// assert_eq!(e.code(), ErrorCode::MalformedHeader);
    /// assert_eq!(
    ///     e.message(),
    ///     "the X-Nonce header is not valid Unicode text (it holds a lone surrogate)"
    /// );
    /// ```
    pub fn ill_formed(self) -> Error {
        Error::ill_formed_text(self.code(), self.name())
    }

    /// [`Input::ill_formed`] for a value of pairs ([`Input::ParamValue`],
    /// [`Input::ExtraParamValue`], [`Input::HeaderValue`]) whose key is `key`: named by its
    /// key, `param "user"`, `extra param "e"`, `header "Authorization"` (the key quoted and
    /// escaped as Rust's `{:?}` does). Any other input is named as by [`Input::ill_formed`],
    /// and `key` is not used.
    ///
    /// ```
    /// use xnonce_core::{ErrorCode, Input};
    /// let e = Input::HeaderValue.ill_formed_value("X-Note");
    /// assert_eq!(e.code(), ErrorCode::InvalidParamValue);
    /// assert_eq!(
    ///     e.message(),
    ///     "header \"X-Note\" is not valid Unicode text (it holds a lone surrogate)"
    /// );
    /// ```
    pub fn ill_formed_value(self, key: &str) -> Error {
        Error::ill_formed_text(self.code(), &self.value_name(key))
    }

    /// How a refusal names the value of pairs whose key is `key`, as
    /// [`Input::ill_formed_value`] does: `param "user"`, `extra param "e"`,
    /// `header "Authorization"`; any other input by [`Input::name`].
    ///
    /// ```
    /// use xnonce_core::Input;
    /// assert_eq!(Input::HeaderValue.value_name("X-Note"), "header \"X-Note\"");
    /// assert_eq!(Input::ParamValue.value_name("a\"b"), "param \"a\\\"b\"");
    /// ```
    pub fn value_name(self, key: &str) -> String {
        match self.value_prefix() {
            Some(prefix) => format!("{prefix} {key:?}"),
            None => self.name().to_string(),
        }
    }

    /// The refusal of a value of pairs whose type has no text, in the words of the JavaScript
    /// packages (Node and WASM alike): [`Input::code`], the value named by its key
    /// ([`Input::value_name`]) and `got`, how JavaScript names the value's type (never the
    /// value itself).
    ///
    /// ```
    /// use xnonce_core::{ErrorCode, Input};
    /// let e = Input::HeaderValue.js_value_of_wrong_type("X-Note", "an object");
    /// assert_eq!(e.code(), ErrorCode::InvalidParamValue);
    /// assert_eq!(
    ///     e.message(),
    ///     "header \"X-Note\": a value must be a string, number, bigint or boolean, not an object"
    /// );
    /// ```
    pub fn js_value_of_wrong_type(self, key: &str, got: &str) -> Error {
        let name = self.value_name(key);
        Error::new(
            self.code(),
            format!("{name}: a value must be a string, number, bigint or boolean, not {got}"),
        )
    }

    /// The refusal of a JavaScript bigint value of pairs outside the 128-bit range that
    /// parameter text takes (`text_from_i128`), in the JavaScript packages' words.
    ///
    /// ```
    /// use xnonce_core::Input;
    /// let e = Input::ParamValue.js_bigint_out_of_range("n");
    /// assert_eq!(e.message(), "param \"n\": bigint does not fit in 128 bits");
    /// ```
    pub fn js_bigint_out_of_range(self, key: &str) -> Error {
        let name = self.value_name(key);
        Error::new(
            self.code(),
            format!("{name}: bigint does not fit in 128 bits"),
        )
    }

    /// The refusal of a key of pairs that is not a JavaScript string, in the JavaScript
    /// packages' words.
    ///
    /// ```
    /// use xnonce_core::{ErrorCode, Input};
    /// let e = Input::ParamKey.js_key_not_a_string();
    /// assert_eq!(e.code(), ErrorCode::InvalidParamKey);
    /// assert_eq!(e.message(), "a param key must be a string");
    /// ```
    pub fn js_key_not_a_string(self) -> Error {
        Error::new(self.code(), format!("{} must be a string", self.name()))
    }
}

/// The refusal of a JavaScript value given as a container of pairs that is none (an array of
/// `[key, value]` pairs, a plain object, a `Map`, `URLSearchParams`), with `code`, the code of
/// what the container holds: the JavaScript packages' words.
///
/// ```
/// use xnonce_core::{input, ErrorCode};
/// let e = input::js_not_pairs(ErrorCode::InvalidParamValue);
/// assert!(e.message().starts_with("expected an array of [key, value] pairs"));
/// ```
pub fn js_not_pairs(code: ErrorCode) -> Error {
    Error::new(
        code,
        "expected an array of [key, value] pairs, a plain object, a Map or URLSearchParams",
    )
}

/// The refusal of the `index`th entry of a JavaScript container of pairs that is not a
/// `[key, value]` pair, with `code` (see [`js_not_pairs`]).
///
/// ```
/// use xnonce_core::{input, ErrorCode};
/// let e = input::js_entry_not_a_pair(ErrorCode::InvalidParamValue, 2);
/// assert_eq!(e.message(), "entry 2 is not a [key, value] pair");
/// ```
pub fn js_entry_not_a_pair(code: ErrorCode, index: u32) -> Error {
    Error::new(code, format!("entry {index} is not a [key, value] pair"))
}

/// The inputs of a list of pairs a caller passes — params, a requester's extra (unsigned)
/// params, its headers: what a key and a value of it are refused as. Every binding reads its
/// lists of pairs through these.
///
/// ```
/// use xnonce_core::input::Pairs;
/// let e = Pairs::HEADERS.value.ill_formed_value("X-Trace");
/// assert_eq!(e.code(), xnonce_core::ErrorCode::InvalidParamValue);
/// assert_eq!(e.message(), "header \"X-Trace\" is not valid Unicode text (it holds a lone surrogate)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pairs {
    /// Its keys.
    pub key: Input,
    /// Its values, each named by its key.
    pub value: Input,
}

impl Pairs {
    /// Params, signed.
    pub const PARAMS: Pairs = Pairs {
        key: Input::ParamKey,
        value: Input::ParamValue,
    };
    /// A requester's extra params, sent but not signed.
    pub const EXTRA_PARAMS: Pairs = Pairs {
        key: Input::ExtraParamKey,
        value: Input::ExtraParamValue,
    };
    /// A requester's headers: their names and values (with the codes of params).
    pub const HEADERS: Pairs = Pairs {
        key: Input::HeaderName,
        value: Input::HeaderValue,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorFamily;

    const REASON: &str = " is not valid Unicode text (it holds a lone surrogate)";

    #[test]
    fn all_lists_every_input_once() {
        let mut seen = std::collections::HashSet::new();
        for &input in Input::ALL {
            assert!(seen.insert(input), "{input:?} twice");
        }
        assert_eq!(seen.len(), 35);
    }

    #[test]
    fn each_input_is_named_once_and_refused_with_its_code_and_name() {
        let mut names = std::collections::HashSet::new();
        for &input in Input::ALL {
            assert!(names.insert(input.name()), "{:?} shares its name", input);
            let e = input.ill_formed();
            assert_eq!(e.code(), input.code(), "{input:?}");
            assert_eq!(e.message(), format!("{}{REASON}", input.name()));
            assert!(e.server_time().is_none());
            // The refusal of a caller's input, or of a credential that cannot be parsed.
            assert!(
                matches!(
                    input.code().family(),
                    ErrorFamily::Input | ErrorFamily::Format
                ),
                "{input:?}"
            );
        }
    }

    /// The codes every binding gave before the table (PROTOCOL §3.6 for params), kept.
    #[test]
    fn codes_are_the_protocols() {
        use ErrorCode::*;
        for (input, code) in [
            (Input::Scheme, UnsupportedScheme),
            (Input::AcceptedScheme, UnsupportedScheme),
            (Input::Method, InvalidMethod),
            (Input::Path, InvalidPath),
            (Input::Target, InvalidPath),
            (Input::Controller, InvalidPath),
            (Input::Client, InvalidClientId),
            (Input::Secret, InvalidSecret),
            (Input::Nonce, InvalidNonce),
            (Input::Host, InvalidHost),
            (Input::ServedHost, InvalidHost),
            (Input::BaseUrl, InvalidUrl),
            (Input::ServerUrl, InvalidUrl),
            (Input::Body, InvalidBody),
            (Input::JsonBody, InvalidBody),
            (Input::ContentType, InvalidBody),
            (Input::CaPem, InvalidBody),
            (Input::Header, MalformedHeader),
            (Input::Ottoken, MalformedOttoken),
            (Input::ParamKey, InvalidParamKey),
            (Input::ParamValue, InvalidParamValue),
            (Input::ExtraParamKey, InvalidParamKey),
            (Input::ExtraParamValue, InvalidParamValue),
            (Input::HeaderName, InvalidParamKey),
            (Input::HeaderValue, InvalidParamValue),
            (Input::VerifierClient, InvalidClientId),
            (Input::VerifierSecret, InvalidSecret),
            (Input::ControllerWindow, InvalidPath),
            (Input::ActionWindow, InvalidPath),
            (Input::ActionWindowController, InvalidPath),
            (Input::ActionWindowAction, InvalidPath),
            (Input::RouteController, InvalidPath),
            (Input::RouteKey, InvalidPath),
            (Input::RouteParam, InvalidParamKey),
            (Input::RouteRule, InvalidParamValue),
        ] {
            assert_eq!(input.code(), code, "{input:?}");
        }
    }

    #[test]
    fn values_of_pairs_are_named_by_their_key() {
        for (input, named) in [
            (Input::ParamValue, r#"param "user""#),
            (Input::ExtraParamValue, r#"extra param "user""#),
            (Input::HeaderValue, r#"header "user""#),
        ] {
            let e = input.ill_formed_value("user");
            assert_eq!(e.code(), ErrorCode::InvalidParamValue);
            assert_eq!(e.message(), format!("{named}{REASON}"));
        }
        // The key is quoted as Rust's Debug writes it: a quote or a newline cannot end the name.
        let e = Input::ParamValue.ill_formed_value("a\"b\nc");
        assert_eq!(e.message(), format!(r#"param "a\"b\nc"{REASON}"#));
        // Any other input ignores the key.
        assert_eq!(
            Input::Method.ill_formed_value("k"),
            Input::Method.ill_formed()
        );
        assert_eq!(
            Input::ParamKey.ill_formed_value("k"),
            Input::ParamKey.ill_formed()
        );
    }
}
