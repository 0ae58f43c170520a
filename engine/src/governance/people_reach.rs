//! Device policy on a static group of people reaches the ring devices
//! (hostile run 17, finding 16). Intune applies a device configuration,
//! compliance policy, Settings Catalog policy or required app assigned to
//! a user group to the devices those users sign in to: the ring devices'
//! primary users' devices among them. `super::device_reach` already says
//! so of all users and of rules over users; a group of people declared by
//! name (or filled live, where desired state does not manage its
//! membership) reaches them the same way. Such a policy is a Managed
//! Desktop object: every change to it is sensitive.
//!
//! A group "may hold a person" when it holds a user who is not a service
//! account, or a guest: declared members (nested groups transitively), or
//! live members where desired state does not manage the membership
//! ([`super::live_members`]); membership that was not read may hold
//! anyone. A group of service accounts only, or of devices only, does not.
//!
//! Likewise a permanent Intune role that writes, scoped to such a group
//! (`scope_members`), is held over those people (and, through Intune's
//! user scope, their devices): `standing-privileged-access`
//! (`super::declared_access` for declared members; [`lint`] here for live
//! ones).

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};

use super::lints::Finding;
use super::live::assignment_refs;
use super::live_members::{of, of_id, Held};
use crate::model::{DesiredModel, ObservedState};
use crate::plan::{referenced_addresses, Change};

/// The person declared group `g` holds by its declared members (nested
/// groups followed), with the path, or `None`.
pub fn declared_person(desired: &DesiredModel, g: &Address) -> Option<String> {
    let mut todo = vec![(g.clone(), g.to_string())];
    let mut seen = BTreeSet::new();
    while let Some((n, path)) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        match n.kind {
            Kind::User if !desired.service_accounts.contains(&n) => return Some(format!("{path} holds {n}")),
            Kind::Guest => return Some(format!("{path} holds {n}")),
            Kind::Group => {
                let mut members = BTreeSet::new();
                if let Some(v) = desired.resources.get(&n).and_then(|r| r.props.get("members")) {
                    referenced_addresses(v, &mut members);
                }
                for m in members {
                    let p = if m.kind == Kind::Group { format!("{path} > {m}") } else { path.clone() };
                    todo.push((m, p));
                }
            }
            _ => {}
        }
    }
    None
}

/// The person live membership gives `held`, or why it may hold one.
fn live_person(desired: &DesiredModel, held: &Held) -> Option<String> {
    for (id, (ty, path)) in &held.members {
        let service = held.address(id).is_some_and(|a| desired.service_accounts.contains(a));
        if ty == "user" && !service {
            return Some(format!("{path} holds {} live", held.who(id)));
        }
    }
    held.unread.first().map(|path| format!("the live membership of {path} was not read, so it may hold people"))
}

/// The person declared group `g` may hold, declared or live.
pub fn person(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, g: &Address) -> Option<String> {
    // A ring or the all-devices group holds devices only (people there are
    // `ring-devices-only`), and a policy on it is protected already.
    if g.kind != Kind::Group || super::grants::managed_desktop_group(desired, g) {
        return None;
    }
    declared_person(desired, g).or_else(|| {
        if observed.unreadable.contains_key(&Kind::Group) {
            return None;
        }
        live_person(desired, &of(desired, observed, ids, g))
    })
}

/// Why `change` (a policy other than an Autopilot profile, which targets
/// devices only) reaches the ring devices through a static group of people
/// it is assigned to, or `None`.
pub fn reason(change: &Change, desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Option<String> {
    desired.governance.managed_desktop.as_ref()?;
    let a = &change.address;
    if !a.kind.is_policy() || a.kind == Kind::AutopilotProfile {
        return None;
    }
    let live_groups: BTreeSet<&str> = observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| o.id.as_str()).collect();
    for props in change.desired.iter().map(|d| &d.props).chain(change.live.iter()) {
        // `assignments` holds an app's required targets (the other intents
        // are props of their own), and every other policy's targets.
        let (groups, raw, _, _) = assignment_refs(props);
        for g in groups.iter().filter(|g| g.kind == Kind::Group) {
            if let Some(how) = person(desired, observed, ids, g) {
                return Some(why(a, g.to_string(), how));
            }
        }
        for id in raw.iter().filter(|r| live_groups.contains(r.as_str())) {
            if let Some(how) = live_person(desired, &of_id(desired, observed, ids, id)) {
                return Some(why(a, format!("group id:{id}"), how));
            }
        }
    }
    None
}

fn why(a: &Address, g: String, how: String) -> String {
    format!(
        "{}: {a} is assigned to {g}, a group of people ({how}): Intune applies it to the devices they sign in to, the ring devices among them",
        super::MANAGED_DESKTOP
    )
}

/// `standing-privileged-access` for permanent Intune write roles scoped to
/// a group whose membership desired state does not manage and whose live
/// members include a person (declared members: `super::declared_access`).
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, now: chrono::DateTime<chrono::Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    if [Kind::User, Kind::Group].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    for (address, r) in desired.resources.iter().filter(|(a, _)| a.kind == Kind::IntuneRoleAssignment) {
        // All devices or all users is judged from desired state.
        let scope = r.props.get("scopeType").and_then(serde_json::Value::as_str).unwrap_or_default();
        if matches!(scope, "allDevices" | "allLicensedUsers" | "allDevicesAndLicensedUsers") {
            continue;
        }
        // Declared members are judged from desired state alone.
        let reach = |g: &Address| -> Option<String> {
            let held = of(desired, observed, ids, g);
            live_person(desired, &held).map(|how| format!("the devices of the people in {g} ({how}; {})", super::live_reach::UNMANAGED_MEMBERSHIP))
        };
        out.extend(super::declared_access::standing_intune_over(desired, address, r, now, &reach));
    }
    super::lints::finish(&desired.governance, out)
}
