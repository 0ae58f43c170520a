//! Guests: B2B invitations (`POST /invitations`), read back from `/users`
//! with userType Guest. Matched by e-mail address.

use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::Guest;
use schema::{Address, Kind};
use serde_json::{json, Value};

use super::{live_props, resource, str_field};
use super::registry::{key_is, lit, Api, BoxFuture, Created, KindProvider, NaturalKey, Read};
use crate::apply::{delete_plain, err, Writer};
use crate::export::{b, ExportCx};
use crate::graph::Method;
use engine::apply::ExecError;

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::Guest,
    collection: "/users",
    api: Api::V1,
    // Guests are matched by mail or by any of otherMails (where an invited
    // address may be kept when mail is not set), and only guests: a member
    // user with the same mail is never adopted as the guest.
    natural_key: Some(NaturalKey {
        field: "mail",
        select: "otherMails,userType",
        filter: |r| {
            let key = lit(&r.natural_key);
            (format!("(mail eq {key} or otherMails/any(m:m eq {key})) and userType eq 'Guest'"), r.natural_key.clone())
        },
        matches: |o, _, wanted| {
            let mail = key_is(o, "mail", wanted) || o.get("otherMails").and_then(Value::as_array).is_some_and(|m| m.iter().any(|x| x.as_str().is_some_and(|x| x.to_lowercase() == wanted)));
            mail && o.get("userType").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("guest"))
        },
    }),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.guest { m.insert(desired(k, &d.value)); }
    },
    export_file: "guests.toml",
    export_title: "Guests",
    read: Read::With(Kind::User),
    create,
    update: super::user::update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: Vec::new,
    after_post: &["accountEnabled"],
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

/// Guests are invited (`/invitations`), not created; a disabled one is
/// disabled once readable.
fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let api = w.api();
        let created = w.send(&api, Method::POST, "/invitations", Some(invitation_body(r))).await?;
        let id = created.pointer("/invitedUser/id").and_then(Value::as_str).map(str::to_string).ok_or_else(|| err("the invitation response has no invitedUser.id"))?;
        w.created(&id)?;
        w.wait(&api, &format!("/users/{id}")).await?;
        if r.props.get("accountEnabled") == Some(&Value::Bool(false)) {
            w.send(&api, Method::PATCH, &format!("/users/{id}"), Some(json!({"accountEnabled": false}))).await?;
        }
        Ok(id)
    })
}

/// Disabled guests are skipped (their access has in effect ended); Graph
/// keeps no expiry, so each is given 90 days from the export.
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = std::collections::BTreeMap::new();
    let expires = cx.now() + chrono::Duration::days(90);
    for o in objects {
        let enabled = b(&o.props, "accountEnabled") != Some(false);
        if !enabled {
            cx.warn(format!("guest {} ({}) is disabled: not exported", o.natural_key, o.id));
        }
        if !enabled || o.natural_key.is_empty() {
            continue;
        }
        let a = cx.key(Kind::Guest, &format!("guest-{}", o.natural_key.split('@').next().unwrap_or_default()), &o.id);
        t.insert(
            a.key.clone(),
            Guest {
                email: o.natural_key.clone(),
                display_name: o.display_name.clone(),
                redirect_url: "https://myapps.microsoft.com".into(),
                expires,
                send_invitation: false,
                sponsor: None,
            },
        );
        cx.record(a, &o.id);
    }
    let note = "# Guests in Graph have no expiry; each is given 90 days from the export.\n# Set the real end of each guest's access.\n\n";
    cx.table(Kind::Guest, note, &t);
}
