//! Admin access and code execution that other kinds than role assignments
//! grant (the fifth hostile run against issue 12), so that a change which
//! adds to them is held for approval like the grant itself:
//! * a group named in an Intune role assignment's `members` holds that
//!   Intune role, and a group named as PIM activation approvers approves
//!   activation of that role ([`grants_of`], counted by
//!   `super::grants::group_grants` for membership changes);
//! * a custom directory role definition: any change changes what its
//!   holders may do;
//! * an administrative unit that scopes a role assignment: members or rule
//!   widened widen that role;
//! * a scope tag an Intune role assignment is scoped by: its assignments,
//!   or the tag added to an object, widen that admin's reach; a scope tag
//!   on a ring or the all-devices group is a Managed Desktop object;
//! * a script or remediation running as SYSTEM, or reaching all users, all
//!   devices, a protected group or a privileged holder; a required app
//!   install so reaching, or a Store app installed as SYSTEM;
//! * the default enrollment configurations (all users and all devices).
//!
//! Taking access away is never held: an Intune role assignment update that
//! only removes members, scope or scope tags is not sensitive
//! ([`only_narrows`]).

use std::collections::BTreeSet;

use schema::{Address, Kind};
use serde_json::Value;

use super::grants::{field_refs, group_grants, refs, shown, Tenant};
use crate::plan::{Action, Change};

/// What a group known by `names` gets from an object of `kind` with
/// `props` that names it: an Intune role (members of an Intune role
/// assignment), or the approval of a privileged role's activation.
pub(crate) fn grants_of(kind: Kind, props: &crate::Props, names: &BTreeSet<String>) -> Option<String> {
    let named = |v: Option<&Value>| {
        let mut m = BTreeSet::new();
        refs(v, &mut m);
        !m.is_disjoint(names)
    };
    match kind {
        Kind::IntuneRoleAssignment if named(props.get("members")) => {
            let role = props.get("roleName").and_then(Value::as_str).unwrap_or("an Intune role");
            Some(format!("holds Intune role {role}{}", intune_scope(props)))
        }
        Kind::RolePolicy if named(props.get("activation").and_then(|a| a.get("approvers"))) => {
            let role = props.get("role").and_then(Value::as_str).unwrap_or("a role");
            Some(format!("approves activation of {role} (PIM approvers)"))
        }
        _ => None,
    }
}

/// How far an Intune role assignment reaches, as words.
fn intune_scope(props: &crate::Props) -> String {
    match props.get("scopeType").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("allDevices") => " over all devices".into(),
        Some(s) if s.eq_ignore_ascii_case("allLicensedUsers") => " over all users".into(),
        Some(s) if s.eq_ignore_ascii_case("allDevicesAndLicensedUsers") => " over all users and devices".into(),
        _ => String::new(),
    }
}

/// The names (address, live id) of `a`.
fn names(t: &Tenant<'_>, a: &Address) -> BTreeSet<String> {
    let mut n = BTreeSet::from([a.to_string()]);
    n.extend(t.ids.get(a).cloned());
    n
}

/// Every (name, props) of `kind`: declared, then live (named by address
/// when matched, else by id).
fn objects<'a>(t: &Tenant<'a>, kind: Kind) -> Vec<(String, &'a crate::Props)> {
    let mut out: Vec<(String, &crate::Props)> = t.desired.resources.range(Address::new(kind, "")..).take_while(|(a, _)| a.kind == kind).map(|(a, r)| (a.to_string(), &r.props)).collect();
    for o in t.observed.objects.get(&kind).into_iter().flatten() {
        let name = t.address_of(&o.id).map(|a| format!("{a} (live)")).unwrap_or_else(|| format!("{kind} id:{} (live, out of band)", o.id));
        out.push((name, &o.props));
    }
    out
}

/// Whether `v` (a reference value or list) names any of `names`.
fn names_any(v: Option<&Value>, names: &BTreeSet<String>) -> bool {
    let mut m = BTreeSet::new();
    refs(v, &mut m);
    !m.is_disjoint(names)
}

/// Who holds custom directory role `a` (declared or live assignments).
fn role_holders(t: &Tenant<'_>, a: &Address) -> Vec<String> {
    let n = names(t, a);
    let mut out = BTreeSet::new();
    for (_, p) in objects(t, Kind::RoleAssignment) {
        if names_any(p.get("roleDefinition"), &n) {
            let mut who = BTreeSet::new();
            refs(p.get("principal"), &mut who);
            let kind = p.get("assignment").and_then(Value::as_str).unwrap_or("active");
            for w in who {
                out.insert(format!("{} ({kind})", shown(t, &w).replace("group id:", "id:")));
            }
        }
    }
    out.into_iter().collect()
}

/// The role assignments administrative unit `a` scopes, as words.
fn unit_roles(t: &Tenant<'_>, a: &Address) -> Vec<String> {
    let n = names(t, a);
    let mut out = BTreeSet::new();
    for (name, p) in objects(t, Kind::RoleAssignment) {
        if names_any(p.get("directoryScopeId"), &n) {
            let role = p.get("role").and_then(Value::as_str).unwrap_or("a role");
            out.insert(format!("{role} ({name})"));
        }
    }
    out.into_iter().collect()
}

/// The Intune role assignments scope tag `a` scopes, as words.
fn tag_assignments(t: &Tenant<'_>, a: &Address) -> Vec<String> {
    let n = names(t, a);
    let mut out = BTreeSet::new();
    for (name, p) in objects(t, Kind::IntuneRoleAssignment) {
        if names_any(p.get("roleScopeTagIds"), &n) {
            let role = p.get("roleName").and_then(Value::as_str).unwrap_or("an Intune role");
            out.insert(format!("{name} ({role})"));
        }
    }
    out.into_iter().collect()
}

/// Props of the change's desired and live sides.
fn sides(change: &Change) -> impl Iterator<Item = &crate::Props> {
    change.desired.iter().map(|d| &d.props).chain(change.live.iter())
}

/// Whether a field change (dotted name) adds references or changes
/// anything other than removing some.
fn widens(f: &crate::diff::FieldChange) -> bool {
    let (before, after) = (field_refs(f.before.as_ref()), field_refs(f.after.as_ref()));
    let refs_only = |v: &Option<Value>| v.as_ref().is_none_or(|v| matches!(v, Value::Array(_) | Value::Null));
    !(refs_only(&f.before) && refs_only(&f.after) && after.is_subset(&before))
}

/// Whether an Intune role assignment update only removes members, scope
/// members or scope tags (taking access away: never held).
pub fn only_narrows(change: &Change) -> bool {
    change.address.kind == Kind::IntuneRoleAssignment
        && change.action == Action::Update
        && !change.fields.is_empty()
        && change.fields.iter().all(|f| {
            // No scope groups or no scope tags left is not narrower: Intune
            // falls back to the Default tag, which most objects carry.
            let emptied = f.field != "members" && field_refs(f.after.as_ref()).is_empty();
            (["members", "resourceScopes", "roleScopeTagIds"].contains(&f.field.as_str()) && !widens(f) && !emptied) || super::restore_narrows::scope_type_narrows(f)
        })
}

/// The groups `g` nests through declared members, transitively, `g`
/// first, each with the path to it.
fn nested(t: &Tenant<'_>, g: &Address) -> Vec<(Address, String)> {
    let mut out = vec![(g.clone(), g.to_string())];
    let mut seen = BTreeSet::from([g.clone()]);
    let mut i = 0;
    while i < out.len() {
        let (a, path) = out[i].clone();
        i += 1;
        let mut m = BTreeSet::new();
        refs(t.desired.resources.get(&a).and_then(|r| r.props.get("members")), &mut m);
        for n in m.iter().filter_map(|x| x.parse::<Address>().ok()).filter(|x| x.kind == Kind::Group) {
            if seen.insert(n.clone()) {
                out.push((n.clone(), format!("{path} > {n}")));
            }
        }
    }
    out
}

/// Why a script, remediation or app reaches what needs approval: all
/// users, all devices, a protected group or a group holding a role, or
/// `None`. `prop` holds the assignments (an app's `required` intent).
fn sensitive_reach(t: &Tenant<'_>, change: &Change, prop: &str) -> Option<String> {
    for p in sides(change) {
        let Some(a) = p.get(prop) else { continue };
        let all = |k: &str| a.get(k).and_then(Value::as_bool) == Some(true) || a.get("filters").and_then(Value::as_object).is_some_and(|f| f.values().flat_map(|v| v.as_array().into_iter().flatten()).any(|x| x.as_str() == Some(k)));
        if all("allUsers") {
            return Some("all users".into());
        }
        if all("allDevices") {
            return Some("all devices".into());
        }
        let mut inc = BTreeSet::new();
        for (k, v) in a.as_object().into_iter().flatten() {
            if k != "exclude" {
                refs(Some(v), &mut inc);
            }
        }
        for g in inc {
            let Ok(top) = g.parse::<Address>() else { continue };
            // A group nesting a protected or role-holding group reaches it.
            for (addr, path) in nested(t, &top) {
                let shown = if addr == top { addr.to_string() } else { format!("{addr} (through {path})") };
                if t.desired.protected_groups.contains(&addr) || t.desired.governance.protected.iter().any(|p| *p == addr.to_string()) {
                    return Some(format!("protected {shown}"));
                }
                let grants = group_grants(t, &addr);
                if let Some(w) = grants.what.iter().find(|w| w.starts_with("holds ") || w.starts_with("is role-assignable")) {
                    return Some(format!("{shown}, which {w}"));
                }
            }
        }
    }
    None
}

/// Whether any side of the change runs as SYSTEM (`runAsAccount`, or a
/// Store app's `installExperience.runAsAccount`).
fn as_system(change: &Change) -> bool {
    sides(change).any(|p| {
        let v = p.get("runAsAccount").or_else(|| p.get("installExperience").and_then(|i| i.get("runAsAccount")));
        v.and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case("system"))
    })
}

/// Whether the change is the create, or an update of anything.
fn creates_or_changes(change: &Change) -> bool {
    matches!(change.action, Action::Create | Action::Update | Action::Assign | Action::Replace)
}

/// Whether a kind's object is a tenant's default enrollment configuration
/// (priority 0 with no assignments declared, or a live `_Default…` id).
fn default_enrollment(change: &Change) -> bool {
    matches!(change.address.kind, Kind::EnrollmentStatusPage | Kind::EnrollmentRestriction)
        && (change.desired.as_ref().is_some_and(|d| d.props.get("priority").and_then(Value::as_u64) == Some(0) && !d.props.contains_key("assignments"))
            || change.id.as_deref().is_some_and(|i| i.contains("_Default")))
}

/// Why a change widens admin access or code execution this module knows
/// about, or `None` (see the module docs).
pub fn reason(change: &Change, t: &Tenant<'_>) -> Option<String> {
    let a = &change.address;
    if !creates_or_changes(change) {
        return None;
    }
    if let Some(why) = scope_tag_added(change, t) {
        return Some(why);
    }
    match a.kind {
        Kind::RoleDefinition => {
            let holders = role_holders(t, a);
            let who = if holders.is_empty() { "held by no one yet".to_string() } else { format!("held by {}", holders.join(", ")) };
            Some(format!("custom directory role {a}: changes what its holders may do ({who})"))
        }
        Kind::AdministrativeUnit => {
            let widened = change.action == Action::Create || change.fields.iter().any(|f| f.field.starts_with("membership") || (f.field == "members" && widens(f)));
            let roles = unit_roles(t, a);
            (widened && !roles.is_empty()).then(|| format!("widens administrative unit {a}, which scopes {}", roles.join(", ")))
        }
        Kind::ScopeTag => {
            if let Some(why) = scope_tag_on_rings(change, t) {
                return Some(why);
            }
            let used = tag_assignments(t, a);
            let assigns = change.action == Action::Create || change.fields.iter().any(|f| f.field.starts_with("assignments") && widens(f));
            (assigns && !used.is_empty()).then(|| format!("scope tag {a} scopes {}: its assignments decide which devices that admin reaches", used.join(", ")))
        }
        Kind::PlatformScript | Kind::Remediation => {
            let what = if a.kind == Kind::PlatformScript { "script" } else { "remediation" };
            if as_system(change) {
                return Some(format!("{what} {a} runs as SYSTEM"));
            }
            sensitive_reach(t, change, "assignments").map(|r| format!("{what} {a} runs on {r}"))
        }
        Kind::WingetApp | Kind::M365Apps | Kind::AppAssignment => {
            if a.kind == Kind::WingetApp && as_system(change) {
                return Some(format!("{a} installs as SYSTEM"));
            }
            sensitive_reach(t, change, "assignments").map(|r| format!("{a} is a required install on {r}"))
        }
        Kind::EnrollmentStatusPage | Kind::EnrollmentRestriction if default_enrollment(change) => {
            Some(format!("{a} is the tenant's default enrollment configuration: it applies to all users and all devices"))
        }
        _ => None,
    }
}

/// A scope tag assigned to a ring device group or the all-devices group
/// is protected like a ring policy.
fn scope_tag_on_rings(change: &Change, t: &Tenant<'_>) -> Option<String> {
    let md = t.desired.governance.managed_desktop.as_ref()?;
    let protected: BTreeSet<String> = md.rings.iter().chain(md.all_devices.iter()).map(|k| Address::new(Kind::Group, k.as_str()).to_string()).collect();
    for p in sides(change) {
        let mut targets = BTreeSet::new();
        refs(p.get("assignments"), &mut targets);
        if let Some(g) = targets.intersection(&protected).next() {
            return Some(format!("{}: scope tag {} is assigned to {g}", super::MANAGED_DESKTOP, change.address));
        }
    }
    None
}

/// A scope tag an Intune role assignment uses added to an object: that
/// admin now reaches the object.
fn scope_tag_added(change: &Change, t: &Tenant<'_>) -> Option<String> {
    if change.address.kind == Kind::IntuneRoleAssignment {
        return None;
    }
    let added: BTreeSet<String> = match change.action {
        Action::Create => {
            let mut s = BTreeSet::new();
            refs(change.desired.as_ref().and_then(|d| d.props.get("roleScopeTagIds")), &mut s);
            s
        }
        _ => change.fields.iter().filter(|f| f.field == "roleScopeTagIds").flat_map(|f| field_refs(f.after.as_ref()).difference(&field_refs(f.before.as_ref())).cloned().collect::<Vec<_>>()).collect(),
    };
    for tag in added {
        let Ok(addr) = tag.parse::<Address>() else { continue };
        let used = tag_assignments(t, &addr);
        if !used.is_empty() {
            return Some(format!("adds scope tag {addr} to {}, which {} is scoped by", change.address, used.join(", ")));
        }
    }
    None
}

/// App assignments whose app is not the one the ledger recorded (the app
/// was deleted and another uploaded under its name): sensitive, with a
/// note saying which app the assignment now goes to. Reconcile never
/// heals a sensitive change unattended.
pub fn swapped_apps(changes: &mut [Change], ledger: &crate::ledger::Ledger, ids: &std::collections::BTreeMap<Address, String>, observed: &crate::ObservedState) -> std::collections::BTreeMap<Address, String> {
    let mut out = std::collections::BTreeMap::new();
    for c in changes.iter_mut().filter(|c| c.address.kind == Kind::AppAssignment && c.action != Action::Forget) {
        let (Some(recorded), Some(live)) = (ledger.id(&c.address), ids.get(&c.address)) else { continue };
        if recorded.eq_ignore_ascii_case(live) {
            continue;
        }
        let app = observed.objects.get(&Kind::AppAssignment).into_iter().flatten().find(|o| o.id == *live).map(|o| &o.props);
        let publisher = app.and_then(|l| l.get("@tenantctl.publisher")).and_then(Value::as_str).map(|p| format!(", publisher {p}")).unwrap_or_default();
        let file = app.and_then(|l| l.get("@tenantctl.fileName")).and_then(Value::as_str).map(|f| format!(", file {f}")).unwrap_or_default();
        let why = format!("{}: the app changed: the ledger recorded app id {recorded}, the tenant now has app id {live} under that name{publisher}{file}", c.address);
        c.notes.push(format!("the app changed: {recorded} -> {live}{publisher}{file}"));
        out.insert(c.address.clone(), why);
    }
    out
}

/// An administrative unit reaching a service account or a protected
/// (break-glass) account: whoever holds a role scoped to the unit may
/// manage that account (reset its password, its methods). An error when a
/// declared role assignment is scoped to the unit, else a warning. A
/// dynamic unit's rule is judged against the accounts' declared
/// properties, and against the people who approve or review (hostile run
/// 20, finding 5: a rule aimed at the approver alone).
pub(crate) fn unit_lints(desired: &crate::DesiredModel, address: &Address, r: &crate::DesiredResource) -> Vec<super::Finding> {
    let mut out = Vec::new();
    if address.kind != Kind::AdministrativeUnit {
        return out;
    }
    let mut members = BTreeSet::new();
    refs(r.props.get("members"), &mut members);
    let rule = r.props.get("membershipRule").and_then(Value::as_str);
    let gov = &desired.governance;
    let scoped: Vec<String> = desired
        .resources
        .iter()
        .filter(|(a, ra)| a.kind == Kind::RoleAssignment && names_any(ra.props.get("directoryScopeId"), &BTreeSet::from([address.to_string()])))
        .map(|(a, ra)| format!("{} ({a})", ra.props.get("role").and_then(Value::as_str).unwrap_or("a role")))
        .collect();
    // One finding shape for every way in: `held` says whom and how.
    let mut push = |held: String, keep: &str| {
        let (severity, roles) = if scoped.is_empty() { (super::Severity::Warning, String::new()) } else { (super::Severity::Error, format!(", so {} reach it", scoped.join(", "))) };
        out.push(super::Finding {
            severity,
            lint: "unit-reaches-protected-account".into(),
            address: address.to_string(),
            message: format!("{address} holds {held}{roles}: an administrative unit's scoped admins may manage its members; {keep}"),
        });
    };
    // Whether the unit holds `account`: how, or `None` when it is not a
    // member and the rule (if any) is proved to leave it out.
    let holds = |account: &Address| -> Option<&'static str> {
        if members.contains(&account.to_string()) {
            return Some("as a member");
        }
        let props = desired.resources.get(account).map(|x| &x.props)?;
        (super::rule::evaluate(rule?, props) != Some(false)).then_some("through its membership rule (not proved to leave it out)")
    };
    let sensitive_accounts = desired.service_accounts.iter().map(|a| (a.clone(), "service account")).chain(gov.protected.iter().filter_map(|p| p.parse::<Address>().ok()).map(|a| (a, "protected account")));
    let mut seen = BTreeSet::new();
    for (account, what) in sensitive_accounts {
        if !seen.insert(account.clone()) {
            continue;
        }
        if let Some(how) = holds(&account) {
            push(format!("{what} {account} {how}"), &format!("keep {what}s out of administrative units"));
        }
    }
    // Groups that exempt, grant or approve, and people who approve
    // (hostile run 19, finding 2): a unit-scoped Groups Administrator
    // manages its groups' members and rules, a Helpdesk or Authentication
    // Administrator resets its people's passwords and methods.
    let approvers = super::approvers::addresses(desired);
    let role_holders: BTreeSet<Address> = desired
        .resources
        .values()
        .filter(|x| x.address.kind == Kind::RoleAssignment)
        .filter_map(|x| x.props.get("principal").and_then(crate::model::as_reference).and_then(|p| p.parse().ok()))
        .collect();
    const APPROVER: &str = "an approver or reviewer (of PIM activation or access packages): whoever resets its sign-in approves in its name";
    for m in members.iter().filter_map(|m| m.parse::<Address>().ok()) {
        if seen.contains(&m) {
            continue;
        }
        let what = if desired.service_account_groups.contains(&m) {
            "the service-accounts group (excluded from conditional access: whoever manages its members or rule escapes every policy)"
        } else if super::grants::managed_desktop_group(desired, &m) {
            "a Managed Desktop group"
        } else if desired.protected_groups.contains(&m) || gov.protected.iter().any(|p| *p == m.to_string()) {
            "a protected group"
        } else if m.kind == Kind::Group && role_holders.contains(&m) {
            "a group that holds a directory role"
        } else if approvers.contains(&m) {
            APPROVER
        } else {
            continue;
        };
        seen.insert(m.clone());
        push(format!("{m}, {what}"), "keep it out of administrative units");
    }
    // A dynamic unit holds the people its rule matches: an approver the
    // rule is not proved to leave out is held like a declared member.
    if rule.is_some() {
        for (person, how) in super::approvers::people(desired) {
            if seen.contains(&person) || members.contains(&person.to_string()) {
                continue;
            }
            if let Some(via) = holds(&person) {
                push(format!("{person} {via}, {APPROVER} ({how})"), "keep it out of administrative units");
            }
        }
    }
    out
}

/// Intune role assignments outside desired state (made out of band) of a
/// declared custom Intune role or a built-in one: admin access nobody
/// approved, reported on every plan like `unmanaged-privileged-holder`.
/// An error, which the plan's removal of the assignment settles
/// (`super::intune_oob`: removed unattended, like out-of-band directory
/// roles).
pub(crate) fn unmanaged_intune_assignments(_desired: &crate::DesiredModel, observed: &crate::ObservedState, ids: &std::collections::BTreeMap<Address, String>) -> Vec<super::Finding> {
    let mut out = Vec::new();
    if observed.unreadable.contains_key(&Kind::IntuneRoleAssignment) {
        return out;
    }
    let known: BTreeSet<&str> = ids.values().map(String::as_str).collect();
    // Any role, custom roles made outside desired state included.
    for o in observed.objects.get(&Kind::IntuneRoleAssignment).into_iter().flatten().filter(|o| !known.contains(o.id.as_str())) {
        let role = o.props.get("roleName").and_then(Value::as_str).unwrap_or_default();
        let mut members = BTreeSet::new();
        refs(o.props.get("members"), &mut members);
        let who: Vec<String> = members.iter().map(|m| ids.iter().find(|(_, i)| *i == m).map(|(a, _)| a.to_string()).unwrap_or_else(|| format!("group id:{m}"))).collect();
        let name = o.display_name.clone();
        out.push(super::Finding {
            severity: super::Severity::Error,
            lint: "unmanaged-intune-admin".into(),
            address: format!("id:{}", o.id),
            message: format!("Intune role assignment `{name}` gives {role}{} to {} outside desired state; declare it (its approval) or remove it", intune_scope(&o.props), if who.is_empty() { "no group".to_string() } else { who.join(", ") }),
        });
    }
    out
}
