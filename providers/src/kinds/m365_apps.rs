//! Microsoft 365 Apps (beta `deviceAppManagement/mobileApps`,
//! `#microsoft.graph.officeSuiteApp`): products, excluded apps, update
//! channel, architecture, languages; assigned and exported with the other
//! apps (`super::mobile_app`). Declared fields are managed; the rest of
//! what Intune sets (its defaults) is left alone.

use std::collections::BTreeMap;

use engine::{DesiredResource, LiveObject};
use schema::kinds::M365Apps;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::mobile_app::{self, text};
use super::registry::{Api, Created, KindProvider, Read, BY_DISPLAY_NAME_AND_TYPE};
use super::resource;
use crate::apply::delete_plain;

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::M365Apps,
    collection: mobile_app::COLLECTION,
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME_AND_TYPE),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.m365_apps {
            m.insert(desired(k, &d.value, s));
        }
    },
    export_file: "m365-apps.toml",
    export_title: "Microsoft 365 Apps",
    read: Read::With(Kind::WingetApp),
    create: mobile_app::create,
    update: mobile_app::update,
    delete: delete_plain,
    export: export_all,
    import_paths: &[],
    listings: Vec::new,
    after_post: &[],
};

pub fn desired(key: &str, a: &M365Apps, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(mobile_app::OFFICE));
    props.insert("displayName".into(), json!(a.display_name));
    props.insert("publisher".into(), json!(a.publisher));
    let mut products = a.product_ids.clone();
    products.sort();
    props.insert("productIds".into(), json!(products));
    if let Some(d) = &a.description {
        props.insert("description".into(), json!(d));
    }
    if !a.excluded_apps.is_empty() {
        props.insert("excludedApps".into(), excluded_apps(&a.excluded_apps));
    }
    if !a.locales_to_install.is_empty() {
        let mut l: Vec<String> = a.locales_to_install.iter().map(|x| x.to_lowercase()).collect();
        l.sort();
        props.insert("localesToInstall".into(), json!(l));
    }
    for (graph, v) in [
        ("updateChannel", &a.update_channel),
        ("officePlatformArchitecture", &a.office_platform_architecture),
        ("installProgressDisplayLevel", &a.install_progress_display_level),
        ("targetVersion", &a.target_version),
        ("updateVersion", &a.update_version),
        ("officeSuiteAppDefaultFileFormat", &a.office_suite_app_default_file_format),
    ] {
        if let Some(v) = v {
            props.insert(graph.into(), json!(v));
        }
    }
    for (graph, v) in [
        ("useSharedComputerActivation", a.use_shared_computer_activation),
        ("autoAcceptEula", a.auto_accept_eula),
        ("shouldUninstallOlderVersionsOfOffice", a.should_uninstall_older_versions_of_office),
    ] {
        if let Some(v) = v {
            props.insert(graph.into(), json!(v));
        }
    }
    super::scope_tag::insert_desired(&mut props, state, &a.scope_tags);
    mobile_app::insert_desired(&mut props, state, &a.assignments);
    let mut r = resource(Address::new(Kind::M365Apps, key), a.display_name.to_lowercase(), a.display_name.clone(), props);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = mobile_app::assignment_props();
    mobile_app::filter_deps(state, &mut r);
    r
}

/// Declared excluded apps as the whole complex value Graph holds (and
/// answers with): every app excludedApps names, those not declared `true`
/// as `false`, so a live value compares equal however many apps Graph
/// lists, and a PATCH (which replaces the value) says them all.
fn excluded_apps(declared: &BTreeMap<String, bool>) -> Value {
    let mut all: serde_json::Map<String, Value> = graph_metadata::metadata()
        .properties("excludedApps", true)
        .into_keys()
        .filter(|k| !k.starts_with('@'))
        .map(|k| (k.to_string(), json!(false)))
        .collect();
    for (k, v) in declared {
        all.insert(k.clone(), json!(v));
    }
    Value::Object(all)
}

/// A live app normalized: product ids and locales as sets (sorted, locales
/// lowercased), excluded apps without the ones left in (false), so they
/// compare with desired state.
pub fn tidy(o: &mut LiveObject) {
    for k in ["productIds", "localesToInstall"] {
        if let Some(Value::Array(a)) = o.props.get_mut(k) {
            if k == "localesToInstall" {
                for x in a.iter_mut() {
                    if let Some(s) = x.as_str() {
                        *x = json!(s.to_lowercase());
                    }
                }
            }
            a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
        }
    }
}

/// A live Microsoft 365 Apps as desired state declares it (export).
pub fn export(o: &LiveObject, scope_tags: Vec<String>, assignments: schema::kinds::mobile_app::AppAssignments) -> Result<M365Apps, String> {
    let p = &o.props;
    let t = |graph: &str| text(p, graph);
    let strings = |k: &str| -> Vec<String> { p.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect() };
    // The apps left out (Graph lists every app, false for those kept).
    let excluded: BTreeMap<String, bool> = p.get("excludedApps").and_then(Value::as_object).into_iter().flatten().filter(|(_, v)| v.as_bool() == Some(true)).map(|(k, _)| (k.clone(), true)).collect();
    Ok(M365Apps {
        display_name: o.display_name.clone(),
        publisher: t("publisher").ok_or("it has no publisher")?,
        description: t("description"),
        product_ids: strings("productIds"),
        excluded_apps: excluded,
        update_channel: t("updateChannel"),
        office_platform_architecture: t("officePlatformArchitecture"),
        locales_to_install: strings("localesToInstall"),
        use_shared_computer_activation: p.get("useSharedComputerActivation").and_then(Value::as_bool),
        auto_accept_eula: p.get("autoAcceptEula").and_then(Value::as_bool),
        should_uninstall_older_versions_of_office: p.get("shouldUninstallOlderVersionsOfOffice").and_then(Value::as_bool),
        install_progress_display_level: t("installProgressDisplayLevel"),
        target_version: t("targetVersion"),
        update_version: t("updateVersion"),
        office_suite_app_default_file_format: t("officeSuiteAppDefaultFileFormat"),
        scope_tags,
        assignments,
    })
}

fn export_all(cx: &mut crate::export::ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let result = mobile_app::export_assignments(&o.props, &cx.keys)
            .and_then(|asg| Ok((asg, super::scope_tag::tags_of(cx, &o.props)?)))
            .and_then(|(asg, tags)| export(o, tags, asg));
        match result {
            Ok(v) => {
                let a = cx.key(Kind::M365Apps, &o.display_name, &o.id);
                t.insert(a.key.clone(), v);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("m365_apps {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::M365Apps, "", &t);
}
