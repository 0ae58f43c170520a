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
//! Rules follow Entra's syntax: `-eq -ne -startsWith -notStartsWith
//! -contains -notContains -in -notIn` over `user.ATTRIBUTE`, combined with
//! `and`/`-and`, `or`/`-or`, `not`/`-not` and parentheses; string
//! comparisons ignore case, as Entra's do.

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
    let tokens = tokenize(rule)?;
    let mut p = Parser { tokens, at: 0 };
    let e = p.expr()?;
    if p.at != p.tokens.len() {
        return None;
    }
    eval(&e, props)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    LBracket,
    RBracket,
    Comma,
    Str(String),
    Word(String),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    _ => Tok::Comma,
                });
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => v.push(chars.next()?),
                        x => v.push(x),
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&x) = chars.peek() {
                    if x.is_whitespace() || "()[],\"".contains(x) {
                        break;
                    }
                    w.push(x);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Some(out)
}

#[derive(Debug)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp { attr: String, op: String, value: Lit },
}

#[derive(Debug)]
enum Lit {
    Str(String),
    Bool(bool),
    Null,
    List(Vec<String>),
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.at) {
            Some(Tok::Word(w)) => Some(w.to_lowercase()),
            _ => None,
        }
    }

    fn bump(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expr(&mut self) -> Option<Expr> {
        let mut left = self.term()?;
        while matches!(self.peek_word().as_deref(), Some("or" | "-or")) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.term()?));
        }
        Some(left)
    }

    fn term(&mut self) -> Option<Expr> {
        let mut left = self.factor()?;
        while matches!(self.peek_word().as_deref(), Some("and" | "-and")) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.factor()?));
        }
        Some(left)
    }

    fn factor(&mut self) -> Option<Expr> {
        if matches!(self.peek_word().as_deref(), Some("not" | "-not")) {
            self.at += 1;
            return Some(Expr::Not(Box::new(self.factor()?)));
        }
        if self.tokens.get(self.at) == Some(&Tok::Open) {
            self.at += 1;
            let e = self.expr()?;
            return (self.bump()? == Tok::Close).then_some(e);
        }
        let Tok::Word(attr) = self.bump()? else { return None };
        let Tok::Word(op) = self.bump()? else { return None };
        let value = match self.bump()? {
            Tok::Str(s) => Lit::Str(s),
            Tok::Word(w) => match w.to_lowercase().as_str() {
                "true" => Lit::Bool(true),
                "false" => Lit::Bool(false),
                "null" => Lit::Null,
                _ => return None,
            },
            Tok::LBracket => {
                let mut items = Vec::new();
                loop {
                    match self.bump()? {
                        Tok::Str(s) => items.push(s),
                        Tok::RBracket => break,
                        _ => return None,
                    }
                    match self.bump()? {
                        Tok::Comma => {}
                        Tok::RBracket => break,
                        _ => return None,
                    }
                }
                Lit::List(items)
            }
            _ => return None,
        };
        Some(Expr::Cmp { attr, op: op.to_lowercase(), value })
    }
}

fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn eval(e: &Expr, props: &Props) -> Option<bool> {
    match e {
        Expr::And(a, b) => and(eval(a, props), eval(b, props)),
        Expr::Or(a, b) => or(eval(a, props), eval(b, props)),
        Expr::Not(a) => eval(a, props).map(|x| !x),
        Expr::Cmp { attr, op, value } => compare(attr, op, value, props),
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
}
