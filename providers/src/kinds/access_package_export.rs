//! An access package exported as TOML (`export_one`, `export`): its
//! catalog, groups, resources and policies named by key. A package naming
//! something that is not exported is left out with a warning, and the
//! others no longer name it. Split out of `access_package`.

use std::collections::BTreeMap;

use engine::model::as_reference;
use engine::LiveObject;
use schema::kinds::access_package::{self as ap, AccessPackage, ApprovalSettings, ApprovalStage, AssignmentPolicy, Expiration, RequestorSettings};
use schema::{Address, Kind};
use serde_json::Value;

use super::access_package::{CATALOG, GROUPS, POLICIES_PROP};
use super::access_policy_automatic as automatic;
use super::access_policy_review as review;
use super::access_resources::{APPLICATIONS, SITES};
use super::str_field;
use crate::export::ExportCx;

/// A props subject as TOML: a key, or the special name.
fn subject_toml(v: &Value, key_of: &dyn Fn(&str) -> Option<Address>) -> Result<String, String> {
    if let Some(s) = v.as_str() {
        return if ap::special_approver(s).is_some() || s.starts_with(ap::CONNECTED_ORGANIZATION) { Ok(s.to_string()) } else { Err(format!("subject {s} is not modelled")) };
    }
    let id = as_reference(v).unwrap_or_default();
    key_of(id).filter(|a| matches!(a.kind, Kind::User | Kind::Guest | Kind::Group)).map(|a| a.to_string()).ok_or_else(|| format!("subject {id} is not exported"))
}

fn subjects_toml(v: Option<&Value>, key_of: &dyn Fn(&str) -> Option<Address>) -> Result<Vec<String>, String> {
    v.and_then(Value::as_array).into_iter().flatten().map(|s| subject_toml(s, key_of)).collect()
}

/// How a package's export names its catalog's extensions: by display
/// name, the key the catalog's export gave it (`None`: not exported).
pub type ExtensionKey<'a> = &'a dyn Fn(&str) -> Option<String>;

fn policy_toml(p: &Value, key_of: &dyn Fn(&str) -> Option<Address>, ext_key: ExtensionKey<'_>) -> Result<AssignmentPolicy, String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).filter(|x| !x.is_empty()).map(str::to_string);
    let e = p.get("expiration").cloned().unwrap_or(Value::Null);
    let approval = match p.get("requestApprovalSettings") {
        Some(a) if a.is_object() => {
            let flag = |k: &str| a.get(k).and_then(Value::as_bool).unwrap_or(false);
            let stages = a
                .get("stages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|st| {
                    let esc = review::stage_toml(st, &|v| subjects_toml(v, key_of))?;
                    Ok(ApprovalStage {
                        primary_approvers: subjects_toml(st.get("primaryApprovers"), key_of)?,
                        fallback_primary_approvers: subjects_toml(st.get("fallbackPrimaryApprovers"), key_of)?,
                        duration_before_automatic_denial: s(st.get("durationBeforeAutomaticDenial")).unwrap_or_else(|| "P14D".into()),
                        is_approver_justification_required: st.get("isApproverJustificationRequired").and_then(Value::as_bool).unwrap_or(false),
                        is_escalation_enabled: esc.enabled,
                        duration_before_escalation: esc.delay,
                        escalation_approvers: esc.approvers,
                        fallback_escalation_approvers: esc.fallback,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Some(ApprovalSettings {
                is_approval_required_for_add: flag("isApprovalRequiredForAdd"),
                is_approval_required_for_update: flag("isApprovalRequiredForUpdate"),
                is_requestor_justification_required: flag("isRequestorJustificationRequired"),
                stages,
            })
        }
        _ => None,
    };
    let requestor = p.get("requestorSettings").filter(|r| r.is_object()).map(|r| {
        let f = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
        RequestorSettings {
            enable_targets_to_self_add_access: f("enableTargetsToSelfAddAccess"),
            enable_targets_to_self_update_access: f("enableTargetsToSelfUpdateAccess"),
            enable_targets_to_self_remove_access: f("enableTargetsToSelfRemoveAccess"),
            allow_custom_assignment_schedule: f("allowCustomAssignmentSchedule"),
            enable_on_behalf_requestors_to_add_access: f("enableOnBehalfRequestorsToAddAccess"),
            enable_on_behalf_requestors_to_update_access: f("enableOnBehalfRequestorsToUpdateAccess"),
            enable_on_behalf_requestors_to_remove_access: f("enableOnBehalfRequestorsToRemoveAccess"),
        }
    });
    let (automatic_request_settings, targets) = match automatic::toml(p) {
        Some((a, rest)) => (Some(a), rest),
        None => (None, p.get("specificAllowedTargets").cloned().unwrap_or(Value::Null)),
    };
    Ok(AssignmentPolicy {
        automatic_request_settings,
        display_name: s(p.get("displayName")).unwrap_or_default(),
        description: s(p.get("description")),
        allowed_target_scope: s(p.get("allowedTargetScope")).unwrap_or_default(),
        specific_allowed_targets: subjects_toml(Some(&targets), key_of)?,
        expiration: Expiration {
            kind: s(e.get("type")).unwrap_or_else(|| ap::NO_EXPIRATION.into()),
            duration: s(e.get("duration")),
            end_date_time: e.get("endDateTime").and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&chrono::Utc)),
        },
        request_approval_settings: approval,
        requestor_settings: requestor,
        review_settings: p.get("reviewSettings").filter(|r| r.is_object() && review::is_declared(r)).map(|r| review::review_toml(r, &|v| subjects_toml(v, key_of))).transpose()?,
        questions: super::access_policy_questions::toml(p.get("questions"))?,
        custom_extension_stages: super::access_policy_stages::toml(p.get(super::access_policy_stages::PROP), ext_key)?,
    })
}

/// A live package as TOML; Err when something it names is not exported.
/// `ext_key` names an extension of the package's catalog (id) by the key
/// that catalog's export gave it.
pub fn export_one(o: &LiveObject, key_of: &dyn Fn(&str) -> Option<Address>, ext_key: &dyn Fn(&str, &str) -> Option<String>) -> Result<AccessPackage, String> {
    let p = &o.props;
    let catalog_id = p.get(CATALOG).and_then(as_reference).unwrap_or_default();
    let catalog = key_of(catalog_id).filter(|a| a.kind == Kind::AccessCatalog).map(|a| a.key.to_string()).ok_or_else(|| format!("catalog {catalog_id} is not exported"))?;
    let groups = p
        .get(GROUPS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|g| match as_reference(g) {
            Some(id) => key_of(id).filter(|a| a.kind == Kind::Group).map(|a| a.key.to_string()).ok_or_else(|| format!("group {id} is not exported")),
            None => Err(format!("role {} is not a group's Member role", g.as_str().unwrap_or_default())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut policies = BTreeMap::new();
    let live = p.get(POLICIES_PROP).and_then(Value::as_object);
    let keys = super::access_policy_keys::policy_keys(live.into_iter().flat_map(|m| m.keys()).map(String::as_str));
    for (name, pol) in live.into_iter().flatten() {
        let t = policy_toml(pol, key_of, &|name| ext_key(catalog_id, name)).map_err(|e| format!("policy {}: {e}", str_field(pol, "displayName")))?;
        policies.insert(keys.get(name.as_str()).cloned().unwrap_or_else(|| crate::export::slug(name)), t);
    }
    let (incompatible_packages, incompatible_groups) = super::access_package_incompatible::export(o, key_of)?;
    Ok(AccessPackage {
        display_name: o.display_name.clone(),
        description: p.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_string),
        is_hidden: p.get("isHidden").and_then(Value::as_bool).unwrap_or(false),
        catalog,
        groups,
        applications: super::access_resources::package_export(p, APPLICATIONS),
        sites: super::access_resources::package_export(p, SITES),
        policies,
        incompatible_packages,
        incompatible_groups,
    })
}

pub(super) fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    // Every package keyed first: a package names the packages it is
    // incompatible with by key, whichever is exported first. One that does
    // not export is dropped from what the others may name, until none
    // fails.
    for o in &objects {
        cx.key(Kind::AccessPackage, &o.display_name, &o.id);
    }
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    let exported = loop {
        let mut out = Vec::new();
        let mut now_failed = Vec::new();
        for o in objects.iter().filter(|o| !failed.contains_key(&o.id)) {
            let key_of = |id: &str| if failed.contains_key(id) { None } else { cx.keys.key_of(id).cloned() };
            let ext_key = |catalog: &str, name: &str| cx.keys.extension_keys.get(&(catalog.to_string(), name.to_lowercase())).cloned();
            match export_one(o, &key_of, &ext_key) {
                Ok(x) => out.push((*o, x)),
                Err(e) => now_failed.push((o.id.clone(), e)),
            }
        }
        if now_failed.is_empty() {
            break out;
        }
        failed.extend(now_failed);
    };
    let mut t = BTreeMap::new();
    for (o, x) in exported {
        let names = o.props.get(POLICIES_PROP).and_then(Value::as_object).into_iter().flat_map(|m| m.keys()).map(String::as_str);
        for (name, key) in super::access_policy_keys::policy_keys(names) {
            cx.keys.policy_keys.insert((o.id.clone(), name), key);
        }
        let a = cx.key(Kind::AccessPackage, &o.display_name, &o.id);
        t.insert(a.key.clone(), x);
        cx.record(a, &o.id);
    }
    for o in objects.iter() {
        if let Some(e) = failed.get(&o.id) {
            cx.warn(format!("access package {} ({}): {e}: not exported", o.display_name, o.id));
        }
    }
    cx.table(Kind::AccessPackage, "", &t);
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::model::reference;
    use serde_json::json;

    use super::super::access_policy_props::normalize_policy;

    #[test]
    fn a_live_policy_compares_equal_to_its_declaration() {
        let live = json!({
            "id": "p1", "displayName": "External", "description": null, "allowedTargetScope": "allExternalUsers", "specificAllowedTargets": [],
            "expiration": {"type": "afterDuration", "duration": "P30D", "endDateTime": null},
            "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": true,
                "stages": [{"durationBeforeAutomaticDenial": "P14D", "isApproverJustificationRequired": false, "isEscalationEnabled": false, "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": "u1"}], "fallbackPrimaryApprovers": []}]},
        });
        let n = normalize_policy(&live);
        assert_eq!(n["requestApprovalSettings"]["stages"][0]["primaryApprovers"], json!([reference("u1")]));
        assert_eq!(n["expiration"]["duration"], json!("P30D"));
        let pol = policy_toml(&n, &|id| (id == "u1").then(|| Address::new(Kind::User, "adele")), &|_| None).expect("exports");
        assert_eq!(pol.request_approval_settings.map(|a| a.stages[0].primary_approvers.clone()), Some(vec!["user.adele".to_string()]));
    }
}
