//! Security groups, assigned or dynamic (`/groups`). Members and owners are
//! read per group (through `$batch`) only for groups whose membership desired
//! state manages.

use engine::model::reference;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::Group;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{live_props, ref_to, resource, str_field};
use super::registry::{Api, KindProvider};

pub const SELECT: &str = "id,displayName,mailNickname,description,groupTypes,membershipRule,membershipRuleProcessingState,isAssignableToRole,securityEnabled,mailEnabled";

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::Group,
    collection: "/groups",
    api: Api::V1,
    natural_key: Some("mailNickname"),
    desired: |s, m| {
        for (k, d) in &s.group { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "groups.toml",
    export_title: "Security groups",
};

pub fn desired(key: &str, g: &Group, state: &DesiredState) -> DesiredResource {
    let mut p = Props::new();
    p.insert("displayName".into(), json!(g.display_name));
    p.insert("mailNickname".into(), json!(g.mail_nickname));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &g.description {
        p.insert("description".into(), json!(d));
    }
    p.insert("securityEnabled".into(), json!(true));
    p.insert("mailEnabled".into(), json!(false));
    p.insert("isAssignableToRole".into(), json!(g.is_assignable_to_role));
    if let Some(rule) = &g.membership_rule {
        p.insert("groupTypes".into(), json!(["DynamicMembership"]));
        p.insert("membershipRule".into(), json!(rule));
        let state = g.membership_rule_processing_state.map(|s| format!("{s:?}")).unwrap_or_else(|| "On".into());
        p.insert("membershipRuleProcessingState".into(), json!(state));
    } else {
        p.insert("groupTypes".into(), json!([]));
    }
    if let Some(members) = &g.members {
        let refs: Vec<Value> = members.iter().map(|m| ref_to(state, m, &[Kind::User, Kind::Guest, Kind::Group])).collect();
        p.insert("members".into(), Value::Array(refs));
    }
    if let Some(owners) = &g.owners {
        p.insert("owners".into(), Value::Array(owners.iter().map(|o| ref_to(state, o, &[Kind::User])).collect()));
    }
    let mut r = resource(Address::new(Kind::Group, key), g.mail_nickname.to_lowercase(), g.display_name.clone(), p);
    // Graph cannot make an existing group role-assignable, or stop it being one.
    r.immutable = vec!["isAssignableToRole".into()];
    r
}

/// A live group. `members`/`owners` are the object ids read separately,
/// when they were read.
pub fn normalize(raw: &Value, members: Option<&[String]>, owners: Option<&[String]>) -> LiveObject {
    let mut props = live_props(raw, &["members", "owners"]);
    // Graph returns null for groups that are not role-assignable.
    if props.get("isAssignableToRole").is_none_or(Value::is_null) {
        props.insert("isAssignableToRole".into(), json!(false));
    }
    if let Some(m) = members {
        props.insert("members".into(), Value::Array(m.iter().map(reference).collect()));
    }
    if let Some(o) = owners {
        props.insert("owners".into(), Value::Array(o.iter().map(reference).collect()));
    }
    LiveObject {
        kind: Kind::Group,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "mailNickname").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props,
    }
}

/// The POST /groups body (members and owners are added afterwards, one
/// `$ref` each, because they may not be readable yet).
pub fn create_body(r: &DesiredResource) -> Value {
    let mut body = serde_json::Map::new();
    for (k, v) in &r.props {
        if k != "members" && k != "owners" && !v.is_null() {
            body.insert(k.clone(), v.clone());
        }
    }
    Value::Object(body)
}
