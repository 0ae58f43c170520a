//! Cross-kind: the expiry horizon of time-boxed access (guests, role
//! assignments).

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Time-boxed access with an end date years away is standing access in
/// disguise, and usually a typo in the year. PIM's own default maximum for
/// assignments is one year; allow a little over that.
pub const MAX_EXPIRY_DAYS: i64 = 400;

pub(super) fn check_expiry_horizon(cx: &mut Ctx) {
    let limit = cx.now + chrono::Duration::days(MAX_EXPIRY_DAYS);
    let mut far = Vec::new();
    for (key, d) in &cx.state.guest {
        if d.value.expires > limit {
            // A guest's access beyond the horizon (`9999-12-31`) is standing
            // access: an error, as for privileged roles.
            let days = (d.value.expires - cx.now).num_days();
            cx.error(
                "standing-guest-access",
                &d.origin,
                &path!["guest", key, "expires"],
                format!(
                    "guest.{key} expires in {days} days ({}): guest access is time-boxed and must end within {MAX_EXPIRY_DAYS} days",
                    d.value.expires.format("%Y-%m-%d")
                ),
            );
        }
    }
    for (key, d) in &cx.state.role_assignment {
        if let Some(e) = d.value.expires {
            if e > limit {
                far.push((Kind::RoleAssignment, key, &d.origin, e));
            }
        }
    }
    for (key, d) in &cx.state.intune_role_assignment {
        if let Some(e) = d.value.expires.filter(|e| *e > limit) {
            far.push((Kind::IntuneRoleAssignment, key, &d.origin, e));
        }
    }
    for (kind, key, origin, expires) in far {
        let days = (expires - cx.now).num_days();
        cx.warning(
            "long-expiry",
            origin,
            &path![kind.as_str(), key, "expires"],
            format!(
                "{kind}.{key} expires in {days} days ({}); time-boxed access should end within {MAX_EXPIRY_DAYS} days",
                expires.format("%Y-%m-%d")
            ),
        );
    }
}
