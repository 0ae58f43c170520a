//! Automatic assignment on access package policies
//! (`automaticRequestSettings`; `schema::kinds::access_package_automatic`).
//!
//! * Turning it off only removes access: a correction of an access
//!   package whose every field turns a policy's automatic assignment off
//!   (`requestAccessForAllowedTargets` from true to false), or, when the
//!   change puts back what was last applied
//!   ([`super::tightens::restores`]), touches only policies whose automatic
//!   assignment it turns off, is applied without approval and by
//!   `reconcile --self-heal` unattended ([`only_turns_off`]). Turning it on
//!   stays sensitive (the kind is).
//! * An automatic policy assigns everyone its rule matches with nobody
//!   approving, so its rule must be proved (against the declared
//!   properties, [`super::rule::evaluate`]) to leave out every service
//!   account: `service-account-access-package` otherwise ([`lints`]).
//! * An automatic policy whose rule is not proved to hold members only
//!   admits guests: validation holds it to the guest rules
//!   (`schema::kinds::access_package_reach::admits_external`), and the
//!   plan says it assigns automatically to guests ([`to_guests`]).

use std::collections::BTreeSet;

use schema::kinds::access_package_automatic::ATTRIBUTE_RULE;
use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use crate::model::{DesiredModel, DesiredResource};
use crate::plan::{Action, Change};

const ON: &str = "requestAccessForAllowedTargets";
const PROP: &str = "automaticRequestSettings";

/// The policy (its key in props) a field of an access package change is
/// about, among `names`.
fn policy_of<'a>(field: &str, names: &'a BTreeSet<String>) -> Option<&'a String> {
    let rest = field.strip_prefix("policies.")?;
    names.iter().filter(|n| rest.starts_with(&format!("{n}."))).max_by_key(|n| n.len())
}

/// Why `change` only turns automatic assignment off, or `None`.
pub fn only_turns_off(change: &Change) -> Option<String> {
    if change.address.kind != Kind::AccessPackage || change.action != Action::Update || change.fields.is_empty() {
        return None;
    }
    let names: BTreeSet<String> = change.desired.as_ref()?.props.get("policies").and_then(Value::as_object)?.keys().cloned().collect();
    let off: BTreeSet<&String> = change
        .fields
        .iter()
        .filter(|f| f.before == Some(Value::Bool(true)) && f.after == Some(Value::Bool(false)))
        .filter_map(|f| policy_of(&f.field, &names).filter(|p| f.field == format!("policies.{p}.{PROP}.{ON}")))
        .collect();
    if off.is_empty() {
        return None;
    }
    let restores = super::tightens::restores(change);
    let all = change.fields.iter().all(|f| match policy_of(&f.field, &names).filter(|p| off.contains(p)) {
        Some(p) => restores || f.field.starts_with(&format!("policies.{p}.{PROP}.")),
        None => false,
    });
    if !all {
        return None;
    }
    let list: Vec<&str> = off.iter().map(|p| p.as_str()).collect();
    Some(format!(
        "only turns off automatic assignment of {} (policy {}){}: it removes access, so it needs no approval and reconcile --self-heal applies it unattended",
        change.address,
        list.join(", "),
        if restores { ", putting back what was last applied" } else { "" }
    ))
}

/// A note on each change that only turns automatic assignment off, and on
/// each change of a package one of whose automatic policies may assign it
/// to guests ([`to_guests`]).
pub fn notes(changes: &mut [Change]) {
    for c in changes.iter_mut() {
        if let Some(why) = only_turns_off(c) {
            c.notes.push(why);
        }
        if matches!(c.action, Action::Create | Action::Update | Action::Replace) {
            let said = c.desired.as_ref().map(|d| to_guests(&d.props)).unwrap_or_default();
            c.notes.extend(said);
        }
    }
}

/// What each automatic policy of a package whose rule is not proved to
/// hold members only does (hostile run 18, finding 6): it assigns the
/// package to the guests it matches, with nobody approving, for how long,
/// reviewed or not.
pub fn to_guests(props: &crate::Props) -> Vec<String> {
    let mut out = Vec::new();
    for (name, pol) in props.get("policies").and_then(Value::as_object).into_iter().flatten() {
        if pol.pointer(&format!("/{PROP}/{ON}")).and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let rules = pol.get("specificAllowedTargets").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).filter_map(|s| s.strip_prefix(ATTRIBUTE_RULE));
        for rule in rules.filter(|r| !schema::kinds::access_package_reach::members_only_rule(r)) {
            let e = pol.get("expiration");
            let text = |k: &str| e.and_then(|e| e.get(k)).and_then(Value::as_str).unwrap_or_default().to_string();
            let how_long = match text("type").as_str() {
                "afterDuration" => format!("for {}", text("duration")),
                "afterDateTime" => format!("until {}", text("endDateTime")),
                _ => "with no end".to_string(),
            };
            let reviewed = pol.pointer("/reviewSettings/isEnabled").and_then(Value::as_bool) == Some(true);
            out.push(format!(
                "policy `{name}` assigns the package automatically to everyone its rule `{rule}` matches, guests included, with nobody approving, {how_long}, {}",
                if reviewed { "reviewed" } else { "unreviewed" }
            ));
        }
    }
    out
}

/// Findings for access package `address`: an automatic policy whose rule
/// may assign a service account.
pub fn lints(desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, pol) in r.props.get("policies").and_then(Value::as_object).into_iter().flatten() {
        if pol.pointer(&format!("/{PROP}/{ON}")).and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let rules = pol.get("specificAllowedTargets").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).filter_map(|s| s.strip_prefix(ATTRIBUTE_RULE));
        for rule in rules {
            let held = desired.service_accounts.iter().find(|s| desired.resources.get(*s).is_none_or(|d| super::rule::evaluate(rule, &d.props) != Some(false)));
            if let Some(s) = held {
                out.push(Finding {
                    severity: Severity::Error,
                    lint: schema::kinds::access_package_rules::SERVICE_ACCOUNT.to_string(),
                    address: address.to_string(),
                    message: format!("policy `{name}` assigns the package automatically to everyone its membership rule `{rule}` matches, and the rule may match service account {s} (not proved to leave it out): service accounts are never granted through an access package; narrow the rule (e.g. `-and (user.userPrincipalName -notStartsWith \"svc-\")`)"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;
    use serde_json::json;

    fn field(name: &str, before: Value, after: Value) -> FieldChange {
        FieldChange { field: name.into(), before: Some(before), after: Some(after) }
    }

    fn update(fields: Vec<FieldChange>, restores: bool) -> Change {
        let address: Address = "access_package.audit".parse().expect("an address");
        let mut props = crate::Props::new();
        props.insert("policies".into(), json!({"staff.x": {}, "staff": {}}));
        let desired = DesiredResource {
            address: address.clone(),
            natural_key: "audit".into(),
            display_name: "Audit".into(),
            props,
            immutable: Vec::new(),
            assignment_props: Vec::new(),
            create_only: crate::Props::new(),
            depends_on: Vec::new(),
            expires: None,
        };
        Change {
            address,
            action: Action::Update,
            display_name: "Audit".into(),
            id: Some("p".into()),
            reason: String::new(),
            fields,
            waits_on: Vec::new(),
            wave: 0,
            desired: Some(desired),
            notes: if restores { vec![super::super::tightens::RESTORES_NOTE.into()] } else { Vec::new() },
            live: None,
        }
    }

    #[test]
    fn only_turning_automatic_assignment_off_is_unattended() {
        let off = field("policies.staff.x.automaticRequestSettings.requestAccessForAllowedTargets", json!(true), json!(false));
        assert!(only_turns_off(&update(vec![off.clone()], false)).is_some(), "a policy name with a dot is found whole");
        // Turning it on is never a removal.
        let on = field("policies.staff.automaticRequestSettings.requestAccessForAllowedTargets", json!(false), json!(true));
        assert!(only_turns_off(&update(vec![on], true)).is_none());
        // Another field of that policy: only when the change puts back what was last applied.
        let scope = field("policies.staff.x.allowedTargetScope", json!("specificDirectoryUsers"), json!("allExternalUsers"));
        assert!(only_turns_off(&update(vec![off.clone(), scope.clone()], false)).is_none());
        assert!(only_turns_off(&update(vec![off.clone(), scope], true)).is_some());
        // A field of another policy, even in a restore: reviewed.
        let other = field("policies.staff.description", json!("a"), json!("b"));
        assert!(only_turns_off(&update(vec![off, other], true)).is_none());
    }
}
