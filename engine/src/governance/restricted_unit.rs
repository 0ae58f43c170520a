//! A restricted management administrative unit protects its members:
//! tenant-wide administrators (user, helpdesk, password, authentication
//! administrators) cannot manage them, only those assigned at the unit's
//! scope. Taking a member out, or deleting the unit, hands those accounts
//! back to every tenant-wide administrator, so it widens who may manage
//! them: reviewed, whichever way the change comes (hostile run 28,
//! finding 4, as a restore; run 29, finding 3, as a plain pull request
//! applied with `--auto-approve`).

use std::collections::BTreeSet;

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{DesiredModel, Props};
use crate::plan::{Action, Change};

const RESTRICTED: &str = "isMemberManagementRestricted";

/// Whether the unit restricts the management of its members, as desired
/// state or the tenant has it.
pub fn restricted(change: &Change) -> bool {
    let on = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(true);
    change.desired.as_ref().is_some_and(|d| on(d.props.get(RESTRICTED))) || change.live.as_ref().is_some_and(|l| on(l.get(RESTRICTED)))
}

fn members(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|x| crate::model::as_reference(x).or_else(|| x.as_str())).map(str::to_string).collect()
}

/// The membership fields of a dynamic unit: changing any of them may take
/// members out.
const RULE_FIELDS: &[&str] = &["membershipRule", "membershipType"];

/// Why the change needs approval: members taken out of a restricted unit
/// (its `members`, its rule, or an account's attribute its rule reads), or
/// the unit deleted.
pub fn reason(change: &Change, desired: &DesiredModel) -> Option<String> {
    if matches!(change.address.kind, Kind::User | Kind::Guest) {
        return leaves_by_attribute(change, desired);
    }
    if change.address.kind != Kind::AdministrativeUnit || !restricted(change) {
        return None;
    }
    if let Some(why) = rule_changed(change, desired) {
        return Some(why);
    }
    if change.action == Action::Delete {
        return Some(format!("deletes restricted management unit {}: every member is handed back to the tenant-wide administrators", change.address));
    }
    let f = change.fields.iter().find(|f| f.field == "members")?;
    let after = members(f.after.as_ref());
    let out: Vec<String> = members(f.before.as_ref()).into_iter().filter(|m| !after.contains(m)).collect();
    (!out.is_empty()).then(|| format!("takes {} out of restricted management unit {}: tenant-wide administrators can manage them again", out.join(", "), change.address))
}

/// A restricted unit's membership rule or type changed (hostile run 30,
/// finding A): the accounts the old rule holds and the new one does not
/// leave the unit. Named where desired state proves it (declared
/// accounts, their declared properties); reviewed whatever it proves,
/// since accounts desired state does not declare may leave too.
fn rule_changed(change: &Change, desired: &DesiredModel) -> Option<String> {
    let changed: Vec<&str> = change.fields.iter().filter(|f| RULE_FIELDS.contains(&f.field.as_str()) && f.before != f.after).map(|f| f.field.as_str()).collect();
    if changed.is_empty() {
        return None;
    }
    let rule = |f: &crate::diff::FieldChange, after: bool| if after { f.after.as_ref() } else { f.before.as_ref() }.and_then(Value::as_str).map(str::to_string);
    let field = change.fields.iter().find(|f| f.field == "membershipRule");
    let (old, new) = (field.and_then(|f| rule(f, false)), field.and_then(|f| rule(f, true)));
    let leave: Vec<String> = match (old, new) {
        (Some(old), new) => accounts(desired)
            .filter(|(_, p)| super::rule::evaluate(&old, p) == Some(true) && new.as_deref().and_then(|n| super::rule::evaluate(n, p)) != Some(true))
            .map(|(a, _)| a.to_string())
            .collect(),
        (None, _) => Vec::new(),
    };
    let who = if leave.is_empty() { "whether every member stays in cannot be told, so any account may leave it".to_string() } else { format!("{} (as declared) leave it", leave.join(", ")) };
    Some(format!("changes {} of restricted management unit {}: {who}, and tenant-wide administrators can manage them again", changed.join(" and "), change.address))
}

/// Declared users and guests with their declared properties.
fn accounts(desired: &DesiredModel) -> impl Iterator<Item = (&Address, &Props)> {
    desired.resources.iter().filter(|(a, _)| matches!(a.kind, Kind::User | Kind::Guest)).map(|(a, r)| (a, &r.props))
}

/// An account's attribute changed so that a declared restricted unit's
/// rule, which holds for it live, no longer does (hostile run 30, finding
/// A: `department` changed under a `department` rule).
fn leaves_by_attribute(change: &Change, desired: &DesiredModel) -> Option<String> {
    if !matches!(change.action, Action::Update | Action::Replace) {
        return None;
    }
    // An update carries no copy of the live object: the declared
    // properties with each changed field's live value are what the rule
    // holds for now (only declared keys change).
    let d = change.desired.as_ref()?;
    let after = &d.props;
    let mut before = change.live.clone().unwrap_or_else(|| d.props.clone());
    for f in &change.fields {
        match &f.before {
            Some(v) => before.insert(f.field.clone(), v.clone()),
            None => before.remove(&f.field),
        };
    }
    let live = &before;
    let on = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(true);
    let units: Vec<String> = desired
        .resources
        .range(Address::new(Kind::AdministrativeUnit, "")..)
        .take_while(|(a, _)| a.kind == Kind::AdministrativeUnit)
        .filter(|(_, u)| on(u.props.get(RESTRICTED)))
        .filter_map(|(a, u)| u.props.get("membershipRule").and_then(Value::as_str).map(|r| (a, r)))
        .filter(|(_, r)| {
            match (super::rule::evaluate(r, live), super::rule::evaluate(r, after)) {
                (Some(true), a) => a != Some(true),
                // A rule tenantctl cannot evaluate (`-match`, `-any`, ...)
                // that reads a changed attribute may no longer hold for it
                // (hostile run 31, finding 4: judged as "stays in").
                (None, a) => a != Some(true) && change.fields.iter().any(|f| reads(r, &f.field)),
                (Some(false), _) => false,
            }
        })
        .map(|(a, _)| a.to_string())
        .collect();
    (!units.is_empty()).then(|| format!("takes {} out of restricted management unit {} (its membership rule no longer holds for it): tenant-wide administrators can manage it again", change.address, units.join(", ")))
}

/// Whether membership rule `rule` reads the account's attribute `field`
/// (`user.department` for `department`).
fn reads(rule: &str, field: &str) -> bool {
    let rule = rule.to_ascii_lowercase();
    let wanted = format!("user.{}", field.split('.').next().unwrap_or(field).to_ascii_lowercase());
    rule.match_indices(&wanted).any(|(i, m)| !rule[i + m.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;
    use serde_json::json;

    fn unit(restricted: bool, before: Value, after: Value) -> Change {
        let mut c = Change::new("administrative_unit.vip".parse().expect("an address"), Action::Update, "VIP", "declared");
        c.fields = vec![FieldChange { field: "members".into(), before: Some(before), after: Some(after) }];
        c.live = Some([(RESTRICTED.to_string(), json!(restricted))].into_iter().collect());
        c
    }

    #[test]
    fn a_member_taken_out_of_a_restricted_unit_is_reviewed() {
        let both = json!(["user.adele", "user.breakglass-1"]);
        let one = json!(["user.breakglass-1"]);
        let d = DesiredModel::default();
        assert!(reason(&unit(true, both.clone(), one.clone()), &d).is_some_and(|r| r.contains("user.adele")));
        assert!(reason(&unit(true, one.clone(), both.clone()), &d).is_none(), "a member put in is protected, not exposed");
        assert!(reason(&unit(false, both, one), &d).is_none(), "an open unit's scope only narrows");
    }

    fn declared(a: &str, props: Value) -> crate::DesiredResource {
        let a: Address = a.parse().expect("an address");
        let p: Props = props.as_object().cloned().unwrap_or_default().into_iter().collect();
        crate::DesiredResource { natural_key: a.key.clone(), display_name: a.key.clone(), address: a, props: p, immutable: Vec::new(), assignment_props: Vec::new(), create_only: Props::new(), depends_on: Vec::new(), expires: None }
    }

    fn model() -> DesiredModel {
        let mut d = DesiredModel::default();
        for r in [
            declared("administrative_unit.it", json!({RESTRICTED: true, "membershipType": "Dynamic", "membershipRule": "(user.department -eq \"IT\")"})),
            declared("user.adele", json!({"department": "IT"})),
            declared("user.megan", json!({"department": "Sales"})),
        ] {
            d.resources.insert(r.address.clone(), r);
        }
        d
    }

    /// Hostile run 30, finding A: a restricted unit's rule narrowed.
    #[test]
    fn a_restricted_units_rule_changed_is_reviewed_naming_who_leaves() {
        let d = model();
        let mut c = Change::new("administrative_unit.it".parse().expect("an address"), Action::Update, "IT", "declared");
        c.fields = vec![FieldChange { field: "membershipRule".into(), before: Some(json!("(user.department -eq \"IT\")")), after: Some(json!("(user.department -eq \"Nobody\")")) }];
        c.live = Some([(RESTRICTED.to_string(), json!(true))].into_iter().collect());
        let why = reason(&c, &d).expect("reviewed");
        assert!(why.contains("user.adele (as declared) leave it"), "{why}");
        assert!(!why.contains("user.megan"), "{why}");
        c.live = Some([(RESTRICTED.to_string(), json!(false))].into_iter().collect());
        c.desired = None;
        assert!(reason(&c, &d).is_none(), "an open unit's rule only narrows its admins' scope");
    }

    /// Hostile run 30, finding A: an attribute the rule reads changed.
    #[test]
    fn an_account_leaving_a_restricted_unit_by_its_attribute_is_reviewed() {
        let d = model();
        let mut c = Change::new("user.adele".parse().expect("an address"), Action::Update, "Adele", "declared");
        c.fields = vec![FieldChange { field: "department".into(), before: Some(json!("IT")), after: Some(json!("Sales")) }];
        c.desired = Some(declared("user.adele", json!({"department": "Sales"})));
        let why = reason(&c, &d).expect("reviewed");
        assert!(why.contains("takes user.adele out of restricted management unit administrative_unit.it"), "{why}");
        // Into the unit, or not in it before: nothing is exposed.
        c.fields = vec![FieldChange { field: "department".into(), before: Some(json!("Sales")), after: Some(json!("IT")) }];
        c.desired = Some(declared("user.adele", json!({"department": "IT"})));
        assert!(reason(&c, &d).is_none());
        // Hostile run 31, finding 4: a rule tenantctl cannot evaluate that
        // reads the attribute changed; one that does not read it is left.
        let mut d = d;
        let unit: Address = "administrative_unit.it".parse().expect("an address");
        d.resources.insert(unit.clone(), declared("administrative_unit.it", json!({RESTRICTED: true, "membershipType": "Dynamic", "membershipRule": "(user.department -match \"^I.*\")"})));
        c.fields = vec![FieldChange { field: "department".into(), before: Some(json!("IT")), after: Some(json!("Sales")) }];
        c.desired = Some(declared("user.adele", json!({"department": "Sales"})));
        assert!(reason(&c, &d).is_some_and(|w| w.contains("takes user.adele out of restricted management unit administrative_unit.it")));
        c.fields = vec![FieldChange { field: "departmentNumber".into(), before: Some(json!("1")), after: Some(json!("2")) }];
        c.desired = Some(declared("user.adele", json!({"department": "IT", "departmentNumber": "2"})));
        assert!(reason(&c, &d).is_none(), "the rule does not read it");
    }
}
