//! `rollout = { rings = [...], soak = "48h" }` on a policy: ring-by-ring
//! rollout. The policy becomes one Graph object per ring, each assigned to
//! its ring group; the engine promotes a settings change to the next ring
//! only once the previous ring has soaked.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Roll the policy out ring by ring: one copy per ring group (displayName
/// suffixed ` [RING]`, assigned to that group plus the policy's excludes);
/// a change reaches the next ring once the previous one has soaked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// Keys of the ring groups, in rollout order (at least two). Each ring
    /// gets its own copy of the policy, assigned to that group; the policy's
    /// own `assignments` may only exclude.
    #[schemars(length(min = 2))]
    pub rings: Vec<String>,
    /// How long a ring runs a change before the next ring gets it:
    /// a whole number and a unit, `s`, `m`, `h`, `d` or `w` (`48h`, `2d`, `90m`).
    #[schemars(regex(pattern = r"^[0-9]+[smhdw]$"))]
    pub soak: String,
}

impl Rollout {
    /// The soak time in seconds, if it parses.
    pub fn soak_secs(&self) -> Option<i64> {
        parse_duration(&self.soak)
    }
}

/// Parse a duration such as `48h`, `2d`, `90m`, `30s` or `1w` into seconds
/// (`None` when malformed, negative or too large).
pub fn parse_duration(s: &str) -> Option<i64> {
    let unit = s.chars().last()?;
    let number = &s[..s.len() - unit.len_utf8()];
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: i64 = number.parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        'w' => 7 * 86400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A duration in seconds as the largest whole unit (`172800` -> `48h`,
/// `5400` -> `90m`), for messages.
pub fn format_duration(secs: i64) -> String {
    match secs {
        s if s != 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s != 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("48h"), Some(172_800));
        assert_eq!(parse_duration("2d"), Some(172_800));
        assert_eq!(parse_duration("90m"), Some(5_400));
        assert_eq!(parse_duration("1w"), Some(604_800));
        assert_eq!(parse_duration("0h"), Some(0));
        for bad in ["", "h", "-1h", "+1h", "12x", "1.5h", "48", "48 h", " 48h", "99999999999999999999h", "9223372036854775807d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(172_800), "48h");
        assert_eq!(format_duration(5_400), "90m");
        assert_eq!(format_duration(45), "45s");
    }
}
