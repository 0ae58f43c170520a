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
    out_of_band_removals_indexed(desired, observed, &super::index::IdIndex::new(ids))
}

/// [`out_of_band_removals`] with the plan's shared id index.
pub(crate) fn out_of_band_removals_indexed(desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>) -> Vec<Change> {
    if [Kind::User, Kind::Guest, Kind::Group, Kind::RoleAssignment].iter().any(|k| observed.unreadable.contains_key(k)) {
        return Vec::new();
    }
    let by_id = ids.by_id();
    let protected = |a: &Address| desired.governance.protected.iter().any(|p| *p == a.to_string()) || desired.protected_groups.contains(a);
    let live = || observed.objects.get(&Kind::RoleAssignment).into_iter().flatten();
    let role_of = |o: &crate::model::LiveObject| o.props.get("role").and_then(Value::as_str).unwrap_or_default().to_string();
    // Whether a declared path to Global Administrator stays after the
    // removals: without one, removing the out-of-band ones could lock
    // every admin out of the tenant, so they stay and the plan says why
    // ([`kept_global_admins`]).
    let global_admin_stays = global_admin_path_indexed(desired, observed, ids);
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
            (sr.read_only && !READ_ONLY_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role))) || !schema::kinds::user::allows(&sr.allowed, schema::kinds::user::RoleSpace::Directory, role)
        });
        if !(is_privileged(role) || beyond_service_account) || DIRECTORY_SYNC_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role)) {
            continue;
        }
        if is_global_admin(role) && global_admin_stays.is_none() {
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

/// The declared path to Global Administrator that stays whatever the plan
/// removes, as words: a live Global Administrator assignment (active, or
/// eligible through PIM) that desired state declares (matched to a
/// `role_assignment`, e.g. an eligible one, or a break-glass account's
/// permanent one under an exception), or one a protected account
/// (`[governance] protected`) holds, which is never removed. `None`: no
/// such path, so no out-of-band Global Administrator is removed.
pub fn global_admin_path(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Option<String> {
    global_admin_path_indexed(desired, observed, &super::index::IdIndex::new(ids))
}

/// [`global_admin_path`] with the plan's shared id index.
pub(crate) fn global_admin_path_indexed(desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>) -> Option<String> {
    let by_id = ids.by_id();
    let protected = |a: &Address| desired.governance.protected.iter().any(|p| *p == a.to_string());
    let mut paths: Vec<String> = Vec::new();
    for o in observed.objects.get(&Kind::RoleAssignment).into_iter().flatten() {
        let role = o.props.get("role").and_then(Value::as_str).unwrap_or_default();
        if !is_global_admin(role) {
            continue;
        }
        let kind = o.props.get("assignment").and_then(Value::as_str).unwrap_or("active");
        let holder = o.props.get("principal").and_then(as_reference).and_then(|p| by_id.get(p).copied());
        // Declared, or owned by the ledger where pruning cannot delete it.
        let stays = |a: &Address| desired.resources.contains_key(a) || !desired.governance.prune.kinds.iter().any(|k| k == "role_assignment");
        if let Some(declared) = by_id.get(o.id.as_str()).filter(|a| a.kind == Kind::RoleAssignment && stays(a)) {
            paths.push(format!("{declared} ({kind}{})", holder.map(|h| format!(", {h}")).unwrap_or_default()));
        } else if let Some(h) = holder.filter(|h| protected(h)) {
            paths.push(format!("{h}, protected ({kind})"));
        }
    }
    paths.sort();
    paths.dedup();
    (!paths.is_empty()).then(|| paths.join(", "))
}

/// Out-of-band Global Administrators the plan keeps because no declared
/// path to Global Administrator stays ([`global_admin_path`]): one
/// warning each, naming the holder and why, so the plan never keeps them
/// in silence (their `unmanaged-privileged-holder` errors still stand).
pub fn kept_global_admins(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<super::Finding> {
    kept_global_admins_indexed(desired, observed, &super::index::IdIndex::new(ids))
}

/// [`kept_global_admins`] with the plan's shared id index.
pub(crate) fn kept_global_admins_indexed(desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>) -> Vec<super::Finding> {
    if [Kind::User, Kind::Guest, Kind::Group, Kind::RoleAssignment].iter().any(|k| observed.unreadable.contains_key(k)) || global_admin_path_indexed(desired, observed, ids).is_some() {
        return Vec::new();
    }
    let by_id = ids.by_id();
    let mut out = Vec::new();
    for o in observed.objects.get(&Kind::RoleAssignment).into_iter().flatten() {
        let role = o.props.get("role").and_then(Value::as_str).unwrap_or_default();
        if by_id.contains_key(o.id.as_str()) || !is_global_admin(role) {
            continue;
        }
        let principal = o.props.get("principal").and_then(as_reference).unwrap_or_default();
        let who = by_id.get(principal).map(|a| a.to_string()).unwrap_or_else(|| format!("id:{principal}"));
        let kind = o.props.get("assignment").and_then(Value::as_str).unwrap_or("active");
        out.push(super::Finding {
            severity: super::Severity::Warning,
            lint: "global-admin-not-removed".into(),
            address: format!("id:{}", o.id),
            message: format!(
                "{who} holds Global Administrator ({kind}) outside desired state and is NOT removed: no declared path to Global Administrator stays (no declared Global Administrator assignment, active or eligible, is live, and no protected account holds one), so removing it could lock every administrator out; declare one (an eligible Global Administrator through PIM, or the break-glass account's permanent one under [governance.exceptions]) and the next plan removes it"
            ),
        });
    }
    out
}
