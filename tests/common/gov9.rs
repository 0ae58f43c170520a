//! Set-up for tests whose desired state holds an eligible privileged role
//! without declaring its PIM settings: the live lint of those settings
//! (`privileged-activation-without-approval`, the sandbox's default being
//! Entra's: no approval on activation) excepted with a reason in
//! `[governance.exceptions]`, so the test stays about what it tests.

use std::path::Path;

/// The approval lint excepted for each of `addresses` (role assignments)
/// in `dir/tenant.toml`.
pub fn except_pim_approval(dir: &Path, addresses: &[&str]) {
    super::gov::edit_file(dir, "tenant.toml", |t| {
        let lines: String = addresses.iter().map(|a| format!("\"privileged-activation-without-approval:{a}\" = \"test set-up: the role's PIM settings are not what this test is about\"\n")).collect();
        assert!(t.contains("[governance.exceptions]\n"), "the example's exceptions table moved");
        t.replacen("[governance.exceptions]\n", &format!("[governance.exceptions]\n{lines}"), 1)
    });
}

/// Global Administrator's PIM settings declared in `dir` (MFA and approval
/// on activation, adele approving; no expiry of active assignments, which
/// break-glass holds permanently), for tests that grant it eligibly and
/// later drop and restore the grant (an exception would follow the grant
/// into `[governance]`).
pub fn declare_ga_pim(dir: &Path) {
    super::gov::append(
        dir,
        "role-policies.toml",
        "[role_policy.global-administrator]\nrole = \"Global Administrator\"\nactivation = { max_duration = \"PT2H\", require_mfa = true, require_justification = true, require_approval = true, approvers = [\"adele\"] }\neligible_expiry = \"P365D\"\n",
    );
}
