//! Assignments of apps the tenant has but desired state does not declare
//! (`app_assignment`): the app is found by display name when the tenant
//! is read (`super::mobile_app::read`; none or several is refused at
//! plan), and only its assignments are written (`/assign`). Deleting one
//! (no longer declared, pruning on) removes the assignments, never the app.

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject};
use schema::kinds::AppAssignment;
use schema::{Address, DesiredState, Kind};

use super::mobile_app;
use super::registry::{Api, BoxFuture, Created, KindProvider, Read};
use super::resource;
use crate::apply::{err, Writer};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AppAssignment,
    collection: mobile_app::COLLECTION,
    api: Api::Beta,
    // Never created: the app is found when the tenant is read, or refused.
    natural_key: None,
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.app_assignment {
            m.insert(desired(k, &d.value, s));
        }
    },
    export_file: "app-assignments.toml",
    export_title: "Assignments of apps not declared as apps",
    read: Read::With(Kind::WingetApp),
    create,
    update,
    delete,
    export: export_all,
    import_paths: &[],
    listings: Vec::new,
    after_post: &[],
};

pub fn desired(key: &str, a: &AppAssignment, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    mobile_app::insert_desired(&mut props, state, &a.assignments);
    let name = a.app.trim();
    let mut r = resource(Address::new(Kind::AppAssignment, key), name.to_lowercase(), name.to_string(), props);
    r.assignment_props = mobile_app::assignment_props();
    mobile_app::filter_deps(state, &mut r);
    r
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        Err(err(format!("{}: no app named `{}` was found when the tenant was read; app_assignment never creates an app", w.address(), r.display_name)))
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move { mobile_app::assign(w, id).await })
}

/// The assignments tenantctl made are removed (`/assign` with none); the app stays.
fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move { mobile_app::assign_props(w, id, &engine::Props::new()).await })
}

/// On export, every app that is neither a Store app nor Microsoft 365
/// Apps and has assignments: its assignments by its name (an app whose
/// name another app shares is skipped: it could not be found again).
fn export_all(cx: &mut crate::export::ExportCx, objects: Vec<&LiveObject>) {
    let mut names: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for o in &objects {
        *names.entry(o.natural_key.clone()).or_default() += 1;
    }
    let mut t = std::collections::BTreeMap::new();
    for o in objects {
        if names.get(&o.natural_key).copied().unwrap_or(0) > 1 {
            cx.warn(format!("app_assignment {} ({}): another app has the same name: not exported", o.display_name, o.id));
            continue;
        }
        match mobile_app::export_assignments(&o.props, &cx.keys) {
            Ok(assignments) => {
                let a = cx.key(Kind::AppAssignment, &o.display_name, &o.id);
                t.insert(a.key.clone(), AppAssignment { app: o.display_name.clone(), assignments });
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("app_assignment {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::AppAssignment, "", &t);
}
