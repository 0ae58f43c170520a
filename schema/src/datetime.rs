//! TOML date-times as `chrono::DateTime<Utc>`. TOML has a native date-time
//! type that serde sees as a private map, so neither chrono's nor toml's own
//! deserializer accepts both spellings; this one accepts the native value and
//! an RFC 3339 string, and insists on an offset so an expiry is never
//! ambiguous.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserializer, Serializer};

/// The key under which toml hands a native date-time to serde.
pub(crate) const TOML_DATETIME_FIELD: &str = "$__toml_private_datetime";

/// Every error this module gives contains this phrase, so the loader can
/// recognise it and turn it into an `invalid-date` diagnostic with help.
const EXPECTED: &str = "expected a date-time with an offset";

pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("{}; {EXPECTED}", classify(text).message))
}

/// What is wrong with a date-time, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateProblem {
    pub message: String,
    pub help: String,
}

/// Explain why `text` is not an RFC 3339 date-time with an offset. TOML
/// accepts local date-times and bare dates, which name no single moment: an
/// expiry written that way would end access at a different time depending on
/// where tenantctl runs.
pub fn classify(text: &str) -> DateProblem {
    use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
    let t = text.trim();
    let with_t = t.replacen(' ', "T", 1);
    if NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok() {
        return DateProblem {
            message: format!("`{t}` is a date without a time of day or UTC offset"),
            help: format!(
                "write a moment with its offset, e.g. `{t}T00:00:00Z` for midnight UTC or `{t}T17:00:00+01:00`"
            ),
        };
    }
    if NaiveDateTime::parse_from_str(&with_t, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(&with_t, "%Y-%m-%dT%H:%M").is_ok()
    {
        return DateProblem {
            message: format!(
                "`{t}` is a local date-time without a UTC offset, so the moment it names depends on where tenantctl runs"
            ),
            help: format!("append `Z` for UTC (`{with_t}Z`) or an offset such as `+01:00`"),
        };
    }
    if NaiveTime::parse_from_str(t, "%H:%M:%S%.f").is_ok() {
        return DateProblem {
            message: format!("`{t}` is a time of day without a date"),
            help: "write a date-time with an offset, e.g. `2026-12-31T17:00:00Z`".to_string(),
        };
    }
    DateProblem {
        message: format!("`{t}` is not a date-time"),
        help: "write an RFC 3339 date-time with an offset, e.g. `2026-12-31T17:00:00Z`".to_string(),
    }
}

/// If serde's `message` came from this module (or names this module's
/// expectation), the problem it describes.
pub(crate) fn problem_in(message: &str) -> Option<DateProblem> {
    if !message.contains(EXPECTED) {
        return None;
    }
    // The offending text is the first `quoted` word, when there is one.
    let quoted = message
        .split_once('`')
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(text, _)| text);
    Some(match quoted {
        Some(text) => classify(text),
        None => DateProblem {
            message: message
                .split(';')
                .next()
                .unwrap_or(message)
                .trim()
                .to_string(),
            help: "write an RFC 3339 date-time with an offset, e.g. `2026-12-31T17:00:00Z`"
                .to_string(),
        },
    })
}

struct DateTimeVisitor;

impl<'de> Visitor<'de> for DateTimeVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a date-time with an offset, e.g. `2026-12-31T17:00:00Z`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format!(
                "found an empty table; {EXPECTED}"
            )));
        };
        if key != TOML_DATETIME_FIELD {
            return Err(de::Error::custom(format!("found a table; {EXPECTED}")));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_each_way_of_leaving_out_the_offset() {
        assert!(parse("2027-01-01T00:00:00Z").is_ok());
        assert!(parse("2027-01-01T01:00:00+01:00").is_ok());
        let date = classify("2027-01-01");
        assert!(date.message.contains("date without a time"), "{date:?}");
        assert!(date.help.contains("2027-01-01T00:00:00Z"), "{date:?}");
        let local = classify("2027-01-01 08:30:00");
        assert!(local.message.contains("without a UTC offset"), "{local:?}");
        assert!(local.help.contains("2027-01-01T08:30:00Z"), "{local:?}");
        assert!(classify("17:00:00").message.contains("without a date"));
        assert!(classify("soon").message.contains("not a date-time"));
        let err = parse("2027-01-01").unwrap_err();
        assert_eq!(problem_in(&err), Some(classify("2027-01-01")));
        assert_eq!(problem_in("invalid type: integer"), None);
    }
}
