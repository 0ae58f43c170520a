//! Intune device categories (beta `deviceManagement/deviceCategories`):
//! read, written and exported like the update profiles
//! (`super::update_profile`), but with no assignments.

use engine::{DesiredResource, LiveObject};
use schema::kinds::DeviceCategory;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, Created, KindProvider, Read, BY_DISPLAY_NAME};
use crate::apply::delete_plain;
use super::resource;

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::DeviceCategory,
    collection: "/deviceManagement/deviceCategories",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::ListedReadBack,
    desired: |s, m| {
        for (k, d) in &s.device_category { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "device-categories.toml",
    export_title: "Intune device categories",
    read: Read::Own(|cx| super::update_profile::read_kind(cx, Kind::DeviceCategory)),
    create: super::update_profile::create,
    update: super::update_profile::update,
    delete: delete_plain,
    export: |cx, objects| super::update_profile::export_kind(cx, Kind::DeviceCategory, objects),
    import_paths: &[],
    listings: || vec![super::update_profile::list_path(Kind::DeviceCategory)],
    after_post: &[],
};

pub const ODATA: &str = "#microsoft.graph.deviceCategory";

pub fn desired(key: &str, c: &DeviceCategory, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(ODATA));
    props.insert("displayName".into(), json!(c.display_name));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &c.description {
        props.insert("description".into(), json!(d));
    }
    super::scope_tag::insert_desired(&mut props, state, &c.scope_tags);
    resource(Address::new(Kind::DeviceCategory, key), c.display_name.to_lowercase(), c.display_name.clone(), props)
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut o = super::device_configuration::normalize_policy(raw, Kind::DeviceCategory);
    o.props.remove("assignments");
    o
}

/// A live category as desired state declares it (export).
pub fn export(o: &LiveObject, description: Option<String>, scope_tags: Vec<String>) -> DeviceCategory {
    DeviceCategory { display_name: o.display_name.clone(), description, scope_tags }
}
