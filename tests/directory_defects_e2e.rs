//! Users and guests as Graph holds them: passwordPolicies is a set of
//! flags, and a guest create never adopts a member user.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::{json, Value};

async fn patch(c: &providers::graph::GraphClient, path: &str, body: Value) {
    let mut req = providers::graph::GraphRequest::new(providers::graph::Method::PATCH, path);
    req.body = Some(body);
    c.v1().execute(req).await.expect("PATCH");
}

fn user(disable: bool) -> schema::DesiredState {
    let text = format!(
        "[user.svc]\nuser_principal_name = \"svc@contoso.onmicrosoft.com\"\ndisplay_name = \"Svc\"\nmail_nickname = \"svc\"\ndisable_password_expiration = {disable}\n"
    );
    schema::load_str(&[("u.toml", &text)]).expect("valid")
}

/// Defect 10: writing the managed flag keeps the flags set elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_policies_are_written_as_a_set_of_flags() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    apply(&c, &plan(&c, &user(false), &ledger).await, &mut ledger).await;
    let id = ledger.id(&"user.svc".parse().unwrap()).unwrap().to_string();
    // An administrator allows weak passwords for this account.
    patch(&c, &format!("/users/{id}"), json!({"passwordPolicies": "DisableStrongPassword"})).await;
    let flags = || async {
        let u = c.v1().get_json(&format!("/users/{id}?$select=passwordPolicies")).await.unwrap();
        let mut f: Vec<String> = u["passwordPolicies"].as_str().unwrap_or_default().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        f.sort();
        f
    };

    let p = plan(&c, &user(true), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(flags().await, ["DisablePasswordExpiration", "DisableStrongPassword"], "setting one flag dropped the other");
    assert!(plan(&c, &user(true), &ledger).await.changes.is_empty());

    apply(&c, &plan(&c, &user(false), &ledger).await, &mut ledger).await;
    assert_eq!(flags().await, ["DisableStrongPassword"], "clearing one flag dropped the other");
    assert!(plan(&c, &user(false), &ledger).await.changes.is_empty());
}

/// Defect 12: a member user whose mail is the guest's address is never
/// adopted as the guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_create_never_adopts_a_member_user() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut req = providers::graph::GraphRequest::new(providers::graph::Method::POST, "/users");
    req.body = Some(json!({
        "accountEnabled": true, "displayName": "Jane (member)", "mailNickname": "jane", "userPrincipalName": "jane@contoso.onmicrosoft.com",
        "mail": "jane.doe@fabrikam.com", "passwordProfile": {"password": "Xy7!kLm2#pQr9", "forceChangePasswordNextSignIn": true}
    }));
    let member = c.v1().execute(req).await.expect("member created").body.unwrap();
    let member_id = member["id"].as_str().unwrap().to_string();
    let state = schema::load_str(&[(
        "g.toml",
        "[guest.jane]\nemail = \"jane.doe@fabrikam.com\"\ndisplay_name = \"Jane Doe\"\nredirect_url = \"https://myapps.microsoft.com\"\nexpires = 2027-03-31T17:00:00Z\n",
    )])
    .expect("valid");
    let mut ledger = Ledger::default();
    let p = plan(&c, &state, &ledger).await;
    assert_eq!(p.changes.len(), 1);
    let report = apply(&c, &p, &mut ledger).await;
    let guest_id = ledger.id(&"guest.jane".parse().unwrap()).unwrap().to_string();
    assert_ne!(guest_id, member_id, "the member user was adopted as the guest: {:?}", report.results);
    let g = c.v1().get_json(&format!("/users/{guest_id}?$select=userType")).await.unwrap();
    assert_eq!(g["userType"], "Guest");
}

/// Defect 12: a guest known by one of its otherMails (mail unset) is found
/// and adopted, not invited twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_known_by_other_mails_is_adopted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut req = providers::graph::GraphRequest::new(providers::graph::Method::POST, "/invitations");
    req.body = Some(json!({"invitedUserEmailAddress": "jane.doe@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}));
    let invited = c.v1().execute(req).await.expect("invited").body.unwrap();
    let guest_id = invited["invitedUser"]["id"].as_str().unwrap().to_string();
    patch(&c, &format!("/users/{guest_id}"), json!({"mail": null})).await;
    let state = schema::load_str(&[(
        "g.toml",
        "[guest.jane]\nemail = \"jane.doe@fabrikam.com\"\ndisplay_name = \"Jane Doe\"\nredirect_url = \"https://myapps.microsoft.com\"\nexpires = 2027-03-31T17:00:00Z\n",
    )])
    .expect("valid");
    // The plan's own read sees it too (mail, else otherMails), so plan a
    // create by hand as a run that lost its ledger would.
    let desired = providers::kinds::desired_model(&state);
    let r = desired.resources.values().next().unwrap().clone();
    let change = engine::Change {
        address: r.address.clone(),
        action: Action::Create,
        display_name: r.display_name.clone(),
        id: None,
        reason: "test".into(),
        fields: Vec::new(),
        waits_on: Vec::new(),
        wave: 0,
        desired: Some(r),
        notes: Vec::new(),
        live: None,
    };
    let exec = providers::apply::GraphExecutor::new(c.clone(), |_| None, opts().now);
    let outcome = engine::apply::Executor::execute(&exec, &change, &Default::default()).await.expect("create");
    assert_eq!(outcome.id.as_deref(), Some(guest_id.as_str()));
    // Found by the lookup (no second invitation was sent).
    assert!(outcome.note.as_deref().is_some_and(|n| n.contains("adopted")), "the guest was invited again: {:?}", outcome.note);
}
