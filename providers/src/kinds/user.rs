//! Member users: people and service accounts (`/users`, userType Member).

use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::user::UserKind;
use schema::kinds::User;
use schema::{Address, Kind};
use serde_json::{json, Value};

use super::{live_props, resource, str_field};
use super::registry::{key_is, lit, Api, BoxFuture, Created, KindProvider, NaturalKey, Read};
use crate::apply::{delete_plain, fail, generate_password, Writer};
use crate::export::{b, s, ExportCx};
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};
use engine::apply::ExecError;
use schema::kinds::user::UserKind as ExportedKind;

/// Properties read for users and guests (one listing serves both kinds).
pub const SELECT: &str = "id,userPrincipalName,displayName,mailNickname,accountEnabled,usageLocation,givenName,surname,jobTitle,department,passwordPolicies,userType,mail,otherMails,externalUserState";

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::User,
    collection: "/users",
    api: Api::V1,
    natural_key: Some(NaturalKey {
        field: "userPrincipalName",
        select: "",
        filter: |r| (format!("userPrincipalName eq {}", lit(&r.natural_key)), r.natural_key.clone()),
        matches: |o, _, wanted| key_is(o, "userPrincipalName", wanted),
    }),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.user {
            if d.value.licenses.is_some() {
                m.origins.insert(Address::new(Kind::User, k), schema::diagnostic::shown_path(&d.origin.file));
            }
            m.insert(desired(k, &d.value));
        }
    },
    export_file: "users.toml",
    export_title: "Member users and service accounts",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![list_path()],
    after_post: &[crate::licensing::PROP],
};

pub fn desired(key: &str, u: &User) -> DesiredResource {
    let mut p = Props::new();
    // The UPN is written and compared as declared; only the natural key
    // (how objects are matched) ignores case, as Entra does.
    p.insert("userPrincipalName".into(), json!(u.user_principal_name));
    p.insert("displayName".into(), json!(u.display_name));
    p.insert("mailNickname".into(), json!(u.mail_nickname));
    p.insert("accountEnabled".into(), json!(u.account_enabled));
    for (name, v) in [
        ("usageLocation", &u.usage_location),
        ("givenName", &u.given_name),
        ("surname", &u.surname),
        ("jobTitle", &u.job_title),
        ("department", &u.department),
    ] {
        if let Some(v) = v {
            p.insert(name.into(), json!(v));
        }
    }
    if let Some(disable) = u.disable_password_expiration {
        p.insert("passwordPolicies".into(), if disable { json!("DisablePasswordExpiration") } else { Value::Null });
    }
    if let Some(licenses) = &u.licenses {
        p.insert(crate::licensing::PROP.into(), crate::licensing::desired_prop(licenses));
    }
    let mut r = resource(
        Address::new(Kind::User, key),
        u.user_principal_name.to_lowercase(),
        u.display_name.clone(),
        p,
    );
    // How the initial password is obtained: the variable's name, never a password.
    if let Some(var) = &u.password_env {
        r.create_only.insert("passwordFromEnv".into(), json!(var));
    }
    let force = u.force_change_password_next_sign_in.unwrap_or(u.kind == UserKind::Member);
    r.create_only.insert("forceChangePasswordNextSignIn".into(), json!(force));
    r
}

/// A live member user; guests are handled by `guest::normalize`.
pub fn normalize(raw: &Value) -> Option<LiveObject> {
    if str_field(raw, "userType").eq_ignore_ascii_case("guest") {
        return None;
    }
    let id = str_field(raw, "id").to_string();
    let upn = str_field(raw, "userPrincipalName").to_lowercase();
    let mut props = live_props(raw, &["userType", "mail", "otherMails", "externalUserState"]);
    if let Some(Value::String(p)) = props.get("passwordPolicies") {
        // Graph returns a comma-separated list; only this policy is managed.
        let v = if p.split(',').any(|s| s.trim() == "DisablePasswordExpiration") {
            json!("DisablePasswordExpiration")
        } else {
            Value::Null
        };
        props.insert("passwordPolicies".into(), v);
    }
    Some(LiveObject {
        kind: Kind::User,
        display_name: str_field(raw, "displayName").to_string(),
        natural_key: upn,
        id,
        props,
    })
}

/// The flag tenantctl manages in `passwordPolicies`.
pub const DISABLE_EXPIRATION: &str = "DisablePasswordExpiration";

/// `passwordPolicies` is a set of flags written as one comma-separated
/// string (`DisablePasswordExpiration, DisableStrongPassword`; `None` for
/// none). The live value with the managed flag set or cleared, every other
/// flag kept.
pub fn password_policies(live: Option<&str>, disable_expiration: bool) -> String {
    let mut flags: Vec<String> = live
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty() && !f.eq_ignore_ascii_case("none") && !f.eq_ignore_ascii_case(DISABLE_EXPIRATION))
        .map(str::to_string)
        .collect();
    if disable_expiration {
        flags.insert(0, DISABLE_EXPIRATION.to_string());
    }
    if flags.is_empty() {
        "None".to_string()
    } else {
        flags.join(", ")
    }
}

/// The POST /users body. `password` is resolved by the caller at apply
/// time and never stored.
pub fn create_body(r: &DesiredResource, password: &str) -> Value {
    let mut body = serde_json::Map::new();
    for (k, v) in &r.props {
        if !v.is_null() && k != crate::licensing::PROP {
            body.insert(k.clone(), v.clone());
        }
    }
    let force = r.create_only.get("forceChangePasswordNextSignIn").cloned().unwrap_or(json!(true));
    // Masked in any Graph error that echoes it.
    crate::graph::redact::register(password);
    body.insert("passwordProfile".into(), json!({"password": password, "forceChangePasswordNextSignIn": force}));
    Value::Object(body)
}


/// `/users`, members and guests in one listing (guests are `Read::With`
/// this kind).
/// The users listing, with the properties tenantctl compares.
fn list_path() -> String {
    format!("/users?$select={SELECT}&$top=999")
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        // Normalized page by page: the raw listing is never held whole.
        let mut out = Vec::new();
        cx.client.v1().list_pages(&list_path(), |page| out.extend(page.iter().filter_map(|u| normalize(u).or_else(|| super::guest::normalize(u))))).await?;
        Ok(out.into())
    })
}

/// The initial password comes from the environment variable desired state
/// names, or is generated; it is never logged or returned.
fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let password = match r.create_only.get("passwordFromEnv").and_then(Value::as_str) {
            Some(var) => w.env(var).ok_or_else(|| crate::apply::err(format!("{}: environment variable {var} (password_env) is not set", w.address())))?,
            None => generate_password(),
        };
        let created = w.send(&w.api(), Method::POST, w.base(), Some(create_body(r, &password))).await?;
        let id = crate::apply::id_of(&created)?;
        if r.props.get(crate::licensing::PROP).and_then(Value::as_array).is_some_and(|l| !l.is_empty()) {
            w.created(&id)?;
            w.wait(&w.api(), &format!("/users/{id}")).await?;
            crate::licensing::assign(w, Kind::User, &id).await?;
        }
        Ok(id)
    })
}

/// PATCH the touched properties (members and guests alike).
pub(crate) fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let mut body = w.scalar(&[crate::licensing::PROP])?;
        // passwordPolicies is a set of flags in one string: only the
        // managed flag changes, the live value's others are kept (Graph
        // clears them all with "None", not null).
        if let Some(want) = body.get("passwordPolicies").cloned() {
            let live = w.client().v1().get_json(&format!("/users/{id}?$select=passwordPolicies")).await.map_err(fail)?;
            let flags = password_policies(live.get("passwordPolicies").and_then(Value::as_str), !want.is_null());
            body.insert("passwordPolicies".into(), json!(flags));
        }
        if !body.is_empty() {
            w.send(&w.api(), Method::PATCH, &format!("/users/{id}"), Some(json!(body))).await?;
        }
        if w.touched().contains(crate::licensing::PROP) {
            crate::licensing::assign(w, w.address().kind, id).await?;
        }
        Ok(())
    })
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = std::collections::BTreeMap::new();
    for o in objects {
        let a = cx.key(Kind::User, o.natural_key.split('@').next().unwrap_or(&o.display_name), &o.id);
        let p = &o.props;
        let u = User {
            // As Graph spells it: the UPN is compared as declared.
            user_principal_name: s(p, "userPrincipalName").unwrap_or_else(|| o.natural_key.clone()),
            display_name: o.display_name.clone(),
            mail_nickname: s(p, "mailNickname").unwrap_or_else(|| o.natural_key.split('@').next().unwrap_or_default().to_string()),
            kind: ExportedKind::Member,
            allowed_roles: Vec::new(),
            read_only: false,
            account_enabled: b(p, "accountEnabled").unwrap_or(true),
            usage_location: s(p, "usageLocation"),
            given_name: s(p, "givenName"),
            surname: s(p, "surname"),
            job_title: s(p, "jobTitle"),
            department: s(p, "department"),
            disable_password_expiration: (s(p, "passwordPolicies").as_deref() == Some("DisablePasswordExpiration")).then_some(true),
            password_env: None,
            force_change_password_next_sign_in: None,
            licenses: crate::licensing::export_list(p.get(crate::licensing::PROP)),
        };
        t.insert(a.key.clone(), u);
        cx.record(a, &o.id);
    }
    cx.table(Kind::User, "", &t);
}

#[cfg(test)]
mod password_policy_tests {
    use super::password_policies;

    #[test]
    fn the_managed_flag_is_set_or_cleared_and_the_others_kept() {
        assert_eq!(password_policies(Some("DisableStrongPassword"), true), "DisablePasswordExpiration, DisableStrongPassword");
        assert_eq!(password_policies(Some("DisablePasswordExpiration,DisableStrongPassword"), false), "DisableStrongPassword");
        assert_eq!(password_policies(Some("DisablePasswordExpiration"), false), "None");
        assert_eq!(password_policies(None, true), "DisablePasswordExpiration");
        assert_eq!(password_policies(Some("None"), true), "DisablePasswordExpiration");
    }
}
