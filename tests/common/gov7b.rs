//! Set-up for tests whose fixtures hold access the gov7b lints refuse
//! unless excepted (a permanent writing Intune role over all devices is
//! `standing-privileged-access`).

use std::path::Path;

/// `"LINT:ADDRESS" = "why"` added to the example's `[governance.exceptions]`.
pub fn except(dir: &Path, key: &str, why: &str) {
    super::gov::edit_file(dir, "tenant.toml", |t| t.replace("[governance.exceptions]\n", &format!("[governance.exceptions]\n\"{key}\" = \"{why}\"\n")));
}

/// The Intune operators group (`group`, its TOML) added to the example, and
/// the writing Intune role (`tests/fixtures/full-intune-role.toml`) assigned
/// to it over all devices, permanent on purpose: excepted from
/// `standing-privileged-access`.
pub fn intune_ops(dir: &Path, group: &str) {
    super::gov::append(dir, "groups.toml", group);
    std::fs::write(dir.join("rbac.toml"), include_str!("../fixtures/full-intune-role.toml")).expect("rbac.toml is written");
    except(dir, "standing-privileged-access:intune_role_assignment.ops", "test fixture: permanent on purpose");
}
