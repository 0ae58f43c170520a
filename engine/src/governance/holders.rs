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

use std::collections::{BTreeMap, BTreeSet};

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
    let mut out = Vec::new();
    if [Kind::User, Kind::Guest, Kind::Group, Kind::RoleAssignment].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    let by_id: BTreeMap<&str, &Address> = ids.iter().map(|(a, i)| (i.as_str(), a)).collect();
    let live_groups: BTreeMap<&str, &crate::model::LiveObject> = observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| (o.id.as_str(), o)).collect();
    for (g, r) in desired.resources.iter().filter(|(g, _)| g.kind == Kind::Group) {
        let Some(declared_members) = r.props.get("members") else { continue };
        let Some(gid) = ids.get(g) else { continue };
        let Some(live) = live_groups.get(gid.as_str()) else { continue };
        // Roles the group holds: declared, and live (out-of-band ones too).
        let mut roles: BTreeSet<(String, String)> = BTreeSet::new();
        let role_of = |p: &crate::Props| (p.get("role").and_then(Value::as_str).unwrap_or_default().to_string(), p.get("assignment").and_then(Value::as_str).unwrap_or("active").to_string());
        let principal_is = |p: &crate::Props| p.get("principal").and_then(as_reference).is_some_and(|x| x == g.to_string() || x == gid.as_str() || x.strip_prefix("id:") == Some(gid.as_str()));
        for (a, ra) in &desired.resources {
            if a.kind == Kind::RoleAssignment && principal_is(&ra.props) {
                roles.insert(role_of(&ra.props));
            }
        }
        for o in observed.objects.get(&Kind::RoleAssignment).into_iter().flatten() {
            if principal_is(&o.props) {
                roles.insert(role_of(&o.props));
            }
        }
        if roles.is_empty() {
            continue;
        }
        let declared: BTreeSet<String> = refs_of(Some(declared_members)).into_iter().map(|m| m.parse::<Address>().ok().and_then(|a| ids.get(&a).cloned()).unwrap_or(m)).collect();
        // The plan's update of this group's members, if any: what it leaves.
        let remedy = changes.iter().find(|c| c.address == *g && c.action == Action::Update && c.fields.iter().any(|f| f.field == "members")).map(|c| {
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
