//! The shape of the Graph object ids tenantctl keeps (the ledger) and is
//! given (`import`): checked before one is put in a URL, so a ledger or a
//! command line holding `../users/x` cannot point a request at another
//! object or collection. Ids are also percent-encoded as a path segment
//! wherever one is put in a URL ([`path_segment`]), as defence in depth.

use std::borrow::Cow;

use crate::address::Kind;

/// The longest id accepted (role assignment ids are about 50 characters).
const MAX_ID: usize = 256;

/// Why `id` cannot be the id of a `kind` object, or `None` when it can:
/// directory objects (users, guests, groups), Conditional Access policies
/// and Intune objects have GUIDs; role assignments (and PIM schedules) have
/// opaque ids of letters, digits, `-` and `_` (base64url).
pub fn problem(kind: Kind, id: &str) -> Option<String> {
    match kind {
        Kind::RoleAssignment => {
            let ok = !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            (!ok).then(|| format!("`{}` is not a role assignment id (letters, digits, `-` and `_`, at most {MAX_ID})", shown(id)))
        }
        // Singletons: the authorization policy's id is its name; the
        // default cross-tenant configuration is `default`, partners are
        // keyed by tenant id.
        Kind::AuthorizationPolicy if id == "authorizationPolicy" => None,
        Kind::CrossTenantAccess if id == "default" => None,
        // PIM policy ids are `DirectoryRole_{tenant}_{guid}`.
        Kind::RolePolicy => {
            let ok = !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            (!ok).then(|| format!("`{}` is not a role management policy id (letters, digits, `-` and `_`, at most {MAX_ID})", shown(id)))
        }
        // Enrollment configurations are `{guid}_{Type}`: the built-in ones
        // `{tenant}_DefaultWindows10EnrollmentCompletionPageConfiguration`,
        // `{tenant}_DefaultLimit`; created ones a GUID with their type.
        Kind::EnrollmentStatusPage | Kind::EnrollmentRestriction => {
            let ok = match id.split_once('_') {
                Some((guid, suffix)) => is_guid(guid) && !suffix.is_empty() && suffix.len() <= 128 && suffix.bytes().all(|b| b.is_ascii_alphanumeric()),
                None => is_guid(id),
            };
            (!ok).then(|| format!("`{}` is not an enrollment configuration id (a GUID, optionally followed by `_` and its type)", shown(id)))
        }
        // The singleton's id is fixed.
        Kind::AuthenticationMethodsPolicy => (id != "authenticationMethodsPolicy").then(|| format!("`{}` is not the authentication methods policy's id (`authenticationMethodsPolicy`)", shown(id))),
        _ => (!is_guid(id)).then(|| format!("`{}` is not a Graph object id of a {kind} (a GUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301)", shown(id))),
    }
}

/// Whether the object `id` of a `kind` is one every tenant is given (a
/// singleton, a role's PIM policy, the default cross-tenant access, the
/// built-in enrollment configurations): holding it proves nothing about
/// who set the tenant up.
pub fn given_by_tenant(kind: Kind, id: &str) -> bool {
    kind.never_deleted()
        || (kind == Kind::CrossTenantAccess && id == "default")
        || (matches!(kind, Kind::EnrollmentStatusPage | Kind::EnrollmentRestriction) && id.split_once('_').is_some_and(|(_, t)| t.starts_with("Default")))
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_guid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `id` as one URL path segment: everything but unreserved characters is
/// percent-encoded, so `/`, `?`, `#` and `..` cannot change the path.
pub fn path_segment(id: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~');
    if !id.is_empty() && id.bytes().all(plain) {
        return Cow::Borrowed(id);
    }
    let mut out = String::with_capacity(id.len() * 3);
    for b in id.bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

/// An id as shown in an error: control characters escaped, cut if long.
fn shown(id: &str) -> String {
    let mut s: String = id.chars().take(80).flat_map(char::escape_debug).collect();
    if id.chars().count() > 80 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrollment_configurations_keep_their_built_in_ids() {
        let tenant = "8f1e2a3b-0000-4000-8000-000000000001";
        for id in [format!("{tenant}_DefaultWindows10EnrollmentCompletionPageConfiguration"), format!("{tenant}_DefaultLimit"), tenant.to_string()] {
            assert_eq!(problem(Kind::EnrollmentStatusPage, &id), None, "{id}");
            assert_eq!(problem(Kind::EnrollmentRestriction, &id), None, "{id}");
        }
        for id in [format!("{tenant}_"), format!("{tenant}_../x"), "DefaultLimit".to_string(), format!("x_{tenant}"), format!("{tenant}_a_b")] {
            assert!(problem(Kind::EnrollmentRestriction, &id).is_some(), "{id}");
        }
        assert!(problem(Kind::Group, &format!("{tenant}_DefaultLimit")).is_some(), "only enrollment configurations");
        assert!(given_by_tenant(Kind::EnrollmentRestriction, &format!("{tenant}_DefaultLimit")));
        assert!(!given_by_tenant(Kind::EnrollmentStatusPage, &format!("{tenant}_Windows10EnrollmentCompletionPageConfiguration")), "a created one");
        assert!(!given_by_tenant(Kind::EnrollmentStatusPage, tenant));
    }

    #[test]
    fn guids_and_role_assignment_ids_pass_paths_do_not() {
        let guid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
        assert_eq!(problem(Kind::Group, guid), None);
        assert_eq!(problem(Kind::DeviceConfiguration, &guid.to_uppercase()), None);
        assert_eq!(problem(Kind::RoleAssignment, "lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1"), None);
        assert_eq!(problem(Kind::RoleAssignment, guid), None);
        for bad in ["../users/x", "", "3f2504e0-4f89-41d3-9a0c-0305e82c330", "3f2504e0/4f89-41d3-9a0c-0305e82c3301", "x?$select=id", "a\nb"] {
            assert!(problem(Kind::Group, bad).is_some(), "{bad:?}");
        }
        for bad in ["../users/x", "", "a b", "a/b", "a%2Fb", "a.b"] {
            assert!(problem(Kind::RoleAssignment, bad).is_some(), "{bad:?}");
        }
        assert!(problem(Kind::User, "a\u{1b}[2J").unwrap().contains("\\u{1b}"));
        assert!(problem(Kind::RoleAssignment, &"a".repeat(300)).is_some());
    }

    #[test]
    fn ids_are_one_path_segment() {
        assert_eq!(path_segment("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
        assert_eq!(path_segment("../users/x"), "%2E%2E%2Fusers%2Fx");
        assert_eq!(path_segment("a?b#c d"), "a%3Fb%23c%20d");
        assert_eq!(path_segment(""), "");
    }
}
