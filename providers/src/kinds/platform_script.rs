//! Intune platform scripts (beta `deviceManagement/deviceManagementScripts`,
//! Windows PowerShell), and what remediations (`super::remediation`,
//! `deviceHealthScripts`) share with them: script content compared by
//! SHA-256, read by id (lists carry no content), written base64, and
//! `/assign` with the collection's own body key.
//!
//! The desired side holds `<content>Sha256` (compared, shown in the plan)
//! and the content itself in `create_only` (sent when created or when the
//! hash changed, never compared nor rendered). The live side holds the hash
//! of what Graph returns, and the base64 under `@tenantctl.<content>` for
//! export, which writes each script to `scripts/<key>*.ps1`.

use std::collections::BTreeMap;

use base64::Engine as _;
use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject};
use schema::kinds::{Assignments, PlatformScript};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use super::intune_common::{read_filter_names, record_modified};
use super::registry::{provider, Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{desired_assignments, resource, str_field};
use crate::apply::{delete_plain, err, fail, Writer};
use crate::export::ExportCx;
use crate::graph::{BatchRequest, GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::PlatformScript,
    collection: "/deviceManagement/deviceManagementScripts",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.platform_script { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "platform-scripts.toml",
    export_title: "Intune platform scripts (PowerShell)",
    read: Read::Own(|cx| read_kind(cx, &SCRIPTS)),
    create: |w| create(w, &SCRIPTS),
    update: |w, id| update(w, id, &SCRIPTS),
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![list_path(Kind::PlatformScript)],
    after_post: &["assignments"],
};

/// What differs between the script kinds.
pub(crate) struct Scripts {
    pub kind: Kind,
    /// The object's `@odata.type`.
    pub odata: &'static str,
    /// Its assignments' `@odata.type`.
    pub assignment: &'static str,
    /// The parameter of `/assign` that holds the assignments.
    pub assign_key: &'static str,
    /// The base64 content properties.
    pub contents: &'static [&'static str],
}

pub(crate) const SCRIPTS: Scripts = Scripts {
    kind: Kind::PlatformScript,
    odata: "#microsoft.graph.deviceManagementScript",
    assignment: "#microsoft.graph.deviceManagementScriptAssignment",
    assign_key: "deviceManagementScriptAssignments",
    contents: &["scriptContent"],
};

/// Properties only the remediation's assignments carry (normalized to the
/// object, written through `/assign`).
pub(crate) const ASSIGNMENT_PROPS: [&str; 2] = ["runSchedule", "runRemediationScript"];

/// The compared hash property of a content property.
pub fn hash_prop(content: &str) -> String {
    format!("{content}Sha256")
}

/// Where a live object keeps a content's base64 for export.
pub fn export_prop(content: &str) -> String {
    format!("@tenantctl.{content}")
}

/// The SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Puts a script file's hash in `props` and its base64 in `create_only`.
pub(crate) fn insert_content(r: &mut DesiredResource, content: &str, bytes: Option<&Vec<u8>>) {
    if let Some(b) = bytes {
        r.props.insert(hash_prop(content), json!(sha256_hex(b)));
        r.create_only.insert(content.to_string(), json!(base64::engine::general_purpose::STANDARD.encode(b)));
    }
}

/// Run options every script kind shares, in `props`.
pub(crate) fn insert_run_options(props: &mut engine::Props, account: Option<schema::kinds::platform_script::RunAsAccount>, signed: Option<bool>, bit32: Option<bool>) {
    if let Some(a) = account {
        props.insert("runAsAccount".into(), json!(a.as_str()));
    }
    if let Some(b) = signed {
        props.insert("enforceSignatureCheck".into(), json!(b));
    }
    if let Some(b) = bit32 {
        props.insert("runAs32Bit".into(), json!(b));
    }
}

pub fn desired(key: &str, p: &PlatformScript, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(SCRIPTS.odata));
    props.insert("displayName".into(), json!(p.display_name));
    if let Some(d) = &p.description {
        props.insert("description".into(), json!(d));
    }
    insert_run_options(&mut props, p.run_as_account, p.enforce_signature_check, p.run_as_32_bit);
    super::scope_tag::insert_desired(&mut props, state, &p.scope_tags);
    props.insert("assignments".into(), desired_assignments(state, &p.assignments));
    let mut r = resource(Address::new(Kind::PlatformScript, key), p.display_name.to_lowercase(), p.display_name.clone(), props);
    insert_content(&mut r, "scriptContent", p.content.as_ref());
    let file_name = p.file.rsplit('/').next().unwrap_or(&p.file);
    r.create_only.insert("fileName".into(), json!(file_name));
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

/// The listing a script kind's read starts with.
pub(crate) fn list_path(kind: Kind) -> String {
    format!("{}?$expand=assignments&$top=999", provider(kind).collection)
}

/// Read every script of `s.kind` with its assignments, then each by id
/// (20 per `$batch`) for its content, which lists do not carry.
pub(crate) fn read_kind<'a>(cx: &'a ReadCx<'a>, s: &'static Scripts) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let beta = cx.client.beta();
        let coll = provider(s.kind).collection;
        let mut raw = beta.list_all(&list_path(s.kind)).await?;
        // Microsoft's own remediations (`isGlobalScript`) are in every
        // tenant and read-only: not the tenant's to declare, adopt, export
        // or delete.
        raw.retain(|p| p.get("isGlobalScript") != Some(&Value::Bool(true)));
        read_filter_names(&beta, &mut raw).await?;
        record_modified(&raw, cx.modified);
        if !raw.is_empty() {
            let requests: Vec<BatchRequest> = raw.iter().map(|p| BatchRequest::get(format!("{coll}/{}", str_field(p, "id")))).collect();
            for (p, response) in raw.iter_mut().zip(beta.batch(requests).await?) {
                let body = response.into_result()?.unwrap_or(Value::Null);
                if let Some(m) = p.as_object_mut() {
                    for c in s.contents {
                        m.insert((*c).to_string(), body.get(*c).cloned().unwrap_or(Value::Null));
                    }
                }
            }
        }
        let normalize = if s.kind == Kind::Remediation { super::remediation::normalize } else { normalize };
        Ok(raw.iter().map(normalize).collect::<Vec<_>>().into())
    })
}

/// A live script: as every Intune policy, with each content replaced by
/// its hash (and kept for export), and the server's own fields dropped.
pub(crate) fn normalize_with(raw: &Value, s: &Scripts) -> LiveObject {
    let mut o = super::device_configuration::normalize_policy(raw, s.kind);
    for c in s.contents {
        let content = o.props.remove(*c);
        if let Some(b64) = content.as_ref().and_then(Value::as_str).filter(|b| !b.is_empty()) {
            let hash = match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(bytes) => sha256_hex(&bytes),
                Err(_) => "(content is not base64)".to_string(),
            };
            o.props.insert(hash_prop(c), json!(hash));
            o.props.insert(export_prop(c), json!(b64));
        }
    }
    for p in ["fileName", "deviceHealthScriptType", "highestAvailableVersion", "isGlobalScript", "detectionScriptParameters", "remediationScriptParameters"] {
        o.props.remove(p);
    }
    o
}

pub fn normalize(raw: &Value) -> LiveObject {
    normalize_with(raw, &SCRIPTS)
}

/// Everything compared that is not a Graph property of the object itself.
fn not_patched(s: &Scripts) -> Vec<String> {
    let mut skip: Vec<String> = s.contents.iter().map(|c| hash_prop(c)).collect();
    skip.extend(ASSIGNMENT_PROPS.iter().map(|p| p.to_string()));
    skip
}

/// POST the script with its content, wait until readable, `/assign` it.
pub(crate) fn create<'a>(w: &'a Writer<'a>, s: &'static Scripts) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let skip = not_patched(s);
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        let mut body = super::scope_tag::write_body(r, &skip, &|a| w.ref_id(a)).map_err(err)?;
        if let Some(m) = body.as_object_mut() {
            for (k, v) in &r.create_only {
                m.insert(k.clone(), v.clone());
            }
        }
        let base = w.base();
        let id = w.post_new(base, body).await?;
        w.wait(&w.api(), &format!("{base}/{id}")).await?;
        assign(w, &id, s).await?;
        Ok(id)
    })
}

/// PATCH what changed (a changed script sends its new content), then
/// `/assign` when assignments or their schedule changed.
pub(crate) fn update<'a>(w: &'a Writer<'a>, id: &'a str, s: &'static Scripts) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let touched = w.touched();
        let skip = not_patched(s);
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        let mut body = w.scalar(&skip)?;
        super::scope_tag::resolve(&mut body, &|a| w.ref_id(a)).map_err(err)?;
        for c in s.contents {
            if touched.contains(&hash_prop(c)) {
                let content = r.create_only.get(*c).cloned().ok_or_else(|| err(format!("{}: the plan carries no content for {c}", w.address())))?;
                body.insert((*c).to_string(), content);
                if let Some(f) = r.create_only.get("fileName") {
                    body.insert("fileName".into(), f.clone());
                }
            }
        }
        if !body.is_empty() {
            body.insert("@odata.type".into(), json!(s.odata));
            w.send(&w.api(), Method::PATCH, &format!("{}/{id}", w.base()), Some(Value::Object(body.into_iter().collect()))).await?;
        }
        if touched.iter().any(|t| t == "assignments" || ASSIGNMENT_PROPS.contains(&t.as_str())) {
            assign(w, id, s).await?;
        }
        Ok(())
    })
}

/// `/assign` (replaces the whole set) under the kind's parameter name; a
/// remediation's schedule and whether it remediates go on every one.
pub(crate) async fn assign(w: &Writer<'_>, id: &str, s: &Scripts) -> Result<(), ExecError> {
    let r = w.desired()?;
    let assignments = r.props.get("assignments").unwrap_or(&Value::Null);
    let filters = if super::filters_named(assignments).is_empty() {
        Vec::new()
    } else {
        w.client().beta().list_all("/deviceManagement/assignmentFilters").await.map_err(fail)?
    };
    let filter_id = |f: &str| super::resolve_filter(&filters, f);
    let body = super::assign_body(assignments, &|a| w.ref_id(a), &filter_id, s.assignment).map_err(err)?;
    let mut list = body.get("assignments").and_then(Value::as_array).cloned().unwrap_or_default();
    for a in list.iter_mut() {
        for p in ASSIGNMENT_PROPS {
            if let Some(v) = r.props.get(p).filter(|v| !v.is_null()) {
                a[p] = v.clone();
            }
        }
    }
    let mut params = Map::new();
    params.insert(s.assign_key.to_string(), Value::Array(list));
    let request = GraphRequest::new(Method::POST, format!("{}/{id}/assign", w.base())).json(Value::Object(params)).safe_to_retry(true);
    w.execute(&w.api(), request).await?;
    Ok(())
}

/// A live script's content (from `export_prop`) as text, or why not.
pub(crate) fn live_text(o: &LiveObject, content: &str) -> Result<Option<String>, String> {
    let Some(b64) = o.props.get(&export_prop(content)).and_then(Value::as_str) else { return Ok(None) };
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| format!("its {content} is not base64"))?;
    String::from_utf8(bytes).map(Some).map_err(|_| format!("its {content} is not UTF-8 text"))
}

/// The run options of a live script, as TOML declares them.
pub(crate) fn live_run_options(o: &LiveObject) -> (Option<schema::kinds::platform_script::RunAsAccount>, Option<bool>, Option<bool>) {
    use schema::kinds::platform_script::RunAsAccount;
    let account = match o.props.get("runAsAccount").and_then(Value::as_str) {
        Some("user") => Some(RunAsAccount::User),
        Some("system") => Some(RunAsAccount::System),
        _ => None,
    };
    let b = |k: &str| o.props.get(k).and_then(Value::as_bool);
    (account, b("enforceSignatureCheck"), b("runAs32Bit"))
}

/// The description of a live object, when it has one.
pub(crate) fn description(o: &LiveObject) -> Option<String> {
    o.props.get("description").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let parts = super::intune_common::assignments(&o.props, &cx.keys).and_then(|a| Ok((a, super::scope_tag::tags_of(cx, &o.props)?, live_text(o, "scriptContent")?)));
        let (assignments, scope_tags, text): (Assignments, Vec<String>, Option<String>) = match parts {
            Ok(p) => p,
            Err(e) => {
                cx.warn(format!("platform_script {} ({}): {e}: not exported", o.display_name, o.id));
                continue;
            }
        };
        let Some(text) = text else {
            cx.warn(format!("platform_script {} ({}): Graph returned no script content: not exported", o.display_name, o.id));
            continue;
        };
        let a = cx.key(Kind::PlatformScript, &o.display_name, &o.id);
        let file = format!("scripts/{}.ps1", a.key);
        let (run_as_account, enforce_signature_check, run_as_32_bit) = live_run_options(o);
        let p = PlatformScript {
            display_name: o.display_name.clone(),
            description: description(o),
            file: file.clone(),
            run_as_account,
            enforce_signature_check,
            run_as_32_bit,
            scope_tags,
            assignments,
            content: None,
        };
        cx.file(file, text);
        t.insert(a.key.clone(), p);
        cx.record(a, &o.id);
    }
    cx.table(Kind::PlatformScript, "", &t);
}
