//! Microsoft Store (WinGet) apps (beta `deviceAppManagement/mobileApps`,
//! `#microsoft.graph.winGetApp`): created from the package identifier and
//! the install context, which Intune cannot change afterwards (a change
//! replaces the app); what Intune fills in from the Store (icon,
//! manifest, an undeclared description) is not managed. Read, assigned
//! and exported with the other apps (`super::mobile_app`).

use engine::{DesiredResource, LiveObject};
use schema::kinds::winget_app::{InstallExperience, RunAsAccount};
use schema::kinds::WingetApp;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::mobile_app::{self, text};
use super::registry::{Api, Created, KindProvider, Read, BY_DISPLAY_NAME_AND_TYPE};
use super::resource;
use crate::apply::delete_plain;

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::WingetApp,
    collection: mobile_app::COLLECTION,
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME_AND_TYPE),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.winget_app {
            m.insert(desired(k, &d.value, s));
        }
    },
    export_file: "winget-apps.toml",
    export_title: "Microsoft Store (WinGet) apps",
    read: Read::Own(mobile_app::read),
    create: mobile_app::create,
    update: mobile_app::update,
    delete: delete_plain,
    export: export_all,
    import_paths: &[],
    listings: || vec![mobile_app::list_path()],
    after_post: &[],
};

/// The optional text properties, TOML name -> Graph name.
const TEXTS: &[(&str, &str)] = &[
    ("information_url", "informationUrl"),
    ("privacy_information_url", "privacyInformationUrl"),
    ("notes", "notes"),
    ("owner", "owner"),
    ("developer", "developer"),
];

pub fn desired(key: &str, a: &WingetApp, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(mobile_app::WINGET));
    props.insert("displayName".into(), json!(a.display_name));
    props.insert("publisher".into(), json!(a.publisher));
    props.insert("packageIdentifier".into(), json!(a.package_identifier));
    props.insert("installExperience".into(), json!({"runAsAccount": a.install_experience.run_as_account.as_str()}));
    // Undeclared, Intune's (the Store's) values are kept, not managed.
    if let Some(d) = &a.description {
        props.insert("description".into(), json!(d));
    }
    if let Some(b) = a.is_featured {
        props.insert("isFeatured".into(), json!(b));
    }
    let given = [&a.information_url, &a.privacy_information_url, &a.notes, &a.owner, &a.developer];
    for ((_, graph), v) in TEXTS.iter().zip(given) {
        if let Some(v) = v {
            props.insert((*graph).into(), json!(v));
        }
    }
    super::scope_tag::insert_desired(&mut props, state, &a.scope_tags);
    mobile_app::insert_desired(&mut props, state, &a.assignments);
    let mut r = resource(Address::new(Kind::WingetApp, key), a.display_name.to_lowercase(), a.display_name.clone(), props);
    // Graph: "Required at creation time, cannot be modified on existing objects."
    r.immutable = vec!["@odata.type".into(), "packageIdentifier".into(), "installExperience".into()];
    r.assignment_props = mobile_app::assignment_props();
    mobile_app::filter_deps(state, &mut r);
    r
}

/// A live Store app as desired state declares it (export).
pub fn export(o: &LiveObject, scope_tags: Vec<String>, assignments: schema::kinds::mobile_app::AppAssignments) -> Result<WingetApp, String> {
    let p = &o.props;
    let package = text(p, "packageIdentifier").ok_or("it has no packageIdentifier")?;
    let run_as = match p.get("installExperience").and_then(|e| e.get("runAsAccount")).and_then(Value::as_str) {
        Some("system") => RunAsAccount::System,
        Some("user") => RunAsAccount::User,
        other => return Err(format!("its installExperience.runAsAccount is {other:?}")),
    };
    let t = |graph: &str| text(p, graph);
    Ok(WingetApp {
        display_name: o.display_name.clone(),
        package_identifier: package,
        install_experience: InstallExperience { run_as_account: run_as },
        publisher: t("publisher").ok_or("it has no publisher")?,
        description: t("description"),
        is_featured: p.get("isFeatured").and_then(Value::as_bool).filter(|b| *b),
        information_url: t("informationUrl"),
        privacy_information_url: t("privacyInformationUrl"),
        notes: t("notes"),
        owner: t("owner"),
        developer: t("developer"),
        scope_tags,
        assignments,
    })
}

fn export_all(cx: &mut crate::export::ExportCx, objects: Vec<&LiveObject>) {
    let mut t = std::collections::BTreeMap::new();
    for o in objects {
        let result = mobile_app::export_assignments(&o.props, &cx.keys)
            .and_then(|asg| Ok((asg, super::scope_tag::tags_of(cx, &o.props)?)))
            .and_then(|(asg, tags)| export(o, tags, asg));
        match result {
            Ok(v) => {
                let a = cx.key(Kind::WingetApp, &o.display_name, &o.id);
                t.insert(a.key.clone(), v);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("winget_app {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::WingetApp, "", &t);
}
