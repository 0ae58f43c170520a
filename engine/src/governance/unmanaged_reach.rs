//! Device policy on a group whose membership desired state does not manage
//! (hostile run 18, finding 10). Such a group may be filled at any time in
//! the portal, by its owner or a Groups Administrator, without drift and
//! without review; whoever is put in it gets the policy on their devices,
//! the ring devices and their primary users or a service account among
//! them. `super::people_reach` judges who is in the group at plan time, so
//! a group the same plan creates (empty) escaped it:
//! * creating a policy (device configuration, compliance, Settings
//!   Catalog, update ring, script, app, ...) assigned to such a group, or
//!   changing a policy's assignments so that it is, is sensitive, and the
//!   reason says the membership is unmanaged ([`reason`]);
//!   (judged with the live tenant, after `super::people_reach`, whose
//!   reason names a person already in the group);
//! * on every plan the group's live members are judged ([`lint`]): a
//!   service account there is `service-account-targeted`, an error that
//!   refuses only the changes of that policy (`super::live_reach::blocks`);
//!   a person (whose devices the ring devices may be) or a ring device is
//!   `unmanaged-policy-member`, a warning naming the member and the group
//!   on every plan (approvers saw who was in it when the policy was
//!   approved; who came later nobody reviewed). Declaring the group's
//!   `members` (so a person reviews them) or taking the group out of the
//!   policy's assignments settles both. `drift` reports them as warnings
//!   (`super::drift_lints`, with every finding about the live tenant).

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};

use super::lints::{Finding, Severity};
use super::live::{assignment_refs, manages_membership, DEVICE};
use super::live_reach::UNMANAGED_MEMBERSHIP;
use crate::model::{DesiredModel, ObservedState};
use crate::plan::{referenced_addresses, Action, Change};

/// A live member of a policy's group whose membership is unmanaged.
pub const UNMANAGED_POLICY_MEMBER: &str = "unmanaged-policy-member";

/// Kinds judged here: device policies (not conditional access, which
/// targets sign-ins; not the Autopilot profile, protected whole).
fn device_policy(kind: Kind) -> bool {
    kind.is_policy() && !matches!(kind, Kind::ConditionalAccess | Kind::AutopilotProfile)
}

/// The path to the first group, `g` or one it nests (declared), whose
/// membership desired state does not manage, or `None`. The Managed
/// Desktop groups are protected already (a policy on them is sensitive).
pub fn unmanaged_path(desired: &DesiredModel, g: &Address) -> Option<String> {
    let mut todo = vec![(g.clone(), g.to_string())];
    let mut seen = BTreeSet::new();
    while let Some((n, path)) = todo.pop() {
        if n.kind != Kind::Group || !seen.insert(n.clone()) || super::grants::managed_desktop_group(desired, &n) {
            continue;
        }
        if !desired.resources.contains_key(&n) {
            continue;
        }
        if !manages_membership(desired, &n) {
            return Some(path);
        }
        let mut members = BTreeSet::new();
        if let Some(v) = desired.resources.get(&n).and_then(|r| r.props.get("members")) {
            referenced_addresses(v, &mut members);
        }
        todo.extend(members.into_iter().filter(|m| m.kind == Kind::Group).map(|m| {
            let p = format!("{path} > {m}");
            (m, p)
        }));
    }
    None
}

/// Why `change` puts a device policy on a group with unmanaged membership,
/// or `None`: a create, or a change of its assignments.
pub fn reason(change: &Change, desired: &DesiredModel) -> Option<String> {
    let a = &change.address;
    if !device_policy(a.kind) {
        return None;
    }
    let assigns = match change.action {
        Action::Create | Action::Replace => true,
        Action::Update | Action::Assign => change.fields.iter().any(|f| f.field == "assignments" || f.field.starts_with("assignments.")),
        _ => false,
    };
    if !assigns {
        return None;
    }
    let (groups, _, _, _) = assignment_refs(&change.desired.as_ref()?.props);
    groups.iter().find_map(|g| unmanaged_path(desired, g)).map(|path| {
        format!(
            "{a} is assigned to {path}, whose membership desired state does not manage (no `members`, no rule): whoever is put in it later, in the portal and without review, gets this policy on their devices (the ring devices' primary users and service accounts included)"
        )
    })
}

/// `unmanaged-policy-member` (and `service-account-targeted`) for each
/// declared device policy whose group with unmanaged membership holds,
/// live, a person, a ring device or a service account.
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Finding> {
    let mut out = Vec::new();
    if observed.unreadable.contains_key(&Kind::Group) {
        return out;
    }
    // The live devices of the ring and all-devices groups.
    let rings: BTreeSet<&str> = desired
        .governance
        .managed_desktop
        .iter()
        .flat_map(|md| md.rings.iter().chain(md.all_devices.iter()))
        .filter_map(|k| ids.get(&Address::new(Kind::Group, k.as_str())))
        .flat_map(|id| observed.memberships.get(id).into_iter().flatten())
        .filter(|(_, ty)| ty.as_str() == DEVICE)
        .map(|(m, _)| m.as_str())
        .collect();
    for (address, r) in desired.resources.iter().filter(|(a, _)| device_policy(a.kind)) {
        let (groups, _, exc_a, exc_r) = assignment_refs(&r.props);
        let excluded = Excluded::of(desired, observed, ids, &exc_a, &exc_r);
        for g in groups.iter().filter(|g| unmanaged_path(desired, g).is_some()) {
            let held = super::live_members::of(desired, observed, ids, g);
            for (id, (ty, path)) in &held.members {
                if excluded.holds(desired, id, held.address(id)) {
                    continue;
                }
                let member = held.who(id);
                let account = held.address(id).filter(|m| desired.service_accounts.contains(*m));
                let (severity, lint, what) = match (ty.as_str(), account) {
                    (_, Some(_)) => (Severity::Error, "service-account-targeted", "a service account: service accounts get no policy".to_string()),
                    ("user", None) => (Severity::Warning, UNMANAGED_POLICY_MEMBER, "a person nobody reviewed there: the policy reaches the devices they sign in to, the ring devices among them".to_string()),
                    _ => continue,
                };
                out.push(Finding {
                    severity,
                    lint: lint.into(),
                    address: address.to_string(),
                    message: format!("{member} is in {path} live ({UNMANAGED_MEMBERSHIP}), {what}; declare the group's members or take it out of the assignments"),
                });
            }
            // Devices are not in `held` (they are not principals): a ring
            // device put in the group directly.
            if let Some(id) = ids.get(g).filter(|_| !manages_membership(desired, g)) {
                for (m, _) in observed.memberships.get(id).into_iter().flatten().filter(|(m, ty)| ty.as_str() == DEVICE && rings.contains(m.as_str()) && !excluded.live.contains(m.as_str())) {
                    out.push(Finding {
                        severity: Severity::Warning,
                        lint: UNMANAGED_POLICY_MEMBER.into(),
                        address: address.to_string(),
                        message: format!("ring device id:{m} is in {g} live ({UNMANAGED_MEMBERSHIP}): the policy reaches a Managed Desktop ring device without review; declare the group's members or take it out of the assignments"),
                    });
                }
            }
            for path in &held.unread {
                out.push(Finding {
                    severity: Severity::Warning,
                    lint: UNMANAGED_POLICY_MEMBER.into(),
                    address: address.to_string(),
                    message: format!("the live membership of {path} was not read, so whom the policy reaches is unknown ({UNMANAGED_MEMBERSHIP})"),
                });
            }
        }
    }
    out
}


/// Whom a policy's excludes take out (hostile run 27's gov25 limit: a
/// service account in an unmanaged included group was an error even where
/// the policy excludes the service-accounts group, the way the service
/// model asks every policy to): members found live in an excluded group
/// (declared, or named by id), and the declared accounts desired state
/// proves members of one ([`super::targets::holds`]: declared members,
/// nesting, a rule matching declared properties). An excluded group whose
/// membership was not read proves nobody excluded.
struct Excluded {
    live: BTreeSet<String>,
    groups: Vec<Address>,
}

impl Excluded {
    fn of(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, groups: &BTreeSet<Address>, raw: &BTreeSet<String>) -> Excluded {
        let mut live = BTreeSet::new();
        let walks = groups.iter().filter(|g| g.kind == Kind::Group).map(|g| super::live_members::of(desired, observed, ids, g)).chain(raw.iter().map(|id| super::live_members::of_id(desired, observed, ids, id)));
        for held in walks {
            live.extend(held.members.into_keys());
        }
        // Declared groups' own ids: a device or a person found through a
        // live nesting of one is in `live` already.
        Excluded { live, groups: groups.iter().filter(|g| g.kind == Kind::Group).cloned().collect() }
    }

    /// Whether member `id` (declared as `address`, if it is) is excluded.
    fn holds(&self, desired: &DesiredModel, id: &str, address: Option<&Address>) -> bool {
        self.live.contains(id) || address.is_some_and(|a| self.groups.iter().any(|g| super::targets::holds(desired, g, a, false)))
    }
}
