//! What the Windows update profile kinds share (feature, quality and
//! driver update profiles: each its own beta collection under
//! `deviceManagement`, assigned with `/assign`): their read, with
//! assignments through `$expand` and filter names, their normalized live
//! shape, and their export. Each kind's own module says what is
//! particular to it. Scope tags (`super::scope_tag`) are read, written and
//! exported the same way, so they are [`ASSIGNED`] here too.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::LiveObject;
use schema::kinds::Assignments;
use schema::Kind;
use serde_json::{json, Value};

use crate::apply::{err, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphClient, GraphError};
use crate::observe::{ReadCx, Readout};

use super::intune_common::{assign_if_touched, assignments, create_policy, patch_policy};
use super::registry::{provider, BoxFuture, NaturalKey, BY_DISPLAY_NAME};
use super::{annotate_filter_names, device_configuration, str_field, uses_filters};

/// The update profile kinds, in registry order.
pub const KINDS: [Kind; 3] = [Kind::FeatureUpdateProfile, Kind::QualityUpdateProfile, Kind::DriverUpdateProfile];
/// Every kind read and exported through this module: scope tags, device
/// categories (which have no assignments) and the update profiles, in
/// registry order.
pub const ASSIGNED: [Kind; 5] = [Kind::ScopeTag, Kind::DeviceCategory, Kind::FeatureUpdateProfile, Kind::QualityUpdateProfile, Kind::DriverUpdateProfile];

/// The `@odata.type` of `kind`'s objects and of its assignments.
pub fn odata_types(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::QualityUpdateProfile => ("#microsoft.graph.windowsQualityUpdateProfile", "#microsoft.graph.windowsQualityUpdateProfileAssignment"),
        Kind::DriverUpdateProfile => ("#microsoft.graph.windowsDriverUpdateProfile", "#microsoft.graph.windowsDriverUpdateProfileAssignment"),
        Kind::ScopeTag => (super::scope_tag::ODATA, super::scope_tag::ASSIGNMENT),
        Kind::DeviceCategory => (super::device_category::ODATA, ""),
        _ => ("#microsoft.graph.windowsFeatureUpdateProfile", "#microsoft.graph.windowsFeatureUpdateProfileAssignment"),
    }
}

/// The `@odata.type` of `kind`'s assignments (for `/assign`).
pub fn assignment_type(kind: Kind) -> &'static str {
    odata_types(kind).1
}

/// A date and time as one spelling (`2026-11-10T00:00:00Z`), so desired
/// state and Graph's answer (which may carry fractions or an offset)
/// compare equal; anything else is kept as it is.
pub fn utc(v: &Value) -> Value {
    match v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) {
        Some(t) => json!(t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        None => v.clone(),
    }
}

/// A live profile, normalized: assignments as every Intune policy's,
/// scope tags kept (managed when declared), the server's read-only
/// reporting properties (`read_only`) dropped, and the listed nested
/// objects without nulls, their `dates` in one spelling.
pub fn normalize(raw: &Value, kind: Kind, read_only: &[&str], nested: &[(&str, &[&str])]) -> LiveObject {
    let mut o = device_configuration::normalize_policy(raw, kind);
    for p in read_only {
        o.props.remove(*p);
    }
    for (name, dates) in nested {
        if let Some(Value::Object(m)) = o.props.get_mut(*name) {
            m.retain(|k, v| !v.is_null() && !k.starts_with('@'));
            for d in *dates {
                if let Some(v) = m.get_mut(*d) {
                    *v = utc(v);
                }
            }
        }
    }
    o
}

/// The listing `kind`'s read starts with (`KindProvider::listings`).
pub(crate) fn list_path(kind: Kind) -> String {
    // Device categories have no assignments to expand.
    let expand = if kind == Kind::DeviceCategory { "" } else { "$expand=assignments&" };
    format!("{}?{expand}$top=999", provider(kind).collection)
}

/// Every profile of `kind`, with assignments (and the names of the
/// filters they use), and their `lastModifiedDateTime` by id (the
/// rollout soak).
pub async fn read(client: &GraphClient, kind: Kind, normalize: fn(&Value) -> LiveObject) -> Result<(Vec<LiveObject>, Vec<(String, String)>), GraphError> {
    let beta = client.beta();
    let mut raw = beta.list_all(&list_path(kind)).await?;
    if uses_filters(&raw) {
        let filters = beta.list_all("/deviceManagement/assignmentFilters").await?;
        annotate_filter_names(&mut raw, &filters);
    }
    let modified = raw
        .iter()
        .filter_map(|p| p.get("lastModifiedDateTime").and_then(Value::as_str).map(|t| (str_field(p, "id").to_string(), t.to_string())))
        .collect();
    Ok((raw.iter().map(normalize).collect(), modified))
}

/// Each kind's normalize.
fn normalizer(kind: Kind) -> fn(&Value) -> LiveObject {
    match kind {
        Kind::QualityUpdateProfile => super::quality_update_profile::normalize,
        Kind::DriverUpdateProfile => super::driver_update_profile::normalize,
        Kind::ScopeTag => super::scope_tag::normalize,
        Kind::DeviceCategory => super::device_category::normalize,
        _ => super::feature_update_profile::normalize,
    }
}

/// A kind of [`ASSIGNED`]'s read (`KindProvider::read`), with its
/// profiles' modification times for the rollout soak.
pub(crate) fn read_kind<'a>(cx: &'a ReadCx<'a>, kind: Kind) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let (objects, modified) = read(cx.client, kind, normalizer(kind)).await?;
        if let Ok(mut m) = cx.modified.lock() {
            m.extend(modified);
        }
        Ok(objects.into())
    })
}

/// POST the object with its scope tags as ids; the kinds with
/// assignments are then `/assign`ed once readable.
pub(crate) fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let kind = w.address().kind;
        let body = super::scope_tag::write_body(w.desired()?, &[], &|a| w.ref_id(a)).map_err(err)?;
        if kind == Kind::DeviceCategory {
            return w.post_new(w.base(), body).await;
        }
        create_policy(w, body, assignment_type(kind)).await
    })
}

/// PATCH what changed (scope tags as ids, with `@odata.type`); `/assign`
/// if assignments did.
pub(crate) fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        patch_policy(w, id, &[]).await?;
        let kind = w.address().kind;
        if kind == Kind::DeviceCategory {
            return Ok(());
        }
        assign_if_touched(w, id, assignment_type(kind)).await
    })
}

/// A kind of [`ASSIGNED`]'s export (`KindProvider::export`): each object
/// with its assignments and scope tags by key.
pub(crate) fn export_kind(cx: &mut ExportCx, kind: Kind, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let asg = if kind == Kind::DeviceCategory { Ok(Assignments::default()) } else { assignments(&o.props, &cx.keys) };
        let result = asg.and_then(|asg| {
            // Scope tags carry no scope tags of their own.
            let tags = if kind == Kind::ScopeTag { Vec::new() } else { super::scope_tag::tags_of(cx, &o.props)? };
            export(kind, o, asg, tags)
        });
        match result {
            Ok(None) => {}
            Ok(Some(v)) => {
                let a = cx.key(kind, &o.display_name, &o.id);
                t.insert(a.key.clone(), v);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("{kind} {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(kind, "", &t);
}

/// The desired form of a live object of a kind of [`ASSIGNED`] for
/// export, its assignments already in desired state's form: its kind's
/// TOML table, or None for what is not exported (the built-in scope tag).
pub fn export(kind: Kind, o: &LiveObject, assignments: Assignments, tags: Vec<String>) -> Result<Option<toml::Value>, String> {
    let props = &o.props;
    let text = |k: &str| props.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let to_toml = |v: Result<toml::Value, toml::ser::Error>| v.map(Some).map_err(|e| e.to_string());
    match kind {
        Kind::DeviceCategory => to_toml(toml::Value::try_from(super::device_category::export(o, text("description"), tags))),
        Kind::ScopeTag => match super::scope_tag::export(o, text("description"), assignments) {
            Some(t) => to_toml(toml::Value::try_from(t)),
            None => Ok(None),
        },
        Kind::FeatureUpdateProfile => to_toml(toml::Value::try_from(super::feature_update_profile::export(o, text("description"), tags, assignments)?)),
        Kind::QualityUpdateProfile => to_toml(toml::Value::try_from(super::quality_update_profile::export(o, text("description"), tags, assignments)?)),
        Kind::DriverUpdateProfile => to_toml(toml::Value::try_from(super::driver_update_profile::export(o, text("description"), tags, assignments)?)),
        other => Err(format!("{other} is not a Windows update profile kind")),
    }
}

/// A date from a live nested object, parsed.
pub fn live_date(v: Option<&Value>) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    match v.filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => {
            let s = v.as_str().ok_or_else(|| format!("{v} is not a date"))?;
            schema::datetime::parse(s).map(Some)
        }
    }
}

/// Found by `displayName`, the collection listed whole: the Windows update
/// profile collections refuse `$filter` ("Query option 'Filter' is not
/// allowed": microsoftgraph/microsoft-graph-docs#21581, Microsoft365DSC#4597).
pub const BY_DISPLAY_NAME_UNFILTERED: NaturalKey = NaturalKey {
    filter: |r| (String::new(), r.props.get("displayName").and_then(Value::as_str).unwrap_or_default().to_lowercase()),
    ..BY_DISPLAY_NAME
};
