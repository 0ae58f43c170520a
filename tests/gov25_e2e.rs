//! gov25 (issue 12), through the binary against the sandbox: an
//! administrative unit whose live membership reaches the service accounts,
//! a service-accounts group nested live into a policy's group reported
//! once, the journal and the service accounts of lost ownership, and
//! `memberOf` rules followed in the live reach of approvers and units.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

const SERVICE_ACCOUNTS: [&str; 5] = ["msadmin", "msadminint", "mwaas-soc-ro", "mwaas-wdgsoc", "mstest"];

/// A dynamic unit whose declared rule leaves out every service account and
/// the break-glass account (all declared in the US), with Password
/// Administrator scoped to it.
const UNIT: &str = r#"
[administrative_unit.paris]
display_name = "Paris office"
membership_rule = "(user.usageLocation -eq \"FR\")"

[role_assignment.megan-paris-passwords]
principal = "megan"
role = "Password Administrator"
scope = { administrative_unit = "paris" }
assignment = "active"
expires = 2027-01-31T00:00:00Z
justification = "Paris password resets, change CHG-2001"
"#;

/// Item 1: the unit's rule widened in the portal to reach the service
/// accounts (its restore is held for approval) is named, per account, as
/// `unit-reaches-protected-account`, with the role scoped to it; the plan
/// that puts the approved rule back is not blocked by it. Then, with the
/// approved rule back, a service account's own live properties changed so
/// that the declared rule holds for it is named too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_units_live_rule_reaching_the_service_accounts_is_named() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("units.toml"), UNIT).expect("written")).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(!out.contains("unit-reaches-protected-account"), "the declared rule leaves them out: {out}");

    let unit = ledger_id(w, "administrative_unit.paris");
    graph(&sb, Method::PATCH, &format!("/v1.0/directory/administrativeUnits/{unit}"), Some(json!({"membershipRule": "(user.usageLocation -eq \"US\")"}))).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    for account in SERVICE_ACCOUNTS {
        assert!(
            out.contains(&format!("warning[unit-reaches-protected-account] administrative_unit.paris: administrative_unit.paris holds service account user.{account} through its live membership rule `(user.usageLocation -eq \"US\")`, which holds for the live account in the tenant now, so Password Administrator (role_assignment.megan-paris-passwords) reach it: an administrative unit's scoped admins may manage its members; keep it out of administrative units; this plan puts back what was approved (update administrative_unit.paris), so it does not block")),
            "{account}: {out}"
        );
    }
    assert!(out.contains("holds protected account user.breakglass-1 through its live membership rule"), "{out}");
    // Reconcile holds the restore of the rule (approvers decide) and its
    // report carries the finding.
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("held: update administrative_unit.paris"), "{out}");
    let report = last_report(w);
    assert!(report["warnings"].as_array().expect("warnings").iter().any(|x| x.as_str().is_some_and(|x| x.contains("holds service account user.msadmin through its live membership rule"))), "the drift report names it: {report}");

    // The approved rule back; MSADMIN moved to France in the portal.
    graph(&sb, Method::PATCH, &format!("/v1.0/directory/administrativeUnits/{unit}"), Some(json!({"membershipRule": "(user.usageLocation -eq \"FR\")"}))).await;
    graph(&sb, Method::PATCH, &format!("/v1.0/users/{}", ledger_id(w, "user.msadmin")), Some(json!({"usageLocation": "FR"}))).await;
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(
        out.contains("warning[unit-reaches-protected-account] administrative_unit.paris: administrative_unit.paris holds service account user.msadmin through its live membership rule `(user.usageLocation -eq \"FR\")`, which holds for its live properties (desired state's leave it out: they were changed in the tenant) in the tenant now, so Password Administrator (role_assignment.megan-paris-passwords) reach it"),
        "{out}"
    );
    assert!(out.contains("this plan puts back what was approved (update user.msadmin), so it does not block"), "{out}");
    assert!(!out.contains("holds service account user.mstest"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const PILOT: &str = r##"
[group.pilot-x]
display_name = "Pilot X"
mail_nickname = "pilot-x"
description = "pilot"

[device_configuration.pilot-relax]
odata_type = "windows10GeneralConfiguration"
display_name = "Pilot relax"
description = "pilot"

[device_configuration.pilot-relax.settings]
defenderRequireRealTimeMonitoring = false

[device_configuration.pilot-relax.assignments]
include = ["pilot-x"]
"##;

/// Item 2 (gov23, unchecked): the service-accounts group nested live into
/// a policy's group whose membership is not managed is reported once per
/// service account as `service-account-targeted`, naming the nesting path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_accounts_group_nested_live_into_a_policy_group_is_reported_once() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "policies.toml", PILOT)).await;
    let w = work.path();
    add_member(&sb, &ledger_id(w, "group.pilot-x"), &ledger_id(w, "group.service-accounts")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    for account in SERVICE_ACCOUNTS {
        let lines: Vec<&str> = out.lines().filter(|l| l.contains("[service-account-targeted] device_configuration.pilot-relax") && l.contains(&format!("user.{account} "))).collect();
        assert_eq!(lines.len(), 1, "{account} once: {lines:#?}\n{out}");
        assert!(lines[0].contains("group.pilot-x > group.service-accounts"), "the nesting path is named: {}", lines[0]);
    }
    sb.shutdown().await.expect("the sandbox stops");
}

/// A service account made by the binary (the service-accounts group's rule
/// admits it), and a contractor's account.
const MSBUILD: &str = "\n[user.msbuild]\nuser_principal_name = \"MSBUILD@contoso.onmicrosoft.com\"\ndisplay_name = \"MSBUILD\"\nmail_nickname = \"MSBUILD\"\nkind = \"service\"\nusage_location = \"US\"\ndisable_password_expiration = true\n";
const TEMP: &str = "\n[user.temp]\nuser_principal_name = \"temp.contractor@contoso.onmicrosoft.com\"\ndisplay_name = \"Temp Contractor\"\nmail_nickname = \"temp.contractor\"\nusage_location = \"US\"\n";

/// The journal's `keep` lines for `address`.
fn kept_lines(w: &std::path::Path, address: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).expect("a journal");
    text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).filter(|v| v["address"] == address && v["action"] == "keep").collect()
}

/// Item 3 (gov22's leftovers): under a broken seal, a pull request cuts
/// the declaration and the ledger entry of a service account and of a
/// contractor's account, both made by the binary (journalled). The
/// contractor gets the sensitive "adopt or block" change; the service
/// account gets no block (it would break the tenant's automation) but an
/// error naming it, which refuses apply until it is declared again.
/// Every `reconcile --self-heal` pass that keeps them journals a line of
/// its own for each; declaring the service account again settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_service_account_is_named_not_blocked_and_every_keep_is_journalled() {
    let sb = sandbox().await;
    let keyed = keyed_example(&sb);
    let w = keyed.work.path().to_path_buf();
    let dir = w.join("desired-state");
    edit_file(&dir, "groups.toml", |t| t.replace("(user.userPrincipalName -startsWith \"MSTEST@\")'", "(user.userPrincipalName -startsWith \"MSTEST@\") or (user.userPrincipalName -startsWith \"MSBUILD@\")'"));
    let state = schema::load(&dir).expect("the tenant loads");
    let client = client(&sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(w.join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (code, out) = run(&sb, &w, &["governance", "adopt", d(&dir), "--reason", "test setup"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, &w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    append(&dir, "accounts.toml", &format!("{MSBUILD}{TEMP}"));
    approved_plan(&sb, &keyed, "made.json");
    let (code, out) = run(&sb, &w, &["apply", "made.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, &w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed and in sync: {out}");
    let msbuild = ledger_id(&w, "user.msbuild");

    // The pull request: both declarations and ledger entries cut.
    edit_file(&dir, "accounts.toml", |t| t.replace(MSBUILD, "\n").replace(TEMP, "\n"));
    let mut l = ledger_of(&w);
    for a in ["user.msbuild", "user.temp"] {
        l.resources.remove(&a.parse().expect("an address"));
    }
    std::fs::write(w.join("tenantctl.lock"), l.render()).expect("the ledger is written");

    let (code, out) = run(&sb, &w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("error[lost-service-account] user.msbuild: service account user.msbuild (object {msbuild}, \"MSBUILD\"), ")), "{out}");
    assert!(out.contains("blocking a service account's sign-in breaks the tenant's automation"), "{out}");
    let o = cli(&sb, &w, &["plan", d(&dir), "--format", "json"]);
    let p: engine::Plan = serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr)));
    assert!(!p.changes.iter().any(|c| c.address.to_string() == "user.msbuild"), "no block of the service account: {:#?}", p.changes);
    assert!(p.changes.iter().any(|c| c.address.to_string() == "user.temp"), "the contractor's block is proposed: {:#?}", p.changes);
    let (code, out) = run(&sb, &w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused: {out}");

    assert!(kept_lines(&w, "user.msbuild").is_empty(), "nothing kept yet");
    for pass in 1..=2 {
        let (_, out) = run(&sb, &w, &["reconcile", d(&dir), "--once", "--self-heal"]);
        assert!(out.contains("held: update user.temp"), "{out}");
        for a in ["user.msbuild", "user.temp"] {
            let lines = kept_lines(&w, a);
            assert_eq!(lines.len(), pass, "{a}, pass {pass}: {lines:#?}");
            assert_eq!(lines[pass - 1]["outcome"], "kept", "{:#}", lines[pass - 1]);
            assert!(lines[pass - 1]["note"].as_str().is_some_and(|n| n.contains("ownership lost without proof:")), "{:#}", lines[pass - 1]);
        }
    }
    assert_eq!(kept_lines(&w, "user.msbuild")[0]["object_id"], msbuild.as_str());
    let enabled = graph(&sb, Method::GET, &format!("/v1.0/users/{msbuild}?$select=accountEnabled"), None).await;
    assert_eq!(enabled["accountEnabled"], json!(true), "the service account still signs in");

    // Declared again: adopted, nothing lost.
    append(&dir, "accounts.toml", MSBUILD);
    let (_, out) = run(&sb, &w, &["plan", d(&dir)]);
    assert!(!out.contains("lost-service-account"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Item 4 (hostile 24/7 and 24/8, the rest): PIM activation approvers
/// given as a group whose `memberOf` rule names a group whose membership
/// desired state does not manage: the named group's live members approve.
/// A service account put there in the portal is
/// `pim-approver-service-account`, a guest `unmanaged-pim-approver`, each
/// naming the path through the rule's group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_approver_group_reaches_the_live_members_it_names() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "groups.toml", "\n[group.helpdesk]\ndisplay_name = \"Helpdesk\"\nmail_nickname = \"helpdesk\"\n")).await;
    let w = work.path();
    let helpdesk = ledger_id(w, "group.helpdesk");
    add_member(&sb, &helpdesk, &ledger_id(w, "user.msadmin")).await;
    add_member(&sb, &helpdesk, &ledger_id(w, "guest.fabrikam-auditor")).await;
    append(&dir, "groups.toml", &format!("\n[group.pim-approvers]\ndisplay_name = \"PIM approvers\"\nmail_nickname = \"pim-approvers\"\nmembership_rule = \"user.memberOf -any (group.objectId -in ['{helpdesk}'])\"\n"));
    edit_file(&dir, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"pim-approvers\"]"));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[pim-approver-service-account] role_policy.intune-administrator: service account user.msadmin approves activations of Intune Administrator through group.pim-approvers > group.helpdesk, a live member (its membership is not managed in desired state)"),
        "{out}"
    );
    assert!(out.contains("error[unmanaged-pim-approver] role_policy.intune-administrator: user guest.fabrikam-auditor approves activations of Intune Administrator through group.pim-approvers > group.helpdesk, a live member"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Item 4, the live walks (gov23 followed live nesting, not `memberOf`
/// rules): a group conditional access excludes, given a `memberOf` rule
/// naming a group whose membership desired state does not manage, exempts
/// that group's live members: each person is `ca-exempt-member`, naming
/// the path through the named group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_ca_exclusion_reaches_the_live_members_it_names() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", "\n[group.helpdesk]\ndisplay_name = \"Helpdesk\"\nmail_nickname = \"helpdesk\"\n\n[group.caex]\ndisplay_name = \"MFA exempt\"\nmail_nickname = \"caex\"\n");
        edit_file(d, "conditional-access.toml", |t| t.replacen("exclude_groups = [\"service-accounts\"]", "exclude_groups = [\"service-accounts\", \"caex\"]", 1));
    })
    .await;
    let w = work.path();
    let helpdesk = ledger_id(w, "group.helpdesk");
    add_member(&sb, &helpdesk, &ledger_id(w, "user.megan")).await;
    edit_file(&dir, "groups.toml", |t| t.replace("mail_nickname = \"caex\"\n", &format!("mail_nickname = \"caex\"\nmembership_rule = \"user.memberOf -any (group.objectId -in ['{helpdesk}'])\"\n")));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[ca-exempt-member] group.caex: user user.megan is excluded from conditional access policy conditional_access.require-mfa through group.caex > group.helpdesk, a live member (its membership is not managed in desired state)"),
        "{out}"
    );
    sb.shutdown().await.expect("the sandbox stops");
}

/// Item 5 (gov16): a dynamic approver group's rule is judged on what each
/// person declares, and a rule over an attribute the example's guest does
/// not declare cannot be proved to leave it out, so the guest counts as a
/// possible approver (here: held by a dynamic administrative unit). Every
/// guest is `userType` `Guest`: an approver rule that requires members
/// (`user.userType -eq "Member"`) is proved to leave it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_only_approver_rule_leaves_the_guest_out() {
    let sb = sandbox().await;
    let unit = "\n[administrative_unit.it]\ndisplay_name = \"IT\"\nmembership_rule = \"(user.department -eq \\\"IT\\\")\"\n";
    let with_rule = |rule: &str| {
        let work = scratch_with(|t| t);
        let dir = work.path().join("desired-state");
        std::fs::write(dir.join("units.toml"), unit).expect("written");
        append(&dir, "groups.toml", &format!("\n[group.approvers-dyn]\ndisplay_name = \"Approvers\"\nmail_nickname = \"approvers-dyn\"\nmembership_rule = '{rule}'\n"));
        edit_file(&dir, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"approvers-dyn\"]"));
        work
    };
    let guest = "administrative_unit.it holds guest.fabrikam-auditor";
    let work = with_rule("(user.department -eq \"IT\")");
    let (_, out) = validate(&sb, work.path());
    assert!(out.contains(guest), "an attribute-less guest may be held: {out}");
    let work = with_rule("(user.userType -eq \"Member\") and (user.department -eq \"IT\")");
    let (_, out) = validate(&sb, work.path());
    assert!(!out.contains(guest), "members only: {out}");
    assert!(out.contains("administrative_unit.it holds user.adele through its membership rule"), "the people the rule may hold are still named: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// gov25's limit: an administrative unit made in the portal, which desired
/// state does not declare, whose dynamic rule reaches the service accounts
/// and the break-glass account, with Password Administrator scoped to it,
/// is named on every plan (a warning: there is nothing to put back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_units_live_rule_reaching_the_service_accounts_is_named() {
    let sb = sandbox().await;
    // One declared unit, so administrative units are read.
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("units.toml"), UNIT).expect("written")).await;
    let w = work.path();
    let unit = graph(
        &sb,
        Method::POST,
        "/v1.0/directory/administrativeUnits",
        Some(json!({"displayName": "Everyone US", "membershipType": "Dynamic", "membershipRule": "(user.usageLocation -eq \"US\")", "membershipRuleProcessingState": "On"})),
    )
    .await;
    let unit = unit["id"].as_str().expect("an id").to_string();
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    for account in SERVICE_ACCOUNTS {
        assert!(
            out.contains(&format!("warning[unit-reaches-protected-account] id:{unit}: administrative unit `Everyone US` (id:{unit}), which desired state does not declare, holds service account user.{account} through its live membership rule `(user.usageLocation -eq \"US\")` (which holds for the live account) in the tenant now")),
            "{account}: {out}"
        );
    }
    assert!(out.contains("holds protected account user.breakglass-1 through its live membership rule"), "{out}");
    // A rule that leaves them out says nothing.
    graph(&sb, Method::PATCH, &format!("/v1.0/directory/administrativeUnits/{unit}"), Some(json!({"membershipRule": "(user.usageLocation -eq \"FR\")"}))).await;
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains(&format!("id:{unit}")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const RESTRICTED_IT: &str = r#"
[administrative_unit.it-restricted]
display_name = "IT (restricted)"
membership_rule = '(user.department -eq "IT")'
is_member_management_restricted = true
"#;

/// Hostile run 30, finding A: a restricted management unit with a rule
/// loses members by a narrowed rule, or by a member's attribute the rule
/// reads: both are reviewed, never applied with `--auto-approve` alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_leaving_a_restricted_dynamic_unit_are_reviewed() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("units.toml"), RESTRICTED_IT).expect("written")).await;
    let w = work.path();
    edit_file(&dir, "units.toml", |t| t.replace("(user.department -eq \"IT\")", "(user.department -eq \"Nobody\")"));
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("changes membershipRule of restricted management unit administrative_unit.it-restricted: user.adele"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_ne!(code, Some(0), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(!out.contains("applied: update administrative_unit.it-restricted"), "{out}");
    edit_file(&dir, "units.toml", |t| t.replace("(user.department -eq \"Nobody\")", "(user.department -eq \"IT\")"));
    // Adele moved to Sales by a pull request.
    edit_file(&dir, "accounts.toml", |t| {
        let at = t.find("[user.adele]").expect("adele is declared");
        let end = t[at..].find("department = \"IT\"").map(|i| at + i).expect("adele's department");
        format!("{}department = \"Sales\"{}", &t[..end], &t[end + "department = \"IT\"".len()..])
    });
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("takes user.adele out of restricted management unit administrative_unit.it-restricted"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
