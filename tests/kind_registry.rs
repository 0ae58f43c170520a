//! The kind registry is complete in every layer: each `Kind` (from
//! `schema/src/registry.rs`) has its JSON Schema table, its provider, a
//! sandbox collection that serves its provider's path at its Graph version,
//! and a row in the README's generated "Kinds" table naming its collection
//! and the permission Graph documents for writing it.

mod common;

use common::*;
use providers::kinds::registry::{self, Api};
use schema::Kind;

/// The README's kinds table, as the registry and Graph's permission table
/// say it must read.
fn generated_table() -> String {
    let mut out = String::from("| Kind | Graph collection | API | Permission to write |\n|---|---|---|---|\n");
    // A singleton is written with PATCH only.
    let write = |k: Kind| {
        let (method, path) = registry::write_request(k);
        providers::graph::error::permission_for(method, &path).or_else(|| providers::graph::error::permission_for("PATCH", &path))
    };
    assert!(Kind::ALL.iter().all(|k| write(*k).is_some()));
    for kind in Kind::ALL {
        let p = registry::provider(kind);
        let api = match p.api {
            Api::V1 => "v1.0",
            Api::Beta => "beta",
        };
        // The least privileged of the documented permissions that grant it
        // (Graph's table lists it first), with any also required.
        let permission = write(kind).unwrap_or_default();
        let (grant, also) = permission.split_once(" together with ").unwrap_or((&permission, ""));
        let first = grant.split(" or ").next().unwrap_or_default();
        let permission = if also.is_empty() { first.to_string() } else { format!("{first} together with {also}") };
        out.push_str(&format!("| `{kind}` | `{}` | {api} | {permission} |\n", p.collection));
    }
    out
}

fn readme_table() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("<!-- kinds:begin").expect("README has the generated kinds table");
    let end = readme.find("<!-- kinds:end -->").expect("the kinds table ends");
    let block = &readme[start..end];
    block[block.find('\n').map_or(0, |i| i + 1)..].to_string()
}

#[test]
fn the_readme_lists_every_kind_with_its_collection_and_permission() {
    let generated = generated_table();
    assert_eq!(
        readme_table(),
        generated,
        "README.md's kinds table is out of date with the registry; it should read:\n{generated}"
    );
}

#[test]
fn the_readme_says_how_to_add_a_kind() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("### How to add a kind").expect("README has a 'How to add a kind' section");
    let section = &readme[start..];
    for file in ["schema/src/registry.rs", "schema/src/kinds/", "providers/src/kinds/", "sandbox/src/resources.rs"] {
        assert!(section.contains(file), "'How to add a kind' does not name {file}");
    }
}

#[test]
fn every_kind_has_a_json_schema_table() {
    let schema: serde_json::Value = serde_json::from_str(&schema::json_schema()).unwrap();
    for kind in Kind::ALL {
        let table = &schema["properties"][kind.as_str()];
        assert!(table.is_object(), "the JSON Schema has no `{kind}` table");
    }
}

#[test]
fn every_kind_has_a_provider_and_a_sandbox_collection() {
    for kind in Kind::ALL {
        let p = registry::provider(kind);
        assert_eq!(p.kind, kind);
        if kind.never_deleted() || sandbox::tenant_policies::SERVED.contains(&p.collection) {
            // Objects Entra gives (a singleton, one per role) and tenant-wide
            // settings are served by their own sandbox handlers and never created.
            continue;
        }
        let segs: Vec<&str> = p.collection.split('/').filter(|s| !s.is_empty()).collect();
        let spec = sandbox::resources::find(&segs)
            .unwrap_or_else(|| panic!("the sandbox serves no collection at {} ({kind})", p.collection));
        assert_eq!(spec.path, segs.as_slice(), "{kind}: the sandbox's collection is {:?}", spec.path);
        assert!(spec.create.is_some(), "{kind}: the sandbox cannot create in {}", p.collection);
        if spec.beta_only {
            assert_eq!(p.api, Api::Beta, "{kind}: {} exists on beta only", p.collection);
        }
    }
}

#[test]
fn every_declared_kind_becomes_a_desired_resource() {
    let state = example();
    let model = providers::kinds::desired_model(&state);
    for kind in Kind::ALL {
        let declared = state.keys(kind).len();
        if declared == 0 {
            continue;
        }
        let built = model.resources.keys().filter(|a| a.kind == kind).count();
        assert!(built >= declared, "{kind}: {declared} declared, {built} in the desired model");
    }
}

/// What used to be per-kind lists in shared files (the sandbox's spec
/// table and write rules, governance's default sensitivity, the kind
/// count) is now declared in each kind's own module and found through the
/// registry: every kind's collection is a spec one of the kinds' sandbox
/// modules declares (`sandbox::resources::KIND_SPECS`), and governance
/// holds a kind's changes for exactly the reason the kind declares; which
/// kinds' ends only remove access (run unattended) and which undeclared
/// objects are access to end is the kind's `ACCESS`.
#[test]
fn each_kinds_per_layer_facts_are_found_through_the_registry() {
    use engine::plan::{Action, Change};
    use schema::kind_facts::Sensitivity;
    let desired = engine::DesiredModel::default();
    for kind in Kind::ALL {
        // Sandbox: the spec serving the kind's collection is a kind spec.
        let p = registry::provider(kind);
        let segs: Vec<&str> = p.collection.split('/').filter(|s| !s.is_empty()).collect();
        if !(kind.never_deleted() || sandbox::tenant_policies::SERVED.contains(&p.collection)) {
            let spec = sandbox::resources::find(&segs).unwrap_or_else(|| panic!("{kind}: no sandbox collection"));
            assert!(
                sandbox::resources::KIND_SPECS.iter().any(|s| std::ptr::eq(*s, spec)),
                "{kind}: {} is served from resources.rs's general table, not from a kind's sandbox module",
                p.collection
            );
        }
        // Engine: an update of the kind is held for the kind's own reason.
        let change = |action| Change {
            address: schema::Address::new(kind, "x"),
            action,
            display_name: "x".into(),
            id: Some("id".into()),
            reason: String::new(),
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: None,
        };
        let reason = |action| engine::governance::classify(&change(action), &desired, 0);
        match kind.sensitivity() {
            Sensitivity::Always(why) => {
                assert_eq!(reason(Action::Update).as_deref(), Some(why), "{kind}");
                assert_eq!(reason(Action::Create).as_deref(), Some(why), "{kind}");
            }
            Sensitivity::CreateOr(created, changed) => {
                assert_eq!(reason(Action::Create).as_deref(), Some(created), "{kind}");
                assert_eq!(reason(Action::Update).as_deref(), Some(changed), "{kind}");
            }
            Sensitivity::ByRules => {
                // Other rules may hold it (a custom role changes what its
                // holders may do), but never for a reason another kind
                // declares for itself.
                if let Some(why) = reason(Action::Update) {
                    assert!(Kind::ALL.iter().all(|k| k.sensitivity().reason(false) != Some(why.as_str())), "{kind}: {why}");
                }
            }
        }
    }
    // Sensitive kinds the governance rules have always held stay held.
    for kind in [Kind::RoleAssignment, Kind::ConditionalAccess, Kind::GraphObject, Kind::AccessPackage] {
        assert!(matches!(kind.sensitivity(), Sensitivity::Always(_)), "{kind}");
    }
    assert!(matches!(Kind::Guest.sensitivity(), Sensitivity::CreateOr(..)));
    // Engine: which kinds' changes only remove access, and which kinds'
    // undeclared owned objects are ended, is the kind's own fact
    // (`ACCESS`), and governance answers exactly as the kind declares.
    use schema::kind_facts::Access;
    let now: chrono::DateTime<chrono::Utc> = "2027-06-01T00:00:00Z".parse().expect("a time");
    let past = engine::ledger::LedgerEntry { id: "id".into(), applied: None, changed_at: None, expires: Some("2027-03-31T17:00:00Z".into()), service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: None };
    for kind in Kind::ALL {
        let address = schema::Address::new(kind, "x");
        let delete = Change { address: address.clone(), action: Action::Delete, display_name: "x".into(), id: Some("id".into()), reason: String::new(), fields: Vec::new(), waits_on: Vec::new(), wave: 0, desired: None, notes: Vec::new(), live: None };
        let mut live = engine::LiveObject { kind, id: "id".into(), natural_key: "x".into(), display_name: "x".into(), props: Default::default() };
        live.props.insert("accountEnabled".into(), serde_json::Value::Bool(true));
        let removes = engine::governance::removes_access(&delete);
        let ends = engine::governance::undeclared::access_end(&address, &past, &live, now, schema::kinds::governance::GuestExpiryAction::Disable);
        match kind.access() {
            Access::None => {
                assert_eq!(removes, None, "{kind}: its deletes are not access removals");
                assert_eq!(ends, None, "{kind}: an undeclared object is not access to end");
            }
            Access::Grant { noun, .. } => {
                assert_eq!(removes, Some(format!("ends the {noun} {address}")), "{kind}");
                assert!(matches!(ends, Some(engine::governance::undeclared::AccessEnd::Delete(_))), "{kind}: {ends:?}");
            }
            Access::Expiring { noun } => {
                // Deleted only past a declared end; blocked once the
                // recorded end has passed.
                assert_eq!(removes, None, "{kind}");
                let mut block = delete.clone();
                block.action = Action::Update;
                block.fields = vec![engine::diff::FieldChange { field: "accountEnabled".into(), before: Some(serde_json::Value::Bool(true)), after: Some(serde_json::Value::Bool(false)) }];
                assert_eq!(engine::governance::removes_access(&block), Some(format!("blocks sign-in of {noun} {address}")), "{kind}");
                assert!(matches!(ends, Some(engine::governance::undeclared::AccessEnd::Disable(_))), "{kind}: {ends:?}");
            }
        }
    }
    // The kinds whose ends have always run unattended still do.
    for kind in [Kind::RoleAssignment, Kind::IntuneRoleAssignment, Kind::AccessPackageAssignment] {
        assert!(matches!(kind.access(), Access::Grant { .. }), "{kind}");
    }
    assert!(matches!(Kind::Guest.access(), Access::Expiring { .. }));
}

/// `graph_object` refuses every collection a kind manages, and the list it
/// refuses is the kinds' own (`COLLECTIONS` in each kind's schema module,
/// found through the registry), not a list kept beside it: every
/// registered kind's provider collection is among its kind's collections,
/// and a graph_object declared there fails to load, pointing at the kind.
#[test]
fn every_kinds_collection_is_refused_as_a_graph_object_collection() {
    let mut toml = String::new();
    let mut expected = std::collections::BTreeMap::new();
    for kind in Kind::ALL {
        let p = registry::provider(kind);
        if kind == Kind::GraphObject {
            assert!(kind.collections().is_empty(), "graph_object manages no collection of its own");
            continue;
        }
        assert_eq!(kind.collections().first(), Some(&p.collection), "{kind}: its schema module's COLLECTIONS does not start with its provider's collection");
        for (i, collection) in kind.collections().iter().enumerate() {
            assert!(schema::kinds::graph_object::modelled(collection), "{kind}: {collection} is not refused as a graph_object collection");
            assert!(schema::kinds::graph_object::modelled(&format!("{}/", collection.to_uppercase())), "{kind}: {collection} in other case");
            let key = format!("{kind}-{i}").replace('_', "-");
            toml.push_str(&format!(
                "[graph_object.{key}]\ncollection = \"{collection}\"\napi = \"beta\"\nodata_type = \"#microsoft.graph.entity\"\nnatural_key = \"displayName\"\nbody = {{ displayName = \"{key}\" }}\n\n"
            ));
            expected.insert(key, collection.to_string());
        }
    }
    let (_dir, dst) = kind_scratch(&["graph_object"], "graph_object collections", "kinds7-modelled.toml", &toml);
    let d = load_errors(&dst);
    for (key, collection) in &expected {
        let want = format!("graph_object.{key}: {collection} is managed by a tenantctl kind");
        assert!(d.errors().any(|e| e.code == "unknown-collection" && e.message.contains(&want)), "{want}: {d}");
    }
}

/// What apply sends again when it adopts a lost create's leftover by
/// natural key is each kind's own `after_post` (its provider module), not
/// a shared list: for every object the example declares, each property a
/// create writes after its POST (the list apply kept before, plus a
/// guest's blocked sign-in) is in its kind's `after_post`.
#[test]
fn what_an_adoption_sends_again_is_each_kinds_own_after_post() {
    const WRITTEN_AFTER_POST: &[&str] = &["members", "owners", "assignments", "assignedLicenses", "groups", "policies", "policyNames", "priority"];
    let model = providers::kinds::desired_model(&example());
    for (address, r) in &model.resources {
        let after_post = registry::provider(address.kind).after_post;
        for k in WRITTEN_AFTER_POST.iter().filter(|k| r.props.contains_key(**k)) {
            assert!(after_post.contains(k), "{address}: `{k}` is written after the POST but not in its kind's after_post");
        }
        if address.kind == Kind::Guest {
            assert!(after_post.contains(&"accountEnabled"), "a guest's blocked sign-in is written after the invitation");
        }
    }
}
