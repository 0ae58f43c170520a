//! Conditional access policies (`/identity/conditionalAccess/policies`).
//! Users and groups are references; roles are compared by name.

use engine::model::reference;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::conditional_access::SPECIAL_USERS;
use schema::kinds::role_assignment::role_template_id;
use schema::kinds::ConditionalAccess;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::role_assignment::role_name;
use super::{ref_to, resource, str_field};
use super::registry::{Api, BoxFuture, KindProvider, Read, BY_DISPLAY_NAME};
use crate::apply::{delete_plain, err, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};
use engine::apply::ExecError;
use engine::model::as_reference;
use schema::kinds::conditional_access::{ApplicationConditions, GrantControls, GrantOperator, PolicyState, UserConditions};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::ConditionalAccess,
    collection: "/identity/conditionalAccess/policies",
    api: Api::V1,
    natural_key: Some(BY_DISPLAY_NAME),
    desired: |s, m| {
        for (k, d) in &s.conditional_access { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "conditional-access.toml",
    export_title: "Conditional access policies",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![LIST.to_string()],
};

pub fn desired(key: &str, c: &ConditionalAccess, state: &DesiredState) -> DesiredResource {
    let users = |list: &Vec<String>| -> Value {
        Value::Array(
            list.iter()
                .map(|u| if SPECIAL_USERS.contains(&u.as_str()) { json!(u) } else { ref_to(state, u, &[Kind::User, Kind::Guest]) })
                .collect(),
        )
    };
    let groups = |list: &Vec<String>| Value::Array(list.iter().map(|g| ref_to(state, g, &[Kind::Group])).collect());
    let roles = |list: &Vec<String>| Value::Array(list.iter().map(|r| json!(super::role_assignment::desired_role(r))).collect());
    let mut p = Props::new();
    p.insert("displayName".into(), json!(c.display_name));
    p.insert("state".into(), serde_json::to_value(c.state).unwrap_or(Value::Null));
    p.insert(
        "conditions".into(),
        json!({
            "clientAppTypes": c.client_app_types,
            "applications": {
                "includeApplications": c.applications.include_applications,
                "excludeApplications": c.applications.exclude_applications,
            },
            "users": {
                "includeUsers": users(&c.users.include_users),
                "excludeUsers": users(&c.users.exclude_users),
                "includeGroups": groups(&c.users.include_groups),
                "excludeGroups": groups(&c.users.exclude_groups),
                "includeRoles": roles(&c.users.include_roles),
                "excludeRoles": roles(&c.users.exclude_roles),
                "includeGuestsOrExternalUsers": null,
                "excludeGuestsOrExternalUsers": null,
            },
            // Conditions desired state does not model must stay unset: an
            // out-of-band location exclusion or platform condition narrows
            // the policy, so it is drift, and PATCHing null clears it.
            "locations": null,
            "platforms": null,
            "devices": null,
            "signInRiskLevels": [],
            "userRiskLevels": [],
        }),
    );
    p.insert(
        "grantControls".into(),
        json!({
            "operator": format!("{:?}", c.grant.operator),
            "builtInControls": c.grant.built_in_controls,
            "customAuthenticationFactors": [],
            "termsOfUse": [],
        }),
    );
    p.insert("sessionControls".into(), Value::Null);
    resource(Address::new(Kind::ConditionalAccess, key), c.display_name.to_lowercase(), c.display_name.clone(), p)
}

fn is_guid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

pub fn normalize(raw: &Value) -> LiveObject {
    let list = |path: &str| raw.pointer(path).and_then(Value::as_array).cloned().unwrap_or_default();
    let ids = |path: &str| -> Value {
        Value::Array(
            list(path)
                .into_iter()
                .map(|v| match v.as_str() {
                    Some(s) if is_guid(s) => reference(s),
                    _ => v,
                })
                .collect(),
        )
    };
    let roles = |path: &str| Value::Array(list(path).iter().filter_map(Value::as_str).map(|r| json!(role_name(r))).collect());
    let at = |path: &str| raw.pointer(path).cloned().unwrap_or(Value::Null);
    let mut p = Props::new();
    p.insert("displayName".into(), raw.get("displayName").cloned().unwrap_or(Value::Null));
    p.insert("state".into(), raw.get("state").cloned().unwrap_or(Value::Null));
    p.insert(
        "conditions".into(),
        json!({
            "clientAppTypes": list("/conditions/clientAppTypes"),
            "applications": {
                "includeApplications": list("/conditions/applications/includeApplications"),
                "excludeApplications": list("/conditions/applications/excludeApplications"),
            },
            "users": {
                "includeUsers": ids("/conditions/users/includeUsers"),
                "excludeUsers": ids("/conditions/users/excludeUsers"),
                "includeGroups": ids("/conditions/users/includeGroups"),
                "excludeGroups": ids("/conditions/users/excludeGroups"),
                "includeRoles": roles("/conditions/users/includeRoles"),
                "excludeRoles": roles("/conditions/users/excludeRoles"),
                "includeGuestsOrExternalUsers": at("/conditions/users/includeGuestsOrExternalUsers"),
                "excludeGuestsOrExternalUsers": at("/conditions/users/excludeGuestsOrExternalUsers"),
            },
            "locations": at("/conditions/locations"),
            "platforms": at("/conditions/platforms"),
            "devices": at("/conditions/devices"),
            "signInRiskLevels": list("/conditions/signInRiskLevels"),
            "userRiskLevels": list("/conditions/userRiskLevels"),
        }),
    );
    p.insert(
        "grantControls".into(),
        json!({
            "operator": raw.pointer("/grantControls/operator").cloned().unwrap_or(Value::Null),
            "builtInControls": list("/grantControls/builtInControls"),
            "authenticationStrength": at("/grantControls/authenticationStrength"),
            "customAuthenticationFactors": list("/grantControls/customAuthenticationFactors"),
            "termsOfUse": list("/grantControls/termsOfUse"),
        }),
    );
    p.insert("sessionControls".into(), raw.get("sessionControls").cloned().unwrap_or(Value::Null));
    p.insert(crate::ca_unmodelled::KEY.into(), json!(crate::ca_unmodelled::fields(raw)));
    LiveObject {
        kind: Kind::ConditionalAccess,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props: p,
    }
}

/// The POST/PATCH body, with references replaced by object ids and role
/// names by template ids.
pub fn write_body(r: &DesiredResource, ids: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    fn resolve(v: &Value, ids: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
        if let Some(a) = engine::model::as_reference(v) {
            return ids(a).map(Value::String).ok_or_else(|| format!("{a} has no object id yet"));
        }
        Ok(match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| Ok((k.clone(), resolve(v, ids)?))).collect::<Result<_, String>>()?),
            Value::Array(a) => Value::Array(a.iter().map(|v| resolve(v, ids)).collect::<Result<_, String>>()?),
            other => other.clone(),
        })
    }
    let mut body = serde_json::Map::new();
    for (k, v) in &r.props {
        body.insert(k.clone(), resolve(v, ids)?);
    }
    let mut body = Value::Object(body);
    // Graph refuses `includeApplications: []` (validation requires an
    // application), and an empty exclusion list says nothing: leave empty
    // application lists out. `authenticationStrength: null` is not sent
    // either; grantControls is written whole, so leaving it out clears it.
    if let Some(Value::Object(apps)) = body.pointer_mut("/conditions/applications") {
        apps.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
    }
    if let Some(Value::Object(grant)) = body.get_mut("grantControls") {
        grant.retain(|k, v| !(k == "authenticationStrength" && v.is_null()));
    }
    for path in ["/conditions/users/includeRoles", "/conditions/users/excludeRoles"] {
        if let Some(Value::Array(roles)) = body.pointer_mut(path) {
            for role in roles.iter_mut() {
                if let Some(id) = role.as_str().and_then(role_template_id) {
                    *role = json!(id);
                }
            }
        }
    }
    Ok(body)
}


/// The policies listing.
const LIST: &str = "/identity/conditionalAccess/policies";

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let raw = cx.client.v1().list_all(LIST).await?;
        Ok(raw.iter().map(normalize).collect::<Vec<_>>().into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let lookup = |a: &str| w.ref_id(a);
        let body = write_body(w.desired()?, &lookup).map_err(err)?;
        let created = w.send(&w.api(), Method::POST, w.base(), Some(body)).await?;
        crate::apply::id_of(&created)
    })
}

/// PATCH the touched top-level properties of the full body.
fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let lookup = |a: &str| w.ref_id(a);
        let full = write_body(w.desired()?, &lookup).map_err(err)?;
        let fields = w.touched();
        let body: serde_json::Map<String, Value> = full
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| fields.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        w.send(&w.api(), Method::PATCH, &format!("{}/{id}", w.base()), Some(Value::Object(body))).await?;
        Ok(())
    })
}

/// Policies naming users, groups or roles by an id not exported are skipped.
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = std::collections::BTreeMap::new();
    for o in objects {
        match export_one(o, &cx.keys) {
            Ok(c) => {
                let a = cx.key(Kind::ConditionalAccess, &o.display_name, &o.id);
                t.insert(a.key.clone(), c);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("conditional access policy {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::ConditionalAccess, "", &t);
}

fn export_one(o: &LiveObject, keys: &crate::export::Keys) -> Result<ConditionalAccess, String> {
    let p = &o.props;
    let unmodelled = crate::ca_unmodelled::of(p);
    if !unmodelled.is_empty() {
        return Err(crate::ca_unmodelled::reason(&unmodelled));
    }
    let list = |path: &str| -> Vec<Value> { Value::Object(p.clone().into_iter().collect()).pointer(path).and_then(Value::as_array).cloned().unwrap_or_default() };
    let strings = |path: &str| -> Vec<String> { list(path).iter().filter_map(Value::as_str).map(str::to_string).collect() };
    let principals = |path: &str, allowed: &[Kind]| -> Result<Vec<String>, String> {
        list(path)
            .iter()
            .map(|v| match (as_reference(v), v.as_str()) {
                (Some(id), _) => keys.key_of(id).filter(|a| allowed.contains(&a.kind)).map(|a| a.key.clone()).ok_or_else(|| format!("names {id}, which is not exported")),
                (None, Some(s)) => Ok(s.to_string()),
                _ => Err("has a condition it cannot read".to_string()),
            })
            .collect()
    };
    let state: PolicyState = serde_json::from_value(p.get("state").cloned().unwrap_or(Value::Null)).map_err(|e| format!("state: {e}"))?;
    let operator = match Value::Object(p.clone().into_iter().collect()).pointer("/grantControls/operator").and_then(Value::as_str) {
        Some("AND") => GrantOperator::AND,
        _ => GrantOperator::OR,
    };
    Ok(ConditionalAccess {
        display_name: o.display_name.clone(),
        state,
        client_app_types: strings("/conditions/clientAppTypes"),
        users: UserConditions {
            include_users: principals("/conditions/users/includeUsers", &[Kind::User, Kind::Guest])?,
            exclude_users: principals("/conditions/users/excludeUsers", &[Kind::User, Kind::Guest])?,
            include_groups: principals("/conditions/users/includeGroups", &[Kind::Group])?,
            exclude_groups: principals("/conditions/users/excludeGroups", &[Kind::Group])?,
            include_roles: strings("/conditions/users/includeRoles"),
            exclude_roles: strings("/conditions/users/excludeRoles"),
        },
        applications: ApplicationConditions {
            include_applications: strings("/conditions/applications/includeApplications"),
            exclude_applications: strings("/conditions/applications/excludeApplications"),
        },
        grant: GrantControls { operator, built_in_controls: strings("/grantControls/builtInControls") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "[conditional_access.c]\ndisplay_name = \"C\"\nstate = \"enabled\"\nusers = { include_users = [\"All\"] }\napplications = { include_applications = [\"All\"] }\ngrant = { built_in_controls = [\"mfa\"] }\n";

    #[test]
    fn the_write_body_never_sends_empty_application_lists_or_a_null_authentication_strength() {
        let state = schema::load_str(&[("a.toml", POLICY)]).expect("valid");
        let mut c = state.conditional_access["c"].value.clone();
        let body = write_body(&desired("c", &c, &state), &|_| None).unwrap();
        assert_eq!(body.pointer("/conditions/applications"), Some(&json!({"includeApplications": ["All"]})));
        assert!(body["grantControls"].get("authenticationStrength").is_none(), "{body}");
        assert_eq!(body.pointer("/grantControls/builtInControls"), Some(&json!(["mfa"])));
        // Even were validation bypassed, `includeApplications: []` is never sent.
        c.applications.include_applications.clear();
        let body = write_body(&desired("c", &c, &state), &|_| None).unwrap();
        assert!(body.pointer("/conditions/applications/includeApplications").is_none(), "{body}");
    }
}
