//! Windows Enrollment Status Pages (beta
//! `deviceManagement/deviceEnrollmentConfigurations`,
//! `windows10EnrollmentCompletionPageConfiguration`), and what enrollment
//! restrictions (`super::enrollment_restriction`, read with this kind)
//! share with them: one collection of many types, split by
//! `@odata.type`; `priority` changed only through `setPriority`; `/assign`
//! with `enrollmentConfigurationAssignments`; the tenant's built-in
//! configurations (priority 0) read only when declared (`default = true`),
//! never created nor deleted.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject};
use schema::kinds::EnrollmentStatusPage;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::intune_common::{read_filter_names, record_modified};
use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME_AND_TYPE};
use super::{camel_props, desired_assignments, resource, str_field};
use crate::apply::{err, fail, Writer};
use crate::export::{snake, typed, ExportCx};
use crate::graph::{GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::EnrollmentStatusPage,
    collection: COLLECTION,
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME_AND_TYPE),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.enrollment_status_page { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "enrollment-status-pages.toml",
    export_title: "Windows Enrollment Status Pages",
    read: Read::Own(read),
    create,
    update,
    delete,
    export,
    import_paths: &[],
    listings: || vec![LIST.to_string()],
    after_post: &["assignments", "priority"],
};

pub const COLLECTION: &str = "/deviceManagement/deviceEnrollmentConfigurations";
/// The listing both enrollment kinds are read from.
const LIST: &str = "/deviceManagement/deviceEnrollmentConfigurations?$expand=assignments&$top=999";
pub const ODATA: &str = "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration";
const ASSIGNMENT: &str = "#microsoft.graph.enrollmentConfigurationAssignment";

/// The kind a live configuration is, by its `@odata.type` (None: a type
/// not modelled, such as Windows Hello for Business, or the built-in
/// all-platform restrictions).
fn kind_of(raw: &Value) -> Option<Kind> {
    match str_field(raw, "@odata.type") {
        ODATA => Some(Kind::EnrollmentStatusPage),
        super::enrollment_restriction::PLATFORM | super::enrollment_restriction::LIMIT => Some(Kind::EnrollmentRestriction),
        _ => None,
    }
}

/// The natural key of a configuration: its type and name (several types
/// share the collection, and the built-in ones share a name).
pub(crate) fn natural_key(odata: &str, name: &str) -> String {
    format!("{}|{}", odata.trim_start_matches("#microsoft.graph."), name.to_lowercase())
}

/// Whether a live configuration is one of the tenant's built-in ones.
fn is_built_in(raw: &Value) -> bool {
    raw.get("priority").and_then(Value::as_i64) == Some(0)
}

/// A desired configuration's shared props: type, name, description,
/// priority (0 for the built-in one), scope tags and assignments (none
/// for the built-in one).
pub(crate) struct Base<'a> {
    pub odata: &'a str,
    pub name: &'a str,
    pub description: Option<&'a String>,
    pub default: bool,
    pub priority: Option<u32>,
    pub tags: &'a [String],
    pub assignments: &'a schema::kinds::Assignments,
}

pub(crate) fn base_props(b: Base<'_>, state: &DesiredState) -> engine::Props {
    let Base { odata, name, description, default, priority, tags, assignments: a } = b;
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(odata));
    props.insert("displayName".into(), json!(name));
    if let Some(d) = description {
        props.insert("description".into(), json!(d));
    }
    if default {
        props.insert("priority".into(), json!(0));
    } else {
        if let Some(p) = priority {
            props.insert("priority".into(), json!(p));
        }
        props.insert("assignments".into(), desired_assignments(state, a));
    }
    super::scope_tag::insert_desired(&mut props, state, tags);
    props
}

/// The desired resource of a configuration with `props`.
pub(crate) fn resource_of(kind: Kind, key: &str, name: &str, props: engine::Props) -> DesiredResource {
    let odata = props.get("@odata.type").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut r = resource(Address::new(kind, key), natural_key(&odata, name), name.to_string(), props);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

pub fn desired(key: &str, p: &EnrollmentStatusPage, state: &DesiredState) -> DesiredResource {
    let base = Base { odata: ODATA, name: &p.display_name, description: p.description.as_ref(), default: p.default, priority: p.priority, tags: &p.scope_tags, assignments: &p.assignments };
    let mut props = base_props(base, state);
    let skip = ["display_name", "description", "default", "priority", "scope_tags", "assignments"];
    props.extend(camel_props(p, &skip));
    resource_of(Kind::EnrollmentStatusPage, key, &p.display_name, props)
}

/// A live configuration, normalized as an Intune policy, without the
/// server's own fields.
fn normalize(raw: &Value, kind: Kind) -> LiveObject {
    let mut o = super::device_configuration::normalize_policy(raw, kind);
    o.natural_key = natural_key(str_field(raw, "@odata.type"), str_field(raw, "displayName"));
    for p in ["deviceEnrollmentConfigurationType", "selectedMobileAppIds"] {
        o.props.remove(p);
    }
    if is_built_in(raw) {
        // The built-in configuration has no assignments of its own.
        o.props.remove("assignments");
    }
    o
}

/// Every enrollment configuration of a modelled type, split between the
/// two kinds. A built-in one (priority 0) is read only when desired state
/// declares the built-in one of its type: otherwise it is neither managed
/// nor reported.
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let beta = cx.client.beta();
        let mut raw = beta.list_all(LIST).await?;
        read_filter_names(&beta, &mut raw).await?;
        record_modified(&raw, cx.modified);
        let declared_default = |kind: Kind, odata: &str| {
            cx.desired.resources.iter().any(|(a, r)| a.kind == kind && r.props.get("priority").and_then(Value::as_i64) == Some(0) && r.props.get("@odata.type").and_then(Value::as_str) == Some(odata))
        };
        let mut out = Vec::new();
        for p in &raw {
            let Some(kind) = kind_of(p) else { continue };
            if is_built_in(p) && !declared_default(kind, str_field(p, "@odata.type")) {
                continue;
            }
            out.push(normalize(p, kind));
        }
        Ok(out.into())
    })
}

/// POST the configuration (Intune gives it the next priority), wait until
/// readable, `setPriority` to the declared one, `/assign` it.
pub(crate) fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        if r.props.get("priority").and_then(Value::as_i64) == Some(0) {
            return Err(err(format!("{}: the tenant has no built-in configuration named `{}` of this type; a built-in one cannot be created", w.address(), r.display_name)));
        }
        let body = super::scope_tag::write_body(r, &["priority"], &|a| w.ref_id(a)).map_err(err)?;
        let base = w.base();
        let id = w.post_new(base, body).await?;
        w.wait(&w.api(), &format!("{base}/{id}")).await?;
        set_priority(w, &id).await?;
        assign(w, &id).await?;
        Ok(id)
    })
}

/// PATCH what changed but priority and assignments, then `setPriority`
/// and `/assign` as they changed.
pub(crate) fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        super::intune_common::patch_policy(w, id, &["priority"]).await?;
        let touched = w.touched();
        if touched.contains("priority") {
            set_priority(w, id).await?;
        }
        if touched.contains("assignments") {
            assign(w, id).await?;
        }
        Ok(())
    })
}

async fn set_priority(w: &Writer<'_>, id: &str) -> Result<(), ExecError> {
    let Some(p) = w.desired()?.props.get("priority").and_then(Value::as_i64).filter(|p| *p > 0) else { return Ok(()) };
    let request = GraphRequest::new(Method::POST, format!("{}/{id}/setPriority", w.base())).json(json!({ "priority": p })).safe_to_retry(true);
    w.execute(&w.api(), request).await?;
    Ok(())
}

/// `/assign` replaces the whole set (`enrollmentConfigurationAssignments`).
async fn assign(w: &Writer<'_>, id: &str) -> Result<(), ExecError> {
    let r = w.desired()?;
    let Some(assignments) = r.props.get("assignments") else { return Ok(()) };
    let filters = if super::filters_named(assignments).is_empty() {
        Vec::new()
    } else {
        w.client().beta().list_all("/deviceManagement/assignmentFilters").await.map_err(fail)?
    };
    let filter_id = |f: &str| super::resolve_filter(&filters, f);
    let body = super::assign_body(assignments, &|a| w.ref_id(a), &filter_id, ASSIGNMENT).map_err(err)?;
    let list = body.get("assignments").cloned().unwrap_or_else(|| json!([]));
    let request = GraphRequest::new(Method::POST, format!("{}/{id}/assign", w.base())).json(json!({ "enrollmentConfigurationAssignments": list })).safe_to_retry(true);
    w.execute(&w.api(), request).await?;
    Ok(())
}

/// Deletes a configuration, never a built-in one (which Intune keeps).
pub(crate) fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let path = format!("{}/{id}", w.base());
        match w.api().get_json(&path).await {
            Ok(live) if is_built_in(&live) => return Err(err(format!("{}: the tenant's built-in configuration is never deleted; declare it again (`default = true`) or remove it from the ledger", w.address()))),
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(fail(e)),
        }
        crate::apply::delete_plain(w, id).await
    })
}

/// Builds one exported TOML table from a live configuration and its
/// snake_case properties.
pub(crate) type BuildFn = dyn Fn(&LiveObject, Map<String, Value>) -> Result<toml::Value, String>;

/// The TOML table of each live configuration of `kind` (built-in ones are
/// not exported: they exist in every tenant), by `build`.
pub(crate) fn export_with(cx: &mut ExportCx, kind: Kind, objects: Vec<&LiveObject>, build: &BuildFn) {
    let mut t = BTreeMap::new();
    for o in objects {
        if o.props.get("priority").and_then(Value::as_i64) == Some(0) {
            continue;
        }
        let result = (|| -> Result<toml::Value, String> {
            let assignments = super::intune_common::assignments(&o.props, &cx.keys)?;
            let tags = super::scope_tag::tags_of(cx, &o.props)?;
            let mut props = o.props.clone();
            for p in ["assignments", "roleScopeTagIds", "@odata.type", "version"] {
                props.remove(p);
            }
            let Value::Object(mut m) = snake(&Value::Object(props.into_iter().collect())) else { return Err("not an object".into()) };
            m.insert("assignments".into(), serde_json::to_value(&assignments).map_err(|e| e.to_string())?);
            if !tags.is_empty() {
                m.insert("scope_tags".into(), json!(tags));
            }
            build(o, m)
        })();
        match result {
            Ok(v) => {
                let a = cx.key(kind, &o.display_name, &o.id);
                t.insert(a.key.clone(), v);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("{kind} {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(kind, "", &t);
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    export_with(cx, Kind::EnrollmentStatusPage, objects, &|_, m| {
        let p: EnrollmentStatusPage = typed(m)?;
        toml::Value::try_from(p).map_err(|e| e.to_string())
    });
}
