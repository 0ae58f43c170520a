//! The rules Graph applies to a conditional access policy's conditions,
//! grant and session controls (beyond their types), checked before a plan
//! is made: references to named locations and authentication strengths,
//! controls Graph refuses together, and the ranges of sign-in frequency.

use crate::address::Kind;
use crate::kinds::conditional_access::{ConditionalAccess, FrequencyInterval, FrequencyType, GuestsOrExternalUsers, MembershipKind, Platform, SPECIAL_LOCATIONS};
use crate::path;
use crate::diagnostic::Origin;
use crate::source::Seg;
use crate::validate::{is_guid, Ctx};

/// The built-in authentication strengths, by display name, with the ids
/// Entra gives them in every tenant.
pub const BUILT_IN_STRENGTHS: &[(&str, &str)] = &[
    ("Multifactor authentication", "00000000-0000-0000-0000-000000000002"),
    ("Passwordless MFA", "00000000-0000-0000-0000-000000000003"),
    ("Phishing-resistant MFA", "00000000-0000-0000-0000-000000000004"),
];

/// The id of a built-in authentication strength named `name` (any case).
pub fn built_in_strength_id(name: &str) -> Option<&'static str> {
    BUILT_IN_STRENGTHS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, id)| *id)
}

/// The name of the built-in authentication strength with this id.
pub fn built_in_strength_name(id: &str) -> Option<&'static str> {
    BUILT_IN_STRENGTHS.iter().find(|(_, i)| i.eq_ignore_ascii_case(id)).map(|(n, _)| *n)
}

/// User actions Graph accepts in `includeUserActions`.
pub const USER_ACTIONS: &[&str] = &["urn:user:registersecurityinfo", "urn:user:registerdevice"];

/// Sign-in frequency ranges Entra accepts: 1 to 365 days, 1 to 23 hours.
const MAX_DAYS: i64 = 365;
const MAX_HOURS: i64 = 23;

/// Every rule of this module, for every declared policy.
pub(crate) fn check(cx: &mut Ctx) {
    for (key, d) in &cx.state.conditional_access {
        let (p, o) = (&d.value, &d.origin);
        grant(cx, key, o, p);
        applications(cx, key, o, p);
        locations(cx, key, o, p);
        conditions(cx, key, o, p);
        session(cx, key, o, p);
        for (field, g) in [("include_guests_or_external_users", &p.users.include_guests_or_external_users), ("exclude_guests_or_external_users", &p.users.exclude_guests_or_external_users)] {
            if let Some(g) = g {
                guests(cx, key, o, field, g);
            }
        }
    }
}

fn grant(cx: &mut Ctx, key: &str, o: &Origin, p: &ConditionalAccess) {
    let g = &p.grant;
    let at = |f: &str| path!["conditional_access", key, "grant", f];
    let has = |c: &str| g.built_in_controls.iter().any(|x| x == c);
    let controls = g.built_in_controls.len() + usize::from(g.authentication_strength.is_some()) + g.terms_of_use.len();
    if has("block") && controls > 1 {
        cx.error("block-with-others", o, &at("built_in_controls"), format!("conditional_access.{key}: `block` cannot be combined with other grant controls; Graph refuses it"));
    }
    if has("mfa") && g.authentication_strength.is_some() {
        cx.error("mfa-with-strength", o, &at("authentication_strength"), format!("conditional_access.{key}: `mfa` and an authentication strength cannot both be required; Graph refuses it (an authentication strength already requires MFA: drop `mfa`)"));
    }
    if has("passwordChange") {
        let with_mfa = has("mfa") || g.authentication_strength.is_some();
        if !with_mfa || g.operator != crate::kinds::conditional_access::GrantOperator::AND {
            cx.error("password-change-alone", o, &at("built_in_controls"), format!("conditional_access.{key}: `passwordChange` must be required together (operator = \"AND\") with `mfa` or an authentication strength"));
        }
        if p.applications.include_applications != ["All"] {
            cx.error("password-change-apps", o, &path!["conditional_access", key, "applications", "include_applications"], format!("conditional_access.{key}: `passwordChange` applies only to a policy for all applications (include_applications = [\"All\"])"));
        }
    }
    if let Some(s) = &g.authentication_strength {
        if built_in_strength_id(s).is_none() && cx.state.resolve(s, &[Kind::AuthenticationStrength]).is_err() && !is_guid(s) {
            let names: Vec<&str> = BUILT_IN_STRENGTHS.iter().map(|(n, _)| *n).collect();
            let d = cx.error(
                "unknown-authentication-strength",
                o,
                &at("authentication_strength"),
                format!("conditional_access.{key}: `{s}` is neither a declared authentication_strength nor a built-in strength ({})", names.join(", ")),
            );
            d.help = crate::suggest::closest(s, names.iter().copied()).map(|n| format!("did you mean `{n}`?"));
        }
    }
    for (i, t) in g.terms_of_use.iter().enumerate() {
        if !is_guid(t) {
            cx.error("invalid-terms-of-use", o, &path!["conditional_access", key, "grant", "terms_of_use", i], format!("conditional_access.{key}: terms of use `{t}` is not an agreement id (GUID)"));
        }
    }
}

fn applications(cx: &mut Ctx, key: &str, o: &Origin, p: &ConditionalAccess) {
    let a = &p.applications;
    let at = |f: &str| path!["conditional_access", key, "applications", f];
    let targets = [!a.include_applications.is_empty(), !a.include_user_actions.is_empty(), !a.include_authentication_context_class_references.is_empty()];
    if targets.iter().filter(|t| **t).count() > 1 {
        cx.error("applications-or-actions", o, &path!["conditional_access", key, "applications"], format!("conditional_access.{key}: a policy targets applications, user actions or authentication contexts, only one of them; Graph refuses more"));
    }
    for (i, u) in a.include_user_actions.iter().enumerate() {
        if !USER_ACTIONS.contains(&u.as_str()) {
            let d = cx.error("unknown-user-action", o, &[at("include_user_actions").as_slice(), &[Seg::Index(i)]].concat(), format!("conditional_access.{key}: `{u}` is not a user action (expected {})", USER_ACTIONS.join(" or ")));
            d.help = crate::suggest::closest(u, USER_ACTIONS.iter().copied()).map(|s| format!("did you mean `{s}`?"));
        }
    }
    for (i, c) in a.include_authentication_context_class_references.iter().enumerate() {
        let ok = c.strip_prefix('c').and_then(|n| n.parse::<u8>().ok()).is_some_and(|n| (1..=99).contains(&n) && !c[1..].starts_with('0'));
        if !ok {
            cx.error("invalid-authentication-context", o, &[at("include_authentication_context_class_references").as_slice(), &[Seg::Index(i)]].concat(), format!("conditional_access.{key}: `{c}` is not an authentication context id (c1 to c99)"));
        }
    }
    if let Some(f) = &a.application_filter {
        if let Some(why) = rule_problem(&f.rule) {
            cx.error("invalid-filter-rule", o, &[at("application_filter").as_slice(), &[Seg::from("rule")]].concat(), format!("conditional_access.{key}: the application filter rule {why}"));
        }
    }
    if a.application_filter.is_some() && a.include_applications.is_empty() {
        cx.error("filter-without-applications", o, &at("application_filter"), format!("conditional_access.{key}: an application filter narrows include_applications or exclude_applications; declare them"));
    }
}

fn locations(cx: &mut Ctx, key: &str, o: &Origin, p: &ConditionalAccess) {
    let Some(l) = &p.locations else { return };
    if l.include_locations.is_empty() {
        cx.error("no-locations", o, &path!["conditional_access", key, "locations", "include_locations"], format!("conditional_access.{key}: include at least one location (\"All\", \"AllTrusted\" or a named_location key)"));
    }
    for (field, list) in [("include_locations", &l.include_locations), ("exclude_locations", &l.exclude_locations)] {
        for (i, r) in list.iter().enumerate() {
            if SPECIAL_LOCATIONS.contains(&r.as_str()) {
                if field == "exclude_locations" && r == "All" {
                    cx.error("exclude-all-locations", o, &path!["conditional_access", key, "locations", field, i], format!("conditional_access.{key}: excluding \"All\" locations leaves the policy nothing to apply to"));
                }
                continue;
            }
            // A named location tenantctl does not manage may be named by id.
            if is_guid(r) && cx.state.resolve(r, &[Kind::NamedLocation]).is_err() {
                continue;
            }
            cx.reference(o, &path!["conditional_access", key, "locations", field, i], r, &[Kind::NamedLocation]);
        }
        if list.iter().any(|r| r == "All") && list.len() > 1 && field == "include_locations" {
            cx.error("all-with-others", o, &path!["conditional_access", key, "locations", field], format!("conditional_access.{key}: {field} lists \"All\" together with other locations"));
        }
    }
}

fn conditions(cx: &mut Ctx, key: &str, o: &Origin, p: &ConditionalAccess) {
    if let Some(pl) = &p.platforms {
        if pl.include_platforms.is_empty() {
            cx.error("no-platforms", o, &path!["conditional_access", key, "platforms", "include_platforms"], format!("conditional_access.{key}: include at least one platform (or \"all\")"));
        }
        if pl.include_platforms.contains(&Platform::All) && pl.include_platforms.len() > 1 {
            cx.error("all-with-others", o, &path!["conditional_access", key, "platforms", "include_platforms"], format!("conditional_access.{key}: include_platforms lists \"all\" together with other platforms"));
        }
        if pl.exclude_platforms.contains(&Platform::All) {
            cx.error("exclude-all-platforms", o, &path!["conditional_access", key, "platforms", "exclude_platforms"], format!("conditional_access.{key}: excluding \"all\" platforms leaves the policy nothing to apply to"));
        }
    }
    if let Some(dev) = &p.devices {
        if let Some(why) = crate::kinds::assignment_filter::filter_rule_problem(&dev.device_filter.rule) {
            cx.error("invalid-filter-rule", o, &path!["conditional_access", key, "devices", "device_filter", "rule"], format!("conditional_access.{key}: the device filter rule {why}"));
        }
    }
}

fn session(cx: &mut Ctx, key: &str, o: &Origin, p: &ConditionalAccess) {
    let Some(s) = &p.session else { return };
    if let Some(f) = &s.sign_in_frequency {
        let at = |x: &str| path!["conditional_access", key, "session", "sign_in_frequency", x];
        match f.frequency_interval {
            FrequencyInterval::TimeBased => match (f.value, f.r#type) {
                (Some(v), Some(t)) => {
                    let max = if t == FrequencyType::Days { MAX_DAYS } else { MAX_HOURS };
                    if !(1..=max).contains(&v) {
                        let unit = if t == FrequencyType::Days { "days" } else { "hours" };
                        cx.error("sign-in-frequency-range", o, &at("value"), format!("conditional_access.{key}: a sign-in frequency in {unit} must be 1 to {max}, not {v}"));
                    }
                }
                _ => {
                    cx.error("sign-in-frequency-incomplete", o, &path!["conditional_access", key, "session", "sign_in_frequency"], format!("conditional_access.{key}: a time-based sign-in frequency needs both `value` and `type` (\"hours\" or \"days\")"));
                }
            },
            FrequencyInterval::EveryTime => {
                if f.value.is_some() || f.r#type.is_some() {
                    cx.error("sign-in-frequency-every-time", o, &at("frequency_interval"), format!("conditional_access.{key}: `frequency_interval = \"everyTime\"` takes no `value` or `type`"));
                }
            }
        }
    }
    if s.persistent_browser.is_some() && p.applications.include_applications != ["All"] {
        cx.error("persistent-browser-apps", o, &path!["conditional_access", key, "session", "persistent_browser"], format!("conditional_access.{key}: the persistent browser session control needs include_applications = [\"All\"]; Graph refuses it otherwise"));
    }
}

fn guests(cx: &mut Ctx, key: &str, o: &Origin, field: &str, g: &GuestsOrExternalUsers) {
    let at = |x: &str| path!["conditional_access", key, "users", field, x];
    if g.guest_or_external_user_types.is_empty() {
        cx.error("no-guest-types", o, &at("guest_or_external_user_types"), format!("conditional_access.{key}: name at least one guest or external user type"));
    }
    if let Some(t) = &g.external_tenants {
        match t.membership_kind {
            MembershipKind::All if !t.members.is_empty() => {
                cx.error("tenants-all-with-members", o, &at("external_tenants"), format!("conditional_access.{key}: `membership_kind = \"all\"` takes no `members`; use \"enumerated\" to list tenants"));
            }
            MembershipKind::Enumerated if t.members.is_empty() => {
                cx.error("tenants-none", o, &at("external_tenants"), format!("conditional_access.{key}: `membership_kind = \"enumerated\"` needs at least one tenant id in `members`"));
            }
            _ => {}
        }
        for (i, m) in t.members.iter().enumerate() {
            if !is_guid(m) {
                cx.error("invalid-tenant-id", o, &path!["conditional_access", key, "users", field, "external_tenants", "members", i], format!("conditional_access.{key}: `{m}` is not a tenant id (GUID)"));
            }
        }
    }
}

/// A filter rule that is empty or has unbalanced quotes or parentheses.
fn rule_problem(rule: &str) -> Option<String> {
    if rule.trim().is_empty() {
        return Some("is empty".into());
    }
    let (outside, closed) = crate::kinds::group::rule_outside_quotes(rule);
    if !closed {
        return Some("has an unclosed quote".into());
    }
    let mut depth = 0i32;
    for c in outside.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return Some("closes a parenthesis it never opened".into());
        }
    }
    (depth != 0).then(|| "has unbalanced parentheses".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_strengths_are_found_by_name_and_id() {
        assert_eq!(built_in_strength_id("phishing-resistant mfa"), Some("00000000-0000-0000-0000-000000000004"));
        assert_eq!(built_in_strength_name("00000000-0000-0000-0000-000000000002"), Some("Multifactor authentication"));
        assert_eq!(built_in_strength_id("Strong"), None);
    }

    #[test]
    fn filter_rules_are_checked_for_balance() {
        assert!(rule_problem("CustomSecurityAttribute.x -eq \"y\"").is_none());
        assert!(rule_problem("(a -eq \"b\"").is_some());
        assert!(rule_problem(" ").is_some());
    }
}
