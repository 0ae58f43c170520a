//! Removing out-of-band privileged access: a live assignment (active or
//! eligible) of a privileged role ([`is_privileged`]), or of a role a
//! service account may not hold, that desired state does not declare (nor
//! the ledger own) is removed by the plan. Like
//! expiry, removing access is never held for approval
//! ([`super::removes_access`]); granting it always is.

use std::collections::BTreeMap;

use schema::{Address, Kind};
use serde_json::Value;

use schema::kinds::role_assignment::{is_privileged, READ_ONLY_ROLES};
use crate::model::{as_reference, reference, DesiredModel, ObservedState};
use crate::plan::{Action, Change};

/// Roles Entra Connect / Cloud Sync's own accounts hold: privileged, but
/// removing them breaks directory synchronisation, so they are reported
/// (the lint) and never removed unattended.
pub const DIRECTORY_SYNC_ROLES: &[&str] = &["Directory Synchronization Accounts", "On Premises Directory Sync Account", "d29b2b05-8046-44ba-8758-1e26182fcf32", "a92aed5d-d78a-4d16-b381-09adb37eb3b0"];

/// Global Administrator, by name or template id.
fn is_global_admin(role: &str) -> bool {
    role.eq_ignore_ascii_case("Global Administrator") || role.eq_ignore_ascii_case("62e90394-69f5-4237-9190-012177145e10")
}

/// The address a removal of out-of-band assignment `id` is planned under.
pub fn out_of_band_address(id: &str) -> Address {
    Address::new(Kind::RoleAssignment, format!("out-of-band-{id}"))
}

/// Deletions of out-of-band tenant-control role assignments. Nothing is
/// removed when principals or assignments could not be read (unknown is
/// unknown), and principals that governance protects (break-glass accounts)
/// keep theirs: the lint still reports them.
pub fn out_of_band_removals(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Change> {
    if [Kind::User, Kind::Guest, Kind::Group, Kind::RoleAssignment].iter().any(|k| observed.unreadable.contains_key(k)) {
        return Vec::new();
    }
    let by_id: BTreeMap<&str, &Address> = ids.iter().map(|(a, i)| (i.as_str(), a)).collect();
    let protected = |a: &Address| desired.governance.protected.iter().any(|p| *p == a.to_string()) || desired.protected_groups.contains(a);
    let live = || observed.objects.get(&Kind::RoleAssignment).into_iter().flatten();
    let role_of = |o: &crate::model::LiveObject| o.props.get("role").and_then(Value::as_str).unwrap_or_default().to_string();
    let active = |o: &crate::model::LiveObject| o.props.get("assignment").and_then(Value::as_str).unwrap_or("active") == "active";
    let holder_of = |o: &crate::model::LiveObject| o.props.get("principal").and_then(as_reference).and_then(|p| by_id.get(p).copied());
    // Whether an active Global Administrator assignment stays after the
    // removals (a declared or owned one, or a protected holder's): without
    // one, removing the out-of-band ones would lock every admin out of the
    // tenant, so they stay and the lint's error asks a person instead.
    let global_admin_stays = live().any(|o| {
        active(o) && is_global_admin(&role_of(o)) && (by_id.contains_key(o.id.as_str()) || holder_of(o).is_some_and(protected))
    });
    let mut out = Vec::new();
    for o in live() {
        if by_id.contains_key(o.id.as_str()) {
            continue;
        }
        let role = role_of(o);
        let role = role.as_str();
        // Any privileged role (Microsoft's set, custom roles), active or
        // eligible: eligibility is standing access too until removed. And
        // any role a service account may not hold (least privilege): a
        // role beyond its `allowed_roles`, or one that writes on a
        // read-only account.
        let principal_holder = o.props.get("principal").and_then(as_reference).and_then(|p| by_id.get(p).copied());
        let beyond_service_account = principal_holder.and_then(|h| desired.service_account_roles.get(h)).is_some_and(|sr| {
            (sr.read_only && !READ_ONLY_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role))) || !sr.allowed.iter().any(|a| a.eq_ignore_ascii_case(role))
        });
        if !(is_privileged(role) || beyond_service_account) || DIRECTORY_SYNC_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role)) {
            continue;
        }
        if active(o) && is_global_admin(role) && !global_admin_stays {
            continue;
        }
        let kind = o.props.get("assignment").and_then(Value::as_str).unwrap_or("active");
        let principal = o.props.get("principal").and_then(as_reference).unwrap_or_default();
        let holder = by_id.get(principal).copied();
        if holder.is_some_and(protected) {
            continue;
        }
        let who = holder.map(|a| a.to_string()).unwrap_or_else(|| format!("id:{principal}"));
        let mut live = o.props.clone();
        live.insert("principal".into(), reference(holder.map(|a| a.to_string()).unwrap_or_else(|| format!("id:{principal}"))));
        out.push(Change {
            address: out_of_band_address(&o.id),
            action: Action::Delete,
            display_name: format!("{who}: {role} ({kind})"),
            id: Some(o.id.clone()),
            reason: if is_privileged(role) {
                format!("out-of-band privileged access: {who} holds {role} ({kind}) outside desired state")
            } else {
                format!("out-of-band access beyond least privilege: service account {who} holds {role} ({kind}), which its allowed_roles do not list")
            },
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: vec!["removes access: applied without approval, and by reconcile --self-heal unattended".into()],
            live: Some(live),
        });
    }
    out
}
