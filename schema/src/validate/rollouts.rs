//! Cross-kind: ring-by-ring rollouts of Intune policies.

use std::collections::BTreeMap;

use crate::address::{Address, Kind};
use crate::diagnostic::Origin;
use crate::kinds::{Assignments, Rollout};
use crate::path;
use crate::source::Seg;
use crate::validate::Ctx;

/// Ring-by-ring rollouts: the rings are at least two distinct declared
/// groups, the soak is a positive duration, and the policy's own
/// `assignments` only exclude (each ring's copy is included for its ring
/// group alone, so an include of its own would be ambiguous). The ring
/// copies' display names (`NAME [RING]`) must not clash with other objects
/// of the same Graph collection.
pub(super) fn check_rollouts(cx: &mut Ctx) {
    struct Policy<'a> {
        kind: Kind,
        key: &'a String,
        origin: &'a Origin,
        display_name: &'a str,
        rollout: &'a Option<Rollout>,
        assignments: &'a Assignments,
    }
    let s = cx.state;
    let mut policies: Vec<Policy> = Vec::new();
    for (key, d) in &s.device_configuration {
        policies.push(Policy { kind: Kind::DeviceConfiguration, key, origin: &d.origin, display_name: &d.value.display_name, rollout: &d.value.rollout, assignments: &d.value.assignments });
    }
    for (key, d) in &s.compliance_policy {
        policies.push(Policy { kind: Kind::CompliancePolicy, key, origin: &d.origin, display_name: &d.value.display_name, rollout: &d.value.rollout, assignments: &d.value.assignments });
    }
    for (key, d) in &s.update_ring {
        policies.push(Policy { kind: Kind::UpdateRing, key, origin: &d.origin, display_name: &d.value.display_name, rollout: &d.value.rollout, assignments: &d.value.assignments });
    }
    for (key, d) in &s.feature_update_profile {
        policies.push(Policy { kind: Kind::FeatureUpdateProfile, key, origin: &d.origin, display_name: &d.value.display_name, rollout: &d.value.rollout, assignments: &d.value.assignments });
    }
    for (key, d) in &s.settings_catalog {
        policies.push(Policy { kind: Kind::SettingsCatalog, key, origin: &d.origin, display_name: &d.value.name, rollout: &d.value.rollout, assignments: &d.value.assignments });
    }
    // Device configurations and update rings share one Graph collection.
    let collection = |k: Kind| match k {
        Kind::CompliancePolicy => 1,
        Kind::FeatureUpdateProfile => 2,
        Kind::SettingsCatalog => 3,
        _ => 0,
    };
    // Display names of the objects that will exist, by collection.
    let mut names: BTreeMap<(u8, String), String> = BTreeMap::new();
    for p in policies.iter().filter(|p| p.rollout.is_none()) {
        names.entry((collection(p.kind), p.display_name.to_lowercase())).or_insert_with(|| format!("{}.{}", p.kind, p.key));
    }
    for p in &policies {
        let Some(r) = p.rollout else { continue };
        let (kind, key, origin) = (p.kind, p.key, p.origin);
        let here = |rest: &[&str]| {
            let mut v = path![kind.as_str(), key, "rollout"].to_vec();
            v.extend(rest.iter().map(|s| Seg::from(*s)));
            v
        };
        if r.rings.len() < 2 {
            cx.error(
                "rollout-too-few-rings",
                origin,
                &here(&["rings"]),
                format!("{kind}.{key}: a rollout needs at least two rings, found {}", r.rings.len()),
            )
            .help = Some("list the ring groups in order, e.g. `rings = [\"mwd-test\", \"mwd-broad\"]`; without rings, drop `rollout` and use `assignments`".into());
        }
        let mut rings: Vec<Address> = Vec::new();
        for (i, ring) in r.rings.iter().enumerate() {
            let at = path![kind.as_str(), key, "rollout", "rings", i];
            let Some(group) = cx.reference(origin, &at, ring, &[Kind::Group]) else { continue };
            if rings.contains(&group) {
                cx.error("rollout-duplicate-ring", origin, &at, format!("{kind}.{key}: ring `{ring}` ({group}) is listed twice"));
                continue;
            }
            if let Some(j) = p.assignments.exclude.iter().position(|e| matches!(s.resolve(e, &[Kind::Group]), Ok(a) if a == group)) {
                cx.error(
                    "rollout-ring-excluded",
                    origin,
                    &path![kind.as_str(), key, "assignments", "exclude", j],
                    format!("{kind}.{key}: ring group {group} is also excluded, so its ring would get nothing"),
                );
            }
            let name = format!("{} [{}]", p.display_name, group.key);
            let slot = (collection(kind), name.to_lowercase());
            match names.get(&slot) {
                Some(other) => {
                    cx.error(
                        "duplicate-natural-key",
                        origin,
                        &at,
                        format!("{kind}.{key}: the copy for ring {} would be named `{name}`, like {other}; both would match one object in the tenant", group.key),
                    );
                }
                None => {
                    names.insert(slot, format!("{kind}.{key}@{}", group.key));
                }
            }
            rings.push(group);
        }
        // The service model's order: policies and updates roll through
        // the Managed Desktop rings as `[governance.managed_desktop] rings`
        // lists them (Test, First, Fast, Broad), from the first, none
        // skipped (hostile run 19, finding 1).
        let order: Vec<Address> = s.governance.as_ref().and_then(|g| g.value.managed_desktop.as_ref()).map(|m| m.rings.iter().map(|k| Address::new(Kind::Group, k.as_str())).collect()).unwrap_or_default();
        if !order.is_empty() && rings.len() == r.rings.len() {
            let positions: Vec<Option<usize>> = rings.iter().map(|g| order.iter().position(|o| o == g)).collect();
            let in_order = positions.iter().enumerate().all(|(i, p)| *p == Some(i));
            if !in_order {
                let names: Vec<&str> = order.iter().map(|a| a.key.as_str()).collect();
                let why = match positions.iter().position(Option::is_none) {
                    Some(i) => format!("{} is not a Managed Desktop ring", rings[i]),
                    None if positions.first() != Some(&Some(0)) => format!("it starts in {}, not in {}", rings[0].key, names[0]),
                    None => "its rings are out of order or skip one".to_string(),
                };
                cx.error(
                    "rollout-ring-order",
                    origin,
                    &here(&["rings"]),
                    format!("{kind}.{key}: a rollout goes through the Managed Desktop rings in order, from the first, none skipped ({}); {why}", names.join(" > ")),
                )
                .help = Some(format!("list the first rings in the service's order, e.g. `rings = [\"{}\", \"{}\"]`", names[0], names.get(1).copied().unwrap_or(names[0])));
            }
        }
        match r.soak_secs() {
            Some(secs) if secs > 0 && secs < 3600 => {
                cx.warning(
                    "rollout-short-soak",
                    origin,
                    &here(&["soak"]),
                    format!("{kind}.{key}: rollout.soak `{}` is under an hour: the next ring changes before a problem can show in the last one", r.soak),
                );
            }
            None => {
                cx.error(
                    "invalid-soak",
                    origin,
                    &here(&["soak"]),
                    format!("{kind}.{key}: rollout.soak `{}` is not a duration", r.soak),
                )
                .help = Some("write a whole number and a unit: `48h`, `2d`, `90m`, `30s` or `1w`".into());
            }
            Some(0) => {
                cx.error(
                    "invalid-soak",
                    origin,
                    &here(&["soak"]),
                    format!("{kind}.{key}: rollout.soak is zero, so every ring would change at once; give each ring time to show problems"),
                );
            }
            Some(_) => {}
        }
        let a = p.assignments;
        if !a.include.is_empty() {
            let rings_listed: Vec<&String> = a.include.iter().filter(|g| matches!(s.resolve(g, &[Kind::Group]), Ok(x) if rings.contains(&x))).collect();
            let why = match rings_listed.first() {
                Some(g) => format!("`{g}` is a ring: its copy is already assigned to it"),
                None => "the rollout's rings are the policy's targets".to_string(),
            };
            cx.error(
                "rollout-with-include",
                origin,
                &path![kind.as_str(), key, "assignments", "include"],
                format!("{kind}.{key} has a rollout, so assignments.include must be empty: {why}"),
            )
            .help = Some("each ring's copy is assigned to its ring group plus the policy's `exclude` list; add another ring instead of an include".into());
        }
        for (field, on) in [("all_devices", a.all_devices), ("all_users", a.all_users)] {
            if on {
                cx.error(
                    "rollout-with-include",
                    origin,
                    &path![kind.as_str(), key, "assignments", field],
                    format!("{kind}.{key} has a rollout, so assignments.{field} cannot be set: every ring would get the change at once"),
                );
            }
        }
    }
}
