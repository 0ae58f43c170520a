//! `memberOf` membership rules as nesting: a dynamic group whose rule is
//! `user.memberOf -any (group.objectId -in ['ID', ...])` (or
//! `device.memberOf ...`) holds the members of the groups it names, as if
//! it nested them. Entra allows no other expression beside a `memberOf`
//! one, so such a rule is nesting and nothing else.
//!
//! Desired state names those groups by object id (the rule is Graph's
//! text), so the plan resolves the ids to addresses through the ledger and
//! the objects it matched, and gives governance a copy of the model in
//! which each such group carries [`NESTED`]: references to the groups the
//! rule names (`id:ID` for an id nothing resolves). Effective targets
//! (`targets`), access granted through nesting and ring reach (`grants`)
//! follow it like declared members. The property is never diffed nor sent:
//! only governance reads the copy.

use std::collections::BTreeMap;

use schema::{Address, Kind};
use serde_json::Value;

use crate::ledger::Ledger;
use crate::model::{reference, DesiredModel, LiveObject};

/// The property of the governance copy that holds a `memberOf` rule's groups.
pub const NESTED: &str = "@memberOf";

/// The group ids a `memberOf` rule names, or `None` when `rule` is not
/// one: the whole rule (in parentheses or not) must be one
/// `user.memberOf -any (group.objectId -in ['ID', ...])` (or `device.`)
/// expression, as Entra requires of a `memberOf` rule. A rule that only
/// contains the words (another clause beside it, or `.memberOf [ID]` in a
/// string literal) is another rule, evaluated as one (hostile run 24,
/// finding 6).
pub fn member_of_ids(rule: &str) -> Option<Vec<String>> {
    let mut p = Parser { rest: rule.trim() };
    let mut opened = 0;
    while p.eat("(") {
        opened += 1;
    }
    if !(p.eat_word("user.memberof") || p.eat_word("device.memberof")) || !p.eat_word("-any") || !p.eat("(") || !p.eat_word("group.objectid") || !p.eat_word("-in") || !p.eat("[") {
        return None;
    }
    let mut ids = Vec::new();
    loop {
        let id = p.quoted()?.trim().to_lowercase();
        if id.is_empty() {
            return None;
        }
        ids.push(id);
        if p.eat("]") {
            break;
        }
        if !p.eat(",") {
            return None;
        }
    }
    if !p.eat(")") {
        return None;
    }
    for _ in 0..opened {
        if !p.eat(")") {
            return None;
        }
    }
    p.rest.trim().is_empty().then_some(ids)
}

/// A cursor over a rule's text, blanks skipped before each token.
struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    /// Whether the next token is `token` (ASCII, any case): consumed if so.
    fn eat(&mut self, token: &str) -> bool {
        let rest = self.rest.trim_start();
        match rest.get(..token.len()) {
            Some(head) if head.eq_ignore_ascii_case(token) => {
                self.rest = &rest[token.len()..];
                true
            }
            _ => false,
        }
    }

    /// [`Self::eat`] of a word: what follows it is no part of a word.
    fn eat_word(&mut self, word: &str) -> bool {
        let before = self.rest;
        if self.eat(word) && !self.rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
            return true;
        }
        self.rest = before;
        false
    }

    /// A string in `'` or `"` quotes: its text.
    fn quoted(&mut self) -> Option<&str> {
        let rest = self.rest.trim_start();
        let q = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let end = rest[1..].find(q)? + 1;
        self.rest = &rest[end + 1..];
        Some(&rest[1..end])
    }
}

/// Whether `props` (a group's) has a `memberOf` rule.
pub fn has_member_of(props: &crate::Props) -> bool {
    props.get("membershipRule").and_then(Value::as_str).and_then(member_of_ids).is_some()
}

/// The governance copy of `desired` with every `memberOf` rule resolved
/// ([`NESTED`]), or `None` when no declared group has one. `ids` are the
/// objects the plan matched (address -> id), then the ledger's entries.
pub fn resolved(desired: &DesiredModel, ledger: &Ledger, matched: &BTreeMap<Address, &LiveObject>) -> Option<DesiredModel> {
    let groups: Vec<(Address, Vec<String>)> = desired
        .resources
        .range(Address::new(Kind::Group, "")..)
        .take_while(|(a, _)| a.kind == Kind::Group)
        .filter_map(|(a, r)| r.props.get("membershipRule").and_then(Value::as_str).and_then(member_of_ids).map(|ids| (a.clone(), ids)))
        .collect();
    if groups.is_empty() {
        return None;
    }
    let mut by_id: BTreeMap<String, Address> = BTreeMap::new();
    for (a, e) in &ledger.resources {
        by_id.entry(e.id.to_lowercase()).or_insert_with(|| a.clone());
    }
    for (a, o) in matched {
        by_id.insert(o.id.to_lowercase(), a.clone());
    }
    let mut m = desired.clone();
    for (g, group_ids) in groups {
        let refs: Vec<Value> = group_ids.iter().map(|i| reference(by_id.get(i).map(|a| a.to_string()).unwrap_or_else(|| format!("id:{i}")))).collect();
        if let Some(r) = m.resources.get_mut(&g) {
            r.props.insert(NESTED.into(), Value::Array(refs));
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_of_rules_name_their_groups() {
        let r = "user.memberOf -any (group.objectId -in ['0B7F3A52-1111-4c1a-9a57-5f1a1e0f1a00', \"b\"])";
        assert_eq!(member_of_ids(r), Some(vec!["0b7f3a52-1111-4c1a-9a57-5f1a1e0f1a00".to_string(), "b".to_string()]));
        assert_eq!(member_of_ids("device.memberof -any (group.objectid -in ['x'])"), Some(vec!["x".to_string()]));
        assert_eq!(member_of_ids("(user.department -eq \"IT\")"), None);
        assert_eq!(member_of_ids(" ( user.memberof -any (group.objectId -in [ 'x' ]) ) "), Some(vec!["x".to_string()]));
    }

    #[test]
    fn a_rule_that_only_contains_member_of_is_another_rule() {
        let id = "37776fd2-c878-4f0e-aba6-7796b7ee989d";
        for rule in [
            format!("(user.accountEnabled -eq true) -and (user.department -ne \".memberOf [{id}]\")"),
            format!("user.memberOf -any (group.objectId -in ['{id}']) -or (user.accountEnabled -eq true)"),
            format!("(user.accountEnabled -eq true) -or user.memberOf -any (group.objectId -in ['{id}'])"),
            format!("user.memberOf -any (group.objectId -in ['{id}'"),
            "user.memberOf -any (group.objectId -in [])".to_string(),
            format!("user.memberOfX -any (group.objectId -in ['{id}'])"),
        ] {
            assert_eq!(member_of_ids(&rule), None, "{rule}");
        }
    }
}
