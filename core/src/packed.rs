//! The *packed* sign request of the JavaScript bindings (Node's napi addon and WASM): every
//! text input of `sign` joined into one string, so a call crosses the JS/native boundary once
//! instead of a dozen times (each crossing costs more than the signature itself). Defined
//! once, here, for both.
//!
//! The packed form is `scheme, method, path, client, secret, nonce, host, k1, v1, k2, v2, ...`
//! joined with NUL (`\0`), where `nonce` and `host` are `""` when absent and `"=" + value` when
//! given. The JS side packs only when every input is a string; anything else takes the
//! binding's general path, and both paths end in the same core call.
//!
//! [`sign_header_packed`] signs a packed request straight from its text (the fields are
//! borrowed, never copied into a [`SignInput`]); [`unpack`] makes the owned input.
use crate::environment::Environment;
use crate::error::Result;
use crate::sign::SignFields;
use crate::{Scheme, Secret, SignInput};

/// Fields before the params in the packed form.
pub const PACKED_FIELDS: usize = 7;

/// The packed form's index of the secret (kept out of [`SignInput`]).
const SECRET: usize = 4;

/// Unpacks a packed request holding `pairs` params into the input to sign and the secret
/// text. `Ok(None)` when the field count does not match (a field held a NUL): the caller then
/// takes its general path, so the result never depends on the path taken. An unknown scheme
/// is `unsupported_scheme`; every other field is validated when signed.
///
/// ```
/// use xnonce_core::packed::unpack;
/// let (input, secret) = unpack("v2\0GET\0/a\0svc\0s3cret\0\0=api.example.com\0k\0v", 1)
///     .unwrap()
///     .unwrap();
/// assert_eq!(input.host.as_deref(), Some("api.example.com"));
/// assert_eq!(input.nonce, None);
/// assert_eq!(input.params, vec![("k".to_string(), "v".to_string())]);
/// assert_eq!(secret, "s3cret");
/// assert!(unpack("v2\0GET\0/a\0svc\0s3cret\0\0\0k\0v\0extra", 1).unwrap().is_none());
/// ```
pub fn unpack(packed: &str, pairs: usize) -> Result<Option<(SignInput, &str)>> {
    let fields: Vec<&str> = Fields::new(packed).collect();
    if Some(fields.len())
        != pairs
            .checked_mul(2)
            .and_then(|n| n.checked_add(PACKED_FIELDS))
    {
        return Ok(None);
    }
    let optional = |f: &str| f.strip_prefix('=').map(str::to_string);
    let mut input = SignInput::new(
        fields[0].parse::<Scheme>()?,
        fields[1],
        fields[2],
        fields[3],
    );
    input.nonce = optional(fields[5]);
    input.host = optional(fields[6]);
    input.params = fields[PACKED_FIELDS..]
        .chunks_exact(2)
        .map(|kv| (kv[0].to_string(), kv[1].to_string()))
        .collect();
    Ok(Some((input, fields[SECRET])))
}

/// Params kept on the stack by [`sign_header_packed`]; more take one allocation.
const STACK_PAIRS: usize = 16;

/// Signs a packed request holding `pairs` params and appends its `X-Nonce` header value to
/// `out`, the same text as [`unpack`] then [`crate::sign_header_value_with`] with a
/// `Secret` made from the packed secret (which it is: the secret is built, used and zeroized
/// within the call), without copying the fields into owned strings. `timestamp_ms` and `body`
/// are as in [`SignInput`]. `Ok(false)`, with nothing written, when the field count does not
/// match (see [`unpack`]).
///
/// ```
/// use xnonce_core::packed::sign_header_packed;
/// use xnonce_core::FixedEnvironment;
/// let env = FixedEnvironment { now_ms: 1384300802123, nonce: [0; 16] };
/// let secret = "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd";
/// let packed = format!("v1\0GET\0/admin/status\0test_client\0{secret}\0\0");
/// let mut header = String::new();
/// assert!(sign_header_packed(&packed, 0, None, None, &env, &mut header)?);
/// assert_eq!(
///     header,
///     "d77ccdaedbd041324e6551a60a46b08a72e2ed128b01359b39c5d2d54b499cbe test_client 1384300802123"
/// );
/// assert!(!sign_header_packed("v1\0GET", 0, None, None, &env, &mut header)?);
/// # Ok::<(), xnonce_core::Error>(())
/// ```
pub fn sign_header_packed(
    packed: &str,
    pairs: usize,
    timestamp_ms: Option<u64>,
    body: Option<&[u8]>,
    env: &dyn Environment,
    out: &mut String,
) -> Result<bool> {
    if pairs > packed.len() {
        return Ok(false); // each pair takes at least two bytes
    }
    let mut fields = Fields::new(packed);
    let mut head = [""; PACKED_FIELDS];
    for slot in &mut head {
        match fields.next() {
            Some(f) => *slot = f,
            None => return Ok(false),
        }
    }
    let mut stack = [("", ""); STACK_PAIRS];
    let mut heap = Vec::new();
    let params: &mut [(&str, &str)] = if pairs <= STACK_PAIRS {
        &mut stack[..pairs]
    } else {
        heap.resize(pairs, ("", ""));
        &mut heap
    };
    for pair in params.iter_mut() {
        match (fields.next(), fields.next()) {
            (Some(k), Some(v)) => *pair = (k, v),
            _ => return Ok(false),
        }
    }
    if fields.next().is_some() {
        return Ok(false);
    }
    let [scheme, method, path, client, secret, nonce, host] = head;
    let sign_fields = SignFields {
        scheme: scheme.parse::<Scheme>()?,
        method,
        path,
        params,
        client,
        timestamp_ms,
        nonce: nonce.strip_prefix('='),
        host: host.strip_prefix('='),
        body,
    };
    crate::sign::push_header_value(&sign_fields, &Secret::new(secret)?, env, out)?;
    Ok(true)
}

/// The NUL-separated fields of a packed request, found eight bytes at a time: each word's
/// zero bytes are marked exactly (`(x & 0x7f..) + 0x7f..` sets a byte's high bit unless the
/// byte is 0, and no carry crosses bytes), then taken lowest first. Fields are short, so this
/// beats a byte loop and `str::split`'s memchr set-up, in WebAssembly most of all (where every
/// loop iteration also pays an interrupt check).
struct Fields<'a> {
    text: &'a str,
    /// Where the next field starts; `None` after the last.
    start: Option<usize>,
    /// Offset of the word `zeros` marks.
    word: usize,
    /// High bit of each zero byte of the current word not yet taken.
    zeros: u64,
}

impl<'a> Fields<'a> {
    fn new(text: &'a str) -> Self {
        Fields {
            text,
            start: Some(0),
            word: 0,
            zeros: zero_bytes(text.as_bytes(), 0),
        }
    }
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every zero byte of the 8 bytes at `at` (past the end counts as non-zero).
#[inline(always)]
fn zero_bytes(bytes: &[u8], at: usize) -> u64 {
    let word = match bytes.get(at..at + 8) {
        Some(word) => <[u8; 8]>::try_from(word).unwrap_or([0xff; 8]),
        None => {
            let mut word = [0xff; 8];
            for (w, b) in word.iter_mut().zip(bytes.get(at..).unwrap_or_default()) {
                *w = *b;
            }
            word
        }
    };
    let x = u64::from_le_bytes(word);
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let start = self.start?;
        let bytes = self.text.as_bytes();
        while self.zeros == 0 {
            self.word += 8;
            if self.word >= bytes.len() {
                self.start = None;
                return self.text.get(start..);
            }
            self.zeros = zero_bytes(bytes, self.word);
        }
        let end = self.word + (self.zeros.trailing_zeros() / 8) as usize;
        self.zeros &= self.zeros - 1;
        self.start = Some(end + 1);
        // NUL is one byte in UTF-8: both ends are character boundaries.
        self.text.get(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FixedEnvironment;

    use crate::fixtures::SECRET;

    fn via_unpack(packed: &str, pairs: usize, env: &FixedEnvironment) -> Result<Option<String>> {
        let Some((input, secret)) = unpack(packed, pairs)? else {
            return Ok(None);
        };
        crate::sign_header_value_with(&input, &Secret::new(secret)?, env).map(Some)
    }

    fn direct(packed: &str, pairs: usize, env: &FixedEnvironment) -> Result<Option<String>> {
        let mut out = String::new();
        Ok(sign_header_packed(packed, pairs, None, None, env, &mut out)?.then_some(out))
    }

    #[test]
    fn signs_what_unpack_signs_and_fails_alike() {
        let env = FixedEnvironment {
            now_ms: 1_700_000_000_000,
            nonce: [7; 16],
        };
        let nonce = "=00112233445566778899aabbccddeeff";
        let many: String = (0..40).map(|i| format!("\0k{i}\0v {i}")).collect();
        let cases: Vec<(String, usize)> = vec![
            (format!("v1\0GET\0/a/b\0cl\0{SECRET}\0\0\0k\0v\0x\0y z"), 2),
            (
                format!("v2\0get\0/a/b\0cl\0{SECRET}\0{nonce}\0=H:80\0k\0v"),
                1,
            ),
            (format!("v2\0GET\0/a\0cl\0{SECRET}\0\0=h{many}"), 40),
            (format!("v2\0GET\0/a\0cl\0{SECRET}\0\0=h"), 0),
            // Errors: scheme, secret, host, key, client, method, nonce.
            (format!("v3\0GET\0/a\0cl\0{SECRET}\0\0=h"), 0),
            ("v2\0GET\0/a\0cl\0abc\0\0=h".to_string(), 0),
            (format!("v2\0GET\0/a\0cl\0{SECRET}\0\0"), 0),
            (format!("v2\0GET\0/a\0cl\0{SECRET}\0\0=h\0ottoken\0v"), 1),
            (format!("v1\0GET\0/a\0c l\0{SECRET}\0\0"), 0),
            (format!("v1\0G3T\0/a\0cl\0{SECRET}\0\0"), 0),
            (format!("v2\0GET\0/a\0cl\0{SECRET}\0=xyz\0=h"), 0),
            // Field count mismatches: too many, too few, absurd pair counts.
            (format!("v1\0GET\0/a\0cl\0{SECRET}\0\0\0k\0v\0extra"), 1),
            (format!("v1\0GET\0/a\0cl\0{SECRET}\0\0\0k"), 1),
            (format!("v1\0GET\0/a\0cl\0{SECRET}\0\0"), 3),
            (format!("v1\0GET\0/a\0cl\0{SECRET}\0\0"), usize::MAX),
            ("".to_string(), 0),
        ];
        for (packed, pairs) in cases {
            let (a, b) = (
                via_unpack(&packed, pairs, &env),
                direct(&packed, pairs, &env),
            );
            match (&a, &b) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{packed:?}"),
                (Err(x), Err(y)) => assert_eq!(x.code(), y.code(), "{packed:?}"),
                _ => panic!("{packed:?}: {a:?} vs {b:?}"),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fields_are_what_split_finds(
            text in "[a\\x00é]{0,40}",
        ) {
            let ours: Vec<&str> = Fields::new(&text).collect();
            let theirs: Vec<&str> = text.split('\0').collect();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn appends_and_passes_timestamp_and_body() {
        let env = FixedEnvironment {
            now_ms: 5,
            nonce: [0; 16],
        };
        let packed = format!("v2\0POST\0/a\0cl\0{SECRET}\0\0=h");
        let mut out = "X-Nonce: ".to_string();
        assert!(sign_header_packed(&packed, 0, Some(9), Some(b"{}"), &env, &mut out).unwrap());
        let input = SignInput::new(Scheme::V2, "POST", "/a", "cl")
            .host("h")
            .timestamp_ms(9)
            .body(&b"{}"[..]);
        let want = crate::sign_header_value_with(&input, &Secret::new(SECRET).unwrap(), &env);
        assert_eq!(out, format!("X-Nonce: {}", want.unwrap()));
    }
}
