//! Windows Autopilot deployment profiles (beta only). Assignments are
//! created one by one and removed before the profile is deleted.

use engine::{DesiredResource, LiveObject};
use schema::kinds::autopilot_profile::JoinType;
use schema::kinds::AutopilotProfile;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::device_configuration::normalize_policy;
use super::{camel_props, desired_assignments, resource};
use super::intune_common::assignments;
use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME_AND_TYPE};
use super::{assignment_targets, str_field};
use crate::apply::{delete_plain, err, fail, Writer};
use crate::export::{snake, typed, ExportCx};
use crate::graph::{BatchRequest, GraphClient, GraphError, Method};
use crate::observe::{ReadCx, Readout};
use engine::apply::ExecError;
use std::collections::BTreeSet;

pub fn odata_type(join: JoinType) -> &'static str {
    match join {
        JoinType::Entra => "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
        JoinType::Hybrid => "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile",
    }
}

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AutopilotProfile,
    collection: "/deviceManagement/windowsAutopilotDeploymentProfiles",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME_AND_TYPE),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.autopilot_profile { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "autopilot.toml",
    export_title: "Autopilot profiles",
    read: Read::Own(read),
    create,
    update,
    delete,
    export,
    import_paths: &[],
    listings: || vec![list_path()],
    after_post: &["assignments"],
};

pub fn desired(key: &str, a: &AutopilotProfile, state: &DesiredState) -> DesiredResource {
    let mut p = camel_props(a, &["assignments", "join_type", "description", "scope_tags", "role_scope_tag_ids"]);
    // Tags by id (`role_scope_tag_ids`) compare with live ones as references.
    if !a.role_scope_tag_ids.is_empty() {
        p.insert("roleScopeTagIds".into(), serde_json::Value::Array(a.role_scope_tag_ids.iter().map(|t| engine::model::reference(format!("id:{t}"))).collect()));
    }
    super::scope_tag::insert_desired(&mut p, state, &a.scope_tags);
    p.insert("@odata.type".into(), json!(odata_type(a.join_type)));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &a.description {
        p.insert("description".into(), json!(d));
    }
    p.insert("assignments".into(), desired_assignments(state, &a.assignments));
    let mut r = resource(Address::new(Kind::AutopilotProfile, key), a.display_name.to_lowercase(), a.display_name.clone(), p);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    // Scope tags (as references) are managed when declared (Intune's
    // default is ["0"]).
    let mut o = normalize_policy(raw, Kind::AutopilotProfile);
    // Profiles written by older tools may only carry the deprecated
    // spellings; read them into the current ones when those are unset.
    let unset = |props: &engine::Props, k: &str| props.get(k).is_none_or(Value::is_null);
    for (old, new) in [("language", "locale"), ("extractHardwareHash", "hardwareHashExtractionEnabled"), ("enableWhiteGlove", "preprovisioningAllowed")] {
        if unset(&o.props, new) {
            if let Some(v) = raw.get(old).filter(|v| !v.is_null()) {
                o.props.insert(new.into(), v.clone());
            }
        }
    }
    if let Some(Value::Object(old)) = raw.get("outOfBoxExperienceSettings") {
        let mut oobe = match o.props.get("outOfBoxExperienceSetting") {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        for (old_name, new_name) in [
            ("hidePrivacySettings", "privacySettingsHidden"),
            ("hideEULA", "eulaHidden"),
            ("userType", "userType"),
            ("deviceUsageType", "deviceUsageType"),
            ("skipKeyboardSelectionPage", "keyboardSelectionPageSkipped"),
            ("hideEscapeLink", "escapeLinkHidden"),
        ] {
            if oobe.get(new_name).is_none_or(Value::is_null) {
                if let Some(v) = old.get(old_name).filter(|v| !v.is_null()) {
                    oobe.insert(new_name.into(), v.clone());
                }
            }
        }
        o.props.insert("outOfBoxExperienceSetting".into(), Value::Object(oobe));
    }
    for old in ["outOfBoxExperienceSettings", "enableWhiteGlove", "extractHardwareHash", "language"] {
        o.props.remove(old);
    }
    o
}

/// Autopilot assignments are read per profile, batched.
/// The profiles listing.
fn list_path() -> String {
    format!("{}?$top=999", PROVIDER.collection)
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move { Ok(read_all(cx.client).await?.into()) })
}

async fn read_all(client: &GraphClient) -> Result<Vec<LiveObject>, GraphError> {
    let beta = client.beta();
    let base = "/deviceManagement/windowsAutopilotDeploymentProfiles";
    let raw = beta.list_all(&list_path()).await?;
    let requests: Vec<BatchRequest> = raw
        .iter()
        .map(|p| BatchRequest::get(format!("{base}/{}/assignments", str_field(p, "id"))))
        .collect();
    let responses = beta.batch(requests).await?;
    let mut out = Vec::new();
    for (p, response) in raw.iter().zip(responses) {
        let body = response.into_result()?.unwrap_or(Value::Null);
        let mut p = p.clone();
        if let Some(m) = p.as_object_mut() {
            m.insert("assignments".into(), body.get("value").cloned().unwrap_or(Value::Array(vec![])));
        }
        out.push(normalize(&p));
    }
    Ok(out)
}

const ASSIGNMENT: &str = "#microsoft.graph.windowsAutopilotDeploymentProfileAssignment";

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let base = w.base();
        let body = super::scope_tag::write_body(w.desired()?, &[], &|a| w.ref_id(a)).map_err(err)?;
        let id = w.post_new(base, body).await?;
        w.wait(&w.api(), &format!("{base}/{id}")).await?;
        write_assignments(w, &id).await?;
        Ok(id)
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        super::intune_common::patch_policy(w, id, &[]).await?;
        if w.touched().contains("assignments") {
            write_assignments(w, id).await?;
        }
        Ok(())
    })
}

/// Intune refuses to delete an assigned profile: its assignments go first.
fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let (api, base) = (w.api(), w.base());
        for (aid, _) in current(&api, base, id).await? {
            w.send(&api, Method::DELETE, &format!("{base}/{id}/assignments/{aid}"), None).await?;
        }
        delete_plain(w, id).await
    })
}

async fn current(api: &GraphClient, base: &str, id: &str) -> Result<Vec<(String, Value)>, ExecError> {
    let list = api.list_all(&format!("{base}/{id}/assignments")).await.map_err(fail)?;
    Ok(list
        .into_iter()
        .filter_map(|a| {
            let aid = a.get("id").and_then(Value::as_str)?.to_string();
            Some((aid, a.get("target").cloned().unwrap_or(Value::Null)))
        })
        .collect())
}

/// Autopilot assignments are one object each: add what is missing,
/// remove what is not desired.
async fn write_assignments(w: &Writer<'_>, id: &str) -> Result<(), ExecError> {
    let (api, base) = (w.api(), w.base());
    let r = w.desired()?;
    let lookup = |a: &str| w.ref_id(a);
    let want = assignment_targets(r.props.get("assignments").unwrap_or(&Value::Null), &lookup).map_err(err)?;
    let key = |t: &Value| (t.get("@odata.type").and_then(Value::as_str).unwrap_or_default().to_string(), t.get("groupId").and_then(Value::as_str).unwrap_or_default().to_string());
    let have = current(&api, base, id).await?;
    let have_keys: BTreeSet<_> = have.iter().map(|(_, t)| key(t)).collect();
    let want_keys: BTreeSet<_> = want.iter().map(key).collect();
    for (aid, t) in &have {
        if !want_keys.contains(&key(t)) {
            w.send(&api, Method::DELETE, &format!("{base}/{id}/assignments/{aid}"), None).await?;
        }
    }
    for t in want {
        if !have_keys.contains(&key(&t)) {
            let body = json!({"@odata.type": ASSIGNMENT, "target": t});
            w.send(&api, Method::POST, &format!("{base}/{id}/assignments"), Some(body)).await?;
        }
    }
    Ok(())
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = std::collections::BTreeMap::new();
    for o in objects {
        let result = assignments(&o.props, &cx.keys).and_then(|asg| {
            let scope_tags = super::scope_tag::tags_of(cx, &o.props)?;
            let mut props = o.props.clone();
            props.remove("assignments");
            props.remove("roleScopeTagIds");
            let join = if super::intune_common::bare_type(&o.props).starts_with("activeDirectory") { "hybrid" } else { "entra" };
            let Value::Object(mut m) = snake(&Value::Object(props.into_iter().collect())) else { return Err("not an object".to_string()) };
            m.insert("assignments".into(), serde_json::to_value(&asg).map_err(|e| e.to_string())?);
            m.insert("join_type".into(), Value::String(join.into()));
            m.insert("scope_tags".into(), serde_json::to_value(&scope_tags).map_err(|e| e.to_string())?);
            typed::<AutopilotProfile>(m)
        });
        match result {
            Ok(profile) => {
                let a = cx.key(Kind::AutopilotProfile, &o.display_name, &o.id);
                t.insert(a.key.clone(), profile);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("Autopilot profile {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::AutopilotProfile, "", &t);
}
