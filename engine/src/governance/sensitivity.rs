//! Which changes of a plan are sensitive (need approval), and why.

use std::collections::{BTreeMap, BTreeSet};

use schema::kind_facts::Access;
use schema::{Address, Kind};

use crate::model::{DesiredModel, ObservedState};
use crate::plan::{referenced_addresses, Action, Change};
use super::grants::{self, Tenant};


/// Why a change needs approval, or `None`. Built-in rules first, then
/// `[governance] sensitive_kinds` / `sensitive_addresses`; `plan_size` makes
/// every change of an over-threshold plan sensitive.
pub fn classify(change: &Change, desired: &DesiredModel, plan_size: usize) -> Option<String> {
    let observed = ObservedState::default();
    let ids = BTreeMap::new();
    classify_in(change, desired, plan_size, &Tenant::new(desired, &observed, &ids))
}

/// [`classify`], with `tenant` (desired state alone) shared by every
/// change of a plan, so what it looks up is indexed once.
fn classify_in(change: &Change, desired: &DesiredModel, plan_size: usize, tenant: &Tenant<'_>) -> Option<String> {
    let gov = &desired.governance;
    let a = &change.address;
    if change.action == Action::Forget {
        // Only the ledger changes; the tenant is not touched.
        return None;
    }
    if let Some(why) = protected_access(change, desired) {
        // Even removing it: a protected (break-glass) account's access is
        // changed only with approval, never self-healed.
        return Some(why);
    }
    // Sign-in given back to an account, and custom OMA-URI profiles:
    // reviewed even as a restore (hostile run 18, findings 5 and 12).
    if let Some(why) = super::sign_in::reason(change).or_else(|| super::oma_review::reason(change)) {
        return Some(why);
    }
    // What the ledger remembers (governance::recorded): no longer a
    // service account, or a guest's access extended.
    // A Logic App outside the tenant called on each request (issue 16).
    if let Some(why) = super::custom_extensions::reason(change) {
        return Some(why);
    }
    // Before "removing access is never held": a member taken out of a
    // restricted management unit loses its protection.
    if let Some(why) = super::restricted_unit::reason(change, desired) {
        return Some(why);
    }
    if let Some(why) = super::recorded::leaves_service(change) {
        return Some(why);
    }
    if let Some(why) = super::recorded::extends_expiry(change) {
        return Some(why);
    }
    if super::admin_reach::only_narrows(change) {
        // Members, scope or scope tags taken out of an Intune role
        // assignment only take admin access away.
        return None;
    }
    if removes_access(change).is_some() || super::package_automatic::only_turns_off(change).is_some() || super::package_oob::is_removal(change) {
        // Ending access is never held for approval (zero standing access):
        // expiry and out-of-band removals run unattended, journalled.
        return None;
    }
    let listed = gov.sensitive_kinds.iter().any(|k| k == a.kind.as_str()) || gov.sensitive_addresses.iter().any(|s| *s == a.to_string());
    if !listed && super::exemption_restore::proven(change) {
        // The service-accounts group's approved rule put back, ending
        // only exemptions granted out of band.
        return None;
    }
    if !listed && super::tightens::only_tightens(change).is_some() {
        // Restoring a control (MFA or approval on a privileged role's
        // activation, a CA policy back on) grants no access.
        return None;
    }
    // Judged from desired state alone here; the plan adds what the live
    // tenant shows (`grants::live_sensitivity`).
    if grants::removes_members(change) && !grants::managed_desktop_group(desired, a) && !grants::group_grants(tenant, a).ca_included {
        // Taking members out of a group only takes its access away
        // (protected groups included), unless leaving escapes a
        // conditional access policy that includes the group.
        return None;
    }
    if change.action == Action::Delete {
        return Some(format!("deletes {a}"));
    }
    if change.action == Action::Replace {
        return Some(format!("replaces {a} (deletes it and creates it again)"));
    }
    if let Some(why) = super::package_incompatible::loosens(change) {
        return Some(why);
    }
    // What the kind itself declares (`SENSITIVITY` in its schema module);
    // an access package says what its groups grant.
    if let Some(why) = a.kind.sensitivity().reason(change.action == Action::Create) {
        if let Some(grants) = super::package_live::reason(change, tenant) {
            return Some(format!("{why}: {grants}"));
        }
        return Some(why.into());
    }
    if let Some(why) = super::admin_reach::reason(change, tenant) {
        return Some(why);
    }
    if let Some(why) = super::control_narrowing::reason(change) {
        return Some(why);
    }
    // Licences grant services (and spend seats): assigning or changing them
    // is sensitive (issue 16).
    let licences = change.fields.iter().any(|f| f.field.split('.').next() == Some("assignedLicenses"))
        || (change.action == Action::Create && change.desired.as_ref().and_then(|d| d.props.get("assignedLicenses")).and_then(|v| v.as_array()).is_some_and(|l| !l.is_empty()));
    if licences {
        return Some(format!("licence assignment on {a}"));
    }
    if let Some(why) = known_password(change) {
        return Some(why);
    }
    if let Some(why) = super::secret_sends::reason(change) {
        return Some(why);
    }
    if desired.service_accounts.contains(a) {
        return Some(format!("touches service account {a}"));
    }
    if desired.service_account_groups.contains(a) {
        return Some(format!("touches the service-accounts group {a}"));
    }
    if let Some(why) = grants::membership_reason(change, tenant) {
        return Some(why);
    }
    if desired.protected_groups.contains(a) || gov.protected.iter().any(|p| *p == a.to_string()) {
        return Some(format!("touches protected {a}"));
    }
    // Anything that refers to a service account or a protected group
    // (memberships, assignments) touches it.
    if let Some(d) = &change.desired {
        let mut refs = BTreeSet::new();
        for v in d.props.values() {
            referenced_addresses(v, &mut refs);
        }
        if let Some(s) = refs.iter().find(|r| desired.service_accounts.contains(*r)) {
            return Some(format!("touches service account {s}"));
        }
    }
    if let Some(why) = managed_desktop_reason(change, desired).or_else(|| grants::managed_desktop_reach(change, tenant)) {
        return Some(why);
    }
    if a.kind == Kind::AutopilotProfile {
        // Provisioning: which devices get which profile (and whose account
        // is an administrator on them).
        return Some(format!("Autopilot profile {a} (device provisioning)"));
    }
    if gov.sensitive_kinds.iter().any(|k| k == a.kind.as_str()) {
        return Some(format!("{} is a sensitive kind (governance.sensitive_kinds)", a.kind));
    }
    if gov.sensitive_addresses.iter().any(|s| *s == a.to_string()) {
        return Some(format!("{a} is listed in governance.sensitive_addresses"));
    }
    if plan_size as u64 > u64::from(gov.large_plan_threshold) {
        return Some(format!("the plan has {plan_size} changes, more than governance.large_plan_threshold ({})", gov.large_plan_threshold));
    }
    None
}

/// Why a change touches the access of a protected principal
/// (`governance.protected`: break-glass accounts), or `None`: a role
/// assignment held (live) or given (desired) to one, or the protected guest
/// itself. Protected groups (`protected = true`) protect their membership;
/// their roles' expiry still ends unattended.
pub fn protected_access(change: &Change, desired: &DesiredModel) -> Option<String> {
    let gov = &desired.governance;
    let protected = |a: &str| gov.protected.iter().any(|p| p == a);
    let a = &change.address;
    if a.kind == Kind::Guest && protected(&a.to_string()) {
        return Some(format!("changes the access of protected {a}"));
    }
    if a.kind != Kind::RoleAssignment {
        return None;
    }
    let principals = change.desired.iter().map(|d| &d.props).chain(change.live.iter()).filter_map(|p| p.get("principal")).filter_map(crate::model::as_reference);
    for p in principals {
        if protected(p) {
            return Some(format!("changes the access of protected {p}"));
        }
    }
    None
}

/// The prefix of every Managed Desktop protection reason.
pub const MANAGED_DESKTOP: &str = "Managed Desktop";

/// Why a change touches a protected Managed Desktop object, or `None`: the
/// ring device groups, the all-devices group, the service accounts' group,
/// the Autopilot profile (and any profile or policy assigned to a ring or
/// the all-devices group, desired or live).
pub fn managed_desktop_reason(change: &Change, desired: &DesiredModel) -> Option<String> {
    let md = desired.governance.managed_desktop.as_ref()?;
    let a = &change.address;
    let group = |k: &String| Address::new(Kind::Group, k.as_str());
    let rings: BTreeSet<Address> = md.rings.iter().map(group).collect();
    let all_devices = md.all_devices.as_ref().map(group);
    if rings.contains(a) {
        return Some(format!("{MANAGED_DESKTOP}: ring device group {a}"));
    }
    if all_devices.as_ref() == Some(a) {
        return Some(format!("{MANAGED_DESKTOP}: the all-devices group {a}"));
    }
    if md.service_accounts_group.as_ref().map(group).as_ref() == Some(a) {
        return Some(format!("{MANAGED_DESKTOP}: the service accounts' group {a}"));
    }
    if a.kind == Kind::AutopilotProfile && md.autopilot_profile.as_deref() == Some(a.key.as_str()) {
        return Some(format!("{MANAGED_DESKTOP}: the Autopilot profile {a}"));
    }
    if a.kind.is_policy() || a.kind == Kind::AutopilotProfile {
        let mut targets = BTreeSet::new();
        for props in change.desired.iter().map(|d| &d.props).chain(change.live.iter()) {
            if let Some(v) = props.get("assignments") {
                referenced_addresses(v, &mut targets);
            }
        }
        if let Some(t) = targets.iter().find(|t| rings.contains(*t) || all_devices.as_ref() == Some(*t)) {
            return Some(format!("{MANAGED_DESKTOP}: {a} is assigned to {t}"));
        }
    }
    if let Some(why) = super::device_reach::reason(change, desired) {
        return Some(why);
    }
    if a.kind == Kind::AssignmentFilter {
        // A filter narrows which ring devices get a ring policy: changing
        // it changes the ring policy's reach, so it is protected with it.
        for (p, r) in desired.resources.iter().filter(|(p, r)| (p.kind.is_policy() || p.kind == Kind::AutopilotProfile) && r.depends_on.contains(a)) {
            let mut targets = BTreeSet::new();
            if let Some(v) = r.props.get("assignments") {
                referenced_addresses(v, &mut targets);
            }
            if let Some(t) = targets.iter().find(|t| rings.contains(*t) || all_devices.as_ref() == Some(*t)) {
                return Some(format!("{MANAGED_DESKTOP}: {a} filters {p}, which is assigned to {t}"));
            }
        }
    }
    None
}

/// Why a change only removes access, or `None`. Such changes are applied
/// without approval by `apply` and unattended by `reconcile --self-heal`;
/// granting or widening access stays sensitive. Which kinds' changes can
/// is each kind's own fact (`ACCESS` in its schema module, asked through
/// [`Kind::access`]):
/// * a grant (a directory or Intune role assignment, an access package
///   assignment): deleting it (expired, no longer declared, or
///   out-of-band privileged access), or, where the kind says so, an update
///   that only brings its `expires` earlier;
/// * an expiring principal (a guest): deleting it once its `expires` has
///   passed (the plan deletes a declared guest only then), blocking its
///   sign-in (`accountEnabled` to `false`, and nothing else in the change),
///   or bringing its end earlier.
pub fn removes_access(change: &Change) -> Option<String> {
    let a = &change.address;
    let expires = change.desired.as_ref().is_some_and(|d| d.expires.is_some());
    let only = |f: &dyn Fn(&crate::diff::FieldChange) -> bool| !change.fields.is_empty() && change.fields.iter().all(f);
    let blocks = |f: &crate::diff::FieldChange| f.field == "accountEnabled" && f.after == Some(serde_json::Value::Bool(false));
    match (a.kind.access(), change.action) {
        (Access::Grant { noun, says_expired: true, .. }, Action::Delete) if expires => Some(format!("ends the expired {noun} {a}")),
        (Access::Grant { noun, .. }, Action::Delete) => Some(format!("ends the {noun} {a}")),
        (Access::Grant { noun, shortens: true, .. }, Action::Update) if only(&|f| super::package_assignment::brings_end_earlier(f)) => Some(format!("shortens the {noun} {a}")),
        // An earlier end the ledger records (an Intune role assignment's).
        (Access::Grant { noun, .. }, Action::Update) if only(&|f| super::recorded::shortens_expiry(change, f)) => Some(format!("ends the {noun} {a} earlier")),
        (Access::Expiring { noun }, Action::Delete) if expires => Some(format!("removes the expired {noun} {a}")),
        (Access::Expiring { noun }, Action::Update) if only(&blocks) => Some(format!("blocks sign-in of {noun} {a}")),
        // An earlier end of its access (and blocking its sign-in).
        (Access::Expiring { noun }, Action::Update) if only(&|f| super::recorded::shortens_expiry(change, f) || blocks(f)) => Some(format!("shortens the access of {noun} {a}")),
        _ => None,
    }
}

/// What an approver needs beside the field diff, as notes on the change:
/// a guest's `expires` and `sponsor`; a role assignment's justification,
/// type and schedule (start and end).
pub fn review_notes(changes: &mut [Change]) {
    for c in changes.iter_mut().filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace)) {
        let Some(d) = &c.desired else { continue };
        let text = |k: &str| d.create_only.get(k).or_else(|| d.props.get(k)).and_then(serde_json::Value::as_str).map(str::to_string);
        let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        match c.address.kind {
            Kind::Guest => {
                let expires = when(d.expires).unwrap_or_else(|| "never".into());
                let sponsor = text("sponsor").unwrap_or_else(|| "none given".into());
                c.notes.push(format!("review: access expires {expires}; sponsor: {sponsor}"));
            }
            Kind::RoleAssignment => {
                let justification = text("justification").unwrap_or_else(|| "none given".into());
                let kind = text("assignment").unwrap_or_else(|| "active".into());
                let end = text("endDateTime").or_else(|| when(d.expires)).unwrap_or_else(|| "no end (permanent)".into());
                c.notes.push(format!("review: {kind}, schedule from when applied until {end}; justification: {justification}"));
            }
            Kind::AccessPackageAssignment => c.notes.push(super::package_assignment::review_note(d)),
            _ => {}
        }
    }
}

/// Why each sensitive change of `changes` is sensitive, by address.
pub fn sensitivity(changes: &[Change], desired: &DesiredModel) -> BTreeMap<Address, String> {
    let size = changes.iter().filter(|c| c.action != Action::Forget).count();
    let observed = ObservedState::default();
    let ids = BTreeMap::new();
    let tenant = Tenant::new(desired, &observed, &ids);
    changes.iter().filter_map(|c| classify_in(c, desired, size, &tenant).map(|r| (c.address.clone(), r))).collect()
}

/// Deleted role assignments are labelled by who holds which role (the
/// principal's address and the role's name from the live read), not by
/// the principal's object id.
pub fn label_role_deletes(changes: &mut [Change]) {
    for c in changes.iter_mut().filter(|c| c.address.kind == Kind::RoleAssignment && c.action == Action::Delete) {
        let Some(live) = &c.live else { continue };
        let principal = live.get("principal").and_then(crate::model::as_reference).filter(|p| !p.starts_with("id:"));
        let role = live.get("role").and_then(serde_json::Value::as_str).filter(|r| !r.is_empty());
        if let (Some(p), Some(r)) = (principal, role) {
            if !c.display_name.starts_with(p) {
                c.display_name = format!("{p} as {r}");
            }
        }
    }
}

/// An account created with its password from an environment variable
/// (`password_env`): whoever can read or set that variable in the run can
/// sign in as the account, so the account is granted to them. A pull
/// request naming a variable whose value is public (a runner's
/// `JAVA_HOME_17_X64`) would otherwise create a sign-in-able account
/// unattended (hostile run 17, finding 14). A generated password is known
/// to nobody.
fn known_password(change: &Change) -> Option<String> {
    if !matches!(change.action, Action::Create | Action::Replace) || change.address.kind != Kind::User {
        return None;
    }
    let var = change.desired.as_ref()?.create_only.get("passwordFromEnv")?.as_str()?;
    Some(format!(
        "creates {} with the password environment variable `{var}` holds: whoever can read or set `{var}` where tenantctl runs can sign in as it",
        change.address
    ))
}
