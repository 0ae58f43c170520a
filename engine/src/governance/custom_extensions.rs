//! Custom workflow extensions of an access package catalog (issue 16):
//! each is a Logic App outside the tenant that Entra calls, with the
//! request's and the requester's details, at a stage of every request or
//! assignment. Adding one, or pointing one at another Logic App or
//! another authentication, is sensitive whatever else the change does;
//! taking one away or renaming it is not (by this rule). So is a stage of
//! an assignment policy (`customExtensionStageSettings`) added or pointed
//! at another extension ([`stage_reason`]): from then on every request
//! through the policy runs that Logic App. A stage taken away is left to
//! the other rules (an access package's changes are sensitive by kind).

use serde_json::Value;

use crate::plan::Change;

/// The catalog prop that holds the extensions (providers'
/// `access_catalog_extensions::PROP`).
pub const FIELD: &str = "customWorkflowExtensions";
/// What says where an extension calls and how it authenticates.
const CALLS: &[&str] = &["subscriptionId", "resourceGroupName", "logicAppWorkflowName", "url", "authentication", "resourceId"];

fn entries(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

fn target(e: &Value) -> Vec<&Value> {
    CALLS.iter().map(|k| e.get(*k).unwrap_or(&Value::Null)).collect()
}

/// Why the change is sensitive: an extension added or its endpoint or
/// authentication changed (matched by display name, without case).
pub fn reason(change: &Change) -> Option<String> {
    if let Some(why) = stage_reason(change) {
        return Some(why);
    }
    let f = change.fields.iter().find(|f| f.field == FIELD)?;
    // Put back exactly as approved and last applied (the ledger proves
    // it): the approved endpoints, not a re-pointing (hostile run 26,
    // finding 2); the rest of the change is judged as a restore
    // (`super::tightens`).
    if super::tightens::restores(change) {
        return None;
    }
    let name = |e: &Value| e.get("displayName").and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let changed: Vec<String> = entries(f.after.as_ref())
        .filter(|e| !entries(f.before.as_ref()).any(|b| name(b) == name(e) && target(b) == target(e)))
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let url = e.get("url").and_then(Value::as_str).map(|u| format!(", URL {u}")).unwrap_or_default();
            format!("`{}` -> Logic App {} (subscription {}, resource group {}{url}, {})", s("displayName"), s("logicAppWorkflowName"), s("subscriptionId"), s("resourceGroupName"), s("authentication"))
        })
        .collect();
    (!changed.is_empty()).then(|| format!("custom workflow extension added or re-pointed on {} (Entra calls code outside the tenant on each request): {}", change.address, changed.join("; ")))
}

/// A policy prop of an access package (providers' `access_policy_stages::PROP`).
pub const STAGES: &str = "customExtensionStageSettings";

/// `(policy, stage, extension)` of the stages in a field's value: the
/// whole `policies` map, one policy, or one policy's stages.
fn stages_in(field: &str, v: Option<&Value>) -> Vec<(String, String, String)> {
    let one = |name: &str, list: Option<&Value>| -> Vec<(String, String, String)> {
        entries(list)
            .map(|s| {
                let g = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                (name.to_string(), g("stage"), g("customExtension"))
            })
            .collect()
    };
    let Some(v) = v else { return Vec::new() };
    if field == "policies" {
        return v.as_object().into_iter().flatten().flat_map(|(n, p)| one(n, p.get(STAGES))).collect();
    }
    let Some(rest) = field.strip_prefix("policies.") else { return Vec::new() };
    match rest.strip_suffix(&format!(".{STAGES}")) {
        Some(name) => one(name, Some(v)),
        None if v.get(STAGES).is_some() => one(rest, v.get(STAGES)),
        None => Vec::new(),
    }
}

/// Why an access package change is sensitive for its stages: one added
/// to a policy, or pointed at another extension.
pub fn stage_reason(change: &Change) -> Option<String> {
    if change.address.kind != schema::Kind::AccessPackage {
        return None;
    }
    let mut added = Vec::new();
    for f in &change.fields {
        let before = stages_in(&f.field, f.before.as_ref());
        for s in stages_in(&f.field, f.after.as_ref()) {
            if !before.contains(&s) {
                added.push(format!("policy `{}`: {} -> `{}`", s.0, s.1, s.2));
            }
        }
    }
    // A stage names its extension by display name, unique per catalog
    // only: a package moved to another catalog calls that catalog's
    // extension of the same name from then on, whatever it runs (hostile
    // run 28, finding 9: the plan said only `catalog: A -> B`).
    let moved = change.fields.iter().find(|f| f.field == "catalog" && f.before != f.after);
    if let (Some(f), Some(d)) = (moved, change.desired.as_ref()) {
        let to = f.after.as_ref().and_then(|v| v.as_str().or_else(|| crate::model::as_reference(v))).unwrap_or("another catalog");
        for s in stages_in("policies", d.props.get("policies")) {
            let line = format!("policy `{}`: {} -> `{}` of {to} (the package moves catalog)", s.0, s.1, s.2);
            if !added.iter().any(|a| a.starts_with(&format!("policy `{}`: {} ->", s.0, s.1))) {
                added.push(line);
            }
        }
    }
    (!added.is_empty()).then(|| format!("custom extension stage added or re-pointed on {} (a Logic App outside the tenant runs on each request): {}", change.address, added.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;
    use crate::plan::Action;
    use serde_json::json;

    fn change(field: &str, before: Option<Value>, after: Option<Value>) -> Change {
        Change {
            address: "access_package.audit".parse().expect("an address"),
            action: Action::Update,
            display_name: "Audit".into(),
            id: Some("p".into()),
            reason: String::new(),
            fields: vec![FieldChange { field: field.into(), before, after }],
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: None,
        }
    }

    #[test]
    fn a_stage_added_or_re_pointed_is_sensitive_and_one_taken_away_is_left_to_the_kind() {
        let one = json!([{"stage": "assignmentRequestCreated", "customExtension": "Onboard"}]);
        let field = format!("policies.staff.x.{STAGES}");
        let added = stage_reason(&change(&field, Some(json!([])), Some(one.clone()))).expect("sensitive");
        assert!(added.contains("policy `staff.x`: assignmentRequestCreated -> `Onboard`"), "{added}");
        let moved = json!([{"stage": "assignmentRequestCreated", "customExtension": "Elsewhere"}]);
        assert!(stage_reason(&change(&field, Some(one.clone()), Some(moved))).is_some_and(|r| r.contains("`Elsewhere`")));
        assert!(stage_reason(&change(&field, Some(one.clone()), Some(json!([])))).is_none(), "a stage taken away");
        // A new policy with a stage, and a new package with one.
        assert!(stage_reason(&change("policies.new", None, Some(json!({STAGES: one.clone()})))).is_some());
        assert!(stage_reason(&change("policies", None, Some(json!({"new": {STAGES: one}})))).is_some());
    }

    #[test]
    fn a_package_moved_to_another_catalog_names_its_stages() {
        let one = json!([{"stage": "assignmentRequestCreated", "customExtension": "Onboard guest"}]);
        let mut c = change("catalog", Some(json!("access_catalog.guest-access")), Some(json!("access_catalog.other")));
        assert!(stage_reason(&c).is_none(), "no declared stages: nothing to name");
        let props: crate::model::Props = [("policies".to_string(), json!({"staff": {STAGES: one}}))].into_iter().collect();
        c.desired = Some(crate::model::DesiredResource {
            address: c.address.clone(),
            natural_key: "Audit".into(),
            display_name: "Audit".into(),
            props,
            immutable: vec![],
            assignment_props: vec![],
            create_only: crate::model::Props::new(),
            depends_on: vec![],
            expires: None,
        });
        let why = stage_reason(&c).expect("sensitive");
        assert!(why.contains("policy `staff`: assignmentRequestCreated -> `Onboard guest` of access_catalog.other"), "{why}");
    }
}
