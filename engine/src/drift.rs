//! Drift: what differs between desired state and the live tenant, for
//! people watching a tenant rather than changing it. Derived (purely) from a
//! plan plus the observed state it was made against, so drift and plan can
//! never disagree. Earlier reports (the history directory) give each item
//! the time it was first seen.
//!
//! Kinds of drift:
//! * `changed`: a managed object whose declared fields differ (old → new),
//! * `missing`: a declared object that does not exist (deleted behind the
//!   tool's back, or never created),
//! * `expired`: access past its expiry (guests, time-boxed role
//!   assignments) that is still live,
//! * `unmanaged`: a live object in a managed scope that is neither declared
//!   nor owned in the ledger,
//! * `undeclared`: a ledger-owned object that is no longer declared and that
//!   pruning would delete.
//!
//! Unmanaged objects are only reported where an undeclared object is a risk
//! and not noise: policies (device configurations, compliance policies,
//! update rings, Autopilot profiles, conditional access) and assignments of
//! privileged roles, for kinds that desired state declares. Users and groups
//! are not: a real tenant has thousands that are rightly managed elsewhere.
//!
//! What could not be read is listed as unknown, never as drift.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schema::{Address, Kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ledger::Ledger;
use crate::model::{DesiredModel, ObservedState};
use crate::plan::{Action, Change, Plan, Unknown};
use crate::render::{is_secret_entry, is_secret_name};

mod render;
pub use render::{render_html, render_json, render_markdown, render_text};

pub const DRIFT_FORMAT_VERSION: u32 = 1;

/// Roles whose undeclared assignments are reported as unmanaged drift.
pub const PRIVILEGED_ROLES: &[&str] = schema::kinds::role_assignment::PRIVILEGED_ROLES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    Changed,
    Missing,
    Expired,
    Unmanaged,
    Undeclared,
}

impl DriftKind {
    pub const ALL: [DriftKind; 5] = [DriftKind::Changed, DriftKind::Missing, DriftKind::Expired, DriftKind::Unmanaged, DriftKind::Undeclared];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Changed => "changed",
            DriftKind::Missing => "missing",
            DriftKind::Expired => "expired",
            DriftKind::Unmanaged => "unmanaged",
            DriftKind::Undeclared => "undeclared",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DriftKind::Changed => "changed fields",
            DriftKind::Missing => "missing objects",
            DriftKind::Expired => "access past expiry",
            DriftKind::Unmanaged => "unmanaged objects",
            DriftKind::Undeclared => "owned but no longer declared",
        }
    }
}

/// One field that differs: what desired state says and what is live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDrift {
    pub field: String,
    /// The live value (the "old" value a correction replaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    /// The desired value (what a correction writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftItem {
    /// `kind.key`, or for unmanaged objects `kind.(id)`.
    pub address: String,
    pub kind: Kind,
    pub drift: DriftKind,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why this is drift, in words.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDrift>,
    /// When this drift was first seen (from earlier reports), RFC 3339.
    pub since: String,
}

impl DriftItem {
    /// What identifies "the same drift" across reports.
    fn key(&self) -> (String, DriftKind) {
        (self.address.clone(), self.drift)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub format_version: u32,
    /// When the live state was read, RFC 3339.
    pub generated_at: String,
    pub in_sync: bool,
    /// Items per drift kind (every kind present, zeros included).
    pub counts: BTreeMap<DriftKind, usize>,
    pub items: Vec<DriftItem>,
    /// Resources that could not be read: neither in sync nor drift.
    #[serde(default)]
    pub unknown: Vec<Unknown>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Kinds declared in desired state (the managed scopes).
    #[serde(default)]
    pub scopes: Vec<Kind>,
    /// Declared resources in sync.
    #[serde(default)]
    pub in_sync_count: usize,
}

/// Values as they may appear in a report: secret-named fields redacted.
fn redact(field: &str, v: &Value) -> Value {
    if is_secret_name(field) {
        return Value::String("(redacted)".into());
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), if is_secret_entry(m, k) { Value::String("(redacted)".into()) } else { redact(k, x) }))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| redact(field, x)).collect()),
        other => other.clone(),
    }
}

fn fields_of(c: &Change) -> Vec<FieldDrift> {
    c.fields
        .iter()
        .map(|f| FieldDrift {
            field: f.field.clone(),
            live: f.before.as_ref().map(|v| redact(&f.field, v)),
            desired: f.after.as_ref().map(|v| redact(&f.field, v)),
        })
        .collect()
}

/// Whether a live object of this kind, undeclared and unowned, is
/// reported: principals (users, guests, groups) never, since a tenant
/// holds far more than it manages; role assignments when the role is
/// privileged; built-in objects (marked `isBuiltIn`) never; every other
/// kind (policies, filters, and any kind added to the registry) always.
fn reports_unmanaged(kind: Kind, props: &crate::model::Props) -> bool {
    match kind {
        // A built-in object (Intune's Default scope tag) is on every tenant.
        _ if props.get("isBuiltIn") == Some(&Value::Bool(true)) => false,
        Kind::RoleAssignment => props.get("role").and_then(Value::as_str).is_some_and(schema::kinds::role_assignment::is_privileged),
        // Singletons that always exist: only what is declared is managed.
        Kind::AuthenticationMethodsPolicy | Kind::RolePolicy => false,
        k => !k.is_principal(),
    }
}

/// Build the drift report of a plan made from `desired`, `observed` and
/// `ledger` at `now`.
pub fn drift(desired: &DesiredModel, observed: &ObservedState, ledger: &Ledger, plan: &Plan, now: DateTime<Utc>) -> DriftReport {
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut items = Vec::new();
    for c in &plan.changes {
        let r = desired.resources.get(&c.address);
        let expired = r.and_then(|r| r.expires).is_some_and(|e| e <= now);
        let (drift, detail) = match c.action {
            Action::Forget => continue,
            _ if expired => {
                let when = r.and_then(|r| r.expires).map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default();
                (DriftKind::Expired, format!("access expired at {when} but is still live ({})", c.reason))
            }
            Action::Create => (DriftKind::Missing, c.reason.clone()),
            Action::Delete => (DriftKind::Undeclared, c.reason.clone()),
            Action::Update | Action::Assign | Action::Replace => (DriftKind::Changed, c.reason.clone()),
        };
        let fields = if drift == DriftKind::Missing { Vec::new() } else { fields_of(c) };
        items.push(DriftItem {
            address: c.address.to_string(),
            kind: c.address.kind,
            drift,
            display_name: c.display_name.clone(),
            id: c.id.clone(),
            detail,
            fields,
            since: stamp.clone(),
        });
    }
    // Unmanaged live objects in managed scopes.
    let scopes: BTreeSet<Kind> = desired.resources.keys().map(|a| a.kind).collect();
    let known: BTreeSet<&str> = plan.ids.values().map(String::as_str).chain(ledger.resources.values().map(|e| e.id.as_str())).collect();
    for kind in &scopes {
        if observed.unreadable.contains_key(kind) {
            continue;
        }
        let mut live: Vec<_> = observed.objects.get(kind).into_iter().flatten().filter(|o| !known.contains(o.id.as_str()) && reports_unmanaged(*kind, &o.props)).collect();
        live.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
        for o in live {
            items.push(DriftItem {
                address: format!("{}.({})", kind.as_str(), o.id),
                kind: *kind,
                drift: DriftKind::Unmanaged,
                display_name: o.display_name.clone(),
                id: Some(o.id.clone()),
                detail: format!("live {} not declared in desired state nor owned in the ledger", kind.as_str()),
                fields: Vec::new(),
                since: stamp.clone(),
            });
        }
    }
    // Live governance errors no change of the plan is about are drift too
    // (as reconcile holds them): the tenant breaks a rule.
    let changed: BTreeSet<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    let live_errors = crate::governance::drift_lints::live_errors(desired, &plan.lints, now);
    let mut unplaced = 0;
    for (address, detail) in live_errors.into_iter().filter(|(a, _)| !changed.contains(a)) {
        let Ok(a) = address.parse::<Address>() else {
            unplaced += 1;
            continue;
        };
        items.push(DriftItem { address: address.clone(), kind: a.kind, drift: DriftKind::Changed, display_name: address, id: plan.ids.get(&a).cloned(), detail, fields: Vec::new(), since: stamp.clone() });
    }
    items.sort_by(|a, b| (a.kind, &a.address, a.drift).cmp(&(b.kind, &b.address, b.drift)));
    let mut counts: BTreeMap<DriftKind, usize> = DriftKind::ALL.iter().map(|k| (*k, 0)).collect();
    for i in &items {
        *counts.entry(i.drift).or_insert(0) += 1;
    }
    DriftReport {
        format_version: DRIFT_FORMAT_VERSION,
        generated_at: stamp,
        // What could not be read may differ: never "in sync".
        in_sync: items.is_empty() && plan.unknown.is_empty() && unplaced == 0,
        counts,
        items,
        unknown: plan.unknown.clone(),
        // The governance findings about the live tenant (not those of
        // desired state alone, which `validate` reports).
        warnings: plan.warnings.iter().cloned().chain(crate::governance::drift_lints::live_findings(desired, &plan.lints, now)).collect(),
        scopes: scopes.into_iter().collect(),
        in_sync_count: plan.unchanged.len(),
    }
}

impl DriftReport {
    /// Carry "since" over from the previous report: drift seen then (same
    /// address, same kind of drift) has been there since it was first seen.
    pub fn carry_since(&mut self, previous: Option<&DriftReport>) {
        let Some(prev) = previous else { return };
        let earlier: BTreeMap<(String, DriftKind), &str> = prev.items.iter().map(|i| (i.key(), i.since.as_str())).collect();
        for item in &mut self.items {
            if let Some(since) = earlier.get(&item.key()) {
                if *since < item.since.as_str() {
                    item.since = since.to_string();
                }
            }
        }
    }

    pub fn drift_count(&self) -> usize {
        self.items.len()
    }

    /// "drift: 2 changed, 1 missing (3 item(s))", "in sync: ..." only when
    /// everything was read, else "incomplete: ..." saying how much was not.
    pub fn headline(&self) -> String {
        let unread = self.unknown.len();
        if self.items.is_empty() {
            if unread > 0 {
                return format!(
                    "incomplete: {unread} resource(s) could not be read, so the tenant is not known to be in sync ({} declared resource(s) read and matching)",
                    self.in_sync_count
                );
            }
            // Everything read matches, but something desired state
            // declares is not in force (a [governance] change awaiting its
            // approvals, a refused declaration): never "in sync" (hostile
            // run 21, finding 4).
            if !self.in_sync {
                return format!("not in sync: {} declared resource(s) match the tenant, but not everything desired state declares is in force (see the warnings)", self.in_sync_count);
            }
            return format!("in sync: {} declared resource(s) match the tenant", self.in_sync_count);
        }
        let parts: Vec<String> = self.counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {}", k.as_str())).collect();
        let unknown = if unread > 0 { format!("; {unread} resource(s) could not be read") } else { String::new() };
        format!("drift: {} ({} item(s)){unknown}", parts.join(", "), self.items.len())
    }
}

/// Why a change must not be applied unattended (self-heal), or None when it
/// is safe: exactly what [`crate::governance::classify`] says (the rules
/// `apply` requires approvals by), so reconcile and apply never disagree;
/// and a change of an account in `service_accounts` (the set reconcile
/// read) even when desired state no longer marks it one.
///
/// This is the fallback: `reconcile` holds a change when the plan's own
/// classification (`Plan::sensitive`, from `governance::classify` and what
/// the live tenant adds) names it, and otherwise when this does.
pub fn sensitivity(c: &Change, desired: &DesiredModel, service_accounts: &BTreeSet<Address>) -> Option<String> {
    crate::governance::classify(c, desired, 0)
        .or_else(|| (c.action != Action::Forget && crate::governance::removes_access(c).is_none() && service_accounts.contains(&c.address)).then(|| format!("touches service account {}", c.address)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DesiredResource, LiveObject, Props};
    use crate::plan::{plan, PlanOptions};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().expect("test fixture")
    }

    fn res(address: &str, key: &str, props: Props) -> DesiredResource {
        DesiredResource {
            address: address.parse().expect("test fixture"),
            natural_key: key.into(),
            display_name: key.into(),
            props,
            immutable: vec![],
            assignment_props: vec![],
            create_only: Props::new(),
            depends_on: vec![],
            expires: None,
        }
    }

    fn live(kind: Kind, id: &str, key: &str, props: Props) -> LiveObject {
        LiveObject { kind, id: id.into(), natural_key: key.into(), display_name: key.into(), props }
    }

    fn props(v: Value) -> Props {
        v.as_object().expect("test fixture").iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn scenario() -> (DesiredModel, ObservedState, Ledger) {
        let mut d = DesiredModel::default();
        d.insert(res("device_configuration.base", "base", props(json!({"displayName": "base", "passwordRequired": true}))));
        d.insert(res("device_configuration.gone", "gone", props(json!({"displayName": "gone"}))));
        let mut g = res("guest.vendor", "v@x.com", props(json!({"displayName": "v"})));
        g.expires = Some("2026-01-01T00:00:00Z".parse().expect("test fixture"));
        d.insert(g);
        let mut o = ObservedState::default();
        o.insert(live(Kind::DeviceConfiguration, "1", "base", props(json!({"displayName": "base", "passwordRequired": false}))));
        o.insert(live(Kind::DeviceConfiguration, "2", "rogue <b>", props(json!({"displayName": "rogue <b>"}))));
        o.insert(live(Kind::Guest, "3", "v@x.com", props(json!({"displayName": "v"}))));
        o.insert(live(Kind::User, "4", "someone", props(json!({"displayName": "someone"}))));
        (d, o, Ledger::default())
    }

    #[test]
    fn each_kind_of_drift_is_reported() {
        let (d, o, l) = scenario();
        let p = plan(&d, &o, &l, &PlanOptions { now: now() }).expect("test fixture");
        let r = drift(&d, &o, &l, &p, now());
        let kinds: Vec<(String, DriftKind)> = r.items.iter().map(|i| (i.address.clone(), i.drift)).collect();
        assert_eq!(
            kinds,
            vec![
                ("guest.vendor".to_string(), DriftKind::Expired),
                ("device_configuration.(2)".to_string(), DriftKind::Unmanaged),
                ("device_configuration.base".to_string(), DriftKind::Changed),
                ("device_configuration.gone".to_string(), DriftKind::Missing),
            ]
        );
        let changed = r.items.iter().find(|i| i.drift == DriftKind::Changed).expect("test fixture");
        assert_eq!(changed.fields[0].live, Some(json!(false)));
        assert_eq!(changed.fields[0].desired, Some(json!(true)));
        assert!(!r.in_sync);
        assert_eq!(r.counts[&DriftKind::Unmanaged], 1);
    }

    #[test]
    fn unreadable_kinds_are_unknown_not_drift() {
        let (d, mut o, l) = scenario();
        o.objects.remove(&Kind::DeviceConfiguration);
        o.unreadable.insert(Kind::DeviceConfiguration, "503".into());
        let p = plan(&d, &o, &l, &PlanOptions { now: now() }).expect("test fixture");
        let r = drift(&d, &o, &l, &p, now());
        assert!(r.items.iter().all(|i| i.kind != Kind::DeviceConfiguration), "{:?}", r.items);
        assert_eq!(r.unknown.len(), 2);
    }

    #[test]
    fn since_is_carried_from_the_previous_report() {
        let (d, o, l) = scenario();
        let p = plan(&d, &o, &l, &PlanOptions { now: now() }).expect("test fixture");
        let first = drift(&d, &o, &l, &p, now() - chrono::Duration::hours(3));
        let mut second = drift(&d, &o, &l, &p, now());
        second.carry_since(Some(&first));
        assert!(second.items.iter().all(|i| i.since == "2026-11-23T09:00:00Z"));
        assert_eq!(second.generated_at, "2026-11-23T12:00:00Z");
    }

    #[test]
    fn html_is_escaped_self_contained_and_deterministic() {
        let (d, o, l) = scenario();
        let p = plan(&d, &o, &l, &PlanOptions { now: now() }).expect("test fixture");
        let r = drift(&d, &o, &l, &p, now());
        let html = render_html(&r);
        assert!(html.contains("rogue &lt;b&gt;"));
        assert!(!html.contains("rogue <b>"));
        assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
        assert_eq!(html, render_html(&r));
        assert!(render_text(&r).contains("passwordRequired: false -> true"));
        assert!(render_markdown(&r).contains("| `passwordRequired` | `false` | `true` |"));
    }

    #[test]
    fn secrets_never_reach_a_report() {
        let c = Change {
            address: "user.a".parse().expect("test fixture"),
            action: Action::Update,
            display_name: "a".into(),
            id: Some("1".into()),
            reason: "x".into(),
            fields: vec![crate::diff::FieldChange { field: "passwordProfile".into(), before: Some(json!({"password": "hunter2"})), after: None }],
            waits_on: vec![],
            wave: 0,
            desired: None,
            notes: vec![],
            live: None,
        };
        assert!(!serde_json::to_string(&fields_of(&c)).expect("test fixture").contains("hunter2"));
    }

    #[test]
    fn sensitive_changes_are_classified_conservatively() {
        let (d, _, _) = scenario();
        let mk = |address: &str, action| Change {
            address: address.parse().expect("test fixture"),
            action,
            display_name: String::new(),
            id: None,
            reason: String::new(),
            fields: vec![],
            waits_on: vec![],
            wave: 0,
            desired: None,
            notes: vec![],
            live: None,
        };
        let svc: BTreeSet<Address> = ["user.svc".parse().expect("test fixture")].into();
        assert!(sensitivity(&mk("device_configuration.base", Action::Update), &d, &svc).is_none());
        assert!(sensitivity(&mk("device_configuration.base", Action::Replace), &d, &svc).is_some());
        assert!(sensitivity(&mk("conditional_access.x", Action::Update), &d, &svc).is_some());
        assert!(sensitivity(&mk("role_assignment.x", Action::Create), &d, &svc).is_some());
        assert!(sensitivity(&mk("user.svc", Action::Update), &d, &svc).is_some());
        assert!(sensitivity(&mk("user.person", Action::Update), &d, &svc).is_none());
    }

    /// Reconcile's fallback and apply's classifier agree: adding a member
    /// to a role-holding group is sensitive in both, with the same reason;
    /// renaming it or taking a member out is in neither.
    #[test]
    fn reconcile_and_apply_classify_membership_alike() {
        let mut d = DesiredModel::default();
        d.insert(res("group.helpdesk", "helpdesk", [("displayName".to_string(), json!("H")), ("isAssignableToRole".to_string(), json!(true)), ("members".to_string(), json!([{"@ref": "user.a"}, {"@ref": "user.b"}]))].into_iter().collect()));
        d.insert(res("role_assignment.ga", "ga", [("principal".to_string(), json!({"@ref": "group.helpdesk"})), ("role".to_string(), json!("Global Administrator")), ("assignment".to_string(), json!("eligible"))].into_iter().collect()));
        let change = |field: &str, before: Value, after: Value| Change {
            address: "group.helpdesk".parse().expect("test fixture"),
            action: Action::Update,
            display_name: String::new(),
            id: None,
            reason: String::new(),
            fields: vec![crate::diff::FieldChange { field: field.into(), before: Some(before), after: Some(after) }],
            waits_on: vec![],
            wave: 0,
            desired: d.resources.get(&"group.helpdesk".parse::<Address>().expect("test fixture")).cloned(),
            notes: vec![],
            live: None,
        };
        let svc = BTreeSet::new();
        let add = change("members", json!([{"@ref": "user.a"}]), json!([{"@ref": "user.a"}, {"@ref": "user.b"}]));
        let why = sensitivity(&add, &d, &svc).expect("adding a member is sensitive");
        assert_eq!(Some(why.clone()), crate::governance::classify(&add, &d, 1));
        assert!(why.contains("adds user.b to group.helpdesk") && why.contains("holds eligible Global Administrator"), "{why}");
        let remove = change("members", json!([{"@ref": "user.a"}, {"@ref": "user.b"}]), json!([{"@ref": "user.a"}]));
        assert_eq!(sensitivity(&remove, &d, &svc), None);
        assert_eq!(crate::governance::classify(&remove, &d, 1), None);
        let rename = change("displayName", json!("H"), json!("Helpdesk"));
        assert_eq!(sensitivity(&rename, &d, &svc), crate::governance::classify(&rename, &d, 1));
    }
}
