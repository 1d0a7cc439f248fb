use serde::{Deserialize, Deserializer};

/// For an optional field that may be absent but, when present, must hold a
/// value: `null` is rejected like any other wrong type. (Plain `Option<T>`
/// reads `null` as absent.) Use with `default`:
///
/// ```ignore
/// #[derive(serde::Deserialize)]
/// struct Rule {
///     #[serde(default, deserialize_with = "polyplug_pdk::non_null")]
///     tag: Option<String>,
/// }
/// ```
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Rule {
        #[serde(default, deserialize_with = "super::non_null")]
        tag: Option<String>,
    }

    fn tag(json: &str) -> Result<Option<String>, serde_json::Error> {
        serde_json::from_str::<Rule>(json).map(|rule| rule.tag)
    }

    #[test]
    fn absent_is_none() {
        assert_eq!(tag("{}").unwrap(), None);
    }

    #[test]
    fn present_is_some() {
        assert_eq!(tag(r#"{"tag":"x"}"#).unwrap(), Some("x".to_owned()));
    }

    #[test]
    fn null_is_an_error() {
        assert!(tag(r#"{"tag":null}"#).is_err());
    }
}
