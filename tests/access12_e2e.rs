//! Issue 16, the access packages' last unmodelled parts (access12),
//! through the binary against the sandbox:
//!
//! * packages naming each other as incompatible, in a ring (a -> b -> c
//!   -> a) or both ways, validate, plan and apply: a link is a `$ref`
//!   written once both packages exist, not an order between their creates
//!   (hostile 23/6);
//! * the waiting-requests warning says one request in the singular.

mod common;

use std::path::Path;

use common::gov::{edit_file, graph, ledger_of, run};
use common::kind::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["value"].as_array().into_iter().flatten().filter_map(|x| x["id"].as_str()).map(str::to_string).collect();
    out.sort();
    out
}

fn package(key: &str, names: &[&str]) -> String {
    let listed: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("[access_package.{key}]\ndisplay_name = \"Ring {key}\"\ncatalog = \"guest-access\"\ngroups = []\nincompatible_packages = [{}]\n\n", listed.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_naming_each_other_in_a_ring_or_both_ways_apply_and_converge() {
    // A ring (c names a, whose key sorts first), and a pair both ways.
    let text = [package("ring-a", &["ring-b"]), package("ring-b", &["ring-c"]), package("ring-c", &["ring-a"]), package("pair-x", &["pair-w"]), package("pair-w", &["pair-x"])].concat();
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access12", "ring.toml", &text);
    let root = work.path();
    let (code, out) = run(&sb, root, &["validate", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, root, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("dependency cycle"), "{out}");
    let (code, out) = run(&sb, root, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let id = |k: &str| id_of(&ledger, &format!("access_package.{k}"));
    let linked = |from: String| {
        let sb = &sb;
        async move { ids(&graph(sb, Method::GET, &format!("{EM}/accessPackages/{from}/incompatibleAccessPackages"), None).await) }
    };
    for (from, to) in [("ring-a", "ring-b"), ("ring-b", "ring-c"), ("ring-c", "ring-a"), ("pair-x", "pair-w"), ("pair-w", "pair-x")] {
        assert_eq!(linked(id(from)).await, vec![id(to)], "{from} -> {to}");
    }
    let (code, out) = run(&sb, root, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // A package that exists names one made later (whose key sorts after
    // it): the new one's create writes the existing one's link.
    edit_file(&dir, "ring.toml", |t| {
        t.replace("incompatible_packages = [\"ring-b\"]", "incompatible_packages = [\"ring-b\", \"ring-z\"]") + &package("ring-z", &[])
    });
    let (code, out) = run(&sb, root, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let id = |k: &str| id_of(&ledger, &format!("access_package.{k}"));
    let mut want = vec![id("ring-b"), id("ring-z")];
    want.sort();
    assert_eq!(linked(id("ring-a")).await, want);
    let (code, out) = run(&sb, root, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Export writes the ring back by key, and it re-plans empty.
    let c = client(&sb);
    let (tmp, exported) = export_tenant(&sb);
    let e = load_ok(&exported);
    let key_of = |name: &str| e.access_package.iter().find(|(_, p)| p.value.display_name == name).map(|(k, _)| k.to_string()).expect("exported");
    let c_toml = e.access_package.values().find(|p| p.value.display_name == "Ring ring-c").expect("exported");
    assert_eq!(c_toml.value.incompatible_packages, Some(vec![key_of("Ring ring-a")]));
    assert_export_replans_empty(&c, &tmp, &exported).await;
    sb.shutdown().await.expect("the sandbox stops");
}

async fn policy_id(sb: &sandbox::SandboxHandle, package: &str, name: &str) -> String {
    let all = graph(sb, Method::GET, &format!("{EM}/assignmentPolicies?$expand=accessPackage"), None).await;
    all["value"].as_array().into_iter().flatten().find(|p| p["accessPackage"]["id"] == json!(package) && p["displayName"] == json!(name)).and_then(|p| p["id"].as_str()).expect("the policy").to_string()
}

/// An external user made in the portal: its id.
async fn external_user(sb: &sandbox::SandboxHandle, upn: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/objects/users", sb.base_url()))
        .json(&json!({"displayName": upn, "userPrincipalName": upn, "mail": "partner@fabrikam.com", "userType": "Guest", "accountEnabled": true}))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<Value>().await.expect("the user")["id"].as_str().expect("its id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiting_requests_warning_counts_in_the_plural() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access12", "extra.toml", "[group.access12-extra]\ndisplay_name = \"access12 extra\"\nmail_nickname = \"access12-extra\"\n");
    let (root, dd) = (work.path(), d(&dir));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let package = id_of(&ledger, "access_package.fabrikam-audit");
    let policy = policy_id(&sb, &package, "Fabrikam auditors").await;
    for upn in ["one_fabrikam.com#EXT#@contoso.onmicrosoft.com", "two_fabrikam.com#EXT#@contoso.onmicrosoft.com"] {
        let user = external_user(&sb, upn).await;
        sb.add_pending_request(&package, &policy, &user).expect("the request waits");
    }
    let off = json!({"requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false, "stages": []}});
    patch_out_of_band(&sb, "accessPackageAssignmentPolicies", &policy, off).await;
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 requests already waiting for approval on the package are not re-checked by Entra"), "{out}");
    assert!(!out.contains("request(s) already waiting"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
