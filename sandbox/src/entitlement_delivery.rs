//! What delivering an access package assignment does to its resources, as
//! Entra does it: when an `adminAdd` is delivered the target is added to
//! each group the package holds a role of (the `Member_<group>` role makes
//! them a member, `Owner_<group>` an owner), and when the assignment ends
//! (`adminRemove`) they are taken out again, unless another assignment the
//! target still holds grants the same role of the same group. A role
//! added to or removed from the package later reaches the assignments
//! already delivered, as Entra re-evaluates them: their targets join the
//! new role's group, and leave a removed role's group
//! ([`roles_changed`]). An assignment whose schedule has ended (its
//! `endDateTime`, or its start plus its duration, at or before the
//! sandbox's clock, `crate::clock`) is `expired` at the next request, and
//! its targets leave the groups it granted ([`expire_due`]), as Entra's
//! expiry does.

use serde_json::Value;

use crate::entitlement::{ASSIGNMENTS, PACKAGES};
use crate::store::{Record, Tenant};

const PACKAGE_ID: &str = "accessPackageId";
const TARGET_ID: &str = "targetId";
const ROLE_SCOPES: &str = "resourceRoleScopes";
const MEMBERS: &str = "members";
const OWNERS: &str = "owners";

/// The (group, `members`/`owners`) pairs package `package`'s role scopes grant.
fn group_roles(t: &Tenant, package: &str) -> Vec<(String, &'static str)> {
    let scopes = t.get(PACKAGES, package).and_then(|p| p.nav.get(ROLE_SCOPES)).and_then(Value::as_array).cloned().unwrap_or_default();
    scopes
        .iter()
        .filter(|rs| rs.pointer("/role/originSystem").and_then(Value::as_str) == Some("AadGroup"))
        .filter_map(|rs| {
            let origin = rs.pointer("/role/originId").and_then(Value::as_str)?;
            match origin.split_once('_')? {
                ("Member", g) => Some((g.to_string(), MEMBERS)),
                ("Owner", g) => Some((g.to_string(), OWNERS)),
                _ => None,
            }
        })
        .collect()
}

fn nav_str<'a>(r: &'a Record, k: &str) -> &'a str {
    r.nav.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// Adds the target of the (just delivered) assignment `assignment` to the
/// groups its package grants.
pub fn deliver(t: &mut Tenant, assignment: &str) {
    let Some(a) = t.get(ASSIGNMENTS, assignment).cloned() else { return };
    let target = nav_str(&a, TARGET_ID).to_string();
    for (group, rel) in group_roles(t, nav_str(&a, PACKAGE_ID)) {
        if t.get("groups", &group).is_some() {
            t.add_link(&group, rel, &target);
        }
    }
}

/// Takes the target of the (just ended) assignment `assignment` out of
/// the groups its package granted, except where another assignment the
/// target still holds grants the same group role.
pub fn withdraw(t: &mut Tenant, assignment: &str) {
    let Some(a) = t.get(ASSIGNMENTS, assignment).cloned() else { return };
    let target = nav_str(&a, TARGET_ID).to_string();
    let others: Vec<String> = t
        .coll(ASSIGNMENTS)
        .map(|c| {
            c.iter()
                .filter(|(id, r)| id.as_str() != assignment && nav_str(r, TARGET_ID) == target && r.data.get("state").and_then(Value::as_str) == Some("delivered"))
                .map(|(_, r)| nav_str(r, PACKAGE_ID).to_string())
                .collect()
        })
        .unwrap_or_default();
    let kept: Vec<(String, &'static str)> = others.iter().flat_map(|p| group_roles(t, p)).collect();
    for (group, rel) in group_roles(t, nav_str(&a, PACKAGE_ID)) {
        if !kept.contains(&(group.clone(), rel)) {
            t.remove_link(&group, rel, &target);
        }
    }
}

/// When assignment `a`'s schedule ends, if it does.
fn end_of(a: &Record) -> Option<chrono::DateTime<chrono::Utc>> {
    let e = a.data.get("schedule")?.get("expiration")?;
    let parse = |k: &str| a.data.get("schedule")?.get(k)?.as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&chrono::Utc));
    match e.get("type").and_then(Value::as_str) {
        Some("afterDateTime") => e.get("endDateTime").and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&chrono::Utc)),
        Some("afterDuration") => Some(parse("startDateTime")? + crate::pim::parse_duration(e.get("duration")?.as_str()?)?),
        _ => None,
    }
}

/// Assignments delivered (or being delivered) whose schedule ended at or
/// before `now_ms` become `expired`, and their targets leave the groups
/// they granted.
pub fn expire_due(t: &mut Tenant, now_ms: i64) {
    let Some(now) = chrono::DateTime::from_timestamp_millis(now_ms) else { return };
    let due: Vec<(String, chrono::DateTime<chrono::Utc>)> = t
        .coll(ASSIGNMENTS)
        .map(|c| {
            c.iter()
                .filter(|(_, r)| r.data.get("state").and_then(Value::as_str).is_some_and(|s| ["delivered", "delivering", "partiallyDelivered"].contains(&s)))
                .filter_map(|(id, r)| end_of(r).filter(|end| *end <= now).map(|end| (id.clone(), end)))
                .collect()
        })
        .unwrap_or_default();
    for (id, end) in due {
        t.update(ASSIGNMENTS, &id, |r| {
            r.data.insert("state".into(), serde_json::json!("expired"));
            r.data.insert("status".into(), serde_json::json!("Expired"));
            r.data.insert("expiredDateTime".into(), serde_json::json!(end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        });
        withdraw(t, &id);
    }
}

/// The group roles of `package` were `before`; its delivered assignments
/// get what it grants now: targets join a role's group it gained, and
/// leave one it lost unless another delivered assignment they hold still
/// grants it.
pub fn roles_changed(t: &mut Tenant, package: &str, before: &[(String, &'static str)]) {
    let after = group_roles(t, package);
    let delivered: Vec<String> = t
        .coll(ASSIGNMENTS)
        .map(|c| c.values().filter(|r| nav_str(r, PACKAGE_ID) == package && r.data.get("state").and_then(Value::as_str) == Some("delivered")).map(|r| nav_str(r, TARGET_ID).to_string()).collect())
        .unwrap_or_default();
    for (group, rel) in after.iter().filter(|g| !before.contains(g)) {
        if t.get("groups", group).is_some() {
            for target in &delivered {
                t.add_link(group, rel, target);
            }
        }
    }
    for (group, rel) in before.iter().filter(|g| !after.contains(g)) {
        for target in &delivered {
            // Another delivered assignment of this target (any package) still granting it.
            let kept = t
                .coll(ASSIGNMENTS)
                .map(|c| {
                    c.values()
                        .filter(|r| nav_str(r, TARGET_ID) == target && r.data.get("state").and_then(Value::as_str) == Some("delivered"))
                        .map(|r| nav_str(r, PACKAGE_ID).to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
                .iter()
                .any(|p| group_roles(t, p).contains(&(group.clone(), *rel)));
            if !kept {
                t.remove_link(group, rel, target);
            }
        }
    }
}

/// The group roles `package` grants now (for [`roles_changed`]).
pub fn roles_of(t: &Tenant, package: &str) -> Vec<(String, &'static str)> {
    group_roles(t, package)
}
