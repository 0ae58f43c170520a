//! Set-up for tests whose fixtures hold access the gov7b lints refuse
//! unless excepted (a permanent writing Intune role over all devices is
//! `standing-privileged-access`).

use std::path::Path;

/// `"LINT:ADDRESS" = "why"` added to the example's `[governance.exceptions]`.
pub fn except(dir: &Path, key: &str, why: &str) {
    super::gov::edit_file(dir, "tenant.toml", |t| t.replace("[governance.exceptions]\n", &format!("[governance.exceptions]\n\"{key}\" = \"{why}\"\n")));
}
