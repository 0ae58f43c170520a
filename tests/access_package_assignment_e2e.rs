//! The `access_package_assignment` kind, through the example tenant's
//! auditor, who holds the Fabrikam audit package until the audit ends:
//! created through an `adminAdd` request, its expiry changed through
//! `adminUpdate`, exported and planned empty, ended through `adminRemove`
//! when no longer declared. A create whose answer was lost is adopted,
//! never requested twice; one still being delivered is unknown, never in
//! sync. Granting or extending is sensitive, ending or shortening is not
//! (and runs without approvals through the binary). Validation errors are
//! located; the sandbox refuses what Graph refuses, including entitlement
//! management on a tenant without Entra ID P2.

mod common;

use common::gov::{converged, edit_file, graph, ledger_of, run};
use common::kind::*;
use common::*;
use engine::{Action, Ledger};
use sandbox::{Licences, Sandbox, SandboxConfig};
use serde_json::{json, Value};

const EM: &str = "/identityGovernance/entitlementManagement";
const FILE: &str = "access-package-assignments.toml";
const ADDRESS: &str = "access_package_assignment.fabrikam-auditor";
const END: &str = "2027-03-31T17:00:00Z";

/// The example in a scratch directory, unattended, its assignments
/// sensitive (its assignment file written back as it is).
fn scratch() -> (tempfile::TempDir, std::path::PathBuf) {
    let text = std::fs::read_to_string(example_dir().join(FILE)).expect("the example declares assignments");
    kind_scratch(&["access_package_assignment"], "the access package assignment kind", FILE, &text)
}

/// The tenant's assignments that hold access (not ended).
async fn live_assignments(c: &providers::graph::GraphClient) -> Vec<Value> {
    let all = c.v1().list_all(&format!("{EM}/assignments?$expand=target,accessPackage,assignmentPolicy")).await.expect("assignments");
    all.into_iter().filter(|a| a["state"] != json!("expired")).collect()
}

/// Why each change is sensitive (none: applied unattended).
fn sensitive(p: &engine::Plan, state: &schema::DesiredState) -> std::collections::BTreeMap<String, String> {
    let desired = providers::kinds::desired_model(state);
    engine::governance::sensitivity(&p.changes, &desired).into_iter().map(|(a, why)| (a.to_string(), why)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_is_created_extended_shortened_exported_and_ended() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_scratch, dir) = scratch();
    let mut ledger = Ledger::default();

    // Create: after its package and its guest; sensitive, with what the
    // approvers need to read.
    let state = load_ok(&dir);
    let p = plan(&c, &state, &ledger).await;
    let ch = changes_of(&p, ADDRESS);
    assert_eq!((ch.len(), ch[0].action), (1, Action::Create), "{:#?}", p.changes);
    let waits: Vec<String> = ch[0].waits_on.iter().map(|a| a.to_string()).collect();
    assert!(waits.contains(&"access_package.fabrikam-audit".to_string()) && waits.contains(&"guest.fabrikam-auditor".to_string()), "{waits:?}");
    assert!(ch[0].notes.iter().any(|n| n.contains("assigns access_package.fabrikam-audit to guest.fabrikam-auditor through policy `fabrikam auditors` until 2027-03-31T17:00:00Z")), "{:?}", ch[0].notes);
    assert!(sensitive(&p, &state).get(ADDRESS).is_some_and(|w| w.contains("grants the package's access")), "{:?}", sensitive(&p, &state));
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, ADDRESS);
    let (guest, package) = (id_of(&ledger, "guest.fabrikam-auditor"), id_of(&ledger, "access_package.fabrikam-audit"));
    let live = live_assignments(&c).await;
    assert_eq!(live.len(), 1, "{live:#?}");
    assert_eq!((live[0]["id"].clone(), live[0]["state"].clone()), (json!(id), json!("delivered")));
    assert_eq!((live[0]["target"]["objectId"].clone(), live[0]["accessPackage"]["id"].clone()), (json!(guest), json!(package)));
    assert_eq!(live[0]["schedule"]["expiration"]["endDateTime"], json!(END));
    assert_eq!(live[0]["assignmentPolicy"]["displayName"], json!("Fabrikam auditors"));
    let start = live[0]["schedule"]["startDateTime"].clone();
    assert!(start.is_string(), "{live:#?}");
    assert!(plan(&c, &load_ok(&dir), &ledger).await.changes.is_empty(), "converged");

    // Shorten: an update of the expiry alone (adminUpdate), which only
    // removes access: not sensitive.
    edit_file(&dir, FILE, |t| t.replace(&format!("expires = {END}"), "expires = 2027-02-26T17:00:00Z"));
    let state = load_ok(&dir);
    let p = plan(&c, &state, &ledger).await;
    let ch = changes_of(&p, ADDRESS);
    assert_eq!((ch.len(), ch[0].action, fields(ch[0])), (1, Action::Update, vec!["expires"]), "{:#?}", p.changes);
    assert_eq!(sensitive(&p, &state).get(ADDRESS), None, "shortening access is not held");
    apply(&c, &p, &mut ledger).await;
    assert_eq!(id_of(&ledger, ADDRESS), id, "updated in place");
    assert_eq!(live_assignments(&c).await[0]["schedule"]["expiration"]["endDateTime"], json!("2027-02-26T17:00:00Z"));
    assert_eq!(live_assignments(&c).await[0]["schedule"]["startDateTime"], start, "an update keeps the assignment's own start");
    assert!(plan(&c, &load_ok(&dir), &ledger).await.changes.is_empty(), "converged after shortening");

    // Extend back: sensitive (adds access).
    edit_file(&dir, FILE, |t| t.replace("expires = 2027-02-26T17:00:00Z", &format!("expires = {END}")));
    let state = load_ok(&dir);
    let p = plan(&c, &state, &ledger).await;
    assert!(sensitive(&p, &state).get(ADDRESS).is_some_and(|w| w.contains("extends")), "{:?}", sensitive(&p, &state));
    apply(&c, &p, &mut ledger).await;
    assert_eq!(live_assignments(&c).await[0]["schedule"]["expiration"]["endDateTime"], json!(END));

    // Export: by key, naming the exported package, policy and guest; the
    // export plans empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = load_ok(&out);
    let a = exported.access_package_assignment.values().next().expect("the assignment is exported");
    let pkg = exported.access_package.iter().find(|(_, d)| d.value.display_name == "Fabrikam audit").map(|(k, _)| k.clone()).expect("its package is exported");
    assert_eq!((&a.value.package, a.value.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).as_str()), (&pkg, END));
    assert!(exported.access_package[pkg.as_str()].value.policies.contains_key(&a.value.policy), "{} names a policy of its package", a.value.policy);
    assert!(a.value.target.starts_with("guest."), "{}", a.value.target);
    assert_export_replans_empty(&c, &tmp, &out).await;

    // Ended: no longer declared, the ledger's assignment is removed
    // (adminRemove), whatever pruning says, and without approval.
    std::fs::remove_file(dir.join(FILE)).expect("removed");
    let state = load_ok(&dir);
    let p = plan(&c, &state, &ledger).await;
    let ch = changes_of(&p, ADDRESS);
    assert_eq!((ch.len(), ch[0].action), (1, Action::Delete), "{:#?}", p.changes);
    assert_eq!(sensitive(&p, &state).get(ADDRESS), None, "ending access is not held");
    // It ends in the portal between plan and apply: the apply's removal
    // finds it ended and is done (Graph answers such a request with an
    // error, not a 404).
    let remove = json!({"requestType": "adminRemove", "assignment": {"id": id}});
    c.v1().post_json("/identityGovernance/entitlementManagement/assignmentRequests", remove.clone()).await.expect("ended out of band");
    assert!(c.v1().post_json("/identityGovernance/entitlementManagement/assignmentRequests", remove).await.is_err_and(|e| !e.is_not_found()));
    apply(&c, &p, &mut ledger).await;
    assert!(live_assignments(&c).await.is_empty(), "ended in the tenant");
    assert!(plan(&c, &load_ok(&dir), &ledger).await.changes.is_empty(), "an ended assignment is not read");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_is_adopted_and_a_delivery_in_progress_is_never_requested_again() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_scratch, dir) = scratch();
    let held = std::fs::read_to_string(dir.join(FILE)).expect("the example declares the assignment");
    std::fs::remove_file(dir.join(FILE)).expect("removed");
    let mut ledger = Ledger::default();
    apply(&c, &plan(&c, &load_ok(&dir), &ledger).await, &mut ledger).await;
    std::fs::write(dir.join(FILE), held).expect("declared again");
    let stale = plan(&c, &load_ok(&dir), &ledger).await;
    assert_eq!(changes_of(&stale, ADDRESS)[0].action, Action::Create);

    // A previous run's request reached Graph, but its answer was lost: the
    // assignment exists, the ledger does not know it.
    let (guest, package) = (id_of(&ledger, "guest.fabrikam-auditor"), id_of(&ledger, "access_package.fabrikam-audit"));
    let policies = c.v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    let policy = policies.iter().find(|p| p["accessPackage"]["id"] == json!(package)).and_then(|p| p["id"].as_str()).expect("the package's policy").to_string();
    let add = json!({"requestType": "adminAdd", "assignment": {"targetId": guest, "assignmentPolicyId": policy, "accessPackageId": package}, "schedule": {"expiration": {"type": "afterDateTime", "endDateTime": END}}});
    graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/assignmentRequests"), Some(add)).await;
    let before = live_assignments(&c).await;
    assert_eq!(before.len(), 1);

    // Applying the stale plan adopts it; nothing is requested twice.
    apply(&c, &stale, &mut ledger).await;
    assert_eq!(id_of(&ledger, ADDRESS), before[0]["id"].as_str().expect("an id"), "adopted");
    assert_eq!(live_assignments(&c).await.len(), 1, "one assignment");
    assert!(plan(&c, &load_ok(&dir), &ledger).await.changes.is_empty(), "converged");

    // Still being delivered: unknown, not in sync and not requested again,
    // whether or not the ledger holds it.
    let id = id_of(&ledger, ADDRESS);
    patch_out_of_band(&sb, "accessPackageAssignments", &id, json!({"state": "delivering", "status": "Delivering"})).await;
    for ledger in [ledger.clone(), { let mut l = ledger.clone(); l.resources.remove(&ADDRESS.parse().expect("an address")); l }] {
        let p = plan(&c, &load_ok(&dir), &ledger).await;
        assert!(changes_of(&p, ADDRESS).is_empty(), "{:#?}", p.changes);
        let u = p.unknown.iter().find(|u| u.address.to_string() == ADDRESS).unwrap_or_else(|| panic!("unknown: {:#?}", p.unknown));
        assert!(u.reason.contains("still being delivered"), "{}", u.reason);
    }
    sb.shutdown().await.expect("the sandbox stops");
}

const BAD: &str = r#"
[user.ann]
user_principal_name = "ann@contoso.onmicrosoft.com"
display_name = "Ann"
mail_nickname = "ann"

[access_package_assignment.svc]
package = "fabrikam-audit"
policy = "external"
target = "msadmin"
expires = 2027-03-01T00:00:00Z

[access_package_assignment.long]
package = "fabrikam-audit"
policy = "external"
target = "fabrikam-auditor"
expires = 2027-09-01T00:00:00Z

[access_package_assignment.member]
package = "fabrikam-audit"
policy = "external"
target = "ann"
expires = 2027-03-01T00:00:00Z

[access_package_assignment.typo]
package = "fabrikam-audit"
policy = "externel"
target = "ann"
expires = 2027-03-01T00:00:00Z
"#;

#[test]
fn validation_errors_are_located() {
    let (_scratch, dir) = kind_scratch(&["access_package_assignment"], "the access package assignment kind", "bad-assignments.toml", BAD);
    let d = load_errors(&dir);
    // A service account is never a target (and msadmin is no external user).
    assert_error_at(&d, "bad-assignments.toml", "service-account-access-package", 10);
    // Beyond the policy's end (the audit ends 2027-03-31).
    assert_error_at(&d, "bad-assignments.toml", "assignment-beyond-policy", 17);
    // A member user through a policy for external users.
    assert_error_at(&d, "bad-assignments.toml", "target-outside-policy", 22);
    // A policy the package does not have, with a suggestion.
    assert_error_at(&d, "bad-assignments.toml", "unknown-reference", 27);
    assert!(d.to_string().contains("did you mean `external`?"), "{d}");
    // One assignment per package and target: a second for the auditor
    // (reported at the one that comes second by key, the example's).
    let dup = "[access_package_assignment.again]\npackage = \"fabrikam-audit\"\npolicy = \"external\"\ntarget = \"fabrikam-auditor\"\nexpires = 2027-03-01T00:00:00Z\n";
    let (_scratch, dir) = kind_scratch(&["access_package_assignment"], "the access package assignment kind", "dup.toml", dup);
    assert_error_at(&load_errors(&dir), FILE, "duplicate-natural-key", 10);
    // No standing access: `expires` is required.
    let open = "[access_package_assignment.open]\npackage = \"fabrikam-audit\"\npolicy = \"external\"\ntarget = \"fabrikam-auditor\"\n";
    let (_scratch, dir) = kind_scratch(&["access_package_assignment"], "the access package assignment kind", "open.toml", open);
    let e = load_errors(&dir).to_string();
    assert!(e.contains("open.toml") && e.contains("expires"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_binary_granting_needs_approvals_and_ending_does_not() {
    let sb = sandbox().await;
    // The example's governance (two approvers) in force.
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let d = dir.to_str().expect("a UTF-8 path");
    assert!(ledger_of(w).id(&ADDRESS.parse().expect("an address")).is_some(), "the example's assignment is applied");
    // Shortening it runs without approvals; extending it again does not.
    edit_file(&dir, FILE, |t| t.replace(&format!("expires = {END}"), "expires = 2027-02-26T17:00:00Z"));
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "shortening access needs no approval: {out}");
    edit_file(&dir, FILE, |t| t.replace("expires = 2027-02-26T17:00:00Z", &format!("expires = {END}")));
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_ne!(code, Some(0), "an extension is not applied without approvals: {out}");
    let c = client(&sb);
    assert_eq!(live_assignments(&c).await[0]["schedule"]["expiration"]["endDateTime"], json!("2027-02-26T17:00:00Z"), "not extended");
    // No longer declared: ended without approvals.
    std::fs::remove_file(dir.join(FILE)).expect("removed");
    let (_, out) = run(&sb, w, &["plan", d]);
    assert!(out.contains(ADDRESS) && out.contains("no longer declared"), "{out}");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "ending access needs no approval: {out}");
    assert!(ledger_of(w).id(&ADDRESS.parse().expect("an address")).is_none());
    assert!(live_assignments(&c).await.is_empty(), "ended in the tenant");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

async fn sandbox_p1() -> sandbox::SandboxHandle {
    let domain = example().tenant.map(|t| t.value.primary_domain).unwrap_or_else(|| "contoso.onmicrosoft.com".into());
    Sandbox::start(SandboxConfig::in_memory().with_domain(domain).with_licences(Licences::P1)).await.expect("sandbox starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_p2_entitlement_management_is_refused_as_graph_does() {
    let sb = sandbox_p1().await;
    let c = client(&sb);
    for path in ["catalogs", "accessPackages", "assignmentPolicies", "assignments"] {
        let e = c.v1().list_all(&format!("{EM}/{path}")).await.expect_err("entitlement management needs P2");
        assert_eq!(e.code(), Some("NoLicense"), "{path}: {e}");
    }
    // Declared: refused, naming the licence (never an outage, never drift).
    let desired = providers::kinds::desired_model(&example());
    let observed = providers::observe::observe(&c, &desired, &Ledger::default()).await.expect("read");
    assert!(observed.warnings.iter().filter(|w| w.contains("Entitlement management is unavailable")).count() == 1, "{:?}", observed.warnings);
    let refused = &observed.held.get(&ADDRESS.parse().expect("an address")).expect("the declared assignment is refused").reason;
    assert!(refused.contains("Microsoft Entra ID P2") && refused.contains("NoLicense"), "{refused}");
    assert!(observed.held.contains_key(&"access_package.fabrikam-audit".parse().expect("an address")));
    assert!(!observed.unreadable.contains_key(&schema::Kind::AccessPackageAssignment), "not an outage: {:?}", observed.unreadable);
    // Refused in the plan, not fatal to it: the rest is planned (access5).
    let p = engine::plan(&desired, &observed, &Ledger::default(), &opts()).expect("the rest is planned");
    assert!(p.refused.iter().any(|r| r.address.to_string() == ADDRESS), "{:?}", p.refused);
    assert!(p.changes.iter().all(|c| !providers::kinds::entitlement_licence::KINDS.contains(&c.address.kind)), "{:?}", p.changes);
    // A tenant that lost its licence, whose ledger still holds a catalog
    // and a package: they are refused, not read by id (Graph would refuse
    // that too), so the read neither fails nor calls it a permission error.
    let mut held = Ledger::default();
    held.record("access_catalog.guest-access".parse().expect("an address"), "50a31155-cb3b-44ac-a540-261fc593b079".into(), None, None);
    held.record("access_catalog.old".parse().expect("an address"), "60a31155-cb3b-44ac-a540-261fc593b079".into(), None, None);
    let (observed, _) = providers::settle::observe_settled(&c, &desired, &held, None, std::time::Duration::from_secs(1)).await.expect("a tenant without P2 is read, ledger entries and all");
    let old = observed.held.get(&"access_catalog.old".parse().expect("an address")).expect("the ledger's catalog is held");
    assert!(old.reason.contains(providers::kinds::entitlement_licence::UNAVAILABLE), "{old:?}");
    // Export reads the rest of the tenant.
    let all = providers::observe::observe_everything(&c).await.expect("export reads a P1 tenant");
    assert!(all.objects[&schema::Kind::AccessPackageAssignment].is_empty());
    sb.shutdown().await.expect("the sandbox stops");
}

/// A request straight to the sandbox: its status and error code.
async fn request(sb: &sandbox::SandboxHandle, body: Value) -> (u16, String) {
    let r = reqwest::Client::new().post(format!("{}/v1.0{EM}/assignmentRequests", sb.base_url())).bearer_auth(sb.access_token()).json(&body).send().await.expect("the sandbox answers");
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, format!("{} {}", v["error"]["code"].as_str().unwrap_or_default(), v["error"]["details"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_what_graph_refuses() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_scratch, dir) = scratch();
    let mut ledger = Ledger::default();
    apply(&c, &plan(&c, &load_ok(&dir), &ledger).await, &mut ledger).await;
    let (guest, package, adele) = (id_of(&ledger, "guest.fabrikam-auditor"), id_of(&ledger, "access_package.fabrikam-audit"), id_of(&ledger, "user.adele"));
    let policies = c.v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    let policy = policies.iter().find(|p| p["accessPackage"]["id"] == json!(package)).and_then(|p| p["id"].as_str()).expect("the package's policy").to_string();
    let other = graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/accessPackages"), Some(json!({"displayName": "Other", "catalog": {"id": id_of(&ledger, "access_catalog.guest-access")}}))).await;
    let add = |target: &str, pkg: &str, end: &str| json!({"requestType": "adminAdd", "assignment": {"targetId": target, "assignmentPolicyId": policy, "accessPackageId": pkg}, "schedule": {"expiration": {"type": "afterDateTime", "endDateTime": end}}});
    let cases = [
        ("a target that already holds the package", add(&guest, &package, "2027-03-01T00:00:00Z"), "ExistingAssignment"),
        ("a member through an external-users policy", add(&adele, &package, "2027-03-01T00:00:00Z"), "TargetNotInPolicyScope"),
        ("a policy of another package", add(&adele, other["id"].as_str().expect("an id"), "2027-03-01T00:00:00Z"), "BadRequest"),
        ("a target that does not exist", add("00000000-0000-4000-8000-00000000abcd", &package, "2027-03-01T00:00:00Z"), "SubjectNotFound"),
        ("no request type", json!({"assignment": {"targetId": adele}}), "PropertyRequired"),
        ("removing an assignment that does not exist", json!({"requestType": "adminRemove", "assignment": {"id": "00000000-0000-4000-8000-00000000abcd"}}), "Request_ResourceNotFound"),
    ];
    for (what, body, code) in cases {
        let (status, got) = request(&sb, body).await;
        assert!((400..500).contains(&status) && got.contains(code), "{what}: {status} {got}");
    }
    // The schedule: beyond the policy's end, in the past, unknown properties.
    let id = id_of(&ledger, ADDRESS);
    let update = |schedule: Value| json!({"requestType": "adminUpdate", "assignment": {"id": id}, "schedule": schedule});
    for (what, schedule, code) in [
        ("beyond the policy's end", json!({"expiration": {"type": "afterDateTime", "endDateTime": "2027-06-01T00:00:00Z"}}), "ScheduleExceedsPolicy"),
        ("never ending under a policy that ends", json!({"expiration": {"type": "noExpiration"}}), "ScheduleExceedsPolicy"),
        ("an end in the past", json!({"expiration": {"type": "afterDateTime", "endDateTime": "2020-01-01T00:00:00Z"}}), "BadRequest"),
        ("an unknown property", json!({"expiration": {"type": "afterDateTime", "endDateTime": END}, "color": "red"}), "BadRequest"),
    ] {
        let (status, got) = request(&sb, update(schedule)).await;
        assert!(status == 400 && got.contains(code), "{what}: {status} {got}");
    }
    // adminRemove ends it; a second removal is refused (it has ended).
    let remove = json!({"requestType": "adminRemove", "assignment": {"id": id}});
    assert_eq!(request(&sb, remove.clone()).await.0, 201);
    assert!(live_assignments(&c).await.is_empty());
    assert_eq!(request(&sb, remove).await.0, 400, "an ended assignment cannot be removed again");
    sb.shutdown().await.expect("the sandbox stops");
}
