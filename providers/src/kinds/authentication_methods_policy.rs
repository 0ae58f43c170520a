//! The authentication methods policy (`/policies/authenticationMethodsPolicy`,
//! v1.0): a singleton read in one GET (Graph expands its
//! `authenticationMethodConfigurations`), updated by PATCH (the policy for
//! the registration campaign, `authenticationMethodConfigurations/{id}`
//! for each method that differs), never created or deleted. Only the
//! declared methods, and the declared fields of each, are compared.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::model::{as_reference, reference};
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::authentication_methods_policy::{method, method_by_id, AuthenticationMethodsPolicy, MethodConfig, RegistrationCampaign, ALL_USERS, METHODS};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read};
use super::{camel, ref_to, resource, str_field};
use crate::apply::{err, fail, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AuthenticationMethodsPolicy,
    collection: "/policies/authenticationMethodsPolicy",
    api: Api::V1,
    // Matched by its fixed natural key (there is one per tenant).
    natural_key: None,
    created: Created::Elsewhere,
    desired: |s, m| {
        for (k, d) in &s.authentication_methods_policy { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "authentication-methods.toml",
    export_title: "Authentication methods policy",
    read: Read::Own(read),
    create,
    update,
    delete,
    export,
    import_paths: &[],
    // A single GET of the singleton, not a collection listing.
    listings: || vec![PROVIDER.collection.to_string()],
    after_post: &[],
};

/// The singleton's id, and so its natural key.
pub const ID: &str = "authenticationMethodsPolicy";
const CAMPAIGN: &str = "registrationCampaign";
const METHODS_PROP: &str = "methods";

/// A target as compared: `all_users`, or a reference.
/// Each method's raw live feature settings and include targets (see
/// `keep_live`), carried to apply.
const LIVE_METHODS: &str = engine::plan_app_live::CARRIED_METHODS[0];

fn target(state: &DesiredState, t: &str, kinds: &[Kind]) -> Value {
    if t == ALL_USERS {
        json!(ALL_USERS)
    } else {
        ref_to(state, t, kinds)
    }
}

/// The method-specific fields declared, Graph-named (`camel` of the TOML name).
fn specific(m: &MethodConfig) -> Props {
    let v = serde_json::to_value(m).unwrap_or(Value::Null);
    m.specific_fields().into_iter().filter_map(|f| v.get(f).map(|x| (camel(f), x.clone()))).collect()
}

pub fn desired(key: &str, p: &AuthenticationMethodsPolicy, state: &DesiredState) -> DesiredResource {
    let mut props = Props::new();
    if let Some(c) = &p.registration_campaign {
        props.insert(
            CAMPAIGN.into(),
            json!({
                "state": c.state,
                "snoozeDurationInDays": c.snooze_duration_in_days,
                "include": c.include.iter().map(|t| target(state, t, &[Kind::Group, Kind::User])).collect::<Vec<_>>(),
                "exclude": c.exclude.iter().map(|t| target(state, t, &[Kind::Group, Kind::User])).collect::<Vec<_>>(),
            }),
        );
    }
    let mut methods = Map::new();
    for (name, m) in &p.methods {
        let Some(def) = method(name) else { continue };
        let mut o = Map::new();
        o.insert("state".into(), json!(m.state));
        if let Some(inc) = &m.include {
            o.insert("include".into(), Value::Array(inc.iter().map(|t| target(state, t, &[Kind::Group])).collect()));
        }
        if let Some(exc) = &m.exclude {
            o.insert("exclude".into(), Value::Array(exc.iter().map(|t| target(state, t, &[Kind::Group])).collect()));
        }
        o.extend(specific(m));
        methods.insert(def.id.to_string(), Value::Object(o));
    }
    if !methods.is_empty() {
        props.insert(METHODS_PROP.into(), Value::Object(methods));
    }
    resource(Address::new(Kind::AuthenticationMethodsPolicy, key), ID.to_lowercase(), "Authentication methods policy".into(), props)
}

/// A live target id as compared.
fn live_target(id: &str) -> Value {
    if id == ALL_USERS {
        json!(ALL_USERS)
    } else {
        reference(id)
    }
}

fn targets(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).into_iter().flatten().map(|t| live_target(str_field(t, "id"))).collect()
}

/// One live method configuration, normalized like a declared one (every
/// field v1.0 gives the method, so any declared one is compared).
pub fn normalize_method(raw: &Value) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("state".into(), raw.get("state").cloned().unwrap_or(Value::Null));
    o.insert("include".into(), Value::Array(targets(raw.get("includeTargets"))));
    o.insert("exclude".into(), Value::Array(targets(raw.get("excludeTargets"))));
    let Some(def) = method_by_id(str_field(raw, "id")) else { return o };
    for f in def.fields {
        let g = camel(f);
        let v = match *f {
            "authentication_mode" => raw.pointer("/includeTargets/0/authenticationMode").cloned(),
            "display_app_information" => raw.pointer("/featureSettings/displayAppInformationRequiredState/state").cloned(),
            "display_location_information" => raw.pointer("/featureSettings/displayLocationInformationRequiredState/state").cloned(),
            _ => raw.get(&g).cloned(),
        };
        o.insert(g, v.unwrap_or(Value::Null));
    }
    o
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut props = Props::new();
    if let Some(c) = raw.pointer("/registrationEnforcement/authenticationMethodsRegistrationCampaign") {
        props.insert(
            CAMPAIGN.into(),
            json!({
                "state": c.get("state").cloned().unwrap_or(Value::Null),
                "snoozeDurationInDays": c.get("snoozeDurationInDays").cloned().unwrap_or(Value::Null),
                "include": targets(c.get("includeTargets")),
                "exclude": targets(c.get("excludeTargets")),
            }),
        );
    }
    let mut methods = Map::new();
    let mut kept = Map::new();
    for m in raw.get("authenticationMethodConfigurations").and_then(Value::as_array).into_iter().flatten() {
        if let Some(def) = method_by_id(str_field(m, "id")) {
            methods.insert(def.id.to_string(), Value::Object(normalize_method(m)));
            kept.insert(def.id.to_string(), json!({"featureSettings": m.get("featureSettings").cloned().unwrap_or(Value::Null), "includeTargets": m.get("includeTargets").cloned().unwrap_or(Value::Null)}));
        }
    }
    props.insert(METHODS_PROP.into(), Value::Object(methods));
    // Not compared (desired state never sets it): what an update keeps
    // as it is live, carried on the change (`engine::plan_app_live`).
    props.insert(LIVE_METHODS.into(), Value::Object(kept));
    LiveObject {
        kind: Kind::AuthenticationMethodsPolicy,
        id: ID.to_string(),
        natural_key: ID.to_lowercase(),
        display_name: "Authentication methods policy".into(),
        props,
    }
}

/// Graph's target list for `refs` (`all_users` or references), each
/// resolved to an id by `id_of`; `kind_of` says a reference's target type.
fn graph_targets(refs: &Value, id_of: &dyn Fn(&str) -> Option<String>, extra: &Map<String, Value>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for t in refs.as_array().into_iter().flatten() {
        let (id, ty) = match (t.as_str(), as_reference(t)) {
            (Some(ALL_USERS), _) => (ALL_USERS.to_string(), "group"),
            (_, Some(r)) => {
                let ty = if r.starts_with("user.") { "user" } else { "group" };
                (id_of(r).ok_or_else(|| format!("{r} has no object id yet"))?, ty)
            }
            _ => return Err(format!("`{t}` is not a target")),
        };
        let mut o = Map::new();
        o.insert("targetType".into(), json!(ty));
        o.insert("id".into(), json!(id));
        o.extend(extra.clone());
        out.push(Value::Object(o));
    }
    Ok(out)
}

/// The PATCH body of the policy for a declared registration campaign.
pub fn campaign_body(c: &Value, id_of: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    let mut inc_extra = Map::new();
    inc_extra.insert("targetedAuthenticationMethod".into(), json!("microsoftAuthenticator"));
    Ok(json!({
        "registrationEnforcement": {
            "authenticationMethodsRegistrationCampaign": {
                "state": c.get("state").cloned().unwrap_or(json!("default")),
                "snoozeDurationInDays": c.get("snoozeDurationInDays").cloned().unwrap_or(json!(1)),
                "includeTargets": graph_targets(c.get("include").unwrap_or(&json!([])), id_of, &inc_extra)?,
                "excludeTargets": graph_targets(c.get("exclude").unwrap_or(&json!([])), id_of, &Map::new())?,
            }
        }
    }))
}

/// The PATCH body of one declared method (`id` Graph's method id).
pub fn method_body(id: &str, m: &Value, id_of: &dyn Fn(&str) -> Option<String>) -> Result<(String, Value), String> {
    let def = method_by_id(id).ok_or_else(|| format!("`{id}` is not a method tenantctl manages"))?;
    let mut body = Map::new();
    body.insert("@odata.type".into(), json!(def.odata_type));
    body.insert("state".into(), m.get("state").cloned().unwrap_or(Value::Null));
    let mut inc_extra = Map::new();
    inc_extra.insert("isRegistrationRequired".into(), json!(false));
    if let Some(mode) = m.get("authenticationMode").filter(|v| !v.is_null()) {
        inc_extra.insert("authenticationMode".into(), mode.clone());
    }
    if let Some(inc) = m.get("include") {
        body.insert("includeTargets".into(), Value::Array(graph_targets(inc, id_of, &inc_extra)?));
    } else if m.get("authenticationMode").is_some_and(|v| !v.is_null()) {
        return Err(format!("{id}: authentication_mode is set on the included targets; declare `include`"));
    }
    if let Some(exc) = m.get("exclude") {
        body.insert("excludeTargets".into(), Value::Array(graph_targets(exc, id_of, &Map::new())?));
    }
    let mut features = Map::new();
    for (ours, graphs) in [("displayAppInformation", "displayAppInformationRequiredState"), ("displayLocationInformation", "displayLocationInformationRequiredState")] {
        if let Some(state) = m.get(ours).filter(|v| !v.is_null()) {
            features.insert(
                graphs.into(),
                json!({
                    "state": state,
                    "includeTarget": {"targetType": "group", "id": ALL_USERS},
                    "excludeTarget": {"targetType": "group", "id": "00000000-0000-0000-0000-000000000000"},
                }),
            );
        }
    }
    if !features.is_empty() {
        body.insert("featureSettings".into(), Value::Object(features));
    }
    for (k, v) in m.as_object().into_iter().flatten() {
        if !matches!(k.as_str(), "state" | "include" | "exclude" | "authenticationMode" | "displayAppInformation" | "displayLocationInformation") {
            body.insert(k.clone(), v.clone());
        }
    }
    Ok((format!("{}/authenticationMethodConfigurations/{}", PROVIDER.collection, def.segment), Value::Object(body)))
}

/// Keep what the method's PATCH would otherwise overwrite without
/// comparing it (audit S2): a feature's live include and exclude targets
/// (desired state declares only its state), and each live include
/// target's `isRegistrationRequired` (and SMS's `isUsableForSignIn`) for a
/// target desired state still includes.
pub fn keep_live(body: &mut Value, live: &Value) {
    if let Some(features) = body.get_mut("featureSettings").and_then(Value::as_object_mut) {
        for (name, f) in features.iter_mut() {
            for k in ["includeTarget", "excludeTarget"] {
                if let Some(t) = live.pointer(&format!("/featureSettings/{name}/{k}")).filter(|t| t.is_object()) {
                    f[k] = t.clone();
                }
            }
        }
    }
    let live_targets = live.get("includeTargets").and_then(Value::as_array).cloned().unwrap_or_default();
    for t in body.get_mut("includeTargets").and_then(Value::as_array_mut).into_iter().flatten() {
        let Some(l) = live_targets.iter().find(|l| l.get("id") == t.get("id")) else { continue };
        for k in ["isRegistrationRequired", "isUsableForSignIn"] {
            if let Some(v) = l.get(k).filter(|v| !v.is_null()) {
                t[k] = v.clone();
            }
        }
    }
}

/// The methods a change touches (`methods.<Id>...` fields), or every
/// declared one when the whole `methods` differs.
fn touched_methods(w: &Writer<'_>, declared: &Map<String, Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in &w.change().fields {
        let mut parts = f.field.splitn(3, '.');
        if parts.next() != Some(METHODS_PROP) {
            continue;
        }
        match parts.next() {
            Some(id) => {
                out.insert(id.to_string());
            }
            None => out.extend(declared.keys().cloned()),
        }
    }
    out
}

/// Read the singleton (one GET; Graph expands the configurations).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let raw = cx.client.v1().get_json(PROVIDER.collection).await?;
        Ok(vec![normalize(&raw)].into())
    })
}

/// Every tenant has the policy: one that cannot be found is an error,
/// never a create.
fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move { Err(err(format!("{}: the tenant's authentication methods policy could not be read; it is never created", w.address()))) })
}

fn update<'a>(w: &'a Writer<'a>, _id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let id_of = |a: &str| w.ref_id(a);
        if w.touched().contains(CAMPAIGN) {
            if let Some(c) = r.props.get(CAMPAIGN) {
                let body = campaign_body(c, &id_of).map_err(|e| err(format!("{}: {e}", w.address())))?;
                w.send(&w.api(), Method::PATCH, PROVIDER.collection, Some(body)).await?;
            }
        }
        let declared = r.props.get(METHODS_PROP).and_then(Value::as_object).cloned().unwrap_or_default();
        for id in touched_methods(w, &declared) {
            let Some(m) = declared.get(&id) else { continue };
            let (path, mut body) = method_body(&id, m, &id_of).map_err(|e| err(format!("{}: {e}", w.address())))?;
            // What the PATCH sends but desired state does not declare is
            // kept as it is live: as the plan read it (carried on the
            // change), else read now (a plan saved before it was carried).
            let carried = w.change().live.as_ref().and_then(|l| l.get(LIVE_METHODS)).and_then(|m| m.get(&id)).cloned();
            let live = match carried {
                Some(l) => l,
                None => w.api().get_json(&path).await.map_err(fail)?,
            };
            keep_live(&mut body, &live);
            w.send(&w.api(), Method::PATCH, &path, Some(body)).await?;
        }
        Ok(())
    })
}

/// The policy cannot be deleted: an undeclared one is simply no longer
/// managed.
fn delete<'a>(w: &'a Writer<'a>, _id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move { Err(err(format!("{}: the authentication methods policy cannot be deleted; stop declaring it to leave it unmanaged", w.address()))) })
}

/// Live targets as keys; None (with why) when one is not exported.
fn keys_of(v: Option<&Value>, key_of: &dyn Fn(&str) -> Option<Address>) -> Result<Vec<String>, String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| match (t.as_str(), as_reference(t)) {
            (Some(s), _) => Ok(s.to_string()),
            (_, Some(id)) => key_of(id).map(|a| a.to_string()).ok_or_else(|| format!("targets {id}, which is not exported")),
            _ => Err("has a target it cannot read".into()),
        })
        .collect()
}

/// The live policy as TOML: the campaign and every method v1.0 gives.
pub fn export_one(o: &LiveObject, key_of: &dyn Fn(&str) -> Option<Address>, warn: &mut dyn FnMut(String)) -> AuthenticationMethodsPolicy {
    let registration_campaign = o.props.get(CAMPAIGN).and_then(|c| {
        let lists = (keys_of(c.get("include"), key_of), keys_of(c.get("exclude"), key_of));
        match lists {
            (Ok(include), Ok(exclude)) => Some(RegistrationCampaign {
                state: str_field(c, "state").to_string(),
                snooze_duration_in_days: c.get("snoozeDurationInDays").and_then(Value::as_i64).unwrap_or(1),
                include,
                exclude,
            }),
            (Err(e), _) | (_, Err(e)) => {
                warn(format!("the registration campaign {e}: not exported"));
                None
            }
        }
    });
    let mut methods = BTreeMap::new();
    let live = o.props.get(METHODS_PROP).and_then(Value::as_object).cloned().unwrap_or_default();
    for def in METHODS {
        let Some(m) = live.get(def.id) else { continue };
        let mut table = Map::new();
        table.insert("state".into(), m.get("state").cloned().unwrap_or(json!("disabled")));
        for (field, v) in [("include", m.get("include")), ("exclude", m.get("exclude"))] {
            match keys_of(v, key_of) {
                Ok(keys) => {
                    table.insert(field.into(), json!(keys));
                }
                Err(e) => warn(format!("{} {field} {e}: its {field} is not exported", def.name)),
            }
        }
        for f in def.fields {
            if let Some(v) = m.get(camel(f)).filter(|v| !v.is_null()) {
                table.insert((*f).to_string(), v.clone());
            }
        }
        if table.get("include").is_none() {
            table.remove("authentication_mode");
        }
        match serde_json::from_value::<MethodConfig>(Value::Object(table)) {
            Ok(c) => {
                methods.insert(def.name.to_string(), c);
            }
            Err(e) => warn(format!("{}: {e}: not exported", def.name)),
        }
    }
    AuthenticationMethodsPolicy { registration_campaign, methods }
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let mut warnings = Vec::new();
        let p = export_one(o, &|id| cx.keys.key_of(id).cloned(), &mut |w| warnings.push(w));
        for w in warnings {
            cx.warn(format!("authentication methods policy: {w}"));
        }
        let a = cx.key(Kind::AuthenticationMethodsPolicy, "tenant", &o.id);
        t.insert(a.key.clone(), p);
        cx.record(a, &o.id);
    }
    cx.table(Kind::AuthenticationMethodsPolicy, "", &t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_method_compares_only_what_it_declares_and_patches_with_its_type() {
        let state = schema::load_str(&[(
            "a.toml",
            r#"
[group.admins]
display_name = "Admins"
mail_nickname = "admins"
[group.svc]
display_name = "Svc"
mail_nickname = "svc"
[authentication_methods_policy.tenant]
methods.fido2 = { state = "enabled", include = ["admins"], exclude = ["svc"], is_self_service_registration_allowed = true }
"#,
        )])
        .expect("loads");
        let r = desired("tenant", &state.authentication_methods_policy["tenant"].value, &state);
        let live = json!({
            "id": "authenticationMethodsPolicy",
            "authenticationMethodConfigurations": [
                {"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "id": "Fido2", "state": "enabled", "isAttestationEnforced": true, "isSelfServiceRegistrationAllowed": true,
                 "includeTargets": [{"targetType": "group", "id": "g-admins", "isRegistrationRequired": false}], "excludeTargets": [{"targetType": "group", "id": "g-svc"}]},
                {"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "id": "Sms", "state": "enabled", "includeTargets": [{"targetType": "group", "id": "all_users"}], "excludeTargets": []}
            ]
        });
        let o = normalize(&live);
        let resolved: Props = serde_json::from_str(&serde_json::to_string(&o.props).unwrap().replace("g-admins", "group.admins").replace("g-svc", "group.svc")).unwrap();
        assert!(engine::diff::diff_props(&r.props, &resolved).is_empty(), "{:?}", engine::diff::diff_props(&r.props, &resolved));
        let ids = |a: &str| Some(format!("id-of-{a}"));
        let (path, body) = method_body("Fido2", &r.props["methods"]["Fido2"], &ids).unwrap();
        assert_eq!(path, "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2");
        assert_eq!(body["@odata.type"], json!("#microsoft.graph.fido2AuthenticationMethodConfiguration"));
        assert_eq!(body["includeTargets"], json!([{"targetType": "group", "id": "id-of-group.admins", "isRegistrationRequired": false}]));
        assert_eq!(body["excludeTargets"], json!([{"targetType": "group", "id": "id-of-group.svc"}]));
        assert_eq!(body["isSelfServiceRegistrationAllowed"], json!(true));
    }
}
