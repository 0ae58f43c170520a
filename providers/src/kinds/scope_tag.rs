//! Intune scope tags (beta `deviceManagement/roleScopeTags`), assigned to
//! groups with `/assign` (roleScopeTagAutoAssignment); written like the
//! update profiles (`super::update_profile`). Intune's built-in `Default`
//! tag (id `0`) is read but never exported, reported or written.

use engine::{DesiredResource, LiveObject};
use schema::kinds::{Assignments, ScopeTag};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, KindProvider};
use super::{desired_assignments, resource};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::ScopeTag,
    collection: "/deviceManagement/roleScopeTags",
    api: Api::Beta,
    natural_key: Some("displayName"),
    desired: |s, m| {
        for (k, d) in &s.scope_tag { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "scope-tags.toml",
    export_title: "Intune scope tags",
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
