//! Parsing JSON text so that a struct only accepts a JSON object.
//!
//! serde's derived `Deserialize` for a struct also accepts an array of its
//! fields in order: `["World"]` would be `{"name": "World"}`. The contract
//! describes inputs as objects, and no other guest language reads arrays
//! that way, so [`from_slice`] wraps serde_json's deserializer (at every
//! depth: the wrapper hands wrapped deserializers to nested values) and
//! lets a struct visit maps only. Everything else is forwarded unchanged.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// The deepest nesting the host lets through (docs/contract.md, section 3).
pub(crate) const MAX_DEPTH: usize = 128;

/// `serde_json::from_slice`, except that structs must be objects and that
/// the nesting limit is the host's, 128, where serde_json's own stops at
/// 127: a guest in every language reads what the host accepted.
pub(crate) fn from_slice<T: DeserializeOwned>(json: &[u8]) -> serde_json::Result<T> {
    if !nested_at_most(json, MAX_DEPTH) {
        return Err(de::Error::custom(format_args!(
            "JSON nested more than {MAX_DEPTH} levels deep"
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    // Safe for the stack: the text is at most `MAX_DEPTH` deep.
    deserializer.disable_recursion_limit();
    let value = T::deserialize(Objects(&mut deserializer))?;
    deserializer.end()?;
    Ok(value)
}

/// Whether no array or object in `json` lies more than `max` levels deep.
/// Brackets inside strings do not count; malformed text is left for the
/// parser to refuse.
fn nested_at_most(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Wraps a deserializer, visitor, seed or access so that what it hands on
/// is wrapped too.
struct Objects<T>(T);

/// Visits a struct: accepts a map, and rejects everything else with serde's
/// usual "invalid type" error (the default of every other `visit_*`).
struct StructVisitor<V>(V);

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method($($arg,)* Objects(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Objects<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any(); deserialize_bool();
        deserialize_i8(); deserialize_i16(); deserialize_i32(); deserialize_i64(); deserialize_i128();
        deserialize_u8(); deserialize_u16(); deserialize_u32(); deserialize_u64(); deserialize_u128();
        deserialize_f32(); deserialize_f64(); deserialize_char(); deserialize_str(); deserialize_string();
        deserialize_bytes(); deserialize_byte_buf(); deserialize_option(); deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq(); deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier(); deserialize_ignored_any();
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, StructVisitor(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.0.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Objects<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(formatter)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8); visit_i16(i16); visit_i32(i32); visit_i64(i64); visit_i128(i128);
        visit_u8(u8); visit_u16(u16); visit_u32(u32); visit_u64(u64); visit_u128(u128);
        visit_f32(f32); visit_f64(f64); visit_char(char);
        visit_str(&str); visit_borrowed_str(&'de str); visit_string(String);
        visit_bytes(&[u8]); visit_borrowed_bytes(&'de [u8]); visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Objects(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Objects(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Objects(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Objects(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Objects(data))
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for StructVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(formatter)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Objects(map))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Objects<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Objects(deserializer))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Objects<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Objects(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Objects<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Objects(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Objects(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Objects<A> {
    type Error = A::Error;
    type Variant = Objects<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(Objects(seed))?;
        Ok((value, Objects(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Objects<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Objects(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Objects(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, StructVisitor(visitor))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::from_slice;
    use crate::{RawValue, SafeInt, non_null};

    #[derive(Debug, PartialEq, Deserialize)]
    struct Outer {
        inner: Inner,
        #[serde(default)]
        list: Vec<Inner>,
        maybe: Option<Inner>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Inner {
        n: SafeInt,
        #[serde(default, deserialize_with = "non_null")]
        tag: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Shape {
        Unit,
        Square(u32),
        Rect { w: u32, h: u32 },
    }

    fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
        from_slice(json.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_host_nesting_limit_of_128_is_read_and_129_refused() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse::<serde_json::Value>(&nested(128)).is_ok());
        let refused = parse::<serde_json::Value>(&nested(129)).unwrap_err();
        assert!(refused.contains("more than 128 levels"), "{refused}");
        // Brackets in strings, escaped quotes included, are not nesting.
        let text = format!(r#"["\"{}"]"#, "[".repeat(200));
        assert!(parse::<serde_json::Value>(&text).is_ok());
    }

    #[test]
    fn objects_parse_at_every_depth() {
        let outer: Outer =
            parse(r#"{"inner":{"n":-0},"list":[{"n":2,"tag":"x"}],"maybe":{"n":3}}"#).unwrap();
        assert_eq!(outer.inner.n.get(), 0);
        assert_eq!(outer.list[0].tag.as_deref(), Some("x"));
        assert_eq!(outer.maybe.unwrap().n.get(), 3);
    }

    #[test]
    fn arrays_are_not_structs_at_any_depth() {
        assert!(parse::<Inner>(r#"[1]"#).is_err());
        assert!(parse::<Outer>(r#"{"inner":[1]}"#).is_err());
        assert!(parse::<Outer>(r#"{"inner":{"n":1},"list":[[1]]}"#).is_err());
        assert!(parse::<Outer>(r#"{"inner":{"n":1},"maybe":[1]}"#).is_err());
    }

    #[test]
    fn error_says_what_was_expected() {
        let error = parse::<Inner>("[1]").unwrap_err();
        assert!(
            error.starts_with("invalid type: sequence, expected struct Inner"),
            "{error}"
        );
    }

    #[test]
    fn enums_still_parse() {
        assert_eq!(parse::<Shape>(r#""Unit""#), Ok(Shape::Unit));
        assert_eq!(parse::<Shape>(r#"{"Square":2}"#), Ok(Shape::Square(2)));
        assert_eq!(
            parse::<Shape>(r#"{"Rect":{"w":1,"h":2}}"#),
            Ok(Shape::Rect { w: 1, h: 2 })
        );
        assert!(parse::<Shape>(r#"{"Rect":[1,2]}"#).is_err());
    }

    #[test]
    fn raw_values_pass_through() {
        let raw: Box<RawValue> = parse(r#" {"b" : 1.50} "#).unwrap();
        assert_eq!(raw.get(), r#"{"b" : 1.50}"#);
    }

    #[test]
    fn trailing_data_is_an_error() {
        assert!(parse::<Inner>(r#"{"n":1} x"#).is_err());
    }
}
