//! Access that group membership grants, so that a change which adds to it
//! is held for approval like the grant itself: a member (or an owner, who
//! can add members) added to a group that holds a directory role (declared
//! or live, active or eligible), that is role-assignable, or that a
//! conditional access policy includes or excludes (or any policy
//! excludes); a change of such a group's membership rule; a change of a
//! user attribute such a group's rule reads; the create of a
//! role-assignable group. What a group grants counts through the groups
//! nesting it (declared, or live), transitively.
//!
//! Removing members only takes access away and is never held
//! ([`removes_members`]), protected groups included, unless the group is
//! one a conditional access policy includes (leaving it escapes the
//! policy) or a Managed Desktop object.
//!
//! Also the Managed Desktop reach of a target: a group nesting a ring
//! device group or the all-devices group (declared or live, transitively)
//! reaches ring devices ([`nested_ring`]).

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, DesiredModel, ObservedState};
use crate::plan::{referenced_addresses, Action, Change};

mod index;
use index::{Grantor, Index};

/// Desired state and what is known of the live tenant (empty when judged
/// from desired state alone). Build one per plan ([`Tenant::new`]) and
/// judge every change with it: what it looks up is indexed once, on first
/// use.
pub struct Tenant<'a> {
    pub desired: &'a DesiredModel,
    pub observed: &'a ObservedState,
    /// Live object id of each matched address.
    pub ids: &'a BTreeMap<Address, String>,
    index: OnceCell<Index<'a>>,
}

impl<'a> Tenant<'a> {
    pub fn new(desired: &'a DesiredModel, observed: &'a ObservedState, ids: &'a BTreeMap<Address, String>) -> Tenant<'a> {
        Tenant { desired, observed, ids, index: OnceCell::new() }
    }

    /// The first address (in address order) matched to live id `id`.
    pub(crate) fn address_of(&self, id: &str) -> Option<&'a Address> {
        self.index().address_of(id)
    }

    fn index(&self) -> &Index<'a> {
        self.index.get_or_init(|| Index::build(self.desired, self.observed, self.ids))
    }
}

/// What a group grants its members, as words, and whether a control
/// includes it (directly or through nesting): a conditional access policy,
/// or a compliance policy (which conditional access relies on; hostile run
/// 15, finding 14: leaving its group escapes the control).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Grants {
    pub what: BTreeSet<String>,
    pub ca_included: bool,
    /// The device controls including the group ([`CONTROL_KINDS`]):
    /// leaving it, however (a member taken out, its rule changed, an
    /// attribute its rule reads), escapes them.
    pub controls: BTreeSet<String>,
}

/// Policies whose inclusion is a control on the members' devices, not
/// access: compliance, and the configuration and Settings Catalog
/// policies that carry security baselines, LAPS, BitLocker and the like
/// (hostile runs 15 and 16). Joining their groups adds a control;
/// leaving escapes it.
pub const CONTROL_KINDS: &[Kind] = &[Kind::CompliancePolicy, Kind::DeviceConfiguration, Kind::SettingsCatalog];

impl Grants {
    pub fn is_empty(&self) -> bool {
        self.what.is_empty()
    }

    fn text(&self) -> String {
        self.what.iter().cloned().collect::<Vec<_>>().join("; ")
    }
}

/// The name a reference or id is shown as.
pub(crate) fn shown(t: &Tenant<'_>, id_or_address: &str) -> String {
    if id_or_address.parse::<Address>().is_ok() {
        return id_or_address.to_string();
    }
    t.index().address_of(id_or_address).map(|a| a.to_string()).unwrap_or_else(|| format!("group id:{id_or_address}"))
}

/// The names (address, live id) group `g` is known by.
fn names_of(t: &Tenant<'_>, g: &Address) -> BTreeSet<String> {
    let mut n = BTreeSet::from([g.to_string()]);
    if let Some(id) = t.ids.get(g) {
        n.insert(id.clone());
    }
    n
}

/// The reference strings (addresses or ids, `id:` stripped) in `v`.
pub(crate) fn refs(v: Option<&Value>, out: &mut BTreeSet<String>) {
    match v {
        Some(Value::Array(a)) => a.iter().for_each(|x| refs(Some(x), out)),
        Some(x @ Value::Object(m)) => match as_reference(x) {
            Some(r) => {
                out.insert(r.strip_prefix("id:").unwrap_or(r).to_string());
            }
            None => m.values().for_each(|x| refs(Some(x), out)),
        },
        Some(Value::String(s)) if !s.is_empty() => {
            out.insert(s.clone());
        }
        _ => {}
    }
}

/// The groups holding `names` as a member (declared `members`, or live),
/// transitively: each with the path to it, `g` itself first.
fn containers(t: &Tenant<'_>, g: &Address) -> Vec<(BTreeSet<String>, String)> {
    let index = t.index();
    let mut out = vec![(names_of(t, g), g.to_string())];
    let mut seen: BTreeSet<String> = names_of(t, g);
    let mut i = 0;
    while i < out.len() {
        let (names, path) = out[i].clone();
        i += 1;
        // The declared groups naming one of `names` (members or nesting),
        // in address order.
        for a in index.declared_naming(&names) {
            if !seen.contains(&a.to_string()) {
                let n = names_of(t, a);
                seen.extend(n.iter().cloned());
                out.push((n, format!("{path} > {a}")));
            }
        }
        // The live groups naming one (members, `memberOf` rule,
        // memberships read), in the order read.
        for o in index.live_naming(&names) {
            if !seen.contains(&o.id) {
                let a = index.address_of(&o.id).cloned();
                let n = match &a {
                    Some(a) => names_of(t, a),
                    None => BTreeSet::from([o.id.clone()]),
                };
                seen.extend(n.iter().cloned());
                out.push((n, format!("{path} > {}", a.map(|a| a.to_string()).unwrap_or_else(|| format!("group id:{}", o.id)))));
            }
        }
    }
    out
}

/// The group ids a live group's `memberOf` rule names (nesting, see
/// [`super::member_of`]).
fn rule_groups(o: &crate::model::LiveObject) -> Vec<String> {
    o.props.get("membershipRule").and_then(Value::as_str).and_then(super::member_of::member_of_ids).unwrap_or_default()
}

/// Group references of a policy's props: (included, excluded).
fn policy_groups(kind: Kind, props: &crate::Props) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut inc = BTreeSet::new();
    let mut exc = BTreeSet::new();
    if kind == Kind::ConditionalAccess {
        let users = props.get("conditions").and_then(|c| c.get("users"));
        refs(users.and_then(|u| u.get("includeGroups")), &mut inc);
        refs(users.and_then(|u| u.get("excludeGroups")), &mut exc);
        refs(users.and_then(|u| u.get("includeUsers")), &mut inc);
        refs(users.and_then(|u| u.get("excludeUsers")), &mut exc);
    } else if let Some(Value::Object(m)) = props.get("assignments") {
        for (k, v) in m {
            if k == "exclude" || k == "excludeGroups" {
                refs(Some(v), &mut exc);
            } else {
                refs(Some(v), &mut inc);
            }
        }
    }
    (inc, exc)
}

/// What group `g` grants its members (through the groups nesting it too).
pub fn group_grants(t: &Tenant<'_>, g: &Address) -> Grants {
    if let Some(known) = t.index().grants.borrow().get(g) {
        return known.clone();
    }
    let out = work_out_grants(t, g);
    t.index().grants.borrow_mut().insert(g.clone(), out.clone());
    out
}

fn work_out_grants(t: &Tenant<'_>, g: &Address) -> Grants {
    let mut out = Grants::default();
    if t.desired.resources.get(g).is_some_and(|r| r.props.get("isAssignableToRole").and_then(Value::as_bool) == Some(true)) {
        out.what.insert("is role-assignable".into());
    }
    let index = t.index();
    let live_by_id = &index.live_by_id;
    let declared_ids = &index.declared_ids;
    for (names, path) in containers(t, g) {
        let via = if path.contains(" > ") { format!(" (through {path})") } else { String::new() };
        let role_text = |props: &crate::Props| {
            let role = props.get("role").and_then(Value::as_str).unwrap_or("a role");
            let kind = props.get("assignment").and_then(Value::as_str).unwrap_or("active");
            format!("holds {kind} {role}")
        };
        let holds = |props: &crate::Props| props.get("principal").and_then(as_reference).is_some_and(|p| names.contains(p.strip_prefix("id:").unwrap_or(p)));
        // Only the objects naming one of `names` can grant it anything:
        // declared ones first, then live ones (the output is a set).
        let candidates = index.grantors_naming(&names);
        let declared = candidates.iter().filter_map(|i| match index.grantors.get(*i) {
            Some(Grantor::Declared(a, r)) => Some((*a, *r)),
            _ => None,
        });
        for (a, r) in declared {
            if a.kind == Kind::RoleAssignment && holds(&r.props) {
                out.what.insert(format!("{}{via}", role_text(&r.props)));
            }
            if let Some(w) = super::admin_reach::grants_of(a.kind, &r.props, &names) {
                out.what.insert(format!("{w}{via}"));
            }
            if a.kind.is_policy() || a.kind == Kind::ConditionalAccess {
                let (inc, exc) = policy_groups(a.kind, &r.props);
                if a.kind == Kind::ConditionalAccess && !inc.is_disjoint(&names) {
                    out.ca_included = true;
                    out.what.insert(format!("is included in {a}{via}"));
                }
                if CONTROL_KINDS.contains(&a.kind) && !inc.is_disjoint(&names) {
                    out.ca_included = true;
                    out.controls.insert(a.to_string());
                }
                if !exc.is_disjoint(&names) {
                    out.what.insert(format!("is excluded from {a}{via}"));
                }
            }
        }
        let live = candidates.iter().filter_map(|i| match index.grantors.get(*i) {
            Some(Grantor::Live(k, o)) => Some((k, *o)),
            _ => None,
        });
        {
            for (kind, o) in live {
                let declared = declared_ids.contains(o.id.as_str());
                if *kind == Kind::RoleAssignment && holds(&o.props) {
                    let who = if declared { String::new() } else { " (live, out of band)".to_string() };
                    out.what.insert(format!("{}{who}{via}", role_text(&o.props)));
                }
                if let Some(w) = super::admin_reach::grants_of(*kind, &o.props, &names) {
                    let who = if declared { String::new() } else { " (live, out of band)".to_string() };
                    out.what.insert(format!("{w}{who}{via}"));
                }
                if kind.is_policy() || *kind == Kind::ConditionalAccess {
                    let (inc, exc) = policy_groups(*kind, &o.props);
                    let name = index.address_of(&o.id).map(|a| a.to_string()).unwrap_or_else(|| format!("{kind}.({})", o.id));
                    if *kind == Kind::ConditionalAccess && !inc.is_disjoint(&names) {
                        out.ca_included = true;
                        out.what.insert(format!("is included in {name}{via}"));
                    }
                    if CONTROL_KINDS.contains(kind) && !inc.is_disjoint(&names) {
                        out.ca_included = true;
                        out.controls.insert(name.clone());
                    }
                    if !exc.is_disjoint(&names) {
                        out.what.insert(format!("is excluded from {name}{via}"));
                    }
                }
            }
        }
        // A live group that is role-assignable.
        for n in &names {
            if let Some((Kind::Group, o)) = live_by_id.get(n.as_str()) {
                if o.props.get("isAssignableToRole").and_then(Value::as_bool) == Some(true) {
                    out.what.insert("is role-assignable".into());
                }
            }
        }
    }
    out
}

/// The device controls a group is included in, for reasons.
fn controls_text(g: &Grants) -> String {
    match g.controls.len() {
        0 => "a device control".to_string(),
        _ => g.controls.iter().cloned().collect::<Vec<_>>().join(", "),
    }
}

/// The reference strings a field value holds (`[user.a, user.b]`).
pub(crate) fn field_refs(v: Option<&Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    refs(v, &mut out);
    out
}

/// Whether a group change only removes members or owners (every field is
/// `members` or `owners`, and what is after is a subset of what was).
pub fn removes_members(change: &Change) -> bool {
    change.address.kind == Kind::Group
        && change.action == Action::Update
        && !change.fields.is_empty()
        && change.fields.iter().all(|f| (f.field == "members" || f.field == "owners") && field_refs(f.after.as_ref()).is_subset(&field_refs(f.before.as_ref())))
}

/// Whether `g` is a Managed Desktop object (ring, all-devices or
/// service-accounts group): every change to it stays sensitive.
pub fn managed_desktop_group(desired: &DesiredModel, g: &Address) -> bool {
    let Some(md) = desired.governance.managed_desktop.as_ref() else { return false };
    g.kind == Kind::Group && (md.rings.contains(&g.key) || md.all_devices.as_deref() == Some(g.key.as_str()) || md.service_accounts_group.as_deref() == Some(g.key.as_str()))
}

/// The user attributes a membership rule reads (`user.jobTitle` ->
/// `jobtitle`), lower case.
pub fn rule_attributes(rule: &str) -> BTreeSet<String> {
    let lower = rule.to_lowercase();
    let mut out = BTreeSet::new();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("user.") {
        let before_ok = i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric();
        let tail = &rest[i + 5..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        if before_ok && end > 0 {
            out.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    out
}

/// Why a change grants access through group membership, or `None`.
pub fn membership_reason(change: &Change, t: &Tenant<'_>) -> Option<String> {
    let a = &change.address;
    match (a.kind, change.action) {
        (Kind::Group, Action::Create) => {
            let grants = group_grants(t, a);
            let role_assignable = change.desired.as_ref().is_some_and(|d| d.props.get("isAssignableToRole").and_then(Value::as_bool) == Some(true));
            if role_assignable {
                return Some(format!("creates role-assignable {a} (a group that can hold directory roles){}", if grants.what.len() > 1 { format!(", which {}", grants.text()) } else { String::new() }));
            }
            (!grants.is_empty()).then(|| format!("creates {a}, which {}", grants.text()))
        }
        (Kind::Group, Action::Update | Action::Assign) => {
            let grants = group_grants(t, a);
            if removes_members(change) && !grants.ca_included {
                return None;
            }
            if grants.is_empty() {
                // Included only by device controls: joining adds a
                // control; leaving escapes it, whether members are taken
                // out or the rule that holds them changes.
                if !grants.ca_included {
                    return None;
                }
                let controls = controls_text(&grants);
                if removes_members(change) {
                    return Some(format!("takes members out of {a}, which {controls} includes: they escape that control"));
                }
                return change
                    .fields
                    .iter()
                    .any(|f| matches!(f.field.as_str(), "membershipRule" | "membershipRuleProcessingState" | "groupTypes"))
                    .then(|| format!("changes the membership rule of {a}, which {controls} includes: members it no longer holds escape that control"));
            }
            let mut what = Vec::new();
            for f in &change.fields {
                let added: Vec<String> = field_refs(f.after.as_ref()).difference(&field_refs(f.before.as_ref())).map(|r| shown(t, r)).collect();
                match f.field.as_str() {
                    "members" if !added.is_empty() => what.push(format!("adds {} to {a}", added.join(", "))),
                    "owners" if !added.is_empty() => what.push(format!("adds owner {} to {a} (an owner can add members)", added.join(", "))),
                    "members" | "owners" if grants.controls.is_empty() => what.push(format!("removes {} of {a}, which a conditional access policy includes", f.field)),
                    "members" | "owners" => what.push(format!("removes {} of {a}, which {} includes (members escape it)", f.field, controls_text(&grants))),
                    "membershipRule" | "membershipRuleProcessingState" | "groupTypes" => what.push(format!("changes the membership rule of {a}")),
                    "isAssignableToRole" => what.push(format!("changes whether {a} is role-assignable")),
                    _ => {}
                }
            }
            (!what.is_empty()).then(|| format!("{}, which {}", what.join(", "), grants.text()))
        }
        (Kind::User | Kind::Guest, Action::Create | Action::Update) => {
            let changed: BTreeMap<String, String> = match change.action {
                Action::Create => change.desired.iter().flat_map(|d| d.props.keys()).map(|k| (k.to_lowercase(), k.clone())).collect(),
                _ => change.fields.iter().map(|f| f.field.split('.').next().unwrap_or_default()).map(|k| (k.to_lowercase(), k.to_string())).collect(),
            };
            // Only the declared rule groups reading a changed attribute,
            // in address order.
            for (g, rule) in t.index().rules_reading_any(changed.keys()) {
                let read: Vec<&str> = rule_attributes(rule).iter().filter_map(|x| changed.get(x)).map(String::as_str).collect();
                if read.is_empty() {
                    continue;
                }
                let grants = group_grants(t, g);
                if grants.is_empty() && !grants.ca_included {
                    continue;
                }
                // A user the rule is proved not to match after the change
                // can only drop out of the group: that removes access
                // unless leaving escapes a conditional access policy.
                let after = change.desired.as_ref().and_then(|d| super::rule::evaluate(rule, &d.props));
                if after == Some(false) && !grants.ca_included {
                    continue;
                }
                if grants.is_empty() {
                    // Included only by device controls: a user the rule
                    // still holds escapes nothing.
                    if after == Some(true) {
                        continue;
                    }
                    return Some(format!("changes {} of {a}, read by the membership rule of {g}, which {} includes: the user may leave it and escape that control", read.join(", "), controls_text(&grants)));
                }
                return Some(format!("changes {} of {a}, read by the membership rule of {g}, which {}", read.join(", "), grants.text()));
            }
            None
        }
        _ => None,
    }
}

/// The ring device groups and the all-devices group `g` nests (declared
/// or live, transitively), with the path.
pub fn nested_ring(t: &Tenant<'_>, g: &Address) -> Option<String> {
    let md = t.desired.governance.managed_desktop.as_ref()?;
    let mut protected: BTreeMap<String, Address> = BTreeMap::new();
    for k in md.rings.iter().chain(md.all_devices.iter()) {
        let a = Address::new(Kind::Group, k.as_str());
        for n in names_of(t, &a) {
            protected.insert(n, a.clone());
        }
    }
    // Walk down from g: declared members, live members (groups only).
    let live_groups = &t.index().live_groups;
    let mut todo: Vec<(String, String)> = names_of(t, g).into_iter().map(|n| (n, g.to_string())).collect();
    let mut seen = BTreeSet::new();
    while let Some((n, path)) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        let mut members = BTreeSet::new();
        if let Ok(a) = n.parse::<Address>() {
            if let Some(r) = t.desired.resources.get(&a) {
                refs(r.props.get("members"), &mut members);
                refs(r.props.get(super::member_of::NESTED), &mut members);
            }
            if let Some(id) = t.ids.get(&a) {
                todo.push((id.clone(), path.clone()));
            }
        } else {
            if let Some(o) = live_groups.get(n.as_str()) {
                refs(o.props.get("members"), &mut members);
                members.extend(rule_groups(o));
            }
            members.extend(t.observed.memberships.get(&n).into_iter().flat_map(|m| m.keys().cloned()));
        }
        let is_group = |m: &str| m.parse::<Address>().map(|a| a.kind == Kind::Group).unwrap_or_else(|_| live_groups.contains_key(m) || protected.contains_key(m));
        for m in members.into_iter().filter(|m| is_group(m)) {
            if let Some(ring) = protected.get(&m) {
                if path != ring.to_string() {
                    return Some(format!("{path} nests {ring}"));
                }
            }
            let next = format!("{path} > {}", shown(t, &m));
            todo.push((m, next));
        }
    }
    None
}

/// Whether the group named `name` (an address or a live id) holds every
/// device the all-devices group does: it is that group, nests it
/// (declared or live, transitively), or has its membership rule
/// (whitespace and case aside).
pub fn reaches_all_devices(t: &Tenant<'_>, name: &str) -> bool {
    let Some(all) = t.desired.governance.managed_desktop.as_ref().and_then(|m| m.all_devices.as_ref()).map(|k| Address::new(Kind::Group, k.as_str())) else { return false };
    let norm = |r: &str| r.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let all_rule = t.desired.resources.get(&all).and_then(|r| r.props.get("membershipRule")).and_then(Value::as_str).map(norm);
    let all_names = names_of(t, &all);
    let live_groups = &t.index().live_groups;
    let mut todo = vec![name.to_string()];
    let mut seen = BTreeSet::new();
    while let Some(n) = todo.pop() {
        if all_names.contains(&n) {
            return true;
        }
        if !seen.insert(n.clone()) {
            continue;
        }
        let mut members = BTreeSet::new();
        let mut rules = Vec::new();
        match n.parse::<Address>() {
            Ok(a) => {
                if let Some(r) = t.desired.resources.get(&a) {
                    refs(r.props.get("members"), &mut members);
                    refs(r.props.get(super::member_of::NESTED), &mut members);
                    rules.extend(r.props.get("membershipRule").and_then(Value::as_str));
                }
                todo.extend(t.ids.get(&a).cloned());
            }
            Err(_) => {
                if let Some(o) = live_groups.get(n.as_str()) {
                    refs(o.props.get("members"), &mut members);
                    members.extend(rule_groups(o));
                    rules.extend(o.props.get("membershipRule").and_then(Value::as_str));
                }
                members.extend(t.observed.memberships.get(&n).into_iter().flat_map(|m| m.keys().cloned()));
                todo.extend(t.index().addresses.get(n.as_str()).into_iter().flatten().map(|a| a.to_string()));
            }
        }
        if rules.iter().any(|r| schema::device_rule::reaches_all_autopilot(r)) || all_rule.is_some() && rules.into_iter().any(|r| Some(norm(r)) == all_rule) {
            return true;
        }
        todo.extend(members);
    }
    false
}

/// Why a change touches Managed Desktop reach beyond direct references: a
/// policy (or Autopilot profile) assigned to all devices or to a group
/// nesting a ring or the all-devices group; a group nesting one created or
/// given members.
pub fn managed_desktop_reach(change: &Change, t: &Tenant<'_>) -> Option<String> {
    t.desired.governance.managed_desktop.as_ref()?;
    let a = &change.address;
    let md = super::MANAGED_DESKTOP;
    if a.kind.is_policy() || a.kind == Kind::AutopilotProfile {
        for props in change.desired.iter().map(|d| &d.props).chain(change.live.iter()) {
            if super::live::all_devices(props) {
                return Some(format!("{md}: {a} is assigned to all devices, which hold the ring devices"));
            }
            let mut targets = BTreeSet::new();
            if let Some(v) = props.get("assignments") {
                referenced_addresses(v, &mut targets);
            }
            for g in targets.iter().filter(|g| g.kind == Kind::Group) {
                if let Some(how) = nested_ring(t, g) {
                    return Some(format!("{md}: {a} is assigned to {g}, which reaches ring devices ({how})"));
                }
            }
        }
    }
    if a.kind == Kind::Group && matches!(change.action, Action::Create | Action::Update) && (change.action == Action::Create || change.fields.iter().any(|f| f.field == "members")) {
        if let Some(how) = nested_ring(t, a) {
            return Some(format!("{md}: {how}"));
        }
    }
    None
}

/// Reasons the live tenant adds to the plan's sensitivity: membership
/// that grants access through live role assignments, live nesting or live
/// policies, and live nesting of ring groups.
pub fn live_sensitivity(changes: &[Change], desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> BTreeMap<Address, String> {
    let t = Tenant::new(desired, observed, ids);
    changes
        .iter()
        .filter(|c| c.action != Action::Forget)
        // A control put back as approved (`tightens::only_tightens`).
        .filter(|c| super::tightens::only_tightens(c).is_none())
        // The service-accounts group's rule put back, ending exemptions only.
        .filter(|c| !super::exemption_restore::proven(c))
        .filter_map(|c| managed_desktop_reach(c, &t).or_else(|| super::people_reach::reason(c, desired, observed, ids)).or_else(|| super::unmanaged_reach::reason(c, desired)).or_else(|| membership_reason(c, &t)).or_else(|| super::admin_reach::reason(c, &t)).map(|r| (c.address.clone(), r)))
        .collect()
}
