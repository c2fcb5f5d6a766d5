//! Options objects: an option key the binding does not know is refused, never ignored.
//!
//! napi's `#[napi(object)]` conversion reads the fields it knows and drops every other key, so
//! a misspelt option (`{ hots: 'api.test' }`, Python's `{ extra_params: … }`) would silently
//! sign or verify without it. Every options argument is therefore read through [`Checked`],
//! which converts the struct, then refuses any other key with a `TypeError`
//! (`ERR_INVALID_ARG_VALUE`) naming it, as Python raises `TypeError: unknown option`.

use napi::bindgen_prelude::{
    FromNapiValue, JsObjectValue, Object, TypeName, Unknown, ValidateNapiValue,
};

use napi::{sys, Env, ValueType};

use crate::error::invalid_arg_value_error;

/// An options struct's JS keys, for [`Checked`].
pub trait OptionKeys {
    /// The argument's name in messages (`"options"`, `"parts"`).
    const ARGUMENT: &'static str;
    /// Every key the struct reads, as JavaScript spells it.
    const KEYS: &'static [&'static str];
}

/// An options struct whose object held no key but [`OptionKeys::KEYS`]. Declared as the
/// struct itself in TypeScript (`ts_args_type`).
pub struct Checked<T>(pub T);

impl<T> Checked<T> {
    /// The struct.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: TypeName> TypeName for Checked<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }

    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ValidateNapiValue> ValidateNapiValue for Checked<T> {
    unsafe fn validate(
        env: sys::napi_env,
        value: sys::napi_value,
    ) -> napi::Result<sys::napi_value> {
        // SAFETY: forwarded from the caller (a valid env and value).
        unsafe { T::validate(env, value) }
    }
}

impl<T: FromNapiValue + OptionKeys> FromNapiValue for Checked<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // The fields first: a value that is not an object, or a known option of the wrong
        // type, is napi's own TypeError.
        // SAFETY: forwarded from the caller (a valid env and value).
        let options = unsafe { T::from_napi_value(env, value)? };
        // SAFETY: as above; `T` has read it as an object.
        let object = unsafe { Object::from_napi_value(env, value)? };
        refuse_unknown(&Env::from_raw(env), &object, T::ARGUMENT, T::KEYS)?;
        Ok(Checked(options))
    }
}

/// Refuses an iterable `object` (a Map, a Set, an array), then the first enumerable string
/// key of `object` (own or inherited, as `for…in` and napi's field reads see them) that is
/// not in `known`: a `TypeError` (`ERR_INVALID_ARG_VALUE`) naming it and the known ones.
pub(crate) fn refuse_unknown(
    env: &Env,
    object: &Object<'_>,
    argument: &str,
    known: &[&str],
) -> napi::Result<()> {
    // A Map, a Set or an array holds no option keys of its own: read as options, it would be
    // used without them, silently.
    if object
        .get_property::<Unknown, Unknown>(crate::symbols::iterator(env)?)?
        .get_type()?
        == ValueType::Function
    {
        let why = "an object of options, not an iterable (a Map, a Set, an array)";
        return Err(invalid_arg_value_error(env, argument, why));
    }
    let names = object.get_property_names()?;
    for i in 0..names.get_array_length()? {
        let name: Unknown = names.get_element(i)?;
        // napi's property names are strings (numbers converted, symbols left out).
        let name = String::from_unknown(name)?;
        if !known.contains(&name.as_str()) {
            let why = format!("unknown option {name:?} (known: {})", known.join(", "));
            return Err(invalid_arg_value_error(env, argument, why));
        }
    }
    Ok(())
}
