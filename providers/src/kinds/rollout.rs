//! Ring-by-ring rollout, on the desired side: a policy declared with
//! `rollout = { rings, soak }` becomes one desired resource per ring, which
//! the engine's rollout gate then promotes one ring at a time.
//!
//! For ring group `RING` (its key in desired state) the copy of
//! `KIND.KEY` is:
//! - addressed `KIND.KEY@RING` (declared keys cannot contain `@`, so a copy
//!   never collides with a declared resource, and ledger entries, plans and
//!   drift reports name the ring);
//! - named `DISPLAY NAME [RING]` in Graph, which is also its natural key, so
//!   the copies of one policy are distinct objects a person can tell apart
//!   in the Intune portal;
//! - assigned to the ring group alone plus the policy's `exclude` list
//!   (validation refuses `include`, `all_devices` and `all_users` beside a
//!   rollout: the rings are the targets);
//! - otherwise the policy as declared, mapped by its kind's own `desired`.
//!
//! The policy's own address (`KIND.KEY`) is not a resource: nothing is
//! created for it.

use engine::governance::RingOf;
use engine::{DesiredModel, DesiredResource};
use schema::kinds::{Assignments, Rollout};
use schema::{Address, DesiredState, Kind};

use super::{compliance_policy, device_configuration, feature_update_profile, update_ring};

/// Soak used if a rollout's soak does not parse (validation refuses that,
/// so this only guards against a model built from unvalidated state): a
/// year, so nothing is promoted early.
const FALLBACK_SOAK_SECS: i64 = 365 * 86_400;

/// Replace every policy declared with a rollout by its per-ring copies, and
/// record in `m.rings` which copy is which ring, for the rollout gate.
pub fn expand(state: &DesiredState, m: &mut DesiredModel) {
    for (key, d) in &state.device_configuration {
        if let Some(r) = &d.value.rollout {
            let v = &d.value;
            expand_one(state, m, Kind::DeviceConfiguration, key, r, |ring_key, group| {
                let mut copy = v.clone();
                copy.rollout = None;
                copy.display_name = ring_name(&v.display_name, ring_key);
                copy.assignments = ring_assignments(&v.assignments, group);
                device_configuration::desired(&copy_key(key, ring_key), &copy, state)
            });
        }
    }
    for (key, d) in &state.compliance_policy {
        if let Some(r) = &d.value.rollout {
            let v = &d.value;
            expand_one(state, m, Kind::CompliancePolicy, key, r, |ring_key, group| {
                let mut copy = v.clone();
                copy.rollout = None;
                copy.display_name = ring_name(&v.display_name, ring_key);
                copy.assignments = ring_assignments(&v.assignments, group);
                compliance_policy::desired(&copy_key(key, ring_key), &copy, state)
            });
        }
    }
    for (key, d) in &state.update_ring {
        if let Some(r) = &d.value.rollout {
            let v = &d.value;
            expand_one(state, m, Kind::UpdateRing, key, r, |ring_key, group| {
                let mut copy = v.clone();
                copy.rollout = None;
                copy.display_name = ring_name(&v.display_name, ring_key);
                copy.assignments = ring_assignments(&v.assignments, group);
                update_ring::desired(&copy_key(key, ring_key), &copy, state)
            });
        }
    }
    for (key, d) in &state.feature_update_profile {
        if let Some(r) = &d.value.rollout {
            let v = &d.value;
            expand_one(state, m, Kind::FeatureUpdateProfile, key, r, |ring_key, group| {
                let mut copy = v.clone();
                copy.rollout = None;
                copy.display_name = ring_name(&v.display_name, ring_key);
                copy.assignments = ring_assignments(&v.assignments, group);
                feature_update_profile::desired(&copy_key(key, ring_key), &copy, state)
            });
        }
    }
    for (key, d) in &state.settings_catalog {
        if let Some(r) = &d.value.rollout {
            let v = &d.value;
            expand_one(state, m, Kind::SettingsCatalog, key, r, |ring_key, group| {
                let mut copy = v.clone();
                copy.rollout = None;
                copy.name = ring_name(&v.name, ring_key);
                copy.assignments = ring_assignments(&v.assignments, group);
                super::settings_catalog::desired(&copy_key(key, ring_key), &copy, state)
            });
        }
    }
}

/// The key of ring `ring`'s copy of `key`.
pub fn copy_key(key: &str, ring: &str) -> String {
    format!("{key}@{ring}")
}

/// The Graph displayName of a ring's copy.
pub fn ring_name(display_name: &str, ring: &str) -> String {
    format!("{display_name} [{ring}]")
}

/// A ring copy's assignments: its ring group, and the policy's excludes.
fn ring_assignments(declared: &Assignments, group: &Address) -> Assignments {
    Assignments { include: vec![group.to_string()], exclude: declared.exclude.clone(), all_devices: false, all_users: false, filters: Default::default() }
}

fn expand_one(
    state: &DesiredState,
    m: &mut DesiredModel,
    kind: Kind,
    key: &str,
    rollout: &Rollout,
    build: impl Fn(&str, &Address) -> DesiredResource,
) {
    let policy = Address::new(kind, key);
    m.resources.remove(&policy);
    // Ring groups by address; a ring that does not resolve (validation
    // reports it) is kept by the key written, so it shows up in the plan.
    let groups: Vec<Address> = rollout
        .rings
        .iter()
        .map(|r| state.resolve(r, &[Kind::Group]).unwrap_or_else(|_| Address::new(Kind::Group, r.as_str())))
        .collect();
    let rings: Vec<String> = groups.iter().map(|g| g.key.clone()).collect();
    let soak_secs = rollout.soak_secs().filter(|s| *s > 0).unwrap_or(FALLBACK_SOAK_SECS);
    for (index, group) in groups.iter().enumerate() {
        let r = build(&group.key, group);
        m.rings.insert(r.address.clone(), RingOf { policy: policy.clone(), rings: rings.clone(), index, soak_secs });
        m.insert(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::model::reference;
    use serde_json::json;

    const STATE: &str = r#"
[tenant]
primary_domain = "contoso.onmicrosoft.com"

[group.mwd-test]
display_name = "Test"
mail_nickname = "mwd-test"

[group.mwd-broad]
display_name = "Broad"
mail_nickname = "mwd-broad"

[group.kiosks]
display_name = "Kiosks"
mail_nickname = "kiosks"

[update_ring.quality]
display_name = "Windows Quality"
quality_updates_deferral_period_in_days = 3
rollout = { rings = ["mwd-test", "group.mwd-broad"], soak = "2d" }
assignments = { exclude = ["kiosks"] }

[compliance_policy.baseline]
odata_type = "windows10CompliancePolicy"
display_name = "Baseline"
grace_period_hours = 24
settings = { bitLockerEnabled = true }
rollout = { rings = ["mwd-test", "mwd-broad"], soak = "90m" }

[device_configuration.plain]
odata_type = "windows10GeneralConfiguration"
display_name = "Plain"
assignments = { include = ["mwd-broad"] }
"#;

    fn model() -> DesiredModel {
        let state = schema::load_str(&[("a.toml", STATE)]).unwrap_or_else(|e| panic!("{e}"));
        super::super::desired_model(&state)
    }

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn one_resource_per_ring_assigned_to_its_ring_plus_the_excludes() {
        let m = model();
        assert!(!m.resources.contains_key(&a("update_ring.quality")), "the declared policy itself is not a resource");
        let test = &m.resources[&a("update_ring.quality@mwd-test")];
        let broad = &m.resources[&a("update_ring.quality@mwd-broad")];
        assert_eq!(test.display_name, "Windows Quality [mwd-test]");
        assert_eq!(test.natural_key, "windows quality [mwd-test]");
        assert_eq!(broad.props["displayName"], json!("Windows Quality [mwd-broad]"));
        assert!(!test.props.contains_key("rollout"), "rollout is not a Graph property");
        assert_eq!(test.props["qualityUpdatesDeferralPeriodInDays"], json!(3));
        assert_eq!(test.props["assignments"]["include"], json!([reference("group.mwd-test")]));
        assert_eq!(test.props["assignments"]["exclude"], json!([reference("group.kiosks")]));
        assert_eq!(broad.props["assignments"]["include"], json!([reference("group.mwd-broad")]));
        assert!(test.depends_on.contains(&a("group.mwd-test")) && !test.depends_on.contains(&a("group.mwd-broad")));
        // Everything else about the copies is equal.
        let strip = |r: &DesiredResource| {
            let mut p = r.props.clone();
            p.remove("displayName");
            p.remove("assignments");
            p
        };
        assert_eq!(strip(test), strip(broad));
        // Policies without a rollout are untouched.
        let plain = &m.resources[&a("device_configuration.plain")];
        assert_eq!(plain.display_name, "Plain");
        assert!(!m.rings.contains_key(&a("device_configuration.plain")));
    }

    #[test]
    fn the_rings_map_feeds_the_gate() {
        let m = model();
        let ring = &m.rings[&a("update_ring.quality@mwd-broad")];
        assert_eq!(ring.policy, a("update_ring.quality"));
        assert_eq!(ring.rings, vec!["mwd-test", "mwd-broad"]);
        assert_eq!((ring.index, ring.soak_secs), (1, 2 * 86_400));
        let c = &m.rings[&a("compliance_policy.baseline@mwd-test")];
        assert_eq!((c.index, c.soak_secs), (0, 90 * 60));
        assert_eq!(m.resources[&a("compliance_policy.baseline@mwd-test")].display_name, "Baseline [mwd-test]");
        // Every ring copy is a resource, and every rollout resource a ring.
        let copies: Vec<&Address> = m.resources.keys().filter(|k| k.key.contains('@')).collect();
        assert_eq!(copies.len(), 4);
        assert!(copies.iter().all(|c| m.rings.contains_key(*c)));
        // Addresses of copies round-trip through text (ledger, plan files).
        let text = "update_ring.quality@mwd-test";
        assert_eq!(a(text).to_string(), text);
    }
}
