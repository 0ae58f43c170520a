//! A wrapper for every secret the Graph client handles (client secrets,
//! access tokens, client assertions, federated tokens, certificate
//! passwords), so none of them can reach a log line, a `Debug` dump or an
//! error message by accident.

use std::fmt;

/// A secret string whose `Debug` and `Display` print `***`.
///
/// The only way to read the value is [`Secret::expose`], which makes every
/// place that puts a secret on the wire easy to find with a grep.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        // Masked in any Graph error that echoes it.
        super::redact::register(&value);
        Self(value)
    }

    /// Returns the secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is an empty string (treated as "not configured").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
