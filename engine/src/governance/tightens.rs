//! Restoring a control is not granting access (hostile run 14, finding
//! 19):
//! * a correction that only tightens a privileged role's PIM settings
//!   (adds MFA, approval, justification or a ticket to activation, with
//!   approvers when approval comes back, shortens the activation or the
//!   assignments' expiry, makes expiry required) or only puts a conditional access policy back to
//!   `enabled` is applied without approval and by `reconcile --self-heal`
//!   unattended, journalled like every applied change ([`only_tightens`]);
//!   loosening stays sensitive;
//! * the live PIM settings of a privileged role desired state declares are
//!   linted like the declared ones: activation that needs no MFA or no
//!   approval live is an error naming the live weakness, even when desired
//!   state declares it right (drift), until fixed; the plan's restore
//!   settles it ([`live_pim`]).

use std::collections::{BTreeMap, BTreeSet};

use schema::kinds::role_assignment::is_privileged;
use schema::{Address, Kind};
use serde_json::Value;

use super::identity_lints::{ACTIVATION_WITHOUT_APPROVAL, ACTIVATION_WITHOUT_MFA};
use super::lints::{Finding, Severity};
use crate::diff::FieldChange;
use crate::model::{as_reference, DesiredModel, ObservedState};
use crate::plan::{Action, Change};

/// Seconds of an ISO 8601 duration (`P15D`, `PT4H`, `P1DT2H30M`); `None`
/// when it is not one (years and months are not fixed lengths).
pub fn duration_seconds(d: &str) -> Option<u64> {
    let rest = d.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total: u64 = 0;
    let mut parse = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut num = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() {
                num.push(ch);
                continue;
            }
            let (_, secs) = units.iter().find(|(u, _)| *u == ch.to_ascii_uppercase())?;
            total = total.checked_add(num.parse::<u64>().ok()?.checked_mul(*secs)?)?;
            num.clear();
        }
        num.is_empty().then_some(())
    };
    parse(days, &[('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        parse(t, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    Some(total)
}

/// The strings (or references) of a list value.
fn set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|x| x.as_str().or_else(|| as_reference(x))).map(str::to_string).collect()
}

/// Whether one field change of a PIM settings update only tightens.
fn pim_field_tightens(f: &FieldChange) -> bool {
    let (before, after) = (f.before.as_ref(), f.after.as_ref());
    let leaf = f.field.rsplit('.').next().unwrap_or_default();
    let group = f.field.split('.').next().unwrap_or_default();
    match (group, leaf) {
        ("activation", "enabledRules") => set(before).is_subset(&set(after)),
        ("activation", "isApprovalRequired") => after == Some(&Value::Bool(true)),
        ("activation" | "eligibleExpiry" | "activeExpiry", "maximumDuration") => {
            let secs = |v: Option<&Value>| v.and_then(Value::as_str).and_then(duration_seconds);
            match (secs(before), secs(after)) {
                (Some(b), Some(a)) => a <= b,
                // No limit before (expiry not required), one now.
                (None, Some(_)) => before.is_none() && group != "activation",
                _ => false,
            }
        }
        ("eligibleExpiry" | "activeExpiry", "isExpirationRequired") => after == Some(&Value::Bool(true)),
        // Approvers put back to fewer (a subset; hostile run 26, finding
        // 2): a swap adds someone, which is reviewed.
        ("activation", "approvers") => !set(after).is_empty() && set(after).is_subset(&set(before)),
        _ => false,
    }
}

/// Approvers added while approval comes back (it was not required): the
/// restore of approval. Approvers added to an approval already required
/// widen who may approve activations, which is not tightening.
fn approvers_come_back(change: &Change, f: &FieldChange) -> bool {
    f.field == "activation.approvers"
        && set(f.before.as_ref()).is_subset(&set(f.after.as_ref()))
        && change.fields.iter().any(|x| x.field == "activation.isApprovalRequired" && x.after == Some(Value::Bool(true)))
}

/// The note on a change whose desired properties are exactly what was
/// last applied (the ledger's `applied` hash): the tenant moved, not the
/// desired state, so the change puts drift back.
pub const RESTORES_NOTE: &str = "puts back what was last applied: desired state is unchanged since, the tenant drifted";

/// The note on a change whose other properties are what was last applied
/// but whose access end (`expires`, kept in the ledger, not in the
/// `applied` hash) is not: desired state changed it.
pub const END_CHANGED_NOTE: &str = "desired state changed the access end (expires) from the one last applied; its other properties are as last applied";

/// Whether `change` only puts back what was last applied ([`RESTORES_NOTE`]).
pub fn restores(change: &Change) -> bool {
    change.notes.iter().any(|n| n == RESTORES_NOTE)
}

/// The note on a change that would be a restore by the ledger's record,
/// when the ledger is kept where a pull request can write it.
pub const UNPROVED_RESTORE_NOTE: &str = "the ledger records these settings as last applied, but the tenant records no seal of it yet and it is kept where the change under review can write it (a git work tree), so that proves nothing: the correction is reviewed like any change (the next apply seals the ledger in the tenant, and restores then run unattended)";

/// Notes each update whose desired properties hash to what the ledger
/// records as last applied ([`RESTORES_NOTE`]). Only such a correction may
/// be judged "only tightens" (hostile run 15, findings 1 and 2): compared
/// with the live tenant alone, a pull request could enable a policy that
/// was approved as report-only, or add approvers while approval is
/// switched off out of band, and call it a restore. The ledger's record
/// counts only when the change under review cannot have written it: the
/// ledger is sealed ([`crate::ledger_seal`]; hostile run 16).
pub fn mark_restores(changes: &mut [Change], ledger: &crate::Ledger) {
    // A create of an object the ledger owns is its deletion out of band put
    // back (hostile run 18, finding 11).
    for c in changes.iter_mut().filter(|c| matches!(c.action, Action::Update | Action::Assign | Action::Create)) {
        let Some(applied) = ledger.resources.get(&c.address).and_then(|e| e.applied.as_deref()) else { continue };
        let Some(d) = &c.desired else { continue };
        // A secret's variable changed in desired state (not in the hash).
        // Likewise a guest's sponsor (`super::sponsor`).
        if c.fields.iter().any(|f| f.field == crate::secret_env::ENVS || (c.address.kind == Kind::Guest && f.field == super::sponsor::SPONSOR)) {
            continue;
        }
        // Likewise an access end (ledger-only, not in the hash): desired
        // state changed it, so the change is no restore of drift (hostile
        // run 25, finding 4).
        let end_changed = c.fields.iter().any(|f| f.field == super::recorded::EXPIRES);
        if crate::plan::fingerprint(&serde_json::to_value(&d.props).unwrap_or_default()) == applied {
            c.notes.push(match (ledger.applied_proven(&c.address), ledger.seal_broken()) {
                (_, false) | (true, true) if end_changed => END_CHANGED_NOTE.into(),
                (true, _) => RESTORES_NOTE.into(),
                (false, true) => ledger.unproven_note("what was last applied (a restore would run unattended)"),
                (false, false) => UNPROVED_RESTORE_NOTE.into(),
            });
        }
    }
}

/// Why `change` only tightens a control, or `None`: a correction of drift
/// ([`restores`]) that is an update of PIM role settings whose every field
/// tightens, or of a conditional access policy whose only change is its
/// state back to `enabled`. A change of desired state is never "only
/// tightens": it is reviewed like any other.
pub fn only_tightens(change: &Change) -> Option<String> {
    if !matches!(change.action, Action::Update | Action::Assign | Action::Create) || change.fields.is_empty() || !restores(change) {
        return None;
    }
    let a = &change.address;
    if change.action == Action::Create {
        // A control deleted out of band, made again as approved.
        return (is_control(a.kind) && super::oma_review::reason(change).is_none()).then(|| format!(
            "makes control {a} again as it was approved and last applied (it was deleted out of band; the ledger's record is beyond the change's reach): a control grants no access, so it needs no approval and reconcile --self-heal applies it unattended"
        ));
    }
    match a.kind {
        Kind::RolePolicy if change.fields.iter().all(|f| pim_field_tightens(f) || approvers_come_back(change, f)) => {
            let what: Vec<&str> = change.fields.iter().map(|f| f.field.as_str()).collect();
            Some(format!("only tightens the PIM settings of {a} ({}): it grants no access, so it needs no approval and reconcile --self-heal applies it unattended", what.join(", ")))
        }
        Kind::ConditionalAccess if change.fields.iter().all(|f| f.field == "state" && f.after.as_ref().and_then(Value::as_str) == Some("enabled")) => {
            Some(format!("only puts conditional access policy {a} back to enabled: it grants no access, so it needs no approval and reconcile --self-heal applies it unattended"))
        }
        k if is_control(k) && super::oma_review::reason(change).is_none() => Some(format!(
            "puts control {a} back as it was approved and last applied (the tenant drifted; the ledger's record is beyond the change's reach): a control grants no access, so it needs no approval and reconcile --self-heal applies it unattended"
        )),
        Kind::AccessPackage | Kind::AccessCatalog if change.fields.iter().all(grant_field_narrows) => Some(format!(
            "puts {a} back as it was approved and last applied, granting nothing it does not grant now (the tenant drifted; the ledger's record is beyond the change's reach), so it needs no approval and reconcile --self-heal applies it unattended"
        )),
        _ => super::restore_narrows::reason(change),
    }
}

/// Kinds whose objects are controls, not grants: Intune policies (device
/// configuration, compliance, update rings, Settings Catalog, scripts,
/// apps, the Autopilot profile) and the sign-in controls (conditional
/// access and what it names, the authentication methods policy). Guest
/// and cross-tenant settings are grants, not controls: putting them back
/// would undo an emergency closing of guest access (hostile run 18,
/// finding 13). PIM role settings are judged field by field instead (a
/// restore that loosens them is held). Putting one back as it was
/// approved and last applied restores a control weakened out of band
/// (hostile run 17, findings 4, 5 and 12): it is not granting access.
pub(crate) fn is_control(kind: Kind) -> bool {
    kind.is_policy()
        || matches!(
            kind,
            Kind::ConditionalAccess
                | Kind::NamedLocation
                | Kind::AuthenticationStrength
                | Kind::AuthenticationMethodsPolicy
        )
}

/// The fields of an access package or catalog that say what it grants or
/// admits: a restore of them must not grant more than the tenant does
/// now (a group taken out in the portal in an emergency is not put back
/// unattended).
const GRANT_LISTS: &[&str] = &["groups", "applications", "sites", "policyNames"];

/// How many people an `allowedTargetScope` admits, coarsely: a restore may
/// only move it down.
fn scope_rank(v: Option<&Value>) -> Option<u8> {
    Some(match v?.as_str()? {
        "allDirectoryUsers" => 3,
        "allMemberUsers" | "allExternalUsers" => 2,
        "allConfiguredConnectedOrganizationUsers" => 1,
        "specificDirectoryUsers" | "specificConnectedOrganizationUsers" | "notSpecified" => 0,
        _ => return None,
    })
}

/// Whether one field of a package or catalog restore grants nothing new
/// (hostile run 18, finding 3: a package closed in the portal in an
/// emergency must not be reopened unattended). Only a field that moves
/// toward less access counts; any other field, or one whose direction
/// cannot be told, makes the restore a change someone approves.
fn grant_field_narrows(f: &FieldChange) -> bool {
    let top = f.field.split('.').next().unwrap_or_default();
    let leaf = f.field.rsplit('.').next().unwrap_or_default();
    let (before, after) = (f.before.as_ref(), f.after.as_ref());
    let is = |v: Option<&Value>, b: bool| v.and_then(Value::as_bool) == Some(b);
    let time = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    // A catalog's custom workflow extensions put back exactly as approved
    // (this is only asked of a proven restore): the Logic App the portal
    // pointed them at is called no more (hostile run 26, finding 2).
    if f.field == super::custom_extensions::FIELD {
        return true;
    }
    if crate::removed_policies::is_whole_policy_removed(f) {
        return true;
    }
    if let Some(narrows) = super::package_incompatible::narrows(f) {
        return narrows;
    }
    if GRANT_LISTS.contains(&top) || matches!(leaf, "specificAllowedTargets") {
        return set(after).is_subset(&set(before));
    }
    match leaf {
        // Names and descriptions grant nothing.
        "displayName" | "description" => true,
        "allowedTargetScope" => matches!((scope_rank(before), scope_rank(after)), (Some(b), Some(a)) if a < b),
        "isApprovalRequiredForAdd" | "isApprovalRequiredForUpdate" | "isRequestorJustificationRequired" | "isApproverJustificationRequired" => is(after, true),
        "isHidden" => is(after, true),
        "isExternallyVisible" => is(after, false),
        "state" if top == "state" => after.and_then(Value::as_str) == Some("unpublished"),
        // Requestors' own powers switched back off.
        l if l.starts_with("enableTargetsTo") || l.starts_with("enableOnBehalfRequestorsTo") || l == "allowCustomAssignmentSchedule" => is(after, false),
        // An end coming back, or coming earlier.
        "type" if f.field.ends_with("expiration.type") => before.and_then(Value::as_str) == Some("noExpiration") && after.and_then(Value::as_str) != Some("noExpiration"),
        "endDateTime" => match (time(before), time(after)) {
            (Some(b), Some(a)) => a < b,
            (None, Some(_)) => true,
            _ => false,
        },
        "duration" => match (before.and_then(Value::as_str).and_then(duration_seconds), after.and_then(Value::as_str).and_then(duration_seconds)) {
            (Some(b), Some(a)) => a < b,
            (None, Some(_)) => true,
            _ => false,
        },
        // Approval stages coming back where there were none.
        "stages" => before.and_then(Value::as_array).is_none_or(|b| b.is_empty()) && after.and_then(Value::as_array).is_some_and(|a| !a.is_empty()),
        // A review switched back on.
        "isEnabled" if f.field.contains("reviewSettings") => is(after, true),
        _ => false,
    }
}

/// The live weaknesses of the PIM settings of privileged roles desired
/// state declares (`role_policy`): activation without MFA or without
/// approval, live. A warning when `changes` restore it (the restore only
/// tightens, so it runs unattended); an error otherwise.
///
/// Settings the ledger has no record of applying (a first plan against the
/// tenant's defaults) are not drift: when the plan sets them, nothing is
/// said beyond the change itself.
pub fn live_pim(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, changes: &[Change], ledger: &crate::Ledger) -> Vec<Finding> {
    let mut out = Vec::new();
    if observed.unreadable.contains_key(&Kind::RolePolicy) {
        return out;
    }
    let live: BTreeMap<&str, &crate::model::LiveObject> = observed.objects.get(&Kind::RolePolicy).into_iter().flatten().map(|o| (o.id.as_str(), o)).collect();
    for (address, r) in desired.resources.range(Address::new(Kind::RolePolicy, "")..).take_while(|(a, _)| a.kind == Kind::RolePolicy) {
        let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
        if !is_privileged(role) {
            continue;
        }
        let role = &super::identity_lints::role_shown(&r.props);
        let Some(o) = ids.get(address).and_then(|id| live.get(id.as_str())) else { continue };
        let activation = o.props.get("activation");
        let rules = set(activation.and_then(|a| a.get("enabledRules")));
        let approval = activation.and_then(|a| a.get("isApprovalRequired")).and_then(Value::as_bool) == Some(true);
        // The plan's update of these settings, and what it leaves.
        let update = changes.iter().find(|c| c.address == *address && c.action == Action::Update);
        let after = |field: &str| update.and_then(|c| c.fields.iter().find(|f| f.field == format!("activation.{field}"))).map(|f| f.after.clone());
        let restores_mfa = after("enabledRules").is_some_and(|a| set(a.as_ref()).contains("MultiFactorAuthentication"));
        let restores_approval = after("isApprovalRequired").is_some_and(|a| a == Some(Value::Bool(true)));
        let mut weak = |lint: &str, what: &str, restored: bool| {
            let mut f = Finding {
                severity: Severity::Error,
                lint: lint.into(),
                address: address.to_string(),
                message: format!("{role} is privileged and live, activating it needs no {what} now (the tenant differs from desired state): anyone eligible activates it without {what} until the settings are restored"),
            };
            if restored && ledger.id(address).is_none() {
                return;
            }
            if restored {
                f.severity = Severity::Warning;
                f.message.push_str(&format!("; this plan restores it (update {address}), unattended, so it does not block"));
            }
            out.push(f);
        };
        if !rules.contains("MultiFactorAuthentication") {
            weak(ACTIVATION_WITHOUT_MFA, "MFA", restores_mfa);
        }
        if !approval {
            weak(ACTIVATION_WITHOUT_APPROVAL, "approval", restores_approval);
        }
    }
    super::lints::finish(&desired.governance, out)
}

/// A note on each change that only tightens, so the plan (and the
/// journal of the run that applies it) says why it needs no approval.
pub fn notes(changes: &mut [Change]) {
    for c in changes.iter_mut() {
        if let Some(why) = only_tightens(c) {
            c.notes.push(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, before: Option<Value>, after: Option<Value>) -> FieldChange {
        FieldChange { field: name.into(), before, after }
    }

    #[test]
    fn durations_compare() {
        assert_eq!(duration_seconds("PT4H"), Some(14_400));
        assert_eq!(duration_seconds("P15D"), Some(15 * 86_400));
        assert_eq!(duration_seconds("P1DT2H30M"), Some(86_400 + 9_000));
        assert_eq!(duration_seconds("P1Y"), None);
        assert_eq!(duration_seconds("PT"), None);
        assert_eq!(duration_seconds("4H"), None);
    }

    #[test]
    fn tightening_and_loosening() {
        assert!(pim_field_tightens(&field("activation.enabledRules", Some(json!(["Justification"])), Some(json!(["Justification", "MultiFactorAuthentication"])))));
        assert!(pim_field_tightens(&field("activation.enabledRules", None, Some(json!(["MultiFactorAuthentication"])))));
        assert!(!pim_field_tightens(&field("activation.enabledRules", Some(json!(["MultiFactorAuthentication"])), Some(json!(["Justification"])))));
        assert!(pim_field_tightens(&field("activation.isApprovalRequired", Some(json!(false)), Some(json!(true)))));
        assert!(!pim_field_tightens(&field("activation.isApprovalRequired", Some(json!(true)), Some(json!(false)))));
        assert!(pim_field_tightens(&field("activation.maximumDuration", Some(json!("PT8H")), Some(json!("PT4H")))));
        assert!(!pim_field_tightens(&field("activation.maximumDuration", Some(json!("PT4H")), Some(json!("PT8H")))));
        assert!(!pim_field_tightens(&field("activation.maximumDuration", None, Some(json!("PT8H")))));
        assert!(pim_field_tightens(&field("eligibleExpiry.maximumDuration", None, Some(json!("P365D")))));
        assert!(pim_field_tightens(&field("eligibleExpiry.isExpirationRequired", Some(json!(false)), Some(json!(true)))));
        assert!(!pim_field_tightens(&field("activation.approvers", Some(json!([{"@ref": "user.a"}])), None)));
        assert!(!pim_field_tightens(&field("role", Some(json!("A")), Some(json!("B")))));
    }

    fn update(fields: Vec<FieldChange>) -> Change {
        Change {
            address: "role_policy.ia".parse().expect("an address"),
            action: Action::Update,
            display_name: "ia".into(),
            id: Some("p".into()),
            reason: String::new(),
            fields,
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: vec![RESTORES_NOTE.into()],
            live: None,
        }
    }

    #[test]
    fn a_package_restore_counts_only_when_it_narrows() {
        let narrows = |name: &str, b: Value, a: Value| grant_field_narrows(&field(name, Some(b), Some(a)));
        assert!(narrows("groups", json!([{"@ref": "group.a"}, {"@ref": "group.b"}]), json!([{"@ref": "group.a"}])));
        assert!(!narrows("groups", json!([{"@ref": "group.a"}]), json!([{"@ref": "group.a"}, {"@ref": "group.b"}])));
        assert!(narrows("policies.p.allowedTargetScope", json!("allDirectoryUsers"), json!("allExternalUsers")));
        assert!(!narrows("policies.p.allowedTargetScope", json!("specificDirectoryUsers"), json!("allExternalUsers")), "an emergency narrowing is not reopened");
        assert!(!narrows("policies.p.allowedTargetScope", json!("allMemberUsers"), json!("allExternalUsers")));
        assert!(narrows("policies.p.requestApprovalSettings.isApprovalRequiredForAdd", json!(false), json!(true)));
        assert!(!narrows("policies.p.requestorSettings.enableTargetsToSelfAddAccess", json!(false), json!(true)));
        assert!(narrows("policies.p.expiration.endDateTime", json!("2027-03-31T17:00:00Z"), json!("2027-01-31T17:00:00Z")));
        assert!(!narrows("policies.p.expiration.endDateTime", json!("2026-12-02T00:00:00Z"), json!("2027-03-31T17:00:00Z")));
        assert!(narrows("policies.p.expiration.type", json!("noExpiration"), json!("afterDateTime")));
        assert!(!narrows("isHidden", json!(true), json!(false)));
        assert!(!narrows("policies.p.someFieldNobodyJudged", json!(1), json!(2)), "a field whose direction is unknown is reviewed");
    }

    #[test]
    fn a_change_of_desired_state_never_only_tightens() {
        let mut c = update(vec![field("activation.isApprovalRequired", Some(json!(false)), Some(json!(true)))]);
        assert!(only_tightens(&c).is_some());
        c.notes.clear();
        assert!(only_tightens(&c).is_none(), "desired state moved: reviewed like any change");
    }

    #[test]
    fn approvers_tighten_only_with_approval_coming_back() {
        let approvers = field("activation.approvers", Some(json!([{"@ref": "user.a"}])), Some(json!([{"@ref": "user.a"}, {"@ref": "user.b"}])));
        assert!(only_tightens(&update(vec![approvers.clone()])).is_none(), "another approver on a required approval widens who approves");
        let back = field("activation.isApprovalRequired", Some(json!(false)), Some(json!(true)));
        let restored = field("activation.approvers", None, Some(json!([{"@ref": "user.a"}])));
        assert!(only_tightens(&update(vec![back.clone(), restored])).is_some());
        let loosened = field("activation.maximumDuration", Some(json!("PT4H")), Some(json!("PT8H")));
        assert!(only_tightens(&update(vec![back, loosened])).is_none(), "one loosening field makes it sensitive");
        let mut ca = update(vec![field("state", Some(json!("disabled")), Some(json!("enabled")))]);
        ca.address = "conditional_access.x".parse().expect("an address");
        assert!(only_tightens(&ca).is_some());
        // Any field of a control the ledger proves a restore of is put back
        // (hostile run 17); unproven, only the state back to enabled is.
        ca.fields = vec![field("state", Some(json!("enabled")), Some(json!("enabledForReportingButNotEnforced")))];
        assert!(only_tightens(&ca).is_some());
        ca.notes = vec![UNPROVED_RESTORE_NOTE.into()];
        assert!(only_tightens(&ca).is_none());
    }
}
