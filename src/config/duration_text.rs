//! Durations as strings such as `"250ms"`, with errors that show a valid one.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

pub(super) fn parse(text: &str) -> Result<Duration, String> {
    parse_or_show(text, "\"250ms\", \"1s\" or \"1h 30m\"")
}

/// As [`parse`], with `example` as the valid value the error shows.
pub fn parse_or_show(text: &str, example: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|err| {
        format!("{text:?} is not a duration ({err}): write a non-negative number with a unit, e.g. {example}")
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Number(f64),
}

fn from_raw<E: serde::de::Error>(raw: Raw) -> Result<Duration, E> {
    match raw {
        Raw::Text(text) => parse(&text).map_err(E::custom),
        Raw::Number(n) => {
            Err(E::custom(format!("{n} has no unit: durations are strings with a unit, e.g. \"{n}ms\" or \"{n}s\"")))
        }
    }
}

pub(super) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*value).to_string())
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    from_raw(Raw::deserialize(deserializer)?)
}

pub(super) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        Option::<Raw>::deserialize(deserializer)?.map(from_raw).transpose()
    }
}
