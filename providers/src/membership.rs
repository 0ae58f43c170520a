//! Live membership of the groups governance judges but desired state does
//! not manage: groups that declared policies, Autopilot profiles and
//! conditional access target (declared without `members`, or assigned live
//! by id and not declared), groups holding a directory role, the groups
//! nested in them, the member groups of Intune role assignments, the groups
//! conditional access excludes, the groups access package policies admit
//! or name as approvers, licensed groups and the groups their `memberOf` rules name, and the Managed Desktop ring device groups. Each member comes with its type (`user`,
//! `device`, `group`, ... from `@odata.type`), into
//! [`ObservedState::memberships`], so the engine can tell whether a service
//! account is reached and whether a ring group holds devices only.
//!
//! `observe` reads it with `/groups/{id}/members?$select=id` through
//! `$batch` (20 a batch), only for the groups that need it, level by level
//! for nested groups; the reconcile loop takes it from the group delta
//! snapshot (`members@delta`), which costs no request at all. A read that
//! fails makes groups unreadable (unknown), never "no members".

use std::collections::{BTreeMap, BTreeSet};

use engine::governance::live::{assignment_refs, manages_membership, member_type, GROUP};
use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::{Address, Kind};
use serde_json::Value;

use crate::graph::{BatchRequest, GraphClient, GraphError};

/// Levels of live nesting followed by `observe` (each level is one round
/// of `$batch`); groups nested deeper stay unread, which the engine
/// reports as unknown.
const MAX_DEPTH: usize = 8;

/// What the groups that need their membership read are, and how declared
/// groups map to live ids.
struct Needs {
    /// Live group ids to read first.
    start: BTreeSet<String>,
    /// Live ids of declared groups whose membership desired state manages
    /// (their declared members are followed by the engine, not read).
    managed: BTreeSet<String>,
}

/// Live id of each desired resource of `kinds` found live: by ledger id,
/// else by natural key.
fn matched<'a>(desired: &'a DesiredModel, ledger: &Ledger, live: &'a [&'a LiveObject]) -> BTreeMap<&'a Address, &'a str> {
    let by_id: BTreeMap<&str, &LiveObject> = live.iter().map(|o| (o.id.as_str(), *o)).collect();
    let by_key: BTreeMap<(Kind, &str), &LiveObject> = live.iter().map(|o| ((o.kind, o.natural_key.as_str()), *o)).collect();
    let mut out = BTreeMap::new();
    for (a, r) in &desired.resources {
        let found = ledger.id(a).and_then(|id| by_id.get(id)).or_else(|| by_key.get(&(a.kind, r.natural_key.as_str())));
        if let Some(o) = found.filter(|o| o.kind == a.kind) {
            out.insert(a, o.id.as_str());
        }
    }
    out
}

fn needs(desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Needs {
    let live: Vec<&LiveObject> = observed.objects.values().flatten().collect();
    let ids = matched(desired, ledger, &live);
    let groups: BTreeSet<&str> = observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| o.id.as_str()).collect();
    let managed: BTreeSet<String> = ids.iter().filter(|(a, _)| a.kind == Kind::Group && manages_membership(desired, a)).map(|(_, i)| i.to_string()).collect();
    let mut start = BTreeSet::new();
    if let Some(md) = &desired.governance.managed_desktop {
        for ring in &md.rings {
            if let Some(id) = ids.get(&Address::new(Kind::Group, ring.as_str())) {
                start.insert(id.to_string());
            }
        }
    }
    // Targets, declared and live; declared groups with members are
    // followed down to the groups whose membership is live.
    let mut todo: Vec<String> = Vec::new();
    let live_by_id: BTreeMap<&str, &LiveObject> = live.iter().map(|o| (o.id.as_str(), *o)).collect();
    for (a, r) in desired.resources.iter().filter(|(a, _)| a.kind.is_policy() || a.kind == Kind::AutopilotProfile) {
        let mut sets = vec![assignment_refs(&r.props)];
        if let Some(o) = ids.get(a).and_then(|id| live_by_id.get(id)) {
            sets.push(assignment_refs(&o.props));
        }
        for (inc_a, inc_r, exc_a, exc_r) in sets {
            for addr in inc_a.iter().chain(exc_a.iter()) {
                if let Some(id) = ids.get(addr) {
                    todo.push(id.to_string());
                }
            }
            todo.extend(inc_r.into_iter().chain(exc_r).filter(|r| groups.contains(r.as_str())));
        }
    }
    // Groups holding a directory role (declared or live): a service
    // account in one holds the role (least privilege).
    for r in desired.resources.iter().filter(|(a, _)| a.kind == Kind::RoleAssignment).map(|(_, r)| r) {
        let principal = r.props.get("principal").and_then(engine::model::as_reference).and_then(|p| p.parse::<Address>().ok());
        if let Some(id) = principal.filter(|p| p.kind == Kind::Group).and_then(|p| ids.get(&p)) {
            todo.push(id.to_string());
        }
    }
    for o in observed.objects.get(&Kind::RoleAssignment).into_iter().flatten() {
        if let Some(p) = o.props.get("principal").and_then(engine::model::as_reference).filter(|p| groups.contains(p)) {
            todo.push(p.to_string());
        }
    }
    // Member groups of Intune role assignments (declared or live): a
    // service account in one holds that Intune role (least privilege).
    for r in desired.resources.iter().filter(|(a, _)| a.kind == Kind::IntuneRoleAssignment).map(|(_, r)| r) {
        for m in r.props.get("members").and_then(Value::as_array).into_iter().flatten().filter_map(engine::model::as_reference) {
            if let Some(id) = m.parse::<Address>().ok().filter(|a| a.kind == Kind::Group).and_then(|a| ids.get(&a)) {
                todo.push(id.to_string());
            }
        }
    }
    for o in observed.objects.get(&Kind::IntuneRoleAssignment).into_iter().flatten() {
        for m in o.props.get("members").and_then(Value::as_array).into_iter().flatten().filter_map(engine::model::as_reference) {
            let m = m.strip_prefix("id:").unwrap_or(m);
            if groups.contains(m) {
                todo.push(m.to_string());
            }
        }
    }
    // Groups conditional access excludes (declared or live): their
    // members escape the policy (`governance::live_reach`).
    for (a, r) in desired.resources.iter().filter(|(a, _)| a.kind == Kind::ConditionalAccess) {
        let excluded = |p: &engine::Props| p.get("conditions").and_then(|c| c.get("users")).and_then(|u| u.get("excludeGroups")).and_then(Value::as_array).cloned().unwrap_or_default();
        let mut refs = excluded(&r.props);
        refs.extend(ids.get(a).and_then(|id| live_by_id.get(id)).map(|o| excluded(&o.props)).unwrap_or_default());
        for m in refs.iter().filter_map(engine::model::as_reference) {
            let m = m.strip_prefix("id:").unwrap_or(m);
            match m.parse::<Address>() {
                Ok(g) if g.kind == Kind::Group => todo.extend(ids.get(&g).map(|i| i.to_string())),
                Ok(_) => {}
                Err(_) if groups.contains(m) => todo.push(m.to_string()),
                Err(_) => {}
            }
        }
    }
    // Groups an authentication method's (or the registration campaign's)
    // live targets include: an undeclared one is judged by its live
    // members (`governance::method_reach`).
    for o in observed.objects.get(&Kind::AuthenticationMethodsPolicy).into_iter().flatten() {
        let mut refs: Vec<&Value> = Vec::new();
        for m in o.props.get("methods").and_then(Value::as_object).into_iter().flatten().map(|(_, m)| m) {
            refs.extend(m.get("include").and_then(Value::as_array).into_iter().flatten());
        }
        refs.extend(o.props.get("registrationCampaign").and_then(|c| c.get("include")).and_then(Value::as_array).into_iter().flatten());
        for r in refs.into_iter().filter_map(engine::model::as_reference) {
            let r = r.strip_prefix("id:").unwrap_or(r);
            if groups.contains(r) {
                todo.push(r.to_string());
            }
        }
    }
    // Declared groups that approve or review (PIM activation approvers, an
    // access package policy's approvers, reviewers and specific targets),
    // that an authentication method or the registration campaign
    // includes, and that an Intune role assignment is scoped to: each is
    // judged by its live members where desired state does not manage them
    // (`governance::approver_live`, `method_reach`, `people_reach`).
    for (a, r) in &desired.resources {
        let mut refs = BTreeSet::new();
        match a.kind {
            Kind::RolePolicy => {
                if let Some(v) = r.props.get("activation").and_then(|x| x.get("approvers")) {
                    engine::plan::referenced_addresses(v, &mut refs);
                }
            }
            Kind::AccessPackage => {
                for pol in r.props.get("policies").and_then(Value::as_object).into_iter().flatten().map(|(_, p)| p) {
                    for k in ["requestApprovalSettings", "reviewSettings", "specificAllowedTargets"] {
                        if let Some(v) = pol.get(k) {
                            engine::plan::referenced_addresses(v, &mut refs);
                        }
                    }
                }
            }
            Kind::AuthenticationMethodsPolicy => {
                for k in ["methods", "registrationCampaign"] {
                    if let Some(v) = r.props.get(k) {
                        engine::plan::referenced_addresses(v, &mut refs);
                    }
                }
            }
            Kind::IntuneRoleAssignment => {
                if let Some(v) = r.props.get("resourceScopes") {
                    engine::plan::referenced_addresses(v, &mut refs);
                }
            }
            _ => {}
        }
        todo.extend(refs.iter().filter(|g| g.kind == Kind::Group).filter_map(|g| ids.get(g)).map(|i| i.to_string()));
        // A group the plan has not created yet is judged from desired
        // state: the groups its `memberOf` rule names, live.
        todo.extend(refs.iter().filter(|g| g.kind == Kind::Group && !ids.contains_key(g)).filter_map(|g| desired.resources.get(g)).flat_map(|r| named_by_rule(r, &groups)));
    }
    // Licensed groups: a service account among their live members gets a
    // licence (`governance::licensed_reach`).
    todo.extend(desired.resources.iter().filter(|(a, r)| a.kind == Kind::Group && r.props.get("assignedLicenses").and_then(Value::as_array).is_some_and(|l| !l.is_empty())).filter_map(|(a, _)| ids.get(a)).map(|i| i.to_string()));
    // The groups a licensed group's `memberOf` rule names: their live
    // members are its members (`governance::licensed_reach`).
    for r in desired.resources.iter().filter(|(a, r)| a.kind == Kind::Group && r.props.get("assignedLicenses").and_then(Value::as_array).is_some_and(|l| !l.is_empty())).map(|(_, r)| r) {
        let named = r.props.get("membershipRule").and_then(Value::as_str).and_then(engine::governance::member_of::member_of_ids).unwrap_or_default();
        todo.extend(named.into_iter().filter_map(|n| groups.iter().find(|g| g.eq_ignore_ascii_case(&n)).map(|g| g.to_string())));
    }
    let by_live: BTreeMap<&str, &Address> = ids.iter().map(|(a, i)| (*i, *a)).collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) || !groups.contains(id.as_str()) {
            continue;
        }
        if !managed.contains(&id) {
            start.insert(id);
            continue;
        }
        // A declared member list: its nested groups.
        let Some(r) = by_live.get(id.as_str()).and_then(|a| desired.resources.get(*a)) else { continue };
        let mut refs = BTreeSet::new();
        if let Some(m) = r.props.get("members") {
            engine::plan::referenced_addresses(m, &mut refs);
        }
        todo.extend(refs.iter().filter(|m| m.kind == Kind::Group).filter_map(|m| ids.get(m)).map(|i| i.to_string()));
        // A `memberOf` rule's groups: their live members are its members
        // (`governance::live_members` follows them; hostile run 24,
        // findings 7 and 8, the rest).
        todo.extend(named_by_rule(r, &groups));
    }
    // Dynamic groups desired state declares are judged by their rule.
    let dynamic: BTreeSet<String> = ids
        .iter()
        .filter(|(a, _)| a.kind == Kind::Group && desired.resources.get(*a).is_some_and(|r| r.props.contains_key("membershipRule")))
        .map(|(_, i)| i.to_string())
        .collect();
    let rings: BTreeSet<String> = desired
        .governance
        .managed_desktop
        .iter()
        .flat_map(|md| md.rings.iter())
        .filter_map(|k| ids.get(&Address::new(Kind::Group, k.as_str())).map(|i| i.to_string()))
        .collect();
    start.retain(|id| rings.contains(id) || !dynamic.contains(id));
    // The service-accounts group's live members are service accounts
    // whatever desired state declares (`governance::accounts`): read it
    // even when dynamic (its rule is evaluated by Entra, not by us).
    if let Some(id) = desired.governance.managed_desktop.as_ref().and_then(|md| md.service_accounts_group.as_ref()).and_then(|k| ids.get(&Address::new(Kind::Group, k.as_str()))) {
        start.insert(id.to_string());
    }
    Needs { start, managed }
}

/// The live groups a declared group's `memberOf` rule names (their ids).
fn named_by_rule(r: &engine::DesiredResource, groups: &BTreeSet<&str>) -> Vec<String> {
    let named = r.props.get("membershipRule").and_then(Value::as_str).and_then(engine::governance::member_of::member_of_ids).unwrap_or_default();
    named.into_iter().filter_map(|n| groups.get(n.as_str()).or_else(|| groups.iter().find(|g| g.eq_ignore_ascii_case(&n))).map(|g| g.to_string())).collect()
}

/// Read the membership `observe` needs into `observed.memberships`. An
/// authentication failure is returned; any other failure makes groups
/// unreadable.
pub async fn read_live(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, observed: &mut ObservedState) -> Result<(), GraphError> {
    if !observed.objects.contains_key(&Kind::Group) || observed.unreadable.contains_key(&Kind::Group) {
        return Ok(());
    }
    let Needs { start, managed } = needs(desired, ledger, observed);
    match read_levels(client, start, &managed).await {
        Ok(m) => observed.memberships.extend(m),
        Err(e @ GraphError::Auth { .. }) => return Err(e),
        Err(e) => {
            let reason = format!("reading the live membership of groups: {e}");
            tracing::warn!(error = %reason, "read failed; groups are unknown");
            observed.unreadable.insert(Kind::Group, reason);
        }
    }
    Ok(())
}

async fn read_levels(client: &GraphClient, start: BTreeSet<String>, managed: &BTreeSet<String>) -> Result<BTreeMap<String, BTreeMap<String, String>>, GraphError> {
    let v1 = client.v1();
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut level: Vec<String> = start.into_iter().collect();
    for _ in 0..MAX_DEPTH {
        if level.is_empty() {
            break;
        }
        let requests = level.iter().map(|id| BatchRequest::get(format!("/groups/{id}/members?$select=id&$top=999"))).collect();
        let responses = v1.batch(requests).await?;
        let mut next = BTreeSet::new();
        for (id, response) in level.iter().zip(responses) {
            let body = response.into_result()?.unwrap_or(Value::Null);
            let mut items: Vec<Value> = body.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
            if let Some(link) = body.get("@odata.nextLink").and_then(Value::as_str) {
                items.extend(v1.list_all(link).await?);
            }
            let members = members_of(&items);
            next.extend(members.iter().filter(|(m, t)| t.as_str() == GROUP && !managed.contains(*m)).map(|(m, _)| m.clone()));
            out.insert(id.clone(), members);
        }
        next.retain(|g| !out.contains_key(g));
        level = next.into_iter().collect();
    }
    Ok(out)
}

fn members_of(items: &[Value]) -> BTreeMap<String, String> {
    items
        .iter()
        .filter_map(|m| {
            let id = m.get("id").and_then(Value::as_str)?;
            Some((id.to_string(), member_type(m.get("@odata.type").and_then(Value::as_str))))
        })
        .collect()
}

/// The same membership from the group delta snapshot (`members@delta`
/// keeps every group's members, `member_types` their types): no request.
pub fn from_snapshot(desired: &DesiredModel, ledger: &Ledger, snap: Option<&crate::delta::Snapshot>, observed: &mut ObservedState) {
    let Some(snap) = snap else { return };
    if !observed.objects.contains_key(&Kind::Group) || observed.unreadable.contains_key(&Kind::Group) {
        return;
    }
    let Needs { start, managed } = needs(desired, ledger, observed);
    let users: BTreeSet<&str> = [Kind::User, Kind::Guest].iter().flat_map(|k| observed.objects.get(k).into_iter().flatten()).map(|o| o.id.as_str()).collect();
    let type_of = |m: &str| -> String {
        match snap.member_types.get(m) {
            Some(t) => t.clone(),
            None if snap.objects.contains_key(m) => GROUP.to_string(),
            None if users.contains(m) => "user".to_string(),
            None => member_type(None),
        }
    };
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut todo: Vec<String> = start.into_iter().collect();
    while let Some(id) = todo.pop() {
        if out.contains_key(&id) || !snap.objects.contains_key(&id) {
            continue;
        }
        let members: BTreeMap<String, String> = snap.members.get(&id).into_iter().flatten().map(|m| (m.clone(), type_of(m))).collect();
        todo.extend(members.iter().filter(|(m, t)| t.as_str() == GROUP && !managed.contains(*m)).map(|(m, _)| m.clone()));
        out.insert(id, members);
    }
    observed.memberships.extend(out);
}
