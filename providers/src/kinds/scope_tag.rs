//! Intune scope tags (beta `deviceManagement/roleScopeTags`), assigned to
//! groups with `/assign` (roleScopeTagAutoAssignment); written like the
//! update profiles (`super::update_profile`). Intune's built-in `Default`
//! tag (id `0`) is read but never exported, reported or written.

use engine::{DesiredResource, LiveObject};
use schema::kinds::{Assignments, ScopeTag};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, Created, KindProvider, Read, BY_DISPLAY_NAME};
use crate::apply::delete_plain;
use super::{desired_assignments, resource};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::ScopeTag,
    collection: "/deviceManagement/roleScopeTags",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::ListedReadBack,
    desired: |s, m| {
        for (k, d) in &s.scope_tag { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "scope-tags.toml",
    export_title: "Intune scope tags",
    read: Read::Own(|cx| super::update_profile::read_kind(cx, Kind::ScopeTag)),
    create: super::update_profile::create,
    update: super::update_profile::update,
    delete: delete_plain,
    export: |cx, objects| super::update_profile::export_kind(cx, Kind::ScopeTag, objects),
    import_paths: &[],
    listings: || vec![super::update_profile::list_path(Kind::ScopeTag)],
    after_post: &["assignments"],
};

pub const ODATA: &str = "#microsoft.graph.roleScopeTag";
pub const ASSIGNMENT: &str = "#microsoft.graph.roleScopeTagAutoAssignment";

pub fn desired(key: &str, t: &ScopeTag, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(ODATA));
    props.insert("displayName".into(), json!(t.display_name));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &t.description {
        props.insert("description".into(), json!(d));
    }
    props.insert("assignments".into(), desired_assignments(state, &t.assignments));
    let mut r = resource(Address::new(Kind::ScopeTag, key), t.display_name.to_lowercase(), t.display_name.clone(), props);
    r.assignment_props = vec!["assignments".into()];
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    super::device_configuration::normalize_policy(raw, Kind::ScopeTag)
}

/// Whether a live tag is Intune's built-in one.
pub fn is_built_in(o: &LiveObject) -> bool {
    o.props.get("isBuiltIn") == Some(&Value::Bool(true)) || o.id == schema::kinds::scope_tag::DEFAULT_TAG_ID
}

/// A live tag as desired state declares it (export); None for the built-in one.
pub fn export(o: &LiveObject, description: Option<String>, assignments: Assignments) -> Option<ScopeTag> {
    (!is_built_in(o)).then(|| ScopeTag { display_name: o.display_name.clone(), description, assignments })
}

/// Whether a `scope_tags` entry names Intune's built-in tag.
pub fn is_default(tag: &str) -> bool {
    tag.eq_ignore_ascii_case("default") || tag == schema::kinds::scope_tag::DEFAULT_TAG_ID
}

/// Puts a policy's declared `scope_tags` in its props as `roleScopeTagIds`:
/// references to declared tags (resolved to ids when written), `id:0` for
/// the built-in one. Undeclared tags are not managed (nothing is put).
pub fn insert_desired(props: &mut engine::Props, state: &DesiredState, tags: &[String]) {
    if tags.is_empty() {
        return;
    }
    let refs = tags
        .iter()
        .map(|t| if is_default(t) { engine::model::reference(format!("id:{}", schema::kinds::scope_tag::DEFAULT_TAG_ID)) } else { super::ref_to(state, t, &[Kind::ScopeTag]) })
        .collect();
    props.insert("roleScopeTagIds".into(), Value::Array(refs));
}

/// A live object's `roleScopeTagIds` as references (so they compare with
/// declared tags by id), if it has them.
pub fn live(raw: &Value) -> Option<Value> {
    let ids = raw.get("roleScopeTagIds")?.as_array()?;
    Some(Value::Array(ids.iter().filter_map(Value::as_str).map(engine::model::reference).collect()))
}

/// An Intune policy's create body (`device_configuration::write_body`)
/// with its scope tags as ids.
pub fn write_body(r: &DesiredResource, skip: &[&str], ids: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    let mut body = super::device_configuration::write_body(r, skip);
    if let Some(Value::Array(tags)) = body.get_mut("roleScopeTagIds") {
        resolve_list(tags, ids)?;
    }
    Ok(body)
}

/// Replaces the references in a PATCH body's `roleScopeTagIds` by tag ids.
pub fn resolve(body: &mut engine::Props, ids: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    match body.get_mut("roleScopeTagIds") {
        Some(Value::Array(tags)) => resolve_list(tags, ids),
        _ => Ok(()),
    }
}

fn resolve_list(tags: &mut [Value], ids: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    for t in tags.iter_mut() {
        if let Some(r) = engine::model::as_reference(t).map(str::to_string) {
            *t = json!(ids(&r).ok_or_else(|| format!("{r} has no object id yet"))?);
        }
    }
    Ok(())
}

/// A live object's tags as desired state declares them (keys of the scope
/// tags exported so far: tags export before the kinds that name them).
pub(crate) fn tags_of(cx: &crate::export::ExportCx, props: &engine::Props) -> Result<Vec<String>, String> {
    export_tags(props, &|id| cx.keys.key_of(id).filter(|a| a.kind == Kind::ScopeTag).map(|a| a.key.clone()))
}

/// A live policy's tags as desired state declares them: keys of exported
/// tags (`key_of` an id), `default` for the built-in one, and nothing when
/// the built-in tag is the only one (what Intune sets by itself).
pub fn export_tags(props: &engine::Props, key_of: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, String> {
    let ids: Vec<&str> = props.get("roleScopeTagIds").and_then(Value::as_array).into_iter().flatten().filter_map(engine::model::as_reference).collect();
    if ids.iter().all(|id| *id == schema::kinds::scope_tag::DEFAULT_TAG_ID) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for id in ids {
        if id == schema::kinds::scope_tag::DEFAULT_TAG_ID {
            out.push("default".to_string());
        } else {
            out.push(key_of(id).ok_or_else(|| format!("has scope tag {id}, which is not exported"))?);
        }
    }
    out.sort();
    Ok(out)
}
