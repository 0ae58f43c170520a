//! `[named_location.KEY]`: an Entra named location
//! (`/identity/conditionalAccess/namedLocations`), either IP ranges
//! (`ipNamedLocation`) or countries and regions (`countryNamedLocation`).
//! Conditional access policies name it by key in `locations`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedLocation {
    /// Unique among the tenant's named locations: how an existing one is found.
    pub display_name: String,
    /// IP ranges in CIDR form (`203.0.113.0/24`, `2001:db8::/48`): an IP
    /// named location. Exclusive with `countries_and_regions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_ranges: Vec<String>,
    /// Whether an IP location is trusted (`AllTrusted` in policies).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_trusted: bool,
    /// ISO 3166-1 alpha-2 codes (`NL`, `US`): a country named location.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries_and_regions: Vec<String>,
    /// `clientIpAddress` (the default) or `authenticatorAppGps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_lookup_method: Option<CountryLookupMethod>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_unknown_countries_and_regions: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CountryLookupMethod {
    ClientIpAddress,
    AuthenticatorAppGps,
}

impl NamedLocation {
    /// Whether it is a country location (else an IP one).
    pub fn is_country(&self) -> bool {
        !self.countries_and_regions.is_empty() || self.country_lookup_method.is_some() || self.include_unknown_countries_and_regions
    }
}

/// ISO 3166-1 alpha-2 codes, which Entra's country locations take.
pub const COUNTRY_CODES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Why `cidr` is not an IPv4 or IPv6 range in CIDR form, if it is not;
/// `Ok(true)` for IPv6.
pub fn cidr_problem(cidr: &str) -> Result<bool, String> {
    let (addr, prefix) = cidr.split_once('/').ok_or_else(|| "has no prefix length (write it as ADDRESS/BITS, e.g. 203.0.113.0/24)".to_string())?;
    let bits: u8 = prefix.parse().map_err(|_| format!("has prefix length `{prefix}`, not a number"))?;
    if let Ok(v4) = addr.parse::<std::net::Ipv4Addr>() {
        // Entra refuses IPv4 ranges wider than /8.
        if !(8..=32).contains(&bits) {
            return Err(format!("has an IPv4 prefix of /{bits}; Entra accepts /8 to /32"));
        }
        let mask = u32::MAX.checked_shr(u32::from(bits)).unwrap_or(0);
        if u32::from(v4) & mask != 0 {
            return Err(format!("has host bits set; the range starts at {}/{bits}", std::net::Ipv4Addr::from(u32::from(v4) & !mask)));
        }
        return Ok(false);
    }
    if let Ok(v6) = addr.parse::<std::net::Ipv6Addr>() {
        if !(8..=128).contains(&bits) {
            return Err(format!("has an IPv6 prefix of /{bits}; Entra accepts /8 to /128"));
        }
        let mask = u128::MAX.checked_shr(u32::from(bits)).unwrap_or(0);
        if u128::from(v6) & mask != 0 {
            return Err(format!("has host bits set; the range starts at {}/{bits}", std::net::Ipv6Addr::from(u128::from(v6) & !mask)));
        }
        return Ok(true);
    }
    Err(format!("`{addr}` is not an IPv4 or IPv6 address"))
}

/// The most IP ranges Entra takes in one named location.
pub const MAX_RANGES: usize = 2000;

// Validation: this kind's own checks, run through the registry by
// `crate::validate`.

use crate::path;
use crate::validate::Ctx;

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    for (key, d) in &cx.state.named_location {
        let (l, o) = (&d.value, &d.origin);
        let ip = !l.ip_ranges.is_empty() || l.is_trusted;
        if ip && l.is_country() {
            cx.error("ip-and-countries", o, &path!["named_location", key], format!("named_location.{key}: a named location holds IP ranges or countries, not both"));
        } else if !ip && l.countries_and_regions.is_empty() && !l.include_unknown_countries_and_regions {
            cx.error("empty-location", o, &path!["named_location", key], format!("named_location.{key}: declare `ip_ranges` (an IP location) or `countries_and_regions` (a country location)"));
        }
        if l.is_trusted && l.ip_ranges.is_empty() {
            cx.error("empty-location", o, &path!["named_location", key, "ip_ranges"], format!("named_location.{key}: a trusted location needs at least one IP range"));
        }
        if l.ip_ranges.len() > MAX_RANGES {
            cx.error("too-many-ranges", o, &path!["named_location", key, "ip_ranges"], format!("named_location.{key}: {} IP ranges; Entra allows at most {MAX_RANGES} in one named location", l.ip_ranges.len()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in l.ip_ranges.iter().enumerate() {
            if let Err(why) = cidr_problem(r.trim()) {
                cx.error("invalid-cidr", o, &path!["named_location", key, "ip_ranges", i], format!("named_location.{key}: IP range `{r}` {why}"));
            } else if !seen.insert(r.trim().to_lowercase()) {
                cx.error("duplicate-range", o, &path!["named_location", key, "ip_ranges", i], format!("named_location.{key}: IP range `{r}` is listed twice"));
            }
        }
        for (i, c) in l.countries_and_regions.iter().enumerate() {
            if !COUNTRY_CODES.contains(&c.as_str()) {
                let d2 = cx.error("unknown-country", o, &path!["named_location", key, "countries_and_regions", i], format!("named_location.{key}: `{c}` is not an ISO 3166-1 alpha-2 country code"));
                let upper = c.to_uppercase();
                if COUNTRY_CODES.contains(&upper.as_str()) {
                    d2.help = Some(format!("did you mean `{upper}`?"));
                }
            }
        }
    }
}


/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("named location (conditional access)");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/identity/conditionalAccess/namedLocations"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_ranges_are_checked() {
        assert_eq!(cidr_problem("203.0.113.0/24"), Ok(false));
        assert_eq!(cidr_problem("2001:db8::/48"), Ok(true));
        assert_eq!(cidr_problem("198.51.100.7/32"), Ok(false));
        assert!(cidr_problem("203.0.113.0").unwrap_err().contains("no prefix"));
        assert!(cidr_problem("203.0.113.5/24").unwrap_err().contains("203.0.113.0/24"));
        assert!(cidr_problem("10.0.0.0/4").unwrap_err().contains("/8 to /32"));
        assert!(cidr_problem("300.0.0.0/8").is_err());
        assert!(cidr_problem("1.2.3.0/x").is_err());
        assert!(cidr_problem("2001:db8::1/48").is_err());
    }

    #[test]
    fn country_codes_are_sorted_and_two_letters() {
        assert!(COUNTRY_CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(COUNTRY_CODES.iter().all(|c| c.len() == 2 && c.chars().all(|x| x.is_ascii_uppercase())));
        assert_eq!(COUNTRY_CODES.len(), 249);
    }
}
