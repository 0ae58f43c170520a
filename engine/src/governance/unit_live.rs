//! An administrative unit whose *live* membership reaches a service account
//! or a `[governance] protected` account (issue 12; hostile run 26,
//! finding 2, the rest). Whoever holds a role scoped to the unit may
//! manage its members (reset a password, register a method), so a unit
//! holding a service account gives someone power over the account the
//! service model keeps out of every policy.
//!
//! `super::admin_reach::unit_lints` judges the declared unit (its declared
//! members, and its declared rule against the accounts' declared
//! properties). The tenant may hold another: a rule edited in the portal
//! (whose restore is held for approval, since whether a rule reaches fewer
//! people cannot be told), a rule on a unit declared without one, or
//! members added live to a unit whose members desired state declares.
//! Here the live unit is judged the same way, as
//! `unit-reaches-protected-account`:
//! * a live rule other than the declared one is evaluated
//!   ([`super::rule::evaluate`]) against each account's *live* properties;
//!   an account it is not proved to leave out is reached, as in the static
//!   lint;
//! * the declared rule, where it proves an account out on its declared
//!   properties, is evaluated on its live ones too: an account changed in
//!   the tenant so that the rule holds for it is reached;
//! * a live member (read for the units whose members desired state
//!   manages) that desired state does not declare, an account or the
//!   service-accounts group, is reached.
//!
//! An error when a role assignment (declared, or live) is scoped to the
//! unit, else a warning, as the static lint. A plan that puts the unit's
//! approved membership back (its rule, type or members) removes what the
//! error is about: the error does not block it (the restore of a rule is
//! sensitive, so approvers see the finding beside it).

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use super::grants::refs;
use super::lints::{Finding, Severity};
use crate::model::{DesiredModel, LiveObject, ObservedState, Props};
use crate::plan::{Action, Change};

/// The lint, shared with the static check (`super::admin_reach`).
pub const LINT: &str = "unit-reaches-protected-account";

/// The fields of a unit whose restore puts its approved membership back.
const MEMBERSHIP: &[&str] = &["membershipRule", "membershipType", "membershipRuleProcessingState", "members"];

/// The properties a rule is evaluated against: the live account's, with
/// its user principal name (the natural key) where the listing lacks it.
fn account_props(o: &LiveObject) -> Props {
    let mut p = o.props.clone();
    if !p.contains_key("userPrincipalName") {
        p.insert("userPrincipalName".into(), Value::String(o.natural_key.clone()));
    }
    p
}

/// Findings for declared units whose live membership reaches a service
/// account or a protected account. Nothing is said when accounts, units or
/// role assignments could not be read (the plan lists them as unknown).
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, changes: &[Change]) -> Vec<Finding> {
    let mut out = Vec::new();
    let units: Vec<(&Address, &crate::model::DesiredResource)> = desired.resources.range(Address::new(Kind::AdministrativeUnit, "")..).take_while(|(a, _)| a.kind == Kind::AdministrativeUnit).collect();
    if [Kind::User, Kind::Guest, Kind::AdministrativeUnit, Kind::RoleAssignment].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    let live_units: BTreeMap<&str, &LiveObject> = observed.objects.get(&Kind::AdministrativeUnit).into_iter().flatten().map(|o| (o.id.as_str(), o)).collect();
    let accounts_live: BTreeMap<&str, &LiveObject> = [Kind::User, Kind::Guest].iter().flat_map(|k| observed.objects.get(k).into_iter().flatten()).map(|o| (o.id.as_str(), o)).collect();
    // Service accounts, then protected accounts, each once, with its live id.
    let mut sensitive: Vec<(&Address, &str, &str)> = Vec::new();
    let mut seen = BTreeSet::new();
    let protected: Vec<Address> = desired.governance.protected.iter().filter_map(|p| p.parse::<Address>().ok()).filter(|a| matches!(a.kind, Kind::User | Kind::Guest)).collect();
    for (a, what) in desired.service_accounts.iter().map(|a| (a, "service account")).chain(protected.iter().map(|a| (a, "protected account"))) {
        if let Some(id) = ids.get(a).filter(|_| seen.insert(a.clone())) {
            sensitive.push((a, what, id.as_str()));
        }
    }
    out.extend(undeclared_units(desired, observed, ids, &sensitive, &accounts_live));
    let service_group_ids: BTreeMap<&str, &Address> = desired.service_account_groups.iter().filter_map(|g| ids.get(g).map(|id| (id.as_str(), g))).collect();
    for (address, r) in units {
        let Some(live) = ids.get(address).and_then(|id| live_units.get(id.as_str())) else { continue };
        let mut held: Vec<String> = Vec::new();
        // The live rule (the declared one is judged statically on the
        // declared properties; here on the live ones).
        let dynamic = live.props.get("membershipType").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("Dynamic"));
        let rule = live.props.get("membershipRule").and_then(Value::as_str).map(str::trim).filter(|r| dynamic && !r.is_empty());
        let declared_rule = r.props.get("membershipRule").and_then(Value::as_str).map(str::trim);
        // Accounts whose own live properties the remedy is (the declared
        // rule, proved to leave them out as declared, holds for them live).
        let mut drifted: Vec<&Address> = Vec::new();
        if let Some(rule) = rule {
            let same = Some(rule) == declared_rule;
            let shown = crate::render::text_safe(rule);
            for (account, what, id) in &sensitive {
                let Some(o) = accounts_live.get(id) else { continue };
                if same && desired.resources.get(*account).is_none_or(|d| super::rule::evaluate(rule, &d.props) != Some(false)) {
                    // Not proved out as declared: the static lint says so.
                    continue;
                }
                let how = match super::rule::evaluate(rule, &account_props(o)) {
                    Some(false) => continue,
                    Some(true) if same => ", which holds for its live properties (desired state's leave it out: they were changed in the tenant)",
                    Some(true) => ", which holds for the live account",
                    None => " (not proved to leave it out)",
                };
                if same {
                    drifted.push(account);
                }
                held.push(format!("{what} {account} through its live membership rule `{shown}`{how}"));
            }
        }
        // Live members desired state does not declare (read where it
        // declares the unit's members).
        if let Some(members) = live.props.get("members").filter(|_| r.props.contains_key("members")) {
            let mut live_ids = BTreeSet::new();
            refs(Some(members), &mut live_ids);
            let mut declared = BTreeSet::new();
            refs(r.props.get("members"), &mut declared);
            let declared_ids: BTreeSet<&str> = declared.iter().filter_map(|m| m.parse::<Address>().ok()).filter_map(|m| ids.get(&m).map(String::as_str)).collect();
            for m in live_ids.iter().filter(|m| !declared_ids.contains(m.as_str())) {
                if let Some((account, what, _)) = sensitive.iter().find(|(_, _, id)| id == m) {
                    held.push(format!("{what} {account} as a live member nobody declared"));
                } else if let Some(g) = service_group_ids.get(m.as_str()) {
                    held.push(format!("{g}, the service-accounts group (excluded from conditional access: whoever manages its members or rule escapes every policy), as a live member nobody declared"));
                }
            }
        }
        if held.is_empty() {
            continue;
        }
        let mut names = BTreeSet::from([address.to_string()]);
        names.extend(ids.get(address).cloned());
        let scoped = scoped_roles(desired, observed, ids, &names);
        let (severity, roles) = if scoped.is_empty() { (Severity::Warning, String::new()) } else { (Severity::Error, format!(", so {} reach it", scoped.join(", "))) };
        // What puts the approved state back: the unit's membership, or the
        // live properties of an account the declared rule reaches live.
        let remedy = changes.iter().find(|c| {
            matches!(c.action, Action::Update | Action::Replace)
                && ((c.address == *address && (c.action == Action::Replace || c.fields.iter().any(|f| MEMBERSHIP.contains(&f.field.as_str())))) || drifted.contains(&&c.address))
        });
        for h in held {
            let mut f = Finding {
                severity,
                lint: LINT.into(),
                address: address.to_string(),
                message: format!("{address} holds {h} in the tenant now{roles}: an administrative unit's scoped admins may manage its members; keep it out of administrative units"),
            };
            if let Some(c) = remedy.filter(|_| severity == Severity::Error) {
                f.severity = Severity::Warning;
                f.message.push_str(&format!("; this plan puts back what was approved ({} {}), so it does not block", c.action.as_str(), c.address));
            }
            out.push(f);
        }
    }
    super::lints::finish(&desired.governance, out)
}

/// Units the tenant holds that desired state does not declare (gov25's
/// limit: they were not judged at all). Their members are not read (only
/// declared units' are), so a unit with assigned membership is not judged;
/// a dynamic one's live rule is, against each service and protected
/// account's live properties, as a declared unit's live rule. A warning,
/// whether or not a role is scoped to it: desired state has nothing to put
/// back, and tenantctl does not delete what it does not manage; declaring
/// the unit (with a rule that leaves the accounts out) settles it.
fn undeclared_units(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, sensitive: &[(&Address, &str, &str)], accounts_live: &BTreeMap<&str, &LiveObject>) -> Vec<Finding> {
    let declared: BTreeSet<&str> = ids.iter().filter(|(a, _)| a.kind == Kind::AdministrativeUnit).map(|(_, id)| id.as_str()).collect();
    let mut out = Vec::new();
    for unit in observed.objects.get(&Kind::AdministrativeUnit).into_iter().flatten().filter(|o| !declared.contains(o.id.as_str())) {
        let dynamic = unit.props.get("membershipType").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("Dynamic"));
        let Some(rule) = unit.props.get("membershipRule").and_then(Value::as_str).map(str::trim).filter(|r| dynamic && !r.is_empty()) else { continue };
        let shown = crate::render::text_safe(rule);
        let name = crate::render::text_safe(&unit.display_name);
        let scoped = scoped_roles(desired, observed, ids, &BTreeSet::from([unit.id.clone()]));
        let roles = if scoped.is_empty() { String::new() } else { format!(", so {} reach it", scoped.join(", ")) };
        for (account, what, id) in sensitive {
            let Some(o) = accounts_live.get(id) else { continue };
            let how = match super::rule::evaluate(rule, &account_props(o)) {
                Some(false) => continue,
                Some(true) => "which holds for the live account",
                None => "not proved to leave it out",
            };
            out.push(Finding {
                severity: Severity::Warning,
                lint: LINT.into(),
                address: format!("id:{}", unit.id),
                message: format!("administrative unit `{name}` (id:{}), which desired state does not declare, holds {what} {account} through its live membership rule `{shown}` ({how}) in the tenant now{roles}: an administrative unit's scoped admins may manage its members; keep it out of administrative units (declare the unit with a rule that leaves it out, or change the rule)", unit.id),
            });
        }
    }
    out
}

/// The role assignments scoped to the unit `names` names (its address
/// and id, or its id alone), declared and live, as words.
fn scoped_roles(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, names: &BTreeSet<String>) -> Vec<String> {
    let scoped = |p: &Props| {
        let mut s = BTreeSet::new();
        refs(p.get("directoryScopeId"), &mut s);
        !s.is_disjoint(names)
    };
    let role = |p: &Props| p.get("role").and_then(Value::as_str).unwrap_or("a role").to_string();
    let mut out = BTreeSet::new();
    let mut declared_ids = BTreeSet::new();
    for (ra, r) in desired.resources.range(Address::new(Kind::RoleAssignment, "")..).take_while(|(x, _)| x.kind == Kind::RoleAssignment) {
        declared_ids.extend(ids.get(ra).cloned());
        if scoped(&r.props) {
            out.insert(format!("{} ({ra})", role(&r.props)));
        }
    }
    for o in observed.objects.get(&Kind::RoleAssignment).into_iter().flatten().filter(|o| !declared_ids.contains(&o.id) && scoped(&o.props)) {
        out.insert(format!("{} (role assignment id:{}, out of band)", role(&o.props), o.id));
    }
    out.into_iter().collect()
}
