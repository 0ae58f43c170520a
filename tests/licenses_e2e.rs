//! Licences (`licenses` on `group` and `user`): the example's licensed
//! users group gets Microsoft 365 E3 through group-based licensing
//! (`assignLicense`, SKU and plans by name, resolved through
//! `subscribedSkus`), a converged tenant plans empty, a plan change is an
//! update that shows the seats left, a removed licence is removed, a user
//! gets a direct licence, export writes them by name and re-imports empty;
//! an unknown SKU or plan is refused naming the file and the valid names,
//! a direct assignment beyond the seats is refused, and a service account
//! holding a licence is a located validation error.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::{json, Value};

fn scratch(edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = scratch_with(|t| {
        assert!(t.contains("approvals_required = 2"), "the example's governance changed shape");
        t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of licences\"")
    });
    let dst = dir.path().join("desired-state");
    let groups = std::fs::read_to_string(dst.join("groups.toml")).unwrap();
    std::fs::write(dst.join("groups.toml"), edit(groups)).unwrap();
    (dir, dst)
}

fn load(dir: &std::path::Path) -> schema::DesiredState {
    schema::load(dir).expect("the scratch tenant loads")
}

const E3: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";
const YAMMER: &str = "7547a3fe-08ee-4ccb-b430-5077c5041653";
const EXCHANGE: &str = "efb87545-963c-4e0d-99df-69c6916d9eb0";

async fn group_licences(c: &providers::graph::GraphClient, id: &str) -> Value {
    c.v1().get_json(&format!("/groups/{id}?$select=assignedLicenses")).await.unwrap()["assignedLicenses"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_and_user_licences_are_assigned_compared_changed_exported_and_removed() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(|g| g);
    let mut ledger = Ledger::default();

    // Create: the group is created with its licence.
    let p = plan(&c, &load(&dst), &ledger).await;
    let ch = p.changes.iter().find(|c| c.address.to_string() == "group.licensed-users").expect("the licensed group is planned");
    assert_eq!(ch.action, Action::Create);
    assert!(p.warnings.iter().any(|w| w.contains("SPE_E3 has 25 of 25 seats available") && w.contains("group.licensed-users")), "{:#?}", p.warnings);
    apply(&c, &p, &mut ledger).await;
    let gid = ledger.id(&"group.licensed-users".parse().unwrap()).unwrap().to_string();
    assert_eq!(group_licences(&c, &gid).await, json!([{"disabledPlans": [YAMMER], "skuId": E3}]));
    // Both members hold a seat now.
    let skus = c.v1().list_all("/subscribedSkus").await.unwrap();
    let e3 = skus.iter().find(|s| s["skuPartNumber"] == "SPE_E3").unwrap();
    assert_eq!(e3["consumedUnits"], json!(2));

    // Converged.
    let again = plan(&c, &load(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    assert!(!again.warnings.iter().any(|w| w.contains("licences")), "seats are said only when a licence is added: {:#?}", again.warnings);
    // The reconcile loop reads groups through delta: it sees the same licences.
    let desired = providers::kinds::desired_model(&load(&dst));
    let mut delta = providers::delta::DeltaState::new("sandbox");
    for _ in 0..2 {
        let (observed, _) = providers::delta::observe_with_delta(&c, &desired, &ledger, &mut delta).await.expect("delta read");
        let p = engine::plan(&desired, &observed, &ledger, &opts()).expect("plan");
        assert!(p.changes.is_empty(), "{:#?}", p.changes);
    }

    // Update: another plan switched off is an update of the licence alone.
    let groups = std::fs::read_to_string(dst.join("groups.toml")).unwrap();
    std::fs::write(dst.join("groups.toml"), groups.replace("disabled_plans = [\"YAMMER_ENTERPRISE\"]", "disabled_plans = [\"YAMMER_ENTERPRISE\", \"EXCHANGE_S_ENTERPRISE\"]")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update);
    assert!(p.changes[0].fields.iter().all(|f| f.field.starts_with("assignedLicenses")), "{:#?}", p.changes[0].fields);
    apply(&c, &p, &mut ledger).await;
    let live = group_licences(&c, &gid).await;
    let plans: std::collections::BTreeSet<&str> = live[0]["disabledPlans"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(plans, [YAMMER, EXCHANGE].into_iter().collect());
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // A licence changed in the portal is drift, put back by the next apply.
    c.v1()
        .post_json(&format!("/groups/{gid}/assignLicense"), json!({"addLicenses": [{"skuId": "efccb6f7-5641-4e0e-bd10-b4976e1bf68e", "disabledPlans": []}], "removeLicenses": []}))
        .await
        .unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(group_licences(&c, &gid).await.as_array().unwrap().len(), 1, "the undeclared EMS licence is removed");

    // A direct licence for a user with a usage location.
    let accounts = std::fs::read_to_string(dst.join("accounts.toml")).unwrap();
    assert!(accounts.contains("[user.megan]"));
    std::fs::write(dst.join("accounts.toml"), accounts.replace("[user.megan]\n", "[user.megan]\nlicenses = [{ sku = \"EMS\" }]\n")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].address.to_string(), "user.megan");
    assert!(p.warnings.iter().any(|w| w.contains("EMS has 10 of 10 seats available; assigned to user.megan")), "{:#?}", p.warnings);
    apply(&c, &p, &mut ledger).await;
    let mid = ledger.id(&"user.megan".parse().unwrap()).unwrap().to_string();
    let u = c.v1().get_json(&format!("/users/{mid}?$select=assignedLicenses")).await.unwrap();
    assert_eq!(u["assignedLicenses"], json!([{"disabledPlans": [], "skuId": "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"}]));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export writes them by name; re-imported, it plans empty.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let exported = schema::load(&out).expect("the export loads");
    let g = exported.group.values().find(|d| d.value.mail_nickname == "licensed-users-e3").expect("group exported");
    let l = g.value.licenses.as_ref().expect("its licences are exported");
    assert_eq!(l[0].sku, "SPE_E3");
    assert_eq!(l[0].disabled_plans, ["EXCHANGE_S_ENTERPRISE", "YAMMER_ENTERPRISE"]);
    let m = exported.user.values().find(|d| d.value.user_principal_name.starts_with("megan")).expect("megan exported");
    assert_eq!(m.value.licenses.as_ref().map(|l| l[0].sku.as_str()), Some("EMS"));
    let exported_ledger = Ledger::parse(&std::fs::read_to_string(tmp.path().join("tenantctl.lock")).unwrap()).unwrap();
    let p = plan(&c, &exported, &exported_ledger).await;
    assert_only_adoptions(&p);

    // Removed from desired state (an empty list): the licence is removed.
    let groups = std::fs::read_to_string(dst.join("groups.toml")).unwrap();
    let start = groups.find("licenses = [{ sku = \"SPE_E3\"").unwrap();
    let end = start + groups[start..].find('\n').unwrap();
    std::fs::write(dst.join("groups.toml"), format!("{}licenses = []{}", &groups[..start], &groups[end..])).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(group_licences(&c, &gid).await, json!([]));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_skus_and_plans_and_missing_seats_are_refused_by_plan() {
    let sb = sandbox().await;
    let (dir, dst) = scratch(|g| g.replace("sku = \"SPE_E3\", disabled_plans = [\"YAMMER_ENTERPRISE\"]", "sku = \"SPE_E5\", disabled_plans = [\"YAMMER_ENTERPRISE\"]"));
    let o = cli(&sb, dir.path(), &["plan", dst.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{}", text(&o.stdout));
    assert!(err.contains("group.licensed-users") && err.contains("groups.toml") && err.contains("`SPE_E5` is not a SKU this tenant subscribes to") && err.contains("EMS, POWER_BI_PRO, SPE_E3"), "{err}");

    let (dir, dst) = scratch(|g| g.replace("\"YAMMER_ENTERPRISE\"]", "\"YAMMER\"]"));
    let o = cli(&sb, dir.path(), &["plan", dst.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert!(err.contains("`YAMMER` is not a service plan of SPE_E3; its plans: EXCHANGE_S_ENTERPRISE, INTUNE_A, OFFICESUBSCRIPTION, SHAREPOINTENTERPRISE, YAMMER_ENTERPRISE"), "{err}");

    // POWER_BI_PRO has one seat: two users licensed directly is one too many.
    let (dir, dst) = scratch(|g| g);
    let accounts = std::fs::read_to_string(dst.join("accounts.toml")).unwrap();
    let accounts = accounts.replace("[user.megan]\n", "[user.megan]\nlicenses = [{ sku = \"POWER_BI_PRO\" }]\n").replace("[user.adele]\n", "[user.adele]\nlicenses = [{ sku = \"POWER_BI_PRO\" }]\n");
    std::fs::write(dst.join("accounts.toml"), accounts).unwrap();
    let o = cli(&sb, dir.path(), &["plan", dst.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("licence POWER_BI_PRO has 1 seat(s) left, fewer than the 2 user(s) this plan assigns it to directly"), "{err}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_what_graph_refuses() {
    let sb = sandbox().await;
    let c = client(&sb);
    let g = c.v1().post_json("/groups", json!({"displayName": "L", "mailNickname": "l", "securityEnabled": true, "mailEnabled": false})).await.unwrap().body.unwrap();
    let gid = g["id"].as_str().unwrap();
    let path = format!("/groups/{gid}/assignLicense");
    // Both parameters are required.
    assert!(c.v1().post_json(&path, json!({"addLicenses": []})).await.is_err());
    // Unknown SKU, a plan of another SKU, removing what is not held.
    assert!(c.v1().post_json(&path, json!({"addLicenses": [{"skuId": "00000000-0000-0000-0000-000000000001", "disabledPlans": []}], "removeLicenses": []})).await.is_err());
    assert!(c.v1().post_json(&path, json!({"addLicenses": [{"skuId": E3, "disabledPlans": ["70d33638-9c74-4d01-bfd3-562de28bd4ba"]}], "removeLicenses": []})).await.is_err());
    assert!(c.v1().post_json(&path, json!({"addLicenses": [], "removeLicenses": [E3]})).await.is_err());
    // A user without a usage location cannot be licensed.
    let u = c
        .v1()
        .post_json("/users", json!({"accountEnabled": true, "displayName": "N", "mailNickname": "n", "userPrincipalName": "n@contoso.onmicrosoft.com", "passwordProfile": {"password": "x-Y-9-z-long-enough", "forceChangePasswordNextSignIn": true}}))
        .await
        .unwrap()
        .body
        .unwrap();
    let uid = u["id"].as_str().unwrap();
    let e = c.v1().post_json(&format!("/users/{uid}/assignLicense"), json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []})).await.unwrap_err();
    assert!(e.to_string().contains("usage location"), "{e}");
    sb.shutdown().await.unwrap();
}

fn errors(text: &str) -> String {
    match schema::load_str(&[("a.toml", text)]) {
        Err(schema::LoadError::Invalid(d)) => d.to_string(),
        other => panic!("expected validation errors, got {other:?}"),
    }
}

#[test]
fn service_accounts_get_no_licence_and_users_need_a_usage_location() {
    let err = errors(
        r#"
[user.svc]
user_principal_name = "svc@contoso.onmicrosoft.com"
display_name = "Service"
mail_nickname = "svc"
kind = "service"
usage_location = "US"
licenses = [{ sku = "SPE_E3" }]

[user.nobody]
user_principal_name = "nobody@contoso.onmicrosoft.com"
display_name = "Nobody"
mail_nickname = "nobody"
licenses = [{ sku = "SPE_E3" }, { sku = "SPE_E3" }]

[group.inner]
display_name = "Inner"
mail_nickname = "inner"
members = ["svc"]

[group.outer]
display_name = "Outer"
mail_nickname = "outer"
members = ["inner"]
licenses = [{ sku = "SPE_E3" }]

[group.direct]
display_name = "Direct"
mail_nickname = "direct"
members = ["svc"]
licenses = [{ sku = "SPE_E3" }]
"#,
    );
    assert!(err.contains("service-account-licensed") && err.contains("user.svc is a service account"), "{err}");
    assert!(err.contains("group.direct assigns licences to its members, and it holds the service account(s) user.svc"), "{err}");
    // Group-based licensing reaches only direct members (Entra does not
    // license nested groups' members): a service account in a nested group
    // is not licensed by the outer group, which is warned about instead.
    assert!(!err.contains("group.outer assigns licences to its members, and it holds"), "{err}");
    assert!(err.contains("licence-not-inherited") && err.contains("the members of group.inner get no licence from it"), "{err}");
    assert!(err.contains("a.toml:"), "located: {err}");
    assert!(err.contains("user.nobody: a licence is assigned only to a user with a usage location"), "{err}");
    assert!(err.contains("SKU `SPE_E3` is listed twice"), "{err}");
    // Names that are not SKU or plan names never reach a request or a message unescaped.
    let err = errors("[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nlicenses = [{ sku = \"SPE_E3\\u001b[31m\", disabled_plans = [\"A\\nerror: forged\"] }]\n");
    assert!(err.contains("is not a SKU part number") && err.contains("is not a service plan name"), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains("\nerror: forged"), "{err}");
}

/// Entra refuses to delete a group that still has licences assigned
/// (the audit's F1): a licensed group no longer declared, with pruning on
/// for groups, has its licences removed first and is then deleted. The
/// sandbox refuses the bare delete, as Entra does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licensed_group_is_deleted_after_its_licences_are_removed() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(|g| g);
    let mut ledger = Ledger::default();
    let p = plan(&c, &load(&dst), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let gid = ledger.id(&"group.licensed-users".parse().expect("an address")).expect("created").to_string();
    assert_ne!(group_licences(&c, &gid).await, json!([]));
    // A bare delete is refused while the licence is assigned.
    let refused = c.v1().delete(&format!("/groups/{gid}")).await;
    assert!(refused.is_err(), "Entra refuses to delete a licensed group");

    let groups = std::fs::read_to_string(dst.join("groups.toml")).expect("groups.toml");
    let start = groups.find("[group.licensed-users]").expect("the licensed group is declared");
    let end = groups[start + 1..].find("\n[").map_or(groups.len(), |i| start + 1 + i);
    std::fs::write(dst.join("groups.toml"), format!("{}{}", &groups[..start], &groups[end..])).expect("groups.toml written");
    let tenant = std::fs::read_to_string(dst.join("tenant.toml")).expect("tenant.toml");
    std::fs::write(dst.join("tenant.toml"), tenant.replace("kinds = [\"device_configuration\"", "kinds = [\"group\", \"device_configuration\"")).expect("tenant.toml written");
    let p = plan(&c, &load(&dst), &ledger).await;
    let ch = p.changes.iter().find(|c| c.address.to_string() == "group.licensed-users").expect("the group's deletion is planned");
    assert_eq!(ch.action, Action::Delete);
    apply(&c, &p, &mut ledger).await;
    assert!(c.v1().get_json(&format!("/groups/{gid}")).await.is_err(), "the group is gone");
    let skus = c.v1().list_all("/subscribedSkus").await.expect("skus");
    let e3 = skus.iter().find(|s| s["skuPartNumber"] == "SPE_E3").expect("E3");
    assert_eq!(e3["consumedUnits"], json!(0), "the seats are free again");
    sb.shutdown().await.expect("the sandbox stops");
}
