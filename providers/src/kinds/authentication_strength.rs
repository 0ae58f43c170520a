//! Custom authentication strengths (`/policies/authenticationStrengthPolicies`,
//! v1.0). Built-in strengths are never read as objects of this kind (they
//! are named directly by policies); custom ones are matched by display
//! name. Graph changes `allowedCombinations` only through the
//! `updateAllowedCombinations` action, never through PATCH.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::authentication_strength::{canonical_combination, AuthenticationStrength};
use schema::{Address, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{resource, str_field};
use crate::apply::{delete_plain, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AuthenticationStrength,
    collection: "/policies/authenticationStrengthPolicies",
    api: Api::V1,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::ListedReadBack,
    desired: |s, m| {
        for (k, d) in &s.authentication_strength { m.insert(desired(k, &d.value)); }
    },
    export_file: "authentication-strengths.toml",
    export_title: "Authentication strengths",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![PROVIDER.collection.to_string()],
    after_post: &[],
};

/// The property only the `updateAllowedCombinations` action changes.
pub const COMBINATIONS: &str = "allowedCombinations";

pub fn desired(key: &str, s: &AuthenticationStrength) -> DesiredResource {
    let mut p = Props::new();
    p.insert("displayName".into(), json!(s.display_name));
    if let Some(d) = &s.description {
        p.insert("description".into(), json!(d));
    }
    p.insert(COMBINATIONS.into(), json!(s.allowed_combinations.iter().map(|c| canonical_combination(c)).collect::<Vec<_>>()));
    resource(Address::new(Kind::AuthenticationStrength, key), s.display_name.to_lowercase(), s.display_name.clone(), p)
}

/// Whether a live strength is a tenant's own (built-in ones are not
/// objects tenantctl manages or reports).
pub fn is_custom(raw: &Value) -> bool {
    str_field(raw, "policyType") == "custom"
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut p = Props::new();
    p.insert("displayName".into(), raw.get("displayName").cloned().unwrap_or(Value::Null));
    p.insert("description".into(), raw.get("description").cloned().unwrap_or(Value::Null));
    let combos: Vec<String> = raw.get(COMBINATIONS).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(canonical_combination).collect();
    p.insert(COMBINATIONS.into(), json!(combos));
    LiveObject {
        kind: Kind::AuthenticationStrength,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props: p,
    }
}

/// The POST body of a new custom strength, as v1.0 "Create
/// authenticationStrengthPolicy" documents it: its `@odata.type`, name,
/// description and combinations. Graph makes every created strength
/// `custom`; `policyType` is not among the properties the page lets a
/// create set, so it is not sent.
pub fn create_body(r: &DesiredResource) -> Value {
    let mut body: serde_json::Map<String, Value> = r.props.clone().into_iter().collect();
    body.insert("@odata.type".into(), json!("#microsoft.graph.authenticationStrengthPolicy"));
    Value::Object(body)
}

/// The PATCH body for changed name or description; None when only the
/// combinations changed.
pub fn patch_body(r: &DesiredResource, fields: &BTreeSet<String>) -> Option<Value> {
    let body: serde_json::Map<String, Value> = r.props.iter().filter(|(k, _)| fields.contains(*k) && k.as_str() != COMBINATIONS).map(|(k, v)| (k.clone(), v.clone())).collect();
    (!body.is_empty()).then_some(Value::Object(body))
}

/// The `updateAllowedCombinations` body, when the combinations changed.
pub fn combinations_body(r: &DesiredResource, fields: &BTreeSet<String>) -> Option<Value> {
    fields.contains(COMBINATIONS).then(|| json!({ COMBINATIONS: r.props.get(COMBINATIONS).cloned().unwrap_or(json!([])) }))
}

/// A live strength as TOML.
pub fn export_one(o: &LiveObject) -> AuthenticationStrength {
    let p = &o.props;
    AuthenticationStrength {
        display_name: o.display_name.clone(),
        description: p.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_string),
        allowed_combinations: p.get(COMBINATIONS).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect(),
    }
}

/// Every live custom strength: its table, a key and a ledger entry each
/// (before the policies that name them, which the registry order gives).
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let a = cx.key(Kind::AuthenticationStrength, &o.display_name, &o.id);
        t.insert(a.key.clone(), export_one(o));
        cx.record(a, &o.id);
    }
    cx.table(Kind::AuthenticationStrength, "", &t);
}

/// Read the tenant's custom strengths (built-in ones are left out).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let raw = cx.client.v1().list_all(PROVIDER.collection).await?;
        Ok(raw.iter().filter(|r| is_custom(r)).map(normalize).collect::<Vec<_>>().into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let created = w.send(&w.api(), Method::POST, w.base(), Some(create_body(w.desired()?))).await?;
        crate::apply::id_of(&created)
    })
}

/// Name and description by PATCH; the combinations only through
/// `updateAllowedCombinations`.
fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let fields = w.touched();
        if let Some(body) = patch_body(r, &fields) {
            w.send(&w.api(), Method::PATCH, &format!("{}/{id}", w.base()), Some(body)).await?;
        }
        if let Some(body) = combinations_body(r, &fields) {
            w.send(&w.api(), Method::POST, &format!("{}/{id}/updateAllowedCombinations", w.base()), Some(body)).await?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_change_only_through_their_action() {
        let s = AuthenticationStrength { display_name: "Admins".into(), description: None, allowed_combinations: vec!["fido2".into(), "sms, password".into()] };
        let r = desired("admins", &s);
        assert_eq!(r.props[COMBINATIONS], json!(["fido2", "password,sms"]));
        let fields: BTreeSet<String> = [COMBINATIONS.to_string()].into();
        assert!(patch_body(&r, &fields).is_none());
        assert_eq!(combinations_body(&r, &fields), Some(json!({"allowedCombinations": ["fido2", "password,sms"]})));
        let mut live = create_body(&r);
        assert!(live.get("policyType").is_none(), "not among the documented create properties");
        live["id"] = json!("x");
        live["policyType"] = json!("custom");
        live["allowedCombinations"] = json!(["sms,password", "fido2"]);
        assert!(is_custom(&live));
        assert!(engine::diff::diff_props(&r.props, &normalize(&live).props).is_empty());
    }
}
