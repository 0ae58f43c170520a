//! Whether a dynamic membership rule can hold Managed Desktop devices, judged
//! on what the rule means rather than on its text (hostile run 14, finding
//! 10). Every ring device is a Windows device registered with Autopilot:
//! its `deviceOSType` is `Windows`, it is enabled, and its
//! `devicePhysicalIds` hold a `[ZTDId]:…` entry (beside others such as
//! `[HWID]:…`, `[GID]:…` or a group tag `[OrderId]:…`).
//!
//! The rule is evaluated against such an "Autopilot device in service"
//! with three values: `Some(true)`, it holds every one of them (it reaches
//! all Autopilot devices, like the all-devices group); `Some(false)`, it
//! provably holds none (a rule over users, another operating system, a
//! physical-id test for a tag an Autopilot device never carries); `None`,
//! it may hold some. Anything tenantctl cannot parse or evaluate
//! (`-match`, an attribute it does not know) is `None`: it is never taken
//! for disjoint. A `memberOf` test is nesting: it counts as holding
//! nothing here, and callers follow the groups it names (so the rest of
//! the rule is still judged: `memberOf ... or (device.deviceOSType -eq
//! "Windows")` holds every Autopilot device).

use crate::rule_syntax::{and, or, parse, Expr, Lit};

/// How a rule reaches Autopilot devices: see the module documentation.
pub fn autopilot_reach(rule: &str) -> Option<bool> {
    let lower = rule.to_lowercase();
    let users = lower.contains("user.");
    let devices = lower.contains("device.");
    if users && !devices {
        // A rule over users holds no device.
        return Some(false);
    }
    eval(&parse(rule)?)
}

/// Whether a rule may hold Autopilot (ring) devices: anything not provably
/// disjoint from them.
pub fn may_reach_autopilot(rule: &str) -> bool {
    autopilot_reach(rule) != Some(false)
}

/// Whether a rule provably holds every Autopilot device in service.
pub fn reaches_all_autopilot(rule: &str) -> bool {
    autopilot_reach(rule) == Some(true)
}

fn eval(e: &Expr) -> Option<bool> {
    match e {
        Expr::And(a, b) => and(eval(a), eval(b)),
        Expr::Or(a, b) => or(eval(a), eval(b)),
        Expr::Not(a) => eval(a).map(|x| !x),
        Expr::Cmp { attr, op, value } => compare(attr, op, value),
        Expr::Each { attr, all, op, value } => each(attr, *all, op, value),
        Expr::Nesting => Some(false),
    }
}

/// A known value of an Autopilot device in service, as lowercase text.
fn known(attr: &str) -> Option<&'static str> {
    match attr {
        "device.deviceostype" => Some("windows"),
        "device.accountenabled" => Some("true"),
        _ => None,
    }
}

fn compare(attr: &str, op: &str, value: &Lit) -> Option<bool> {
    let attr = attr.to_lowercase();
    if attr.starts_with("user.") {
        // In a device rule a user attribute is invalid; Entra would refuse it.
        return None;
    }
    let actual = known(&attr)?;
    let negate = |r: Option<bool>| r.map(|x| !x);
    match (op, value) {
        ("-eq", Lit::Null) => Some(false),
        ("-ne", Lit::Null) => Some(true),
        ("-eq", Lit::Bool(b)) => Some(actual == b.to_string()),
        ("-ne", Lit::Bool(b)) => Some(actual != b.to_string()),
        ("-eq", Lit::Str(s)) => Some(actual == s.to_lowercase()),
        ("-ne", Lit::Str(s)) => Some(actual != s.to_lowercase()),
        ("-startswith", Lit::Str(s)) => Some(actual.starts_with(&s.to_lowercase())),
        ("-notstartswith", Lit::Str(_)) => negate(compare(&attr, "-startswith", value)),
        ("-contains", Lit::Str(s)) => Some(actual.contains(&s.to_lowercase())),
        ("-notcontains", Lit::Str(_)) => negate(compare(&attr, "-contains", value)),
        ("-in", Lit::List(items)) => Some(items.iter().any(|i| i.to_lowercase() == actual)),
        ("-notin", Lit::List(_)) => negate(compare(&attr, "-in", value)),
        // -match (a regular expression) and anything else: not evaluated.
        _ => None,
    }
}

/// The physical ids of an Autopilot device: the `[ZTDId]:` entry it always
/// has, and the tags it may have; what follows the tag is unknown. Group
/// tags (`[OrderId]`, `[PurchaseOrderId]`) are free text.
const ALWAYS: &[&str] = &["[ztdid]:"];
const MAYBE: &[&str] = &["[hwid]:", "[user-hwid]:", "[gid]:", "[user-gid]:", "[orderid]:", "[purchaseorderid]:", "[azureresourceid]:"];
const FREE_TEXT: &[&str] = &["[orderid]:", "[purchaseorderid]:"];

fn each(attr: &str, all: bool, op: &str, value: &Lit) -> Option<bool> {
    if attr.to_lowercase() != "device.devicephysicalids" {
        return None;
    }
    let always = ALWAYS.iter().map(|p| element(p, op, value));
    // An entry that may be absent: it decides nothing on its own.
    let maybe = MAYBE.iter().map(|p| element(p, op, value)).map(|r| match (all, r) {
        (false, Some(true)) | (true, Some(false)) => None,
        (_, r) => r,
    });
    let mut out = Some(all);
    for r in always.chain(maybe) {
        out = if all { and(out, r) } else { or(out, r) };
    }
    out
}

/// Test `op value` of one physical id: `prefix` followed by text unknown.
fn element(prefix: &str, op: &str, value: &Lit) -> Option<bool> {
    let negate = |r: Option<bool>| r.map(|x| !x);
    let free = FREE_TEXT.contains(&prefix);
    match (op, value) {
        ("-eq", Lit::Str(s)) => {
            let s = s.to_lowercase();
            if s.starts_with(prefix) && s.len() > prefix.len() {
                None
            } else {
                Some(false)
            }
        }
        ("-ne", Lit::Str(_)) => negate(element(prefix, "-eq", value)),
        ("-startswith", Lit::Str(s)) => {
            let s = s.to_lowercase();
            if prefix.starts_with(&s) {
                Some(true)
            } else if s.starts_with(prefix) {
                None
            } else {
                Some(false)
            }
        }
        ("-notstartswith", Lit::Str(_)) => negate(element(prefix, "-startswith", value)),
        ("-contains", Lit::Str(s)) => {
            let s = s.to_lowercase();
            let straddles = (1..prefix.len()).any(|i| prefix.is_char_boundary(i) && s.starts_with(&prefix[i..]));
            if prefix.contains(&s) {
                Some(true)
            } else if !free && !straddles && s.contains(['[', ']']) {
                // Only a free-text tag's value holds brackets.
                Some(false)
            } else {
                None
            }
        }
        ("-notcontains", Lit::Str(_)) => negate(element(prefix, "-contains", value)),
        ("-in", Lit::List(items)) => items.iter().map(|i| element(prefix, "-eq", &Lit::Str(i.clone()))).fold(Some(false), or),
        ("-notin", Lit::List(_)) => negate(element(prefix, "-in", value)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaching_all_autopilot_devices() {
        for rule in [
            r#"(device.devicePhysicalIds -any (_ -contains "[ZTDId]"))"#,
            r#"device.devicePhysicalIds -any (_ -contains "[ZTDId]")"#,
            r#"(device.devicePhysicalIds -any (_ -startsWith "[ZTDId]"))"#,
            r#"(device.devicePhysicalIds -any (_ -contains "[ZTDId]")) or (device.deviceOSType -eq "x")"#,
            r#"(device.devicePhysicalIds -any (_ -contains "[ZTDId]")) and (device.accountEnabled -eq true)"#,
            r#"(device.deviceOSType -eq "Windows")"#,
            r#"(device.deviceOSType -startsWith "win")"#,
            r#"(device.memberOf -any (group.objectId -in ['00000000-0000-4000-8000-000000000000'])) or (device.deviceOSType -eq "Windows")"#,
        ] {
            assert_eq!(autopilot_reach(rule), Some(true), "{rule}");
        }
    }

    #[test]
    fn maybe_reaching() {
        let deep = format!("{}(device.deviceOSType -eq \"iOS\"){}", "(".repeat(100), ")".repeat(100));
        let nots = format!("{}(device.deviceOSType -eq \"iOS\")", "not ".repeat(100));
        let long = vec![r#"(device.deviceOSType -eq "iOS")"#; 2000].join(" and ");
        for rule in [
            r#"(device.devicePhysicalIds -any (_ -match "ZTDId"))"#,
            r#"(device.devicePhysicalIds -any (_ -eq "[OrderID]:Kiosk"))"#,
            r#"(device.devicePhysicalIds -any (_ -startsWith "[OrderID]:Ring1"))"#,
            r#"(device.displayName -startsWith "CPC-")"#,
            r#"(device.deviceOSType -match "Win.*")"#,
            // Nested beyond what is evaluated: cannot tell, so it may reach.
            deep.as_str(),
            nots.as_str(),
            long.as_str(),
            // A group tag is free text: it may hold "[Foo]".
            r#"(device.devicePhysicalIds -any (_ -contains "[Foo]"))"#,
            "not a rule ((",
        ] {
            assert_eq!(autopilot_reach(rule), None, "{rule}");
        }
    }

    #[test]
    fn provably_disjoint() {
        for rule in [
            r#"(user.department -eq "Sales")"#,
            r#"(device.deviceOSType -eq "iOS")"#,
            r#"(device.deviceOSType -in ["iOS", "Android"])"#,
            r#"(device.deviceOSType -ne "Windows")"#,
            r#"(device.devicePhysicalIds -any (_ -startsWith "[Foo]"))"#,
            r#"(device.devicePhysicalIds -any (_ -contains "[ZTDId]")) and (device.deviceOSType -eq "Android")"#,
            r#"not (device.devicePhysicalIds -any (_ -startsWith "[ZTDId]"))"#,
            r#"(device.accountEnabled -eq false)"#,
            r#"device.memberOf -any (group.objectId -in ['00000000-0000-4000-8000-000000000000'])"#,
        ] {
            assert_eq!(autopilot_reach(rule), Some(false), "{rule}");
        }
    }
}
