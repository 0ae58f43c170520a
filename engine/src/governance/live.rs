//! Governance over live group membership that desired state does not
//! manage ([`ObservedState::memberships`]): whether an assignment reaches a
//! service account through a group whose members are added live (a group
//! declared without `members`, or one the tenant targets that desired state
//! does not declare), and whether a ring device group holds devices only.
//!
//! Membership that was not read is unknown: it is reported as an error
//! that says so, never taken for "no service account here".

use std::collections::{BTreeMap, BTreeSet};
use std::collections::HashMap;

use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use crate::model::{as_reference, DesiredModel, LiveObject, ObservedState};

/// The member type of a device (`#microsoft.graph.device`).
pub const DEVICE: &str = "device";
/// The member type of a group.
pub const GROUP: &str = "group";

/// The short member type of an `@odata.type` (`#microsoft.graph.user` ->
/// `user`); unknown or missing types are `directoryObject`.
pub fn member_type(odata_type: Option<&str>) -> String {
    match odata_type.map(|t| t.trim_start_matches('#').trim_start_matches("microsoft.graph.")) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => "directoryObject".to_string(),
    }
}

/// Whether desired state manages this group's membership (declares
/// `members` or a membership rule).
pub fn manages_membership(desired: &DesiredModel, group: &Address) -> bool {
    desired.resources.get(group).is_some_and(|r| r.props.contains_key("members") || r.props.contains_key("membershipRule"))
}

/// Group references an assignment value names, split into included and
/// excluded (anything not under `exclude`/`excludeGroups` includes).
pub fn assignment_refs(props: &crate::Props) -> (BTreeSet<Address>, BTreeSet<String>, BTreeSet<Address>, BTreeSet<String>) {
    let mut inc_refs = Vec::new();
    let mut exc_refs = Vec::new();
    if let Some(Value::Object(m)) = props.get("assignments") {
        for (k, v) in m {
            if k == "exclude" {
                exc_refs.push(v);
            } else {
                inc_refs.push(v);
            }
        }
    }
    if let Some(users) = props.get("conditions").and_then(|c| c.get("users")) {
        if let Some(v) = users.get("includeGroups") {
            inc_refs.push(v);
        }
        for k in ["excludeGroups", "excludeUsers"] {
            if let Some(v) = users.get(k) {
                exc_refs.push(v);
            }
        }
    }
    let split = |vals: &[&Value]| {
        let mut addrs = BTreeSet::new();
        let mut raw = BTreeSet::new();
        for v in vals {
            collect(v, &mut addrs, &mut raw);
        }
        (addrs, raw)
    };
    let (ia, ir) = split(&inc_refs);
    let (ea, er) = split(&exc_refs);
    (ia, ir, ea, er)
}

fn collect(v: &Value, addrs: &mut BTreeSet<Address>, raw: &mut BTreeSet<String>) {
    if let Some(r) = as_reference(v) {
        let r = r.strip_prefix("id:").unwrap_or(r);
        match r.parse::<Address>() {
            Ok(a) => {
                addrs.insert(a);
            }
            Err(_) => {
                raw.insert(r.to_string());
            }
        }
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect(x, addrs, raw)),
        Value::Object(m) => m.values().for_each(|x| collect(x, addrs, raw)),
        _ => {}
    }
}

/// The groups a value refers to (as [`crate::plan::referenced_addresses`], keeping only
/// addresses of kind group).
fn referenced_groups(v: &Value, out: &mut BTreeSet<Address>) {
    if let Some(r) = as_reference(v) {
        if r.split_once('.').is_some_and(|(kind, _)| kind == Kind::Group.as_str()) {
            if let Ok(a) = r.parse::<Address>() {
                out.insert(a);
            }
        }
        return;
    }
    match v {
        Value::Object(m) => m.values().for_each(|v| referenced_groups(v, out)),
        Value::Array(a) => a.iter().for_each(|v| referenced_groups(v, out)),
        _ => {}
    }
}

/// What live membership reaches.
#[derive(Debug, Default)]
struct LiveReach {
    /// Service accounts reached through live membership, with the path.
    accounts: BTreeMap<Address, String>,
    /// Why it cannot be known (membership not read).
    unknown: Vec<String>,
    /// Walking an exclusion: only accounts PROVED members count (declared
    /// members, live members as read, a rule evaluated against declared
    /// properties); a service-accounts group proves nothing by its name.
    proving: bool,
}

struct Walk<'a> {
    desired: &'a DesiredModel,
    observed: &'a ObservedState,
    by_id: &'a HashMap<&'a str, &'a Address>,
    /// Matched ids by address (looked up for the few groups a walk visits,
    /// never copied into a map of every object).
    ids: &'a BTreeMap<Address, String>,
    live_groups: HashMap<&'a str, &'a LiveObject>,
}

impl<'a> Walk<'a> {
    fn new(desired: &'a DesiredModel, observed: &'a ObservedState, ids: &'a super::index::IdIndex<'a>) -> Self {
        Walk {
            desired,
            observed,
            by_id: ids.by_id(),
            ids,
            live_groups: observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| (o.id.as_str(), o)).collect(),
        }
    }

    /// The live id an address was matched to.
    fn id_of(&self, a: &Address) -> Option<&'a str> {
        self.ids.get(a).map(String::as_str)
    }

    fn name(&self, id: &str) -> String {
        match self.by_id.get(id) {
            Some(a) => a.to_string(),
            None => format!("group id:{id}"),
        }
    }

    /// The live group id a reference names: an address matched live, or a
    /// raw id of a live group.
    fn group_id(&self, a: Option<&Address>, raw: Option<&str>) -> Option<&'a str> {
        match (a, raw) {
            (Some(a), _) => self.id_of(a),
            (None, Some(r)) => self.live_groups.get_key_value(r).map(|(k, _)| *k),
            _ => None,
        }
    }

    /// Walk group `id`; accounts are recorded only once a group whose
    /// membership is live (not managed) has been passed (`live`), since
    /// the desired-state lint reports the rest.
    fn reach(&self, id: &str, path: &str, live: bool, seen: &mut BTreeSet<String>, out: &mut LiveReach) {
        if !seen.insert(id.to_string()) {
            return;
        }
        let address = self.by_id.get(id).copied();
        if let Some(a) = address {
            if self.desired.service_account_groups.contains(a) && !out.proving {
                // Included through live nesting (the desired lint sees
                // only declared nesting): it reaches every service account.
                if live {
                    for s in &self.desired.service_accounts {
                        out.accounts.entry(s.clone()).or_insert_with(|| format!("through {path}, a service-accounts group"));
                    }
                }
                return;
            }
            if self.desired.service_accounts.contains(a) {
                if live {
                    out.accounts.entry(a.clone()).or_insert_with(|| format!("through {path}"));
                }
                return;
            }
            if a.kind != Kind::Group {
                return;
            }
            if manages_membership(self.desired, a) {
                // Declared members: follow nested groups (their membership
                // may be live); a rule is judged by the desired lint.
                if out.proving {
                    for s in super::targets::proven_members(self.desired, a) {
                        out.accounts.entry(s).or_insert_with(|| format!("a member of {path}"));
                    }
                    // Live members as read (a dynamic group's, when read).
                    for m in self.observed.memberships.get(id).into_iter().flat_map(|m| m.keys()) {
                        if let Some(s) = self.by_id.get(m.as_str()).filter(|s| self.desired.service_accounts.contains(**s)) {
                            out.accounts.entry((*s).clone()).or_insert_with(|| format!("a live member of {path}"));
                        }
                    }
                }
                let Some(r) = self.desired.resources.get(a) else { return };
                // Only nested groups are followed: member references to
                // anything else are not parsed (every group's users were,
                // for every assignment that reaches it).
                let mut refs = BTreeSet::new();
                if let Some(m) = r.props.get("members") {
                    referenced_groups(m, &mut refs);
                }
                for m in &refs {
                    if let Some(mid) = self.id_of(m) {
                        self.reach(mid, &format!("{path} > {m}"), live, seen, out);
                    }
                }
                return;
            }
        }
        if !self.live_groups.contains_key(id) {
            return;
        }
        match self.observed.memberships.get(id) {
            Some(members) => {
                for (mid, ty) in members {
                    if let Some(a) = self.by_id.get(mid.as_str()) {
                        if self.desired.service_accounts.contains(*a) {
                            out.accounts.entry((*a).clone()).or_insert_with(|| format!("through {path}, which holds it live (its membership is not managed in desired state)"));
                            continue;
                        }
                    }
                    if ty == GROUP {
                        self.reach(mid, &format!("{path} > {}", self.name(mid)), true, seen, out);
                    }
                }
            }
            None => out.unknown.push(format!("the live membership of {} was not read", self.name(id))),
        }
    }
}

/// Assignments (policies, Autopilot profiles, conditional access) that
/// reach a service account through live membership, and ring device groups
/// holding anything but devices. Nothing is said when groups (or users)
/// could not be read: the plan lists them as unknown already.
pub fn lint_membership(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Finding> {
    lint_membership_indexed(desired, observed, &super::index::IdIndex::new(ids))
}

/// [`lint_membership`] with the plan's shared id index.
pub(crate) fn lint_membership_indexed(desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if [Kind::Group, Kind::User].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    let walk = Walk::new(desired, observed, ids);
    let fix = match desired.service_account_groups.iter().next() {
        Some(g) => format!("exclude {g}"),
        None => "exclude the service accounts".to_string(),
    };
    // Only the kinds judged below are looked up.
    let live_by_id: HashMap<&str, &LiveObject> = observed.objects.iter().filter(|(k, _)| k.is_policy() || **k == Kind::AutopilotProfile).flat_map(|(_, v)| v).map(|o| (o.id.as_str(), o)).collect();
    for (address, r) in &desired.resources {
        let targeting = address.kind.is_policy() || address.kind == Kind::AutopilotProfile;
        if !targeting {
            continue;
        }
        let why = if address.kind == Kind::ConditionalAccess { "service accounts get no MFA or conditional access" } else { "service accounts get no policy" };
        let (mut inc_a, mut inc_r, mut exc_a, mut exc_r) = assignment_refs(&r.props);
        // What the tenant assigns now counts as well as what is declared.
        if let Some(live) = ids.get(address).and_then(|id| live_by_id.get(id.as_str())) {
            let (a, r2, b, r3) = assignment_refs(&live.props);
            inc_a.extend(a);
            inc_r.extend(r2);
            exc_a.extend(b);
            exc_r.extend(r3);
        }
        let to_ids = |addrs: &BTreeSet<Address>, raw: &BTreeSet<String>| -> Vec<String> {
            let mut v: Vec<String> = addrs.iter().filter_map(|a| walk.group_id(Some(a), None)).map(str::to_string).collect();
            v.extend(raw.iter().filter_map(|r| walk.group_id(None, Some(r))).map(str::to_string));
            v.sort();
            v.dedup();
            v
        };
        let mut inc = LiveReach::default();
        for id in to_ids(&inc_a, &inc_r) {
            let mut seen = BTreeSet::new();
            let name = walk.name(&id);
            walk.reach(&id, &name, false, &mut seen, &mut inc);
        }
        let mut exc = LiveReach { proving: true, ..Default::default() };
        let excluded_ids = to_ids(&exc_a, &exc_r);
        for id in &excluded_ids {
            let mut seen = BTreeSet::new();
            let name = walk.name(id);
            // Excluded accounts count whether membership is managed or live.
            walk.reach(id, &name, true, &mut seen, &mut exc);
        }
        // Only accounts proved excluded are taken away (declared members,
        // live members, a rule matching declared properties).
        let exc_list: Vec<Address> = exc_a.iter().cloned().collect();
        let proved = super::targets::proven_excluded(desired, &exc_list);
        let excluded_accounts: BTreeSet<&Address> = exc.accounts.keys().chain(proved.iter()).collect();
        if !desired.service_accounts.is_empty() && desired.service_accounts.iter().all(|s| excluded_accounts.contains(s)) {
            continue;
        }
        for (s, how) in &inc.accounts {
            if !excluded_accounts.contains(s) {
                out.push(Finding {
                    severity: Severity::Error,
                    lint: "service-account-targeted".into(),
                    address: address.to_string(),
                    message: format!("reaches service account {s} {how}: {why}; {fix}"),
                });
            }
        }
        for u in &inc.unknown {
            out.push(Finding {
                severity: Severity::Error,
                lint: "service-account-targeted".into(),
                address: address.to_string(),
                message: format!("could reach service accounts: {u}, so whether it holds one is unknown; {why}"),
            });
        }
    }
    out.extend(role_groups(desired, observed, ids, &walk));
    out.extend(ring_members(desired, observed, &walk));
    out.extend(autopilot_profiles(desired, observed, ids, &walk));
    out
}

/// Service accounts holding a role through a group whose membership is
/// live (declared without `members`, or nested live): the least-privilege
/// rules of a direct assignment apply ([`super::lints::service_account_role`]).
/// Role assignments declared and live (out-of-band ones too) count.
fn role_groups(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, walk: &Walk<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if observed.unreadable.contains_key(&Kind::RoleAssignment) {
        return out;
    }
    // (assignment address or live id, role, group id)
    let mut held: Vec<(String, String, String)> = Vec::new();
    for (address, r) in desired.resources.iter().filter(|(a, _)| a.kind == Kind::RoleAssignment) {
        let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
        let principal = r.props.get("principal").and_then(as_reference).and_then(|p| p.parse::<Address>().ok());
        if let Some(gid) = principal.filter(|p| p.kind == Kind::Group).and_then(|p| walk.group_id(Some(&p), None)) {
            held.push((address.to_string(), role.to_string(), gid.to_string()));
        }
    }
    let declared: BTreeSet<&str> = ids.iter().filter(|(a, _)| a.kind == Kind::RoleAssignment).map(|(_, i)| i.as_str()).collect();
    for o in observed.objects.get(&Kind::RoleAssignment).into_iter().flatten().filter(|o| !declared.contains(o.id.as_str())) {
        let role = o.props.get("role").and_then(Value::as_str).unwrap_or_default();
        let principal = o.props.get("principal").and_then(as_reference).unwrap_or_default();
        if let Some(gid) = walk.group_id(None, Some(principal)) {
            held.push((format!("id:{}", o.id), role.to_string(), gid.to_string()));
        }
    }
    for (address, role, gid) in held {
        let mut reach = LiveReach::default();
        let mut seen = BTreeSet::new();
        walk.reach(&gid, &walk.name(&gid), false, &mut seen, &mut reach);
        for (account, how) in &reach.accounts {
            out.extend(super::lints::service_account_role(desired, &address, account, &role, &format!(" {how}")));
        }
        for u in &reach.unknown {
            out.push(Finding {
                severity: Severity::Error,
                lint: "service-account-role".into(),
                address: address.clone(),
                message: format!("{role} is held by a group and {u}, so whether a service account holds it is unknown"),
            });
        }
    }
    out
}

/// At most one Autopilot profile targets the all-devices group, live as in
/// desired state: every profile assigned to it besides the Managed Desktop
/// one (or, with none marked, besides the first) is an error.
fn autopilot_profiles(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, walk: &Walk<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(md) = &desired.governance.managed_desktop else { return out };
    let Some(all) = md.all_devices.as_ref().map(|k| Address::new(Kind::Group, k.as_str())) else { return out };
    let all_id = walk.id_of(&all);
    if observed.unreadable.contains_key(&Kind::AutopilotProfile) {
        return out;
    }
    let marked = md.autopilot_profile.as_ref().map(|k| Address::new(Kind::AutopilotProfile, k.as_str()));
    let mut targeting: Vec<(String, bool)> = Vec::new();
    let tenant = super::grants::Tenant::new(desired, observed, ids);
    for o in observed.objects.get(&Kind::AutopilotProfile).into_iter().flatten() {
        let (_, raw, _, _) = assignment_refs(&o.props);
        let address = walk.by_id.get(o.id.as_str()).copied();
        let declared = address.and_then(|a| desired.resources.get(a));
        let declared_target = declared.is_some_and(|r| assignment_refs(&r.props).0.contains(&all) || all_devices(&r.props));
        // A group nesting the all-devices group, or with its rule (declared
        // or live), reaches its devices as well.
        let nested = raw.iter().any(|g| super::grants::reaches_all_devices(&tenant, g))
            || declared.is_some_and(|r| assignment_refs(&r.props).0.iter().any(|g| super::grants::reaches_all_devices(&tenant, &g.to_string())));
        // `allDevices` (filtered or not) reaches the all-devices group's devices too.
        if all_id.is_some_and(|i| raw.contains(i)) || declared_target || nested || all_devices(&o.props) {
            let name = address.map(|a| a.to_string()).unwrap_or_else(|| format!("autopilot_profile.({}) \"{}\"", o.id, o.display_name));
            targeting.push((name, address.is_some_and(|a| Some(a) == marked.as_ref())));
        }
    }
    if targeting.len() < 2 {
        return out;
    }
    // The marked profile is the one; the others break the rule.
    targeting.sort_by_key(|(n, is_marked)| (!is_marked, n.clone()));
    let names: Vec<String> = targeting.iter().map(|(n, _)| n.clone()).collect();
    for (name, _) in &targeting[1..] {
        out.push(Finding {
            severity: Severity::Error,
            lint: "one-autopilot-profile".into(),
            address: name.split(' ').next().unwrap_or_default().to_string(),
            message: format!("{name} targets the all-devices group {all} live; at most one Autopilot profile may ({}); remove its assignment", names.join(", ")),
        });
    }
    out
}

/// Whether assignments target all devices (`allDevices`, or a filtered
/// `allDevices` target under `filters`).
pub fn all_devices(props: &crate::Props) -> bool {
    let Some(a) = props.get("assignments") else { return false };
    a.get("allDevices").and_then(Value::as_bool) == Some(true)
        || a.get("filters").and_then(Value::as_object).is_some_and(|f| f.values().flat_map(|v| v.as_array().into_iter().flatten()).any(|t| t.as_str() == Some("allDevices")))
}

/// Ring device groups hold devices only: a user (or any other non-device)
/// member live is an error, as it is in desired state.
fn ring_members(desired: &DesiredModel, observed: &ObservedState, walk: &Walk<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(md) = &desired.governance.managed_desktop else { return out };
    for ring in &md.rings {
        let address = Address::new(Kind::Group, ring.as_str());
        let finding = |message: String| Finding { severity: Severity::Error, lint: "ring-devices-only".into(), address: address.to_string(), message };
        for (id, note) in ring_ids(desired, observed, walk, &address) {
            for mut f in ring_findings(observed, walk, &address, &id, &finding) {
                f.message.push_str(&note);
                out.push(f);
            }
        }
    }
    out
}

/// The live groups ring `address` is judged by, each with a note on how it
/// was found: the object the plan matched (ledger or natural key), and
/// every live group with the ring's natural key (desired state's), so a
/// ledger entry pointing at another group cannot move the judgement off
/// the ring's real group.
fn ring_ids(desired: &DesiredModel, observed: &ObservedState, walk: &Walk<'_>, address: &Address) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let matched = walk.id_of(address);
    if let Some(id) = matched {
        out.insert(id.to_string(), String::new());
    }
    let Some(key) = desired.resources.get(address).map(|r| r.natural_key.to_lowercase()) else { return out };
    for o in observed.objects.get(&Kind::Group).into_iter().flatten().filter(|o| o.natural_key.to_lowercase() == key) {
        out.entry(o.id.clone()).or_insert_with(|| match matched {
            Some(m) => format!(" (live group id:{} has the ring's natural key `{key}`; the ledger names id:{m} for {address})", o.id),
            None => format!(" (live group id:{}, the ring's natural key `{key}`)", o.id),
        });
    }
    out
}

/// What live group `id` of ring `address` holds besides devices.
fn ring_findings(observed: &ObservedState, walk: &Walk<'_>, address: &Address, id: &str, finding: &dyn Fn(String) -> Finding) -> Vec<Finding> {
    let mut out = Vec::new();
    match observed.memberships.get(id) {
        Some(members) => {
            for (mid, ty) in members.iter().filter(|(_, t)| t.as_str() != DEVICE) {
                let who = walk.by_id.get(mid.as_str()).map(|a| a.to_string()).unwrap_or_else(|| format!("id:{mid}"));
                // A nested group: name the people it holds (live, transitively).
                let people = if ty == GROUP { nested_people(observed, walk, mid) } else { Vec::new() };
                let holding = if people.is_empty() { String::new() } else { format!(", which holds {}", people.join(", ")) };
                out.push(finding(format!(
                    "{address} is a Managed Desktop ring device group: it holds devices only, but holds {ty} {who} live{holding}; remove it from the group (a change to a protected object, made by a person, not unattended)"
                )));
            }
        }
        None => out.push(finding(format!("{address} is a Managed Desktop ring device group, and its live membership was not read, so whether it holds devices only is unknown"))),
    }
    out
}

/// The people (non-device, non-group members) group `id` holds live,
/// nested groups followed, as `user user.adele` / `user id:...`.
fn nested_people(observed: &ObservedState, walk: &Walk<'_>, id: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![id.to_string()];
    let mut seen = BTreeSet::new();
    while let Some(g) = todo.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        for (mid, ty) in observed.memberships.get(&g).into_iter().flatten() {
            match ty.as_str() {
                GROUP => todo.push(mid.clone()),
                DEVICE => {}
                _ => {
                    let who = walk.by_id.get(mid.as_str()).map(|a| a.to_string()).unwrap_or_else(|| format!("id:{mid}"));
                    out.insert(format!("{ty} {who}"));
                }
            }
        }
    }
    out.into_iter().collect()
}
