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
//!
//! A `[ZTDId]` entry is `[ZTDId]:` and the device's Autopilot id, a GUID
//! (hex digits, dashes at 8, 13, 18 and 23), compared ignoring case. Tests
//! of its beginning (`-startsWith "[ZTDId]:0"`, `-contains "[ZTDId]:0"`)
//! are judged exactly (hostile run 15, finding 16): the rule is evaluated
//! once for each class of Autopilot ids those prefixes tell apart, so
//! sixteen OR'ed prefixes, one per first hex digit (or any set covering
//! every id), hold every Autopilot device, and a set leaving some ids out
//! may hold some.

use std::collections::BTreeSet;

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
    let e = parse(rule)?;
    let mut prefixes = BTreeSet::new();
    ztd_prefixes(&e, &mut prefixes);
    // One evaluation per class of Autopilot ids the rule tells apart: the
    // rule holds every device when it holds in each class, none when in
    // none; anything else (a mix, or a class it cannot tell) may hold some.
    let mut out = None;
    for id in ztd_classes(&prefixes)? {
        let v = eval(&e, &id)?;
        if out.is_some_and(|o| o != v) {
            return None;
        }
        out = Some(v);
    }
    out
}

/// The start of a `[ZTDId]` entry, lowercase.
const ZTD: &str = "[ztdid]:";
/// The length of an Autopilot id (a GUID with its dashes).
const GUID_LEN: usize = 36;
/// The most classes of Autopilot ids evaluated; a rule telling more apart
/// is "cannot tell".
const MAX_CLASSES: usize = 4096;

/// The characters an Autopilot id may hold at position `i`.
fn guid_chars(i: usize) -> &'static str {
    if matches!(i, 8 | 13 | 18 | 23) {
        "-"
    } else {
        "0123456789abcdef"
    }
}

/// The beginnings of Autopilot ids the rule's physical-id tests name
/// (`"0"` for `-startsWith "[ZTDId]:0"`, `-contains "]:0"` and the like).
fn ztd_prefixes(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            ztd_prefixes(a, out);
            ztd_prefixes(b, out);
        }
        Expr::Not(a) => ztd_prefixes(a, out),
        Expr::Each { attr, op, value, .. } if attr.eq_ignore_ascii_case("device.devicePhysicalIds") => {
            let values: Vec<&String> = match value {
                Lit::Str(s) => vec![s],
                Lit::List(items) => items.iter().collect(),
                _ => Vec::new(),
            };
            let contains = op == "-contains" || op == "-notcontains";
            for v in values {
                let v = v.to_lowercase();
                // `-contains` may begin inside `[ZTDId]:` (`"]:0"`).
                let starts = if contains { 0..ZTD.len() } else { 0..1 };
                for i in starts {
                    if let Some(rest) = v.strip_prefix(&ZTD[i..]) {
                        out.insert(rest.chars().take(GUID_LEN).collect());
                    }
                }
            }
        }
        _ => {}
    }
}

/// One representative beginning of an Autopilot id per class the
/// `prefixes` tell apart (ids in one class begin with the same prefixes),
/// or `None` when there are more than [`MAX_CLASSES`].
fn ztd_classes(prefixes: &BTreeSet<String>) -> Option<Vec<String>> {
    if prefixes.iter().all(String::is_empty) {
        return Some(vec![String::new()]);
    }
    let mut out = Vec::new();
    let mut todo = vec![String::new()];
    while let Some(n) = todo.pop() {
        if n.chars().count() >= GUID_LEN {
            out.push(n);
            continue;
        }
        for c in guid_chars(n.chars().count()).chars() {
            let m = format!("{n}{c}");
            // Split further only where a longer prefix tells ids apart.
            if prefixes.iter().any(|p| p.len() > m.len() && p.starts_with(&m)) {
                todo.push(m);
            } else {
                out.push(m);
            }
            if out.len() + todo.len() > MAX_CLASSES {
                return None;
            }
        }
    }
    Some(out)
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

/// The rule's value for an Autopilot device whose id begins with `ztd`.
fn eval(e: &Expr, ztd: &str) -> Option<bool> {
    match e {
        Expr::And(a, b) => and(eval(a, ztd), eval(b, ztd)),
        Expr::Or(a, b) => or(eval(a, ztd), eval(b, ztd)),
        Expr::Not(a) => eval(a, ztd).map(|x| !x),
        Expr::Cmp { attr, op, value } => compare(attr, op, value),
        Expr::Each { attr, all, op, value } => each(attr, *all, op, value, ztd),
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
/// has (its id beginning as the class evaluated says), and the tags it may
/// have; what follows is unknown. Group tags (`[OrderId]`,
/// `[PurchaseOrderId]`) are free text.
const MAYBE: &[&str] = &["[hwid]:", "[user-hwid]:", "[gid]:", "[user-gid]:", "[orderid]:", "[purchaseorderid]:", "[azureresourceid]:"];
const FREE_TEXT: &[&str] = &["[orderid]:", "[purchaseorderid]:"];

fn each(attr: &str, all: bool, op: &str, value: &Lit, ztd: &str) -> Option<bool> {
    if attr.to_lowercase() != "device.devicephysicalids" {
        return None;
    }
    let always = std::iter::once(element(&format!("{ZTD}{ztd}"), false, op, value));
    // An entry that may be absent: it decides nothing on its own.
    let maybe = MAYBE.iter().map(|p| element(p, FREE_TEXT.contains(p), op, value)).map(|r| match (all, r) {
        (false, Some(true)) | (true, Some(false)) => None,
        (_, r) => r,
    });
    let mut out = Some(all);
    for r in always.chain(maybe) {
        out = if all { and(out, r) } else { or(out, r) };
    }
    out
}

/// Test `op value` of one physical id: `prefix` followed by text unknown
/// (free text when `free`).
fn element(prefix: &str, free: bool, op: &str, value: &Lit) -> Option<bool> {
    let negate = |r: Option<bool>| r.map(|x| !x);
    match (op, value) {
        ("-eq", Lit::Str(s)) => {
            let s = s.to_lowercase();
            // Equal to a whole `prefix` only when the id is complete: cannot tell.
            if s.starts_with(prefix) {
                None
            } else {
                Some(false)
            }
        }
        ("-ne", Lit::Str(_)) => negate(element(prefix, free, "-eq", value)),
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
        ("-notstartswith", Lit::Str(_)) => negate(element(prefix, free, "-startswith", value)),
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
        ("-notcontains", Lit::Str(_)) => negate(element(prefix, free, "-contains", value)),
        ("-in", Lit::List(items)) => items.iter().map(|i| element(prefix, free, "-eq", &Lit::Str(i.clone()))).fold(Some(false), or),
        ("-notin", Lit::List(_)) => negate(element(prefix, free, "-in", value)),
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

    fn hex_prefixes(op: &str, digits: &str) -> String {
        digits.chars().map(|h| format!("(device.devicePhysicalIds -any (_ {op} \"[ZTDId]:{h}\"))")).collect::<Vec<_>>().join(" or ")
    }

    /// Hostile run 15, finding 16: `[ZTDId]` prefixes that together cover
    /// every Autopilot id hold every Autopilot device; a set leaving some
    /// out may hold some.
    #[test]
    fn prefixes_covering_every_autopilot_id() {
        let all = "0123456789abcdef";
        assert_eq!(autopilot_reach(&hex_prefixes("-contains", all)), Some(true));
        assert_eq!(autopilot_reach(&hex_prefixes("-startsWith", &all.to_uppercase())), Some(true));
        // Nested ORs, and one digit split one level further.
        let split: Vec<String> = all.chars().map(|h| format!("(device.devicePhysicalIds -any (_ -contains \"[ztdid]:a{h}\"))")).collect();
        let nested = format!("({}) or (({}) or ({}))", hex_prefixes("-contains", "012345678"), hex_prefixes("-startsWith", "bcdef9"), split.join(" or "));
        assert_eq!(autopilot_reach(&nested), Some(true));
        // `-contains` beginning inside the tag.
        assert_eq!(autopilot_reach(&hex_prefixes("-contains", all).replace("[ZTDId]:", "]:")), Some(true));
        // One digit missing, or one of its halves: may hold.
        assert_eq!(autopilot_reach(&hex_prefixes("-contains", "0123456789abcde")), None);
        assert_eq!(autopilot_reach(&format!("{} or {}", hex_prefixes("-contains", "0123456789bcdef"), split[..15].join(" or "))), None);
        // Covering, but only for iOS devices: none.
        assert_eq!(autopilot_reach(&format!("({}) and (device.deviceOSType -eq \"iOS\")", hex_prefixes("-contains", all))), Some(false));
        // An exact id holds one device at most: may hold, never "none".
        assert_eq!(autopilot_reach(r#"(device.devicePhysicalIds -any (_ -eq "[ZTDId]:0b6a3c1e-1111-4222-8333-944455556666"))"#), None);
        // A dash where an id holds a hex digit: no device.
        assert_eq!(autopilot_reach(r#"(device.devicePhysicalIds -any (_ -startsWith "[ZTDId]:-"))"#), Some(false));
        // Too many classes to evaluate: cannot tell.
        let ids: Vec<String> = (0..200).map(|i| format!("\"[ZTDId]:{i:08x}-1111-4222-8333-944455556666\"")).collect();
        assert_eq!(autopilot_reach(&format!("(device.devicePhysicalIds -any (_ -in [{}]))", ids.join(", "))), None);
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
