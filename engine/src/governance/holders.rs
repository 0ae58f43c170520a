//! Out-of-band privileged access through group membership: a live member
//! of a group whose members desired state declares, when the group holds
//! a privileged role (declared or live), holds that role outside desired
//! state (`unmanaged-privileged-holder`, naming the member); a service
//! account so added falls under least privilege as for a direct
//! assignment (`service-account-privileged`, `service-account-role`).
//!
//! The plan takes such a member out of the group (desired `members` are
//! the whole membership): that only removes access, so it runs unattended
//! ([`super::grants::removes_members`]), and the finding is a warning that
//! says so rather than an error that blocks its own remedy.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schema::kinds::role_assignment::is_privileged;
use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use crate::model::{as_reference, DesiredModel, ObservedState};
use crate::plan::{Action, Change};

/// The reference strings of a value (`id:` stripped).
fn refs_of(v: Option<&Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for x in v.and_then(Value::as_array).into_iter().flatten() {
        if let Some(r) = as_reference(x) {
            out.insert(r.strip_prefix("id:").unwrap_or(r).to_string());
        }
    }
    out
}

/// Findings for live members outside desired state of groups holding a
/// role; a warning when `changes` take the member out of the group.
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, changes: &[Change]) -> Vec<Finding> {
    lint_indexed(desired, observed, &super::index::IdIndex::new(ids), changes)
}

/// [`lint`] with the plan's shared id index.
pub(crate) fn lint_indexed(desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>, changes: &[Change]) -> Vec<Finding> {
    let mut out = Vec::new();
    if [Kind::User, Kind::Guest, Kind::Group, Kind::RoleAssignment].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    let by_id = ids.by_id();
    let live_groups: BTreeMap<&str, &crate::model::LiveObject> = observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| (o.id.as_str(), o)).collect();
    // Role assignments (declared, and live, out-of-band ones too) indexed
    // once by their principal: as written (an address or a live id), and
    // with `id:` taken off. Scanning every declared resource for each group
    // was quadratic (20,000 groups x 100,000 resources at 100k objects:
    // most of `engine::plan`'s time).
    let mut by_principal: HashMap<&str, Vec<&crate::Props>> = HashMap::new();
    let mut by_raw_id: HashMap<&str, Vec<&crate::Props>> = HashMap::new();
    let declared_assignments = desired.resources.range(Address::new(Kind::RoleAssignment, "")..).take_while(|(a, _)| a.kind == Kind::RoleAssignment).map(|(_, r)| &r.props);
    for p in declared_assignments.chain(observed.objects.get(&Kind::RoleAssignment).into_iter().flatten().map(|o| &o.props)) {
        let Some(x) = p.get("principal").and_then(as_reference) else { continue };
        by_principal.entry(x).or_default().push(p);
        if let Some(raw) = x.strip_prefix("id:") {
            by_raw_id.entry(raw).or_default().push(p);
        }
    }
    // The plan's update of each group's members (the first, in plan order).
    let mut member_updates: HashMap<&Address, &Change> = HashMap::new();
    for c in changes.iter().filter(|c| c.action == Action::Update && c.fields.iter().any(|f| f.field == "members")) {
        member_updates.entry(&c.address).or_insert(c);
    }
    for (g, r) in desired.resources.range(Address::new(Kind::Group, "")..).take_while(|(g, _)| g.kind == Kind::Group) {
        let Some(declared_members) = r.props.get("members") else { continue };
        let Some(gid) = ids.get(g) else { continue };
        let Some(live) = live_groups.get(gid.as_str()) else { continue };
        // Roles the group holds: declared, and live (out-of-band ones too),
        // whose principal is the group's address or its live id.
        let mut roles: BTreeSet<(String, String)> = BTreeSet::new();
        let role_of = |p: &crate::Props| (p.get("role").and_then(Value::as_str).unwrap_or_default().to_string(), p.get("assignment").and_then(Value::as_str).unwrap_or("active").to_string());
        let address = g.to_string();
        let holding = [by_principal.get(address.as_str()), by_principal.get(gid.as_str()), by_raw_id.get(gid.as_str())];
        for p in holding.into_iter().flatten().flatten() {
            roles.insert(role_of(p));
        }
        if roles.is_empty() {
            continue;
        }
        let declared: BTreeSet<String> = refs_of(Some(declared_members)).into_iter().map(|m| m.parse::<Address>().ok().and_then(|a| ids.get(&a).cloned()).unwrap_or(m)).collect();
        // The plan's update of this group's members, if any: what it leaves.
        let remedy = member_updates.get(g).copied().map(|c| {
            let after = c.fields.iter().find(|f| f.field == "members").map(|f| refs_of(f.after.as_ref())).unwrap_or_default();
            (c, after)
        });
        for m in refs_of(live.props.get("members")).difference(&declared) {
            let who = by_id.get(m.as_str()).map(|a| a.to_string()).unwrap_or_else(|| format!("id:{m}"));
            let removed = remedy.as_ref().is_some_and(|(_, after)| !after.contains(m) && !after.contains(&who));
            let settle = |mut f: Finding| {
                if removed {
                    f.severity = Severity::Warning;
                    f.message.push_str(&format!("; this plan removes it (update {g}), unattended, so it does not block"));
                }
                f
            };
            for (role, kind) in &roles {
                let how = format!(" through {g} (a live member outside desired state)");
                if let Some(account) = by_id.get(m.as_str()).filter(|a| desired.service_accounts.contains(**a)) {
                    out.extend(super::lints::service_account_role(desired, g, account, role, &how).into_iter().map(settle));
                }
                if is_privileged(role) {
                    out.push(settle(Finding {
                        severity: Severity::Error,
                        lint: "unmanaged-privileged-holder".into(),
                        address: g.to_string(),
                        message: format!("{who} holds {role} ({kind}){how}; remove it from {g} or declare it"),
                    }));
                }
            }
        }
    }
    super::lints::finish(&desired.governance, out)
}
