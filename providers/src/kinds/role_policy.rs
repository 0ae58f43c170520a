//! PIM role settings (`/policies/roleManagementPolicies`, v1.0): every
//! directory role has one policy at scope `/`, found through
//! `/policies/roleManagementPolicyAssignments` (role -> policy). Policies
//! are read with their rules in two listings, updated by one PATCH of the
//! policy carrying the rules that differ (each with its `@odata.type` and
//! target: the per-rule update is delegated-only in v1.0), and never
//! created or deleted.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::model::{as_reference, reference};
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::role_assignment::{role_template_id, BUILT_IN_ROLES, CUSTOM_ROLE};
use schema::kinds::role_policy::{canonical_duration, Activation, RolePolicy, NEVER};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read};
use super::role_assignment::{desired_role, role_name};
use super::{ref_to, resource, str_field};
use crate::apply::{err, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::RolePolicy,
    collection: "/policies/roleManagementPolicies",
    api: Api::V1,
    // Matched by role; every role has its policy.
    natural_key: None,
    created: Created::Elsewhere,
    desired: |s, m| {
        for (k, d) in &s.role_policy { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "role-policies.toml",
    export_title: "PIM role settings (directory roles whose settings differ from Entra's defaults)",
    read: Read::Own(read),
    create,
    update,
    delete,
    export,
    import_paths: &[],
    listings: || LISTS.iter().map(|l| l.to_string()).collect(),
    after_post: &[],
};

/// The directory roles' policies (with their rules), and which role each
/// belongs to: listed at scope `/`, as Graph requires a filter on both.
const LISTS: [&str; 2] = [
    "/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'",
    "/policies/roleManagementPolicies?$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'&$expand=rules",
];

const ACTIVATION: &str = "activation";
/// The live approval rule's setting, carried to apply.
const LIVE_APPROVAL: &str = engine::plan_app_live::CARRIED_PIM[0];
const ELIGIBLE: &str = "eligibleExpiry";
const ACTIVE: &str = "activeExpiry";

/// Rule ids Graph gives every directory role's policy.
pub const RULE_ACTIVATION_DURATION: &str = "Expiration_EndUser_Assignment";
pub const RULE_ACTIVATION_ENABLEMENT: &str = "Enablement_EndUser_Assignment";
pub const RULE_ACTIVATION_APPROVAL: &str = "Approval_EndUser_Assignment";
pub const RULE_ELIGIBLE_EXPIRY: &str = "Expiration_Admin_Eligibility";
pub const RULE_ACTIVE_EXPIRY: &str = "Expiration_Admin_Assignment";

/// The enablement rules tenantctl manages, in Graph's spelling.
const MFA: &str = "MultiFactorAuthentication";
const JUSTIFICATION: &str = "Justification";
const TICKETING: &str = "Ticketing";

fn activation_props(a: &Activation, state: &DesiredState) -> Value {
    let mut rules: Vec<&str> = Vec::new();
    if a.require_justification {
        rules.push(JUSTIFICATION);
    }
    if a.require_mfa {
        rules.push(MFA);
    }
    if a.require_ticket {
        rules.push(TICKETING);
    }
    json!({
        "maximumDuration": canonical_duration(&a.max_duration).unwrap_or_else(|| a.max_duration.clone()),
        "enabledRules": rules,
        "isApprovalRequired": a.require_approval,
        "approvers": a.approvers.iter().map(|r| ref_to(state, r, &[Kind::User, Kind::Group])).collect::<Vec<_>>(),
    })
}

fn expiry_props(v: &str) -> Value {
    if v == NEVER {
        json!({"isExpirationRequired": false})
    } else {
        json!({"isExpirationRequired": true, "maximumDuration": canonical_duration(v).unwrap_or_else(|| v.to_string())})
    }
}

/// The role's template id (lowercase), the policy's natural key.
fn role_key(role: &str) -> String {
    role_template_id(role).unwrap_or(role).to_lowercase()
}

/// A custom role's policy: `role` is [`CUSTOM_ROLE`] and `roleDefinition`
/// a reference to the definition (a declared `role_definition` key, or
/// `id:` for one declared by id), as role assignments carry it; the
/// natural key is `{{definition}}`, which the plan resolves from the
/// live definition id, so a declared custom role's settings match by key.
fn custom_definition(p: &RolePolicy, state: &DesiredState) -> Option<String> {
    if let Some(a) = schema::kinds::role_definition::declared(state, &p.role) {
        return Some(a.to_string());
    }
    let role = desired_role(&p.role);
    role_template_id(&role).is_none().then(|| format!("id:{}", role.to_lowercase()))
}

/// The declared `role_policy` resources governing the role a role
/// assignment's props name (`role`, and `roleDefinition` for a custom
/// role): its activation rules decide what an eligible (or time-boxed
/// active) assignment of that role needs, so the assignment waits on them.
pub fn governing(state: &DesiredState, role: &str, definition: Option<&str>) -> Vec<Address> {
    state
        .role_policy
        .iter()
        .filter(|(_, d)| match custom_definition(&d.value, state) {
            Some(def) => definition.is_some_and(|x| x.eq_ignore_ascii_case(&def)),
            None => definition.is_none() && desired_role(&d.value.role) == role,
        })
        .map(|(k, _)| Address::new(Kind::RolePolicy, k.as_str()))
        .collect()
}

pub fn desired(key: &str, p: &RolePolicy, state: &DesiredState) -> DesiredResource {
    let mut props = Props::new();
    if let Some(definition) = custom_definition(p, state) {
        props.insert("role".into(), json!(CUSTOM_ROLE));
        props.insert("roleDefinition".into(), reference(definition.clone()));
        let display = format!("PIM settings of {}", definition.trim_start_matches("id:"));
        add_rules(&mut props, p, state);
        let natural_key = format!("{{{{{}}}}}", definition.trim_start_matches("id:"));
        return resource(Address::new(Kind::RolePolicy, key), natural_key, display, props);
    }
    let role = desired_role(&p.role);
    props.insert("role".into(), json!(role));
    add_rules(&mut props, p, state);
    resource(Address::new(Kind::RolePolicy, key), role_key(&role), format!("PIM settings of {role}"), props)
}

/// The declared rules (activation, eligible and active expiry) as props.
fn add_rules(props: &mut Props, p: &RolePolicy, state: &DesiredState) {
    if let Some(a) = &p.activation {
        props.insert(ACTIVATION.into(), activation_props(a, state));
    }
    if let Some(e) = &p.eligible_expiry {
        props.insert(ELIGIBLE.into(), expiry_props(e));
    }
    if let Some(e) = &p.active_expiry {
        props.insert(ACTIVE.into(), expiry_props(e));
    }
}

fn rule<'a>(policy: &'a Value, id: &str) -> Option<&'a Value> {
    policy.get("rules").and_then(Value::as_array).into_iter().flatten().find(|r| str_field(r, "id") == id)
}

fn live_expiry(r: Option<&Value>) -> Value {
    let Some(r) = r else { return Value::Null };
    let required = r.get("isExpirationRequired").and_then(Value::as_bool).unwrap_or(false);
    if required {
        let d = str_field(r, "maximumDuration");
        json!({"isExpirationRequired": true, "maximumDuration": canonical_duration(d).unwrap_or_else(|| d.to_string())})
    } else {
        json!({"isExpirationRequired": false})
    }
}

/// A live policy (with `rules`), of the role with definition id `role_id`.
pub fn normalize(policy: &Value, role_id: &str) -> LiveObject {
    let mut props = Props::new();
    let role_id = role_id.to_lowercase();
    let built_in = BUILT_IN_ROLES.iter().any(|(_, i)| i.eq_ignore_ascii_case(&role_id));
    let role = role_name(&role_id);
    // A custom role as `desired` gives it: its definition a reference.
    let natural_key = if built_in {
        props.insert("role".into(), json!(role));
        role_id.clone()
    } else {
        props.insert("role".into(), json!(CUSTOM_ROLE));
        props.insert("roleDefinition".into(), reference(role_id.clone()));
        format!("{{{{{role_id}}}}}")
    };
    let duration = rule(policy, RULE_ACTIVATION_DURATION).map(|r| str_field(r, "maximumDuration")).unwrap_or_default();
    let mut enabled: Vec<String> = rule(policy, RULE_ACTIVATION_ENABLEMENT)
        .and_then(|r| r.get("enabledRules"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| [MFA, JUSTIFICATION, TICKETING].contains(r))
        .map(str::to_string)
        .collect();
    enabled.sort();
    let approval = rule(policy, RULE_ACTIVATION_APPROVAL).and_then(|r| r.get("setting"));
    // The first stage's approvers: the one stage desired state models.
    // Later stages (a serial approval) are kept as they are live by an
    // update (`approval_setting`); listing their approvers here made a
    // two-stage approval read as one stage of both people, which an update
    // then wrote (hostile run 24, finding 5).
    let approvers: Vec<Value> = approval
        .and_then(|s| s.get("approvalStages"))
        .and_then(Value::as_array)
        .and_then(|stages| stages.first())
        .into_iter()
        .flat_map(|stage| stage.get("primaryApprovers").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|a| a.get("userId").or_else(|| a.get("groupId")).and_then(Value::as_str))
        .map(reference)
        .collect();
    props.insert(
        ACTIVATION.into(),
        json!({
            "maximumDuration": canonical_duration(duration).unwrap_or_else(|| duration.to_string()),
            "enabledRules": enabled,
            "isApprovalRequired": approval.and_then(|s| s.get("isApprovalRequired")).and_then(Value::as_bool).unwrap_or(false),
            "approvers": approvers,
        }),
    );
    // Not compared (desired state never sets it): what an update of the
    // approval rule keeps as it is live, carried on the change
    // (`engine::plan_app_live`).
    if let Some(a) = approval {
        props.insert(LIVE_APPROVAL.into(), a.clone());
    }
    props.insert(ELIGIBLE.into(), live_expiry(rule(policy, RULE_ELIGIBLE_EXPIRY)));
    props.insert(ACTIVE.into(), live_expiry(rule(policy, RULE_ACTIVE_EXPIRY)));
    LiveObject { kind: Kind::RolePolicy, id: str_field(policy, "id").to_string(), natural_key, display_name: format!("PIM settings of {role}"), props }
}

/// A rule's `target` as Graph gives it for `id` (`Caller_Level` ...).
fn rule_target(id: &str) -> Value {
    let caller = if id.contains("_EndUser_") { "EndUser" } else { "Admin" };
    let level = if id.ends_with("_Eligibility") { "Eligibility" } else { "Assignment" };
    json!({"caller": caller, "operations": ["All"], "level": level, "inheritableSettings": [], "enforcedSettings": []})
}

/// The approval rule's `setting`: the desired approval and first-stage
/// approvers over the live setting, whose other fields (extension
/// approval, requestor justification, each stage's timeout, approver
/// justification and escalation, the later stages of a serial approval and
/// the approval mode) desired state does not model and are sent back as
/// they are; with no live setting (a new custom role's policy), Entra's
/// defaults. Graph replaces a rule whole, so a PATCH of constants reset
/// what an administrator had set in the portal (hostile run 23, finding
/// 13), and dropping later stages made a serial approval one that either
/// person gives alone (hostile run 24, finding 5).
fn approval_setting(required: bool, approvers: Vec<Value>, live: Option<&Value>) -> Value {
    let default_stage = json!({
        "approvalStageTimeOutInDays": 1,
        "isApproverJustificationRequired": true,
        "escalationTimeInMinutes": 0,
        "isEscalationEnabled": false,
        "escalationApprovers": [],
    });
    let mut setting = match live.filter(|l| l.is_object()) {
        Some(l) => l.clone(),
        None => json!({"isApprovalRequiredForExtension": false, "isRequestorJustificationRequired": true, "approvalMode": "SingleStage"}),
    };
    let live_stages: Vec<Value> = setting.get("approvalStages").and_then(Value::as_array).cloned().unwrap_or_default();
    let stages = if required {
        let mut stages = live_stages;
        match stages.first_mut().filter(|s| s.is_object()) {
            Some(first) => first["primaryApprovers"] = Value::Array(approvers),
            None => {
                let mut stage = default_stage;
                stage["primaryApprovers"] = Value::Array(approvers);
                stages = vec![stage];
            }
        }
        stages
    } else {
        Vec::new()
    };
    if stages.len() <= 1 {
        setting["approvalMode"] = json!("SingleStage");
    }
    setting["isApprovalRequired"] = json!(required);
    setting["approvalStages"] = Value::Array(stages);
    if let Some(o) = setting.as_object_mut() {
        o.retain(|k, _| !k.starts_with('@'));
    }
    setting
}

/// The rule PATCHes (rule id, body) a change of `field` needs, from the
/// desired value; references resolved by `id_of` (its kind by address).
/// `live_approval`: the live approval rule's setting, kept but for what
/// desired state declares ([`approval_setting`]).
pub fn rule_patches(field: &str, v: &Value, id_of: &dyn Fn(&str) -> Option<String>, live_approval: Option<&Value>) -> Result<Vec<(String, Value)>, String> {
    let expiration = |id: &str, v: &Value| {
        let mut body = json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
            "id": id,
            "isExpirationRequired": v.get("isExpirationRequired").cloned().unwrap_or(json!(false)),
            "target": rule_target(id),
        });
        if let Some(d) = v.get("maximumDuration").filter(|d| !d.is_null()) {
            body["maximumDuration"] = d.clone();
        }
        (id.to_string(), body)
    };
    match field {
        ELIGIBLE => Ok(vec![expiration(RULE_ELIGIBLE_EXPIRY, v)]),
        ACTIVE => Ok(vec![expiration(RULE_ACTIVE_EXPIRY, v)]),
        ACTIVATION => {
            let mut approvers = Vec::new();
            for a in v.get("approvers").and_then(Value::as_array).into_iter().flatten() {
                let r = as_reference(a).ok_or_else(|| format!("approver `{a}` is not a reference"))?;
                let id = id_of(r).ok_or_else(|| format!("approver {r} has no object id yet"))?;
                approvers.push(if r.starts_with("group.") {
                    json!({"@odata.type": "#microsoft.graph.groupMembers", "groupId": id})
                } else {
                    json!({"@odata.type": "#microsoft.graph.singleUser", "userId": id})
                });
            }
            let required = v.get("isApprovalRequired").and_then(Value::as_bool).unwrap_or(false);
            let setting = approval_setting(required, approvers, live_approval);
            Ok(vec![
                expiration(RULE_ACTIVATION_DURATION, &json!({"isExpirationRequired": true, "maximumDuration": v.get("maximumDuration").cloned().unwrap_or(Value::Null)})),
                (
                    RULE_ACTIVATION_ENABLEMENT.to_string(),
                    json!({
                        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                        "id": RULE_ACTIVATION_ENABLEMENT,
                        "enabledRules": v.get("enabledRules").cloned().unwrap_or(json!([])),
                        "target": rule_target(RULE_ACTIVATION_ENABLEMENT),
                    }),
                ),
                (
                    RULE_ACTIVATION_APPROVAL.to_string(),
                    json!({
                        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
                        "id": RULE_ACTIVATION_APPROVAL,
                        "setting": setting,
                        "target": rule_target(RULE_ACTIVATION_APPROVAL),
                    }),
                ),
            ])
        }
        _ => Ok(Vec::new()),
    }
}

/// Read every directory role's policy, keyed by its role; nothing (the
/// declared settings held) on a tenant without PIM
/// (`super::role_policy_licence`).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move { super::role_policy_licence::or_unavailable(read_licensed(cx).await) })
}

fn read_licensed<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let api = cx.client.v1();
        let assignments = api.list_all(LISTS[0]).await?;
        let policies = api.list_all(LISTS[1]).await?;
        let by_id: BTreeMap<&str, &Value> = policies.iter().map(|p| (str_field(p, "id"), p)).collect();
        let mut out = Vec::new();
        for a in &assignments {
            let role = str_field(a, "roleDefinitionId");
            if let Some(p) = by_id.get(str_field(a, "policyId")).filter(|_| !role.is_empty()) {
                out.push(normalize(p, role));
            }
        }
        Ok(out.into())
    })
}

/// The policy assignment of the directory role with definition id
/// `role_id` (a GUID, else None) at scope `/` (Graph requires the scope
/// filters; the role's narrows it to the one).
pub fn assignment_query(role_id: &str) -> Option<String> {
    schema::kinds::role_assignment::is_role_id(role_id).then(|| format!("{}%20and%20roleDefinitionId%20eq%20'{role_id}'", LISTS[0]))
}

/// Every role has its policy; tenantctl never makes one. A custom role's
/// policy is "created" when its role is new (created in the same apply,
/// so the plan could not see the policy Entra gives it): it is found by
/// the role's definition id, and its declared rules are PATCHed. A
/// built-in role's policy not found is an error.
fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let definition = r.props.get("roleDefinition").and_then(as_reference);
        let Some(role_id) = definition.and_then(|d| w.ref_id(d)) else {
            return Err(err(format!("{}: the role's PIM policy was not found; Entra creates one per role, tenantctl never does", w.address())));
        };
        let api = w.api();
        let query = assignment_query(&role_id).ok_or_else(|| err(format!("{}: `{role_id}` is not a role definition id", w.address())))?;
        // Entra gives a new role its policy a moment later (replication
        // lag): an empty listing is retried with backoff, not failed.
        let listed = |items: &[Value]| items.iter().any(|a| str_field(a, "roleDefinitionId").eq_ignore_ascii_case(&role_id) && !str_field(a, "policyId").is_empty());
        let found = api.wait_until_listed(&query, listed).await.map_err(|e| err(format!("{}: finding the PIM policy of role {role_id}: {e}", w.address())))?;
        let policy = found
            .iter()
            .find(|a| str_field(a, "roleDefinitionId").eq_ignore_ascii_case(&role_id))
            .map(|a| str_field(a, "policyId").to_string())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| err(format!("{}: role {role_id} has no PIM policy yet (Entra gives every role one; retry once it has replicated)", w.address())))?;
        patch_rules(w, &policy, [ACTIVATION, ELIGIBLE, ACTIVE].into_iter().map(str::to_string)).await?;
        Ok(policy)
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move { patch_rules(w, id, w.touched().into_iter()).await })
}

/// Update the rules of policy `id` that `fields` (of the desired props)
/// set, in one PATCH of the policy with those rules
/// (`PATCH /policies/roleManagementPolicies/{id}` with `rules`). The v1.0
/// rule update (`.../rules/{ruleId}`) documents "Application: Not
/// supported"; the policy update documents
/// `RoleManagementPolicy.ReadWrite.Directory` for applications.
async fn patch_rules(w: &Writer<'_>, id: &str, fields: impl Iterator<Item = String>) -> Result<(), ExecError> {
    let r = w.desired()?;
    let id_of = |a: &str| w.ref_id(a);
    let mut rules = Vec::new();
    for field in fields {
        let Some(v) = r.props.get(&field) else { continue };
        let live = w.change().live.as_ref().and_then(|l| l.get(LIVE_APPROVAL));
        let patches = rule_patches(&field, v, &id_of, live).map_err(|e| err(format!("{}: {e}", w.address())))?;
        rules.extend(patches.into_iter().map(|(_, body)| body));
    }
    if rules.is_empty() {
        return Ok(());
    }
    let seg = schema::object_id::path_segment(id);
    w.send(&w.api(), Method::PATCH, &format!("{}/{seg}", PROVIDER.collection), Some(json!({ "rules": rules }))).await?;
    Ok(())
}

fn delete<'a>(w: &'a Writer<'a>, _id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move { Err(err(format!("{}: a role's PIM policy cannot be deleted; stop declaring it to leave it unmanaged", w.address()))) })
}

/// Entra's settings of a role nobody changed: activation up to 8 hours
/// with MFA and justification, no approval; eligible assignments up to a
/// year, active ones up to 180 days.
pub fn is_default(o: &LiveObject) -> bool {
    let d = |k: &str| o.props.get(k).cloned().unwrap_or(Value::Null);
    d(ACTIVATION) == json!({"maximumDuration": "PT8H", "enabledRules": [JUSTIFICATION, MFA], "isApprovalRequired": false, "approvers": []})
        && d(ELIGIBLE) == json!({"isExpirationRequired": true, "maximumDuration": "P365D"})
        && d(ACTIVE) == json!({"isExpirationRequired": true, "maximumDuration": "P180D"})
}

fn expiry_text(v: Option<&Value>) -> Option<String> {
    let v = v?;
    match v.get("isExpirationRequired").and_then(Value::as_bool) {
        Some(true) => v.get("maximumDuration").and_then(Value::as_str).map(str::to_string),
        Some(false) => Some(NEVER.to_string()),
        None => None,
    }
}

/// A live policy as TOML; Err when an approver is not exported.
pub fn export_one(o: &LiveObject, key_of: &dyn Fn(&str) -> Option<Address>) -> Result<RolePolicy, String> {
    let a = o.props.get(ACTIVATION).cloned().unwrap_or(Value::Null);
    let rules: Vec<&str> = a.get("enabledRules").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let approvers = a
        .get("approvers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let id = as_reference(r).unwrap_or_default();
            key_of(id).filter(|k| matches!(k.kind, Kind::User | Kind::Group)).map(|k| k.to_string()).ok_or_else(|| format!("approver {id} is not exported"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let activation = a.get("maximumDuration").and_then(Value::as_str).filter(|d| !d.is_empty()).map(|d| Activation {
        max_duration: d.to_string(),
        require_mfa: rules.contains(&MFA),
        require_justification: rules.contains(&JUSTIFICATION),
        require_ticket: rules.contains(&TICKETING),
        require_approval: a.get("isApprovalRequired").and_then(Value::as_bool).unwrap_or(false),
        approvers,
    });
    // A custom role by its exported role_definition key, else its id.
    let role = match o.props.get("roleDefinition").and_then(as_reference) {
        Some(id) => key_of(id).filter(|k| k.kind == Kind::RoleDefinition).map(|k| k.key.clone()).unwrap_or_else(|| id.to_string()),
        None => o.props.get("role").and_then(Value::as_str).unwrap_or_default().to_string(),
    };
    Ok(RolePolicy {
        role,
        activation,
        eligible_expiry: expiry_text(o.props.get(ELIGIBLE)),
        active_expiry: expiry_text(o.props.get(ACTIVE)),
    })
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects.into_iter().filter(|o| !is_default(o)) {
        match export_one(o, &|id| cx.keys.key_of(id).cloned()) {
            Ok(p) => {
                let a = cx.key(Kind::RolePolicy, &p.role, &o.id);
                t.insert(a.key.clone(), p);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("{} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::RolePolicy, "", &t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_policy_matches_its_rules_and_patches_each_with_its_type() {
        let state = schema::load_str(&[(
            "a.toml",
            r#"
[group.pim-approvers]
display_name = "PIM approvers"
mail_nickname = "pim-approvers"
[role_policy.ga]
role = "Global Administrator"
activation = { max_duration = "PT240M", require_mfa = true, require_justification = true, require_approval = true, approvers = ["pim-approvers"] }
eligible_expiry = "P365D"
active_expiry = "never"
"#,
        )])
        .expect("loads");
        let r = desired("ga", &state.role_policy["ga"].value, &state);
        assert_eq!(r.natural_key, "62e90394-69f5-4237-9190-012177145e10");
        let live = json!({"id": "DirectoryRole_t_p1", "rules": [
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": RULE_ACTIVATION_DURATION, "isExpirationRequired": true, "maximumDuration": "PT4H"},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule", "id": RULE_ACTIVATION_ENABLEMENT, "enabledRules": ["MultiFactorAuthentication", "Justification"]},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": RULE_ACTIVATION_APPROVAL, "setting": {"isApprovalRequired": true, "approvalStages": [{"primaryApprovers": [{"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g1"}]}]}},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": RULE_ELIGIBLE_EXPIRY, "isExpirationRequired": true, "maximumDuration": "P365D"},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": RULE_ACTIVE_EXPIRY, "isExpirationRequired": false, "maximumDuration": "P180D"},
        ]});
        let o = normalize(&live, "62E90394-69F5-4237-9190-012177145E10");
        assert_eq!(o.natural_key, r.natural_key);
        let resolved: Props = serde_json::from_str(&serde_json::to_string(&o.props).expect("test fixture").replace("\"g1\"", "\"group.pim-approvers\"")).expect("test fixture");
        assert!(engine::diff::diff_props(&r.props, &resolved).is_empty(), "{:?}", engine::diff::diff_props(&r.props, &resolved));
        let patches = rule_patches(ACTIVATION, &r.props[ACTIVATION], &|a| Some(format!("id-of-{a}")), None).expect("test fixture");
        let ids: Vec<&str> = patches.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(ids, [RULE_ACTIVATION_DURATION, RULE_ACTIVATION_ENABLEMENT, RULE_ACTIVATION_APPROVAL]);
        assert_eq!(patches[0].1["maximumDuration"], json!("PT4H"));
        assert_eq!(patches[2].1["setting"]["approvalStages"][0]["primaryApprovers"], json!([{"@odata.type": "#microsoft.graph.groupMembers", "groupId": "id-of-group.pim-approvers"}]));
        assert_eq!(patches[2].1["target"]["caller"], json!("EndUser"));
        let e = rule_patches(ACTIVE, &r.props[ACTIVE], &|_| None, None).expect("test fixture");
        assert_eq!(e[0].1, json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": RULE_ACTIVE_EXPIRY, "isExpirationRequired": false, "target": {"caller": "Admin", "operations": ["All"], "level": "Assignment", "inheritableSettings": [], "enforcedSettings": []}}));
        let back = export_one(&o, &|id| (id == "g1").then(|| Address::new(Kind::Group, "pim-approvers"))).expect("test fixture");
        assert_eq!(back.activation.as_ref().map(|a| a.max_duration.as_str()), Some("PT4H"));
        assert_eq!(back.active_expiry.as_deref(), Some("never"));
    }
    // Hostile run 23, finding 13: Graph replaces a rule whole, so what the
    // portal set beside the declared fields is sent back as it is live.
    #[test]
    fn the_approval_rule_keeps_the_live_settings_it_does_not_model() {
        let live = json!({
            "@odata.type": "#microsoft.graph.approvalSettings",
            "isApprovalRequired": true,
            "isApprovalRequiredForExtension": true,
            "isRequestorJustificationRequired": false,
            "approvalMode": "SingleStage",
            "approvalStages": [{"approvalStageTimeOutInDays": 2, "isApproverJustificationRequired": false, "escalationTimeInMinutes": 120, "isEscalationEnabled": true,
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": "old"}],
                "escalationApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": "megan"}]}],
        });
        let v = json!({"maximumDuration": "PT2H", "enabledRules": ["MultiFactorAuthentication"], "isApprovalRequired": true, "approvers": [{"@ref": "user.adele"}]});
        let patches = rule_patches(ACTIVATION, &v, &|a| Some(format!("id-of-{a}")), Some(&live)).expect("test fixture");
        let s = &patches[2].1["setting"];
        assert_eq!(s["isApprovalRequiredForExtension"], json!(true));
        assert_eq!(s["isRequestorJustificationRequired"], json!(false));
        assert_eq!(s["approvalStages"][0]["isEscalationEnabled"], json!(true));
        assert_eq!(s["approvalStages"][0]["escalationTimeInMinutes"], json!(120));
        assert_eq!(s["approvalStages"][0]["approvalStageTimeOutInDays"], json!(2));
        assert_eq!(s["approvalStages"][0]["escalationApprovers"], json!([{"@odata.type": "#microsoft.graph.singleUser", "userId": "megan"}]));
        assert_eq!(s["approvalStages"][0]["primaryApprovers"], json!([{"@odata.type": "#microsoft.graph.singleUser", "userId": "id-of-user.adele"}]));
        assert!(s.get("@odata.type").is_none());
        // Without a live rule (a new custom role's policy): Entra's defaults.
        let patches = rule_patches(ACTIVATION, &v, &|a| Some(format!("id-of-{a}")), None).expect("test fixture");
        assert_eq!(patches[2].1["setting"]["isApprovalRequiredForExtension"], json!(false));
        assert_eq!(patches[2].1["setting"]["approvalStages"][0]["approvalStageTimeOutInDays"], json!(1));
        // A serial two-stage approval keeps its second stage and mode
        // (hostile run 24, finding 5).
        let mut serial = live.clone();
        serial["approvalMode"] = json!("Serial");
        serial["approvalStages"] = json!([live["approvalStages"][0].clone(), {"approvalStageTimeOutInDays": 1, "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": "megan"}]}]);
        let patches = rule_patches(ACTIVATION, &v, &|a| Some(format!("id-of-{a}")), Some(&serial)).expect("test fixture");
        let s = &patches[2].1["setting"];
        assert_eq!(s["approvalMode"], json!("Serial"));
        assert_eq!(s["approvalStages"].as_array().map(Vec::len), Some(2));
        assert_eq!(s["approvalStages"][1]["primaryApprovers"][0]["userId"], json!("megan"));
        let policy = json!({"id": "p", "rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": RULE_ACTIVATION_APPROVAL, "setting": serial}]});
        let o = normalize(&policy, "62e90394-69f5-4237-9190-012177145e10");
        assert_eq!(o.props[ACTIVATION]["approvers"], json!([reference("old")]), "only the first stage's approvers are the declared ones");
        // Approval turned off: no stages, the rest kept.
        let off = json!({"maximumDuration": "PT2H", "enabledRules": [], "isApprovalRequired": false, "approvers": []});
        let patches = rule_patches(ACTIVATION, &off, &|_| None, Some(&live)).expect("test fixture");
        assert_eq!(patches[2].1["setting"]["approvalStages"], json!([]));
        assert_eq!(patches[2].1["setting"]["isApprovalRequiredForExtension"], json!(true));
    }
}
