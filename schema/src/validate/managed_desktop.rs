//! Cross-kind: `[governance.managed_desktop]` names declared objects.

use crate::diagnostic::Origin;
use crate::path;
use crate::{Address, Kind};
use crate::validate::Ctx;

/// `[governance.managed_desktop]`: its keys name declared objects, ring
/// device groups hold devices only, and at most one Autopilot profile
/// targets the all-devices group.
pub(super) fn check_managed_desktop(cx: &mut Ctx) {
    let Some(g) = &cx.state.governance else { return };
    let Some(md) = &g.value.managed_desktop else { return };
    let origin = &g.origin;
    let mut groups: Vec<(&str, usize, &String)> = md.rings.iter().enumerate().map(|(i, k)| ("rings", i, k)).collect();
    for (field, k) in [("all_devices", &md.all_devices), ("service_accounts_group", &md.service_accounts_group)] {
        if let Some(k) = k {
            groups.push((field, usize::MAX, k));
        }
    }
    // A key a file that failed to parse meant to declare is not reported
    // again: that file's own error says everything.
    let broken = |kind: &str, k: &str| cx.state.broken.iter().any(|a| a.kind.as_str() == kind && a.key == k);
    for (field, i, k) in groups {
        if !cx.state.group.contains_key(k) && !broken("group", k) {
            let message = format!("governance.managed_desktop.{field}: no group `{k}` is declared");
            if i == usize::MAX {
                cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", field], message);
            } else {
                cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", field, i], message);
            }
        }
    }
    if let Some(k) = &md.autopilot_profile {
        if !cx.state.autopilot_profile.contains_key(k) && !broken("autopilot_profile", k) {
            cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", "autopilot_profile"], format!("governance.managed_desktop.autopilot_profile: no autopilot_profile `{k}` is declared"));
        }
    }
    for ring in &md.rings {
        let Some(d) = cx.state.group.get(ring) else { continue };
        let ring_address = Address::new(Kind::Group, ring.as_str());
        // A rule over users fills the ring group with people.
        if d.value.membership_rule.as_deref().is_some_and(|r| r.to_lowercase().contains("user.")) {
            cx.error(
                "ring-devices-only",
                &d.origin,
                &path!["group", ring.as_str(), "membership_rule"],
                format!("group.{ring} is a Managed Desktop ring device group: it holds devices only, but its membership rule is over users"),
            );
        }
        for (i, m) in d.value.members.iter().flatten().enumerate() {
            if member(cx, m).is_some_and(|a| a.kind != Kind::Group) {
                cx.error("ring-devices-only", &d.origin, &path!["group", ring.as_str(), "members", i], format!("group.{ring} is a Managed Desktop ring device group: it holds devices only, not `{m}`"));
            } else if let Some((person, via)) = member(cx, m).filter(|a| a.kind == Kind::Group && *a != ring_address).and_then(|a| nested_person(cx, &a.key)) {
                // A person through a nested group is a member all the same.
                cx.error(
                    "ring-devices-only",
                    &d.origin,
                    &path!["group", ring.as_str(), "members", i],
                    format!("group.{ring} is a Managed Desktop ring device group: it holds devices only, but its member group `{m}` holds `{person}` ({via})"),
                );
            }
        }
    }
    if md.all_devices.is_some() || md.autopilot_profile.is_some() {
        // `all_devices = true` reaches the all-devices group's devices (and
        // every other): it counts as targeting it.
        let all = md.all_devices.clone().unwrap_or_else(|| "all devices".into());
        let mut targeting: Vec<(&String, &Origin)> = cx
            .state
            .autopilot_profile
            .iter()
            .filter(|(_, d)| {
                // `mwd-all` or `group.mwd-all`: the group it resolves to
                // counts, and so does a group nesting it (transitively) or
                // one whose rule is the all-devices group's rule.
                d.value.assignments.all_devices
                    || md.all_devices.as_ref().is_some_and(|a| d.value.assignments.include.iter().any(|i| cx.state.resolve(i, &[Kind::Group]).is_ok_and(|r| reaches_all_devices(cx, &r.key, a))))
            })
            .map(|(k, d)| (k, &d.origin))
            .collect();
        // The marked Managed Desktop profile is the one; the others break the rule.
        targeting.sort_by_key(|(k, _)| (md.autopilot_profile.as_ref() != Some(*k), (*k).clone()));
        if targeting.len() > 1 {
            let names: Vec<String> = targeting.iter().map(|(k, _)| format!("autopilot_profile.{k}")).collect();
            for (k, origin) in &targeting[1..] {
                let field = if cx.state.autopilot_profile.get(*k).is_some_and(|d| d.value.assignments.all_devices) { "all_devices" } else { "include" };
                let at = path!["autopilot_profile", k.as_str(), "assignments", field];
                cx.error("one-autopilot-profile", origin, &at, format!("autopilot_profile.{k}: at most one Autopilot profile targets the all-devices group {all} ({})", names.join(", ")));
            }
        }
    }
}

/// Whether group `key` holds every device the all-devices group `all`
/// does: it is that group, nests it (declared members, transitively), has
/// the same membership rule (whitespace and case aside), or a rule that
/// holds every Autopilot device ([`crate::device_rule`]).
fn reaches_all_devices(cx: &Ctx, key: &str, all: &str) -> bool {
    let norm = |r: &str| r.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let all_rule = cx.state.group.get(all).and_then(|g| g.value.membership_rule.as_deref()).map(norm);
    let mut todo = vec![key.to_string()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(g) = todo.pop() {
        if g == all {
            return true;
        }
        if !seen.insert(g.clone()) {
            continue;
        }
        let Some(d) = cx.state.group.get(&g) else { continue };
        if all_rule.is_some() && d.value.membership_rule.as_deref().map(norm) == all_rule {
            return true;
        }
        // A rule judged on its meaning: one that holds every Autopilot
        // device (reworded, a superset, "all Windows devices").
        if d.value.membership_rule.as_deref().is_some_and(crate::device_rule::reaches_all_autopilot) {
            return true;
        }
        for m in d.value.members.iter().flatten() {
            if let Some(a) = member(cx, m).filter(|a| a.kind == Kind::Group) {
                todo.push(a.key.clone());
            }
        }
    }
    false
}

/// What a member reference names, as written (`adele` or `user.adele`):
/// a person (user, guest) or a group.
fn member(cx: &Ctx, m: &str) -> Option<Address> {
    cx.state.resolve(m, &[Kind::User, Kind::Guest, Kind::Group]).ok()
}

/// A user or guest that group `key` holds through declared nesting, with
/// the path (`group.a > group.b`).
fn nested_person(cx: &Ctx, key: &str) -> Option<(String, String)> {
    let mut todo = vec![(key.to_string(), format!("group.{key}"))];
    let mut seen = std::collections::BTreeSet::new();
    while let Some((g, via)) = todo.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        let Some(d) = cx.state.group.get(&g) else { continue };
        for m in d.value.members.iter().flatten() {
            match member(cx, m) {
                Some(a) if a.kind == Kind::Group => todo.push((a.key.clone(), format!("{via} > {a}"))),
                Some(a) => return Some((a.to_string(), via)),
                None => {}
            }
        }
    }
    None
}
