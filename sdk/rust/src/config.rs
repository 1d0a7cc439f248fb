//! Plugin config values: string values the host sets per plugin.

use serde::de::DeserializeOwned;

use crate::Error;

/// The config value for `key`, if set. (Extism reads an empty value as not
/// set.)
pub fn get(key: &str) -> Result<Option<String>, Error> {
    extism_pdk::config::get(key).map_err(|e| Error::invalid_config(format!("config `{key}`: {e}")))
}

/// The config value for `key` parsed as one JSON document, if set. A value
/// that does not parse into `T` is `invalid_config`, naming the key.
pub fn json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    get(key)?
        .map(|text| {
            crate::de::from_slice(text.as_bytes())
                .map_err(|e| Error::invalid_config(format!("config `{key}`: {e}")))
        })
        .transpose()
}
