//! Hostile run 26, through the binary against the sandbox: a declared
//! group nested live into a group that grants something (finding 1), the
//! people of a PIM approver group nobody manages (finding 4), drift that
//! exits "in sync" over live lint errors (finding 6), restores of portal
//! widenings (finding 2), a custom workflow extension's endpoint URL
//! (finding 3) and confusable custom strength names (finding 7).

mod common;

use common::*;


fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// `[group.KEY]` declared without members: its membership is live.
fn unmanaged(key: &str, display_name: &str) -> String {
    format!("\n[group.{key}]\ndisplay_name = \"{display_name}\"\nmail_nickname = \"{key}\"\n")
}

/// The live id of the group `work`'s ledger holds for `key`.
fn group_id(work: &std::path::Path, key: &str) -> String {
    ledger_id(work, &format!("group.{key}"))
}

/// Finding 1, conditional access: the declared `licensed-users` group
/// (members adele and megan) nested in the portal into `caex`, a group
/// "Require MFA" excludes whose membership desired state does not manage.
/// Each person so reached is `ca-exempt-member`, and the nesting itself is
/// named; `drift --detailed-exitcode` is drift (2), not "in sync".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_group_nested_into_a_ca_exclusion_is_flagged() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", &unmanaged("caex", "MFA exempt (helpdesk)"));
        edit_file(d, "conditional-access.toml", |t| t.replacen("exclude_groups = [\"service-accounts\"]", "exclude_groups = [\"service-accounts\", \"caex\"]", 1));
    })
    .await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(0), "converged: {out}");

    add_member(&sb, &group_id(w, "caex"), &group_id(w, "licensed-users")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[ca-exempt-member] group.caex: user user.adele is excluded from conditional access policy conditional_access.require-mfa through group.caex > group.licensed-users, a live member (its membership is not managed in desired state); group.licensed-users is a live member of group.caex, whose membership is not managed in desired state: nobody approved that nesting"),
        "{out}"
    );
    assert!(out.contains("error[ca-exempt-member] group.caex: user user.megan is excluded"), "{out}");

    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "a live lint error is drift: {out}");
    assert!(!out.contains("in sync:"), "{out}");
    assert!(out.contains("error[ca-exempt-member]: user user.adele is excluded"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 1, Intune role: the declared `licensed-users` group nested in
/// the portal into the member group of an Intune role assignment whose
/// membership desired state does not manage: each person so reached holds
/// the Intune role outside desired state (`unmanaged-intune-admin`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_group_nested_into_an_intune_role_group_is_flagged() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, &unmanaged("intune-ops", "Intune operators"))).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    add_member(&sb, &group_id(w, "intune-ops"), &group_id(w, "licensed-users")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[unmanaged-intune-admin] group.intune-ops: user user.adele holds Intune role Full Intune operator (intune_role_assignment.ops) through group.intune-ops > group.licensed-users, a live member"),
        "{out}"
    );
    assert!(out.contains("group.licensed-users is a live member of group.intune-ops, whose membership is not managed in desired state"), "{out}");
    assert!(out.contains("error[unmanaged-intune-admin] group.intune-ops: user user.megan holds"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 1, variant C: the service accounts' group nested in the portal
/// into a PIM approver group nobody manages: every service account
/// approves activations (`pim-approver-service-account`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_accounts_group_nested_into_pim_approvers_is_flagged() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", &unmanaged("pim-approvers", "PIM approvers"));
        edit_file(d, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"pim-approvers\"]"));
    })
    .await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    add_member(&sb, &group_id(w, "pim-approvers"), &group_id(w, "service-accounts")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    for account in ["msadmin", "msadminint", "mwaas-soc-ro", "mwaas-wdgsoc", "mstest"] {
        assert!(
            out.contains(&format!("error[pim-approver-service-account] role_policy.intune-administrator: service account user.{account} approves activations of Intune Administrator through group.pim-approvers > group.service-accounts, a live member")),
            "{account}: {out}"
        );
    }
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 4: a guest, or a declared user, put in the portal into a PIM
/// approver group whose membership desired state does not manage
/// approves privileged activations: the guest is an error
/// (`unmanaged-pim-approver`), the declared user a warning. Declaring the
/// group's members clears both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_in_an_unmanaged_pim_approver_group_are_judged() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", &unmanaged("pim-approvers", "PIM approvers"));
        edit_file(d, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"pim-approvers\"]"));
    })
    .await;
    let w = work.path();
    let g = group_id(w, "pim-approvers");
    add_member(&sb, &g, &ledger_id(w, "guest.fabrikam-auditor")).await;
    add_member(&sb, &g, &ledger_id(w, "user.megan")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[unmanaged-pim-approver] role_policy.intune-administrator: user guest.fabrikam-auditor approves activations of Intune Administrator through group.pim-approvers, a live member (its membership is not managed in desired state): a guest"),
        "{out}"
    );
    assert!(out.contains("warning[unmanaged-pim-approver] role_policy.intune-administrator: user user.megan approves activations of Intune Administrator through group.pim-approvers"), "{out}");
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "{out}");

    // Its members declared: desired state judges them.
    edit_file(&dir, "groups.toml", |t| t.replace("mail_nickname = \"pim-approvers\"\n", "mail_nickname = \"pim-approvers\"\nmembers = [\"megan\"]\n"));
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains("unmanaged-pim-approver"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 6: a person put directly into the member group of an Intune
/// role assignment (membership not managed) is `unmanaged-intune-admin`;
/// `drift --detailed-exitcode` reports it as drift (exit 2, not "in
/// sync").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_not_in_sync_over_live_lint_errors() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, &unmanaged("intune-ops", "Intune operators"))).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(out.contains("in sync:"), "{out}");

    add_member(&sb, &group_id(w, "intune-ops"), &ledger_id(w, "user.megan")).await;
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains("in sync:"), "{out}");
    assert!(out.contains("drift: 1 changed"), "{out}");
    assert!(out.contains("error[unmanaged-intune-admin]: user user.megan holds Intune role Full Intune operator"), "{out}");
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record", "--format", "json"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("\"in_sync\": false"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

