//! Groups that grant something but whose membership desired state does not
//! manage (no `members`, no rule): a group holding a privileged directory
//! role (a declared assignment, active or eligible), a group a conditional
//! access policy excludes, and a member group of an Intune role assignment
//! (hostile run 14, findings 17, 18 and 21). Their live members, nested
//! groups followed (from [`ObservedState::memberships`]), are judged:
//! * a person (or any non-device member) in a privileged role's group
//!   holds that role outside desired state: `unmanaged-privileged-holder`,
//!   naming the member, the role and the group;
//! * a person in a group conditional access excludes escapes that policy:
//!   `ca-exempt-member`;
//! * a service account in an Intune role's member group holds that Intune
//!   role: least privilege as for a declared member
//!   (`service-account-role`). Directory roles held so are judged by
//!   `super::live` already;
//! * a person in an Intune role's member group holds that Intune role
//!   outside desired state: `unmanaged-intune-admin`, naming the group;
//! * a service account in a group conditional access excludes (other than
//!   the service accounts' group, which desired state manages) was put
//!   there outside desired state: `ca-exempt-member`, an error.
//!
//! tenantctl does not change membership it does not manage, so these stay
//! errors until a person declares the group's members (or removes the
//! member). Being about live state, they refuse only the changes they are
//! about, never an unrelated one ([`blocks`]).

use std::collections::{BTreeMap, BTreeSet};
use std::collections::HashMap;

use schema::kinds::role_assignment::is_privileged;
use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use super::live::{manages_membership, DEVICE, GROUP};
use crate::model::{as_reference, DesiredModel, ObservedState};
use crate::plan_types::Plan;

/// A person in a group that conditional access excludes.
pub const CA_EXEMPT_MEMBER: &str = "ca-exempt-member";

/// Intune admin access held outside desired state: an out-of-band Intune
/// role assignment (`super::admin_reach`), or a person in the member group
/// of one whose membership desired state does not manage.
pub const UNMANAGED_INTUNE_ADMIN: &str = "unmanaged-intune-admin";

/// The words every finding about live membership desired state does not
/// manage carries (also those of `super::live`): [`blocks`] reads them.
pub const UNMANAGED_MEMBERSHIP: &str = "its membership is not managed in desired state";

/// The lints that judge live membership (here and in `super::live`);
/// only these may be about live state alone ([`blocks`]).
const LIVE_MEMBERSHIP_LINTS: &[&str] = &["unmanaged-privileged-holder", CA_EXEMPT_MEMBER, "service-account-role", "service-account-privileged", "service-account-targeted", UNMANAGED_INTUNE_ADMIN, "pim-approver-service-account", super::pim_approver_live::UNMANAGED_PIM_APPROVER, "service-account-approver", "self-approval", schema::kinds::licenses::SERVICE_ACCOUNT_LICENSED];

/// What a group grants its members.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    /// A privileged directory role (assignment address, role, active/eligible).
    Role(String, String, String),
    /// An exclusion from a conditional access policy (its address or id).
    CaExclusion(String),
    /// An Intune role (assignment address or id, role name).
    IntuneRole(String, String),
}

/// The reference strings (`id:` stripped) of a value or list.
fn refs(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(as_reference).for_each(|r| out.push(r.strip_prefix("id:").unwrap_or(r).to_string())),
        Some(x) => out.extend(as_reference(x).map(|r| r.strip_prefix("id:").unwrap_or(r).to_string())),
        None => {}
    }
    out
}

/// Findings for the live members of granting groups whose membership is
/// not managed. Nothing is said when principals, groups or assignments
/// could not be read (the plan lists them as unknown).
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Finding> {
    lint_indexed(desired, observed, &super::index::IdIndex::new(ids))
}

/// [`lint`] with the plan's shared id index.
pub(crate) fn lint_indexed(desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if [Kind::User, Kind::Guest, Kind::Group, Kind::RoleAssignment].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    let by_id = ids.by_id();
    // Built the first time a raw id is looked up (declared references are
    // addresses): a set of every live group otherwise.
    let live_groups: std::cell::OnceCell<BTreeSet<&str>> = std::cell::OnceCell::new();
    // A reference (an address or a live id) as a live group id.
    let group_id = |r: &str| -> Option<String> {
        match r.parse::<Address>() {
            Ok(a) if a.kind == Kind::Group => ids.get(&a).cloned(),
            Ok(_) => None,
            Err(_) => live_groups.get_or_init(|| observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| o.id.as_str()).collect()).contains(r).then(|| r.to_string()),
        }
    };
    let mut grants: BTreeMap<String, BTreeSet<Grant>> = BTreeMap::new();
    let live_of = |a: &Address| ids.get(a).and_then(|id| observed.objects.get(&a.kind).into_iter().flatten().find(|o| o.id == *id));
    for (a, r) in &desired.resources {
        match a.kind {
            Kind::RoleAssignment => {
                let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
                if !is_privileged(role) {
                    continue;
                }
                let kind = r.props.get("assignment").and_then(Value::as_str).unwrap_or("active");
                for g in refs(r.props.get("principal")).iter().filter_map(|p| group_id(p)) {
                    grants.entry(g).or_default().insert(Grant::Role(a.to_string(), role.to_string(), kind.to_string()));
                }
            }
            Kind::ConditionalAccess => {
                let excluded = |p: &crate::Props| refs(p.get("conditions").and_then(|c| c.get("users")).and_then(|u| u.get("excludeGroups")));
                let mut all = excluded(&r.props);
                all.extend(live_of(a).map(|o| excluded(&o.props)).unwrap_or_default());
                for g in all.iter().filter_map(|p| group_id(p)) {
                    grants.entry(g).or_default().insert(Grant::CaExclusion(a.to_string()));
                }
            }
            Kind::IntuneRoleAssignment => {
                let role = r.props.get("roleName").and_then(Value::as_str).unwrap_or_default();
                let mut all = refs(r.props.get("members"));
                all.extend(live_of(a).map(|o| refs(o.props.get("members"))).unwrap_or_default());
                for g in all.iter().filter_map(|p| group_id(p)) {
                    grants.entry(g).or_default().insert(Grant::IntuneRole(a.to_string(), role.to_string()));
                }
            }
            _ => {}
        }
    }
    // A declared group's grants reach the groups desired state nests in it:
    // a group of unmanaged membership put in an excluded (or role-holding)
    // group whose members are declared exempts its live people as if it
    // were excluded itself (hostile run 31, finding 5: nothing was said).
    // The service-accounts group is meant to be excluded: not followed.
    let mut todo: Vec<String> = grants.keys().cloned().collect();
    while let Some(g) = todo.pop() {
        let Some(a) = by_id.get(g.as_str()).copied() else { continue };
        if desired.service_account_groups.contains(a) {
            continue;
        }
        let Some(r) = desired.resources.get(a) else { continue };
        let given = grants.get(&g).cloned().unwrap_or_default();
        for m in refs(r.props.get("members")).iter().filter_map(|p| group_id(p)) {
            let to = grants.entry(m.clone()).or_default();
            let before = to.len();
            to.extend(given.iter().cloned());
            if to.len() > before {
                todo.push(m);
            }
        }
    }
    // Built the first time a live member is named (most plans grant
    // nothing through a group anyone may fill): every user otherwise.
    let people: std::cell::OnceCell<BTreeMap<&str, &crate::model::LiveObject>> = std::cell::OnceCell::new();
    let who = |id: &str| -> String {
        let people = people.get_or_init(|| [Kind::User, Kind::Guest].iter().flat_map(|k| observed.objects.get(k).into_iter().flatten()).map(|o| (o.id.as_str(), o)).collect());
        match (by_id.get(id), people.get(id)) {
            (Some(a), _) => a.to_string(),
            (None, Some(o)) => format!("id:{id} ({})", o.display_name),
            _ => format!("id:{id}"),
        }
    };
    let gname = |id: &str| by_id.get(id).map(|a| a.to_string()).unwrap_or_else(|| format!("group id:{id}"));
    for (gid, gs) in &grants {
        let address = by_id.get(gid.as_str()).copied();
        let group = gname(gid);
        let (members, unread) = match address.filter(|a| manages_membership(desired, a) || desired.service_account_groups.contains(*a)) {
            // The service-accounts group is meant to be excluded and
            // targeted.
            Some(a) if desired.service_account_groups.contains(a) => continue,
            // Declared members: `super::holders` judges live extras. A
            // `memberOf` rule holds the named groups' members: walked as
            // live nesting is (hostile run 24, findings 7 and 8, the rest).
            Some(a) => {
                let named: Vec<String> = super::live_members::member_of_named(desired, a).filter_map(|n| n.map_or_else(Some, |m| ids.get(&m).cloned())).collect();
                if named.is_empty() {
                    continue;
                }
                let mut members = BTreeMap::new();
                let mut unread = Vec::new();
                for n in &named {
                    let (m, u) = walk(observed, desired, by_id, n, &format!("{group} > {}", gname(n)));
                    for (k, v) in m {
                        members.entry(k).or_insert(v);
                    }
                    unread.extend(u);
                }
                (members, unread)
            }
            None => walk(observed, desired, by_id, gid, &group),
        };
        for path in &unread {
            out.push(Finding {
                severity: Severity::Warning,
                lint: "unmanaged-privileged-holder".into(),
                address: group.clone(),
                message: format!("the live membership of {path} was not read, so who it grants to is unknown ({UNMANAGED_MEMBERSHIP})"),
            });
        }
        for (mid, (ty, path)) in &members {
            let member = who(mid);
            let account = by_id.get(mid.as_str()).copied().filter(|a| desired.service_accounts.contains(*a));
            let how = format!("through {path}, a live member ({UNMANAGED_MEMBERSHIP}){}", nesting_note(desired, path));
            for g in gs {
                match g {
                    Grant::Role(assignment, role, kind) if account.is_none() => out.push(Finding {
                        severity: Severity::Error,
                        lint: "unmanaged-privileged-holder".into(),
                        address: group.clone(),
                        message: format!("{ty} {member} holds {role} ({kind}, {assignment}) {how}; declare the members of {group} (members = [...]) or remove it from the group"),
                    }),
                    Grant::CaExclusion(policy) if account.is_none() && ty == "user" => out.push(Finding {
                        severity: Severity::Error,
                        lint: CA_EXEMPT_MEMBER.into(),
                        address: group.clone(),
                        message: format!("{ty} {member} is excluded from conditional access policy {policy} {how}, so that policy does not apply to it; declare the members of {group} (members = [...]) or remove it from the group"),
                    }),
                    // A service account is excluded through the service
                    // accounts' group, which desired state manages; one in
                    // a group anyone may fill was put there outside it (a
                    // change to a protected account) and shares that
                    // group's exclusion with whoever else is put in.
                    Grant::CaExclusion(policy) => {
                        if let Some(account) = account {
                            out.push(Finding {
                                severity: Severity::Error,
                                lint: CA_EXEMPT_MEMBER.into(),
                                address: group.clone(),
                                message: format!("service account {account} is excluded from conditional access policy {policy} {how}: service accounts are excluded through their own group (governance.managed_desktop.service_accounts_group), and a service account's membership of other groups is a change to a protected account; remove it from {group}, or declare the members of {group} (members = [...])"),
                            });
                        }
                    }
                    Grant::IntuneRole(assignment, role) => {
                        if let Some(account) = account {
                            out.extend(super::lints::service_account_role(desired, assignment, account, role, &format!(" (Intune role) {how}")));
                        } else {
                            // A person holds this Intune role outside
                            // desired state, as an out-of-band assignment
                            // would give it (`unmanaged-intune-admin`).
                            out.push(Finding {
                                severity: Severity::Error,
                                lint: UNMANAGED_INTUNE_ADMIN.into(),
                                address: group.clone(),
                                message: format!("{ty} {member} holds Intune role {role} ({assignment}) {how}; declare the members of {group} (members = [...]) or remove it from the group"),
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    super::lints::finish(&desired.governance, out)
}

/// The live members of group `gid` (named `name`), nested groups whose
/// membership is not managed followed: member id -> (type, path), and the
/// groups on the way whose membership was not read.
#[allow(clippy::type_complexity)]
fn walk(observed: &ObservedState, desired: &DesiredModel, by_id: &HashMap<&str, &Address>, gid: &str, name: &str) -> (BTreeMap<String, (String, String)>, Vec<String>) {
    let mut members = BTreeMap::new();
    let mut unread = Vec::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec![(gid.to_string(), name.to_string())];
    while let Some((g, path)) = todo.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        let managed = by_id.get(g.as_str()).copied().filter(|a| manages_membership(desired, a) && desired.resources.get(*a).is_some_and(|r| r.props.contains_key("members")));
        let mut m = match (observed.memberships.get(&g), managed) {
            (Some(m), _) => m.clone(),
            // Nested live, membership declared (not read live): its
            // declared members are reached.
            (None, Some(a)) => declared_members(by_id, desired, a),
            (None, None) => {
                unread.push(path);
                continue;
            }
        };
        // The service accounts' group nested live holds every service
        // account, whatever its rule reads now.
        if g != gid && by_id.get(g.as_str()).is_some_and(|a| desired.service_account_groups.contains(*a)) {
            let accounts: HashMap<&Address, &str> = by_id.iter().map(|(i, a)| (*a, *i)).collect();
            m.extend(desired.service_accounts.iter().filter_map(|s| accounts.get(s)).map(|i| (i.to_string(), "user".to_string())));
        }
        for (mid, ty) in &m {
            match ty.as_str() {
                GROUP => {
                    let nested = by_id.get(mid.as_str()).copied();
                    let n = nested.map(|a| a.to_string()).unwrap_or_else(|| format!("group id:{mid}"));
                    // A group whose membership desired state manages is
                    // followed too: its members are declared, but its
                    // membership of this group is not (hostile run 26,
                    // finding 1).
                    todo.push((mid.clone(), format!("{path} > {n}")));
                }
                DEVICE => {}
                _ => {
                    members.entry(mid.clone()).or_insert_with(|| (ty.clone(), path.clone()));
                }
            }
        }
    }
    (members, unread)
}

/// Where `path` (groups joined by ` > `) passes through a group whose
/// membership desired state manages, nested live in one whose membership it
/// does not: that nesting named, since nobody approved it (hostile run 26,
/// finding 1). Empty otherwise.
pub(crate) fn nesting_note(desired: &DesiredModel, path: &str) -> String {
    let parts: Vec<&str> = path.split(" > ").collect();
    for w in parts.windows(2) {
        let managed = |p: &str| p.parse::<Address>().ok().is_some_and(|a| manages_membership(desired, &a));
        if managed(w[1]) && !managed(w[0]) {
            return format!("; {} is a live member of {}, whose membership is not managed in desired state: nobody approved that nesting", w[1], w[0]);
        }
    }
    String::new()
}

/// The declared members of group `a` (declared with `members`) by live
/// id, as a live membership reads: id -> `user` or `group`. A member not
/// created yet holds nothing live.
fn declared_members(by_id: &HashMap<&str, &Address>, desired: &DesiredModel, a: &Address) -> BTreeMap<String, String> {
    let mut refs = BTreeSet::new();
    if let Some(m) = desired.resources.get(a).and_then(|r| r.props.get("members")) {
        crate::plan::referenced_addresses(m, &mut refs);
    }
    by_id
        .iter()
        .filter(|(_, r)| refs.contains(**r))
        .filter_map(|(id, r)| match r.kind {
            Kind::Group => Some((id.to_string(), GROUP.to_string())),
            Kind::User | Kind::Guest => Some((id.to_string(), "user".to_string())),
            _ => None,
        })
        .collect()
}

/// Whether lint error `f` refuses `plan`'s apply. An error about live
/// membership desired state does not manage ([`UNMANAGED_MEMBERSHIP`])
/// refuses only a plan that changes what it is about (its address), or
/// whose change makes it (a field that now names it and did not: a
/// conditional access exclusion, a role or membership given to the group;
/// hostile run 30, finding G); an unrelated change goes ahead, and the
/// error is reported (reconcile holds it for a person). A plan with no
/// change at all is refused, as before, so the error is not mistaken for
/// "in sync". Every other error refuses.
pub fn blocks(f: &Finding, plan: &Plan) -> bool {
    if f.severity != Severity::Error {
        return false;
    }
    let live_only = LIVE_MEMBERSHIP_LINTS.contains(&f.lint.as_str()) && f.message.contains(&format!("({UNMANAGED_MEMBERSHIP})"));
    if !live_only || plan.changes.is_empty() {
        return true;
    }
    plan.changes.iter().any(|c| c.address.to_string() == f.address || c.id.as_deref().is_some_and(|id| f.address == format!("id:{id}") || f.address == format!("group id:{id}")) || introduces(c, &f.address))
}

/// Whether a field of `c` names `target` (an address, or `id:`/`group id:`
/// and an object id) after the change and did not before.
fn introduces(c: &crate::plan::Change, target: &str) -> bool {
    let id = target.strip_prefix("group id:").or_else(|| target.strip_prefix("id:"));
    let names = |v: &Option<serde_json::Value>| v.as_ref().is_some_and(|v| mentions(v, target, id));
    c.fields.iter().any(|f| names(&f.after) && !names(&f.before))
}

fn mentions(v: &serde_json::Value, target: &str, id: Option<&str>) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => s == target || id.is_some_and(|id| s.eq_ignore_ascii_case(id) || s.strip_prefix("id:").is_some_and(|x| x.eq_ignore_ascii_case(id))),
        Value::Array(a) => a.iter().any(|x| mentions(x, target, id)),
        Value::Object(m) => m.values().any(|x| mentions(x, target, id)),
        _ => false,
    }
}
