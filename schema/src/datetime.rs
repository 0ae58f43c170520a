//! TOML date-times as `chrono::DateTime<Utc>`. TOML has a native date-time
//! type that serde sees as a private map, so neither chrono's nor toml's own
//! deserializer accepts both spellings; this one accepts the native value and
//! an RFC 3339 string, and insists on an offset so an expiry is never
//! ambiguous.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserializer, Serializer};

const TOML_DATETIME_FIELD: &str = "$__toml_private_datetime";

pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            format!("`{text}` is not a date-time with an offset; write e.g. 2026-12-31T17:00:00Z")
        })
}

struct DateTimeVisitor;

impl<'de> Visitor<'de> for DateTimeVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a date-time with an offset, e.g. 2026-12-31T17:00:00Z")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom("expected a date-time"));
        };
        if key != TOML_DATETIME_FIELD {
            return Err(de::Error::custom("expected a date-time, found a table"));
        }
        let text: String = map.next_value()?;
        parse(&text).map_err(de::Error::custom)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    d.deserialize_any(DateTimeVisitor)
}

pub fn serialize<S: Serializer>(v: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&v.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The same for `Option<DateTime<Utc>>`.
pub mod option {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        super::deserialize(d).map(Some)
    }

    pub fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::serialize(v, s),
            None => s.serialize_none(),
        }
    }
}
