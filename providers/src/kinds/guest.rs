//! Guests: B2B invitations (`POST /invitations`), read back from `/users`
//! with userType Guest. Matched by e-mail address.

use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::Guest;
use schema::{Address, Kind};
use serde_json::{json, Value};

use super::{live_props, resource, str_field};
use super::registry::{Api, KindProvider};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::Guest,
    collection: "/users",
    api: Api::V1,
    natural_key: Some("mail"),
    desired: |s, m| {
        for (k, d) in &s.guest { m.insert(desired(k, &d.value)); }
    },
    export_file: "guests.toml",
    export_title: "Guests",
};

pub fn desired(key: &str, g: &Guest) -> DesiredResource {
    let mut p = Props::new();
    p.insert("displayName".into(), json!(g.display_name));
    p.insert("accountEnabled".into(), json!(true));
    let mut r = resource(Address::new(Kind::Guest, key), g.email.to_lowercase(), g.display_name.clone(), p);
    r.create_only.insert("invitedUserEmailAddress".into(), json!(g.email));
    r.create_only.insert("inviteRedirectUrl".into(), json!(g.redirect_url));
    r.create_only.insert("sendInvitationMessage".into(), json!(g.send_invitation));
    // Shown to approvers in the plan; never sent (the invitation body names its fields).
    if let Some(s) = &g.sponsor {
        r.create_only.insert("sponsor".into(), json!(s));
    }
    r.expires = Some(g.expires);
    r
}

/// A live guest, keyed by its e-mail address (mail, else first otherMails).
pub fn normalize(raw: &Value) -> Option<LiveObject> {
    if !str_field(raw, "userType").eq_ignore_ascii_case("guest") {
        return None;
    }
    let mail = raw
        .get("mail")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .or_else(|| raw.get("otherMails").and_then(|m| m.get(0)).and_then(Value::as_str))
        .unwrap_or_default()
        .to_lowercase();
    Some(LiveObject {
        kind: Kind::Guest,
        id: str_field(raw, "id").to_string(),
        natural_key: mail,
        display_name: str_field(raw, "displayName").to_string(),
        props: live_props(raw, &["userType", "mail", "otherMails", "userPrincipalName", "mailNickname", "passwordPolicies"]),
    })
}

/// The POST /invitations body.
pub fn invitation_body(r: &DesiredResource) -> Value {
    json!({
        "invitedUserEmailAddress": r.create_only.get("invitedUserEmailAddress"),
        "invitedUserDisplayName": r.props.get("displayName"),
        "inviteRedirectUrl": r.create_only.get("inviteRedirectUrl"),
        "sendInvitationMessage": r.create_only.get("sendInvitationMessage").cloned().unwrap_or(json!(false)),
    })
}
