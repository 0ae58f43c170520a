//! A dynamic membership rule evaluated against an account's declared
//! properties, to PROVE that a service account is a member of a group an
//! assignment excludes (`(user.userPrincipalName -startsWith "MSADMIN@")`).
//!
//! The answer is three-valued: `Some(true)` (proved a member),
//! `Some(false)` (proved not), `None` (cannot tell: an attribute desired
//! state does not declare, an operator tenantctl does not evaluate such as
//! `-match` or `-any`, or a rule it cannot parse). Only `Some(true)` counts
//! as membership; governance never takes "cannot tell" for "excluded".
//!
//! Rules are parsed by `schema::rule_syntax` (bounded, so a hostile rule
//! cannot exhaust the stack); they follow Entra's syntax: `-eq -ne -startsWith -notStartsWith
//! -contains -notContains -in -notIn` over `user.ATTRIBUTE`, combined with
//! `and`/`-and`, `or`/`-or`, `not`/`-not` and parentheses; string
//! comparisons ignore case, as Entra's do.

use schema::rule_syntax::{and, or, parse, Expr, Lit};
use serde_json::Value;

use crate::Props;

/// Whether `rule` holds for the user whose declared Graph properties are
/// `props`. A rule over devices never holds for a user.
pub fn evaluate(rule: &str, props: &Props) -> Option<bool> {
    let lower = rule.to_lowercase();
    if lower.contains("device.") && !lower.contains("user.") {
        // Entra rules are over users or over devices, never both.
        return Some(false);
    }
    eval(&parse(rule)?, props)
}

fn eval(e: &Expr, props: &Props) -> Option<bool> {
    match e {
        Expr::And(a, b) => and(eval(a, props), eval(b, props)),
        Expr::Or(a, b) => or(eval(a, props), eval(b, props)),
        Expr::Not(a) => eval(a, props).map(|x| !x),
        Expr::Cmp { attr, op, value } => compare(attr, op, value, props),
        // `-any`/`-all` over a multi-valued attribute, and `memberOf`
        // nesting: not evaluated against declared properties.
        Expr::Each { .. } | Expr::Nesting => None,
    }
}

fn compare(attr: &str, op: &str, value: &Lit, props: &Props) -> Option<bool> {
    let lower = attr.to_lowercase();
    if lower.starts_with("device.") {
        // A device rule: a user account is never a member.
        return Some(false);
    }
    let name = lower.strip_prefix("user.")?;
    // Only what desired state declares is known: an attribute it does not
    // declare may be anything live.
    let actual = props.iter().find(|(k, _)| k.to_lowercase() == name).map(|(_, v)| v)?;
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.to_lowercase()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let is_null = actual.is_null() || actual.as_str() == Some("");
    let a = text(actual);
    let negate = |r: Option<bool>| r.map(|x| !x);
    match (op, value) {
        ("-eq", Lit::Null) => Some(is_null),
        ("-ne", Lit::Null) => Some(!is_null),
        ("-eq", Lit::Bool(b)) => actual.as_bool().map(|x| x == *b),
        ("-ne", Lit::Bool(b)) => actual.as_bool().map(|x| x != *b),
        ("-eq", Lit::Str(s)) => Some(a.as_deref() == Some(s.to_lowercase().as_str())),
        ("-ne", Lit::Str(s)) => Some(a.as_deref() != Some(s.to_lowercase().as_str())),
        ("-startswith", Lit::Str(s)) => Some(a.is_some_and(|a| a.starts_with(&s.to_lowercase()))),
        ("-notstartswith", Lit::Str(_)) => negate(compare(attr, "-startswith", value, props)),
        ("-contains", Lit::Str(s)) => Some(a.is_some_and(|a| a.contains(&s.to_lowercase()))),
        ("-notcontains", Lit::Str(_)) => negate(compare(attr, "-contains", value, props)),
        ("-in", Lit::List(items)) => Some(a.is_some_and(|a| items.iter().any(|i| i.to_lowercase() == a))),
        ("-notin", Lit::List(_)) => negate(compare(attr, "-in", value, props)),
        // -match / -notMatch (regular expressions), -any / -all (multi-valued
        // attributes) and anything else: not evaluated, so not proved.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(upn: &str, dept: Option<&str>) -> Props {
        let mut p = Props::new();
        p.insert("userPrincipalName".into(), json!(upn));
        p.insert("accountEnabled".into(), json!(true));
        if let Some(d) = dept {
            p.insert("department".into(), json!(d));
        }
        p
    }

    #[test]
    fn the_example_rule_proves_each_service_account() {
        let rule = r#"(user.userPrincipalName -startsWith "MSADMIN@") or (user.userPrincipalName -startsWith "MSADMININT@") or (user.userPrincipalName -startsWith "MWAAS_SOC_RO@")"#;
        assert_eq!(evaluate(rule, &user("MSADMIN@contoso.onmicrosoft.com", None)), Some(true));
        assert_eq!(evaluate(rule, &user("msadminint@contoso.onmicrosoft.com", None)), Some(true));
        assert_eq!(evaluate(rule, &user("MSTEST@contoso.onmicrosoft.com", None)), Some(false));
    }

    #[test]
    fn unknown_attributes_and_operators_prove_nothing() {
        let p = user("MSTEST@contoso.onmicrosoft.com", None);
        assert_eq!(evaluate(r#"user.department -eq "Service""#, &p), None);
        assert_eq!(evaluate(r#"user.userPrincipalName -match "^MS.*""#, &p), None);
        // An unknown part cannot be outvoted by `or` of a false one...
        assert_eq!(evaluate(r#"(user.department -eq "x") -or (user.userPrincipalName -eq "nobody@x")"#, &p), None);
        // ... but a true one settles `or`, a false one settles `and`.
        assert_eq!(evaluate(r#"(user.department -eq "x") -or (user.userPrincipalName -eq "mstest@contoso.onmicrosoft.com")"#, &p), Some(true));
        assert_eq!(evaluate(r#"(user.department -eq "x") -and (user.accountEnabled -eq false)"#, &p), Some(false));
        assert_eq!(evaluate("(user.userPrincipalName -eq", &p), None);
        assert_eq!(evaluate(r#"(device.devicePhysicalIds -any (_ -contains "[ZTDId]"))"#, &p), Some(false));
    }

    #[test]
    fn operators() {
        let p = user("MSTEST@contoso.onmicrosoft.com", Some("Managed Desktop"));
        assert_eq!(evaluate(r#"user.department -eq "managed desktop""#, &p), Some(true));
        assert_eq!(evaluate(r#"user.department -ne "Managed Desktop""#, &p), Some(false));
        assert_eq!(evaluate(r#"user.department -contains "desk" and not (user.accountEnabled -eq false)"#, &p), Some(true));
        assert_eq!(evaluate(r#"user.department -in ["Sales", "Managed Desktop"]"#, &p), Some(true));
        assert_eq!(evaluate(r#"user.department -notIn ["Sales"]"#, &p), Some(true));
        assert_eq!(evaluate(r#"user.userPrincipalName -notStartsWith "MS""#, &p), Some(false));
    }

    /// A rule nested deeper than the parser's bound, as a hostile desired
    /// state or tenant could write it, is "cannot tell", not a stack
    /// overflow; single-quoted strings read like double-quoted ones.
    #[test]
    fn a_hostile_rule_is_cannot_tell_and_quotes_are_either() {
        let deep = format!("{}(user.department -eq \"Sales\"){}", "(".repeat(50_000), ")".repeat(50_000));
        assert_eq!(evaluate(&deep, &user("a@contoso.com", Some("Sales"))), None);
        assert_eq!(evaluate("(user.department -eq 'Sales')", &user("a@contoso.com", Some("Sales"))), Some(true));
        assert_eq!(evaluate("(user.otherMails -any (_ -contains \"x\"))", &user("a@contoso.com", None)), None);
    }
}
