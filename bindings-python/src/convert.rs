//! Python values → core inputs. Every native value becomes text through core's
//! `params::text_from_*` (never re-implemented here); anything else is refused with
//! `invalid_param_value`.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyString};
use xnonce_core::{params, ErrorCode, Scheme, Secret};

use crate::errors::{coded, IntoPyResult};

/// `"v1"` / `"v2"` → [`Scheme`] (`unsupported_scheme` otherwise).
pub fn scheme(s: &str) -> PyResult<Scheme> {
    s.parse().py_err()
}

/// A secret's text → [`Secret`] (`invalid_secret` on empty/whitespace/too long).
pub fn secret(s: &str) -> PyResult<Secret> {
    Secret::new(s).py_err()
}

/// One parameter value → text: `bool` first (it is an `int` subclass), then `int`, `float`,
/// `str`. Bytes, `None`, containers and every other type are `invalid_param_value`.
pub fn value_text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(params::text_from_bool(b.is_true()).to_owned());
    }
    if v.is_instance_of::<PyInt>() {
        let n: i128 = v.extract().map_err(|_| {
            coded(
                ErrorCode::InvalidParamValue,
                "integer parameter value does not fit in 128 bits",
            )
        })?;
        return Ok(params::text_from_i128(n));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return params::text_from_f64(f.value()).py_err();
    }
    let kind = v
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(coded(
        ErrorCode::InvalidParamValue,
        format!("parameter values must be str, int, float or bool, not {kind}"),
    ))
}

fn key_text(k: &Bound<'_, PyAny>) -> PyResult<String> {
    match k.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(coded(
            ErrorCode::InvalidParamKey,
            "parameter keys must be str",
        )),
    }
}

/// Params: `None`, a mapping (its iteration order is kept) or an iterable of `(key, value)`
/// pairs. Order is kept exactly (v1 signs it; v2 sorts inside core).
pub fn params(p: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(p) = p.filter(|p| !p.is_none()) else {
        return Ok(Vec::new());
    };
    if let Ok(d) = p.cast::<PyDict>() {
        let mut out = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            out.push((key_text(&k)?, value_text(&v)?));
        }
        return Ok(out);
    }
    if p.is_instance_of::<PyString>() || p.is_instance_of::<PyBytes>() {
        return Err(coded(
            ErrorCode::InvalidParamValue,
            "params must be a mapping or a sequence of (key, value) pairs, not text",
        ));
    }
    // Any other mapping (`Mapping.items()`), else any iterable of pairs.
    let items = if p.hasattr("items")? && p.hasattr("keys")? {
        p.call_method0("items")?
    } else {
        p.clone()
    };
    let not_pairs = || {
        coded(
            ErrorCode::InvalidParamValue,
            "params must be a mapping or a sequence of (key, value) pairs",
        )
    };
    let iter = items.try_iter().map_err(|_| not_pairs())?;
    let mut out = Vec::new();
    for item in iter {
        let item = item?;
        if item.is_instance_of::<PyString>() || item.is_instance_of::<PyBytes>() {
            return Err(not_pairs());
        }
        let len = item.len().map_err(|_| not_pairs())?;
        if len != 2 {
            return Err(not_pairs());
        }
        out.push((
            key_text(&item.get_item(0)?)?,
            value_text(&item.get_item(1)?)?,
        ));
    }
    Ok(out)
}

/// A body: `bytes` or `bytearray` as is, `str` as its UTF-8 bytes.
/// `None` is no body.
pub fn body(b: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(b) = b.filter(|b| !b.is_none()) else {
        return Ok(None);
    };
    if let Ok(bytes) = b.cast::<PyBytes>() {
        return Ok(Some(bytes.as_bytes().to_vec()));
    }
    if let Ok(ba) = b.cast::<PyByteArray>() {
        return Ok(Some(ba.to_vec()));
    }
    if let Ok(s) = b.cast::<PyString>() {
        return Ok(Some(s.to_cow()?.as_bytes().to_vec()));
    }
    Err(coded(
        ErrorCode::InvalidBody,
        "body must be bytes, bytearray or str",
    ))
}

/// A millisecond timestamp given as a Python int (`invalid_timestamp` when negative or huge).
pub fn timestamp(t: Option<i128>) -> PyResult<Option<u64>> {
    match t {
        None => Ok(None),
        Some(t) => u64::try_from(t).map(Some).map_err(|_| {
            coded(
                ErrorCode::InvalidTimestamp,
                "timestamp must be a non-negative number of milliseconds",
            )
        }),
    }
}
