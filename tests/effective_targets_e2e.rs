//! Issue 12, through the binary: whether a service account is targeted is
//! decided on the effective set ("Service accounts can be targeted": a
//! policy assigned to all users, to a group containing a service account
//! next to people, or to a group nesting the service-accounts group).

mod common;

use common::*;

/// The example with `edit` applied to one file; `validate`'s code and output.
async fn validate_with(file: &str, edit: impl FnOnce(String) -> String) -> (Option<i32>, String) {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let p = work.path().join("desired-state").join(file);
    let t = std::fs::read_to_string(&p).unwrap();
    let edited = edit(t.clone());
    assert_ne!(edited, t);
    std::fs::write(&p, edited).unwrap();
    let o = cli(&sb, work.path(), &["validate", work.path().join("desired-state").to_str().unwrap()]);
    sb.shutdown().await.unwrap();
    (o.status.code(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
}

const RINGS: &str = "include = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"]";
const GROUPS: &str = "
[group.mixed]
display_name = \"Mixed\"
mail_nickname = \"mixed\"
members = [\"adele\", \"msadmin\"]

[group.outer]
display_name = \"Outer\"
mail_nickname = \"outer\"
members = [\"adele\", \"inner\"]

[group.inner]
display_name = \"Inner\"
mail_nickname = \"inner\"
members = [\"service-accounts-static\"]

[group.service-accounts-static]
display_name = \"Service accounts (static)\"
mail_nickname = \"svc-static\"
members = [\"msadmin\", \"mstest\"]

[group.sales]
display_name = \"Sales\"
mail_nickname = \"sales\"
membership_rule = '(user.department -eq \"Sales\")'
membership_rule_processing_state = \"On\"
";

async fn with_groups_and(include: &str) -> (Option<i32>, String) {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    let g = dir.join("groups.toml");
    let mut t = std::fs::read_to_string(&g).unwrap();
    t.push_str(GROUPS);
    std::fs::write(&g, t).unwrap();
    let p = dir.join("policies.toml");
    let t = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, t.replacen(RINGS, include, 1)).unwrap();
    let o = cli(&sb, work.path(), &["validate", dir.to_str().unwrap()]);
    sb.shutdown().await.unwrap();
    (o.status.code(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_users_reaches_service_accounts_unless_they_are_excluded() {
    let (code, out) = validate_with("policies.toml", |t| t.replacen(RINGS, &format!("{RINGS}\nall_users = true"), 1)).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-targeted] compliance_policy.windows-baseline: reaches service account user.msadmin through all users"), "{out}");
    // Excludes count: all users but the service-accounts group is fine.
    let (code, out) = validate_with("policies.toml", |t| t.replacen(RINGS, &format!("{RINGS}\nall_users = true\nexclude = [\"service-accounts\"]"), 1)).await;
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_nested_and_rule_groups_reach_service_accounts() {
    // A group with a service account next to a person.
    let (code, out) = with_groups_and("include = [\"mixed\"]").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("reaches service account user.msadmin through group.mixed: service accounts get no policy; exclude group.service-accounts"), "{out}");
    // A group nesting a service-accounts group, two levels down.
    let (code, out) = with_groups_and("include = [\"outer\"]").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("reaches service account user.mstest through group.outer > group.inner > group.service-accounts-static"), "{out}");
    // ... unless what reaches them is excluded.
    let (code, out) = with_groups_and("include = [\"outer\"]\nexclude = [\"inner\"]").await;
    assert_eq!(code, Some(0), "{out}");
    // A membership rule over users could match a service account: conservative.
    let (code, out) = with_groups_and("include = [\"sales\"]").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("could reach service accounts: group.sales has a membership rule over users"), "{out}");
    let (code, out) = with_groups_and("include = [\"sales\"]\nexclude = [\"service-accounts\"]").await;
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_access_is_decided_on_the_effective_set_too() {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    let g = dir.join("groups.toml");
    let mut t = std::fs::read_to_string(&g).unwrap();
    t.push_str(GROUPS);
    std::fs::write(&g, t).unwrap();
    let ca = dir.join("conditional-access.toml");
    let t = std::fs::read_to_string(&ca).unwrap();
    // Only the example's first policy (require-mfa) is edited; the others
    // keep excluding the service accounts.
    let split = t.find("\n# Where people may sign in from").expect("the example's conditional access changed shape");
    let (first, rest) = t.split_at(split);
    let edited = first.replace("include_users = [\"All\"]", "include_users = []\ninclude_groups = [\"mixed\"]").replace("exclude_groups = [\"service-accounts\"]", "exclude_groups = []\nexclude_users = [\"breakglass-1\", \"msadminint\", \"mwaas-soc-ro\", \"mwaas-wdgsoc\", \"mstest\"]");
    let edited = edited.replacen("exclude_users = [\"breakglass-1\"]\n", "", 1) + rest;
    assert_ne!(edited, t);
    std::fs::write(&ca, edited).unwrap();
    let o = cli(&sb, work.path(), &["validate", dir.to_str().unwrap()]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("reaches service account user.msadmin through group.mixed: service accounts get no MFA or conditional access"), "{out}");
    sb.shutdown().await.unwrap();
}
