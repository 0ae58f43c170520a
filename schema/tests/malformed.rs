//! A table of malformed desired state: each case must give the expected
//! located diagnostic (code, file:line:column, message), never a panic.

use schema::{load_bytes, LoadError};

const TENANT: &str = "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n";
/// A real Ed25519 public key (example only).
const KEY: &str = "ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=";
const GROUP: &str = "[group.ring]\ndisplay_name = \"Ring\"\nmail_nickname = \"ring\"\n";
/// Two ring groups for rollouts (six lines).
const RINGS: &str = "[group.ring-test]\ndisplay_name = \"Test\"\nmail_nickname = \"ring-test\"\n[group.ring-broad]\ndisplay_name = \"Broad\"\nmail_nickname = \"ring-broad\"\n";

struct Case {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    code: &'static str,
    at: &'static str,
    message: &'static str,
}

fn one(
    name: &'static str,
    text: &str,
    code: &'static str,
    at: &'static str,
    message: &'static str,
) -> Case {
    Case {
        name,
        files: vec![("a.toml", text.as_bytes().to_vec())],
        code,
        at,
        message,
    }
}

impl Case {
    /// Prepend a [tenant] that also verifies `contoso.com`.
    fn with_tenant_domains(mut self) -> Case {
        let text = String::from_utf8_lossy(&self.files[0].1).replacen(
            TENANT,
            "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\nverified_domains = [\"contoso.com\"]\n",
            1,
        );
        self.files[0].1 = text.into_bytes();
        self
    }
}

fn cases() -> Vec<Case> {
    let t = |body: &str| format!("{TENANT}{body}");
    vec![
        // Syntax.
        one("unclosed table header", "[group.ring\ndisplay_name = \"x\"\n", "syntax", "a.toml:1:12", "invalid table header"),
        one("missing value", "[tenant]\nprimary_domain =\n", "syntax", "a.toml:2:17", "string"),
        one("unterminated string", "[tenant]\nprimary_domain = \"contoso\n", "syntax", "a.toml:2:26", "invalid basic string"),
        one("duplicate key in a table", "[group.ring]\ndisplay_name = \"a\"\ndisplay_name = \"b\"\n", "syntax", "a.toml:3:1", "duplicate key"),
        one("bare word value", "[tenant]\nprimary_domain = contoso\n", "syntax", "a.toml:2:18", "string"),
        // Unknown names.
        one("unknown field with suggestion", &t("[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nicknme = \"a\"\n"), "unknown-field", "a.toml:6:1", "did you mean `mail_nickname`"),
        one("unknown table with suggestion", "[gruop.ring]\ndisplay_name = \"x\"\n", "unknown-table", "a.toml:1:2", "did you mean `group`"),
        one("unknown nested field", &t(&format!("{GROUP}[update_ring.r]\ndisplay_name = \"R\"\nassignments = {{ includ = [\"ring\"] }}\n")), "unknown-field", "a.toml:8:17", "did you mean `include`"),
        one("unknown enum value", &t("[update_ring.r]\ndisplay_name = \"R\"\nautomatic_update_mode = \"sometimes\"\n"), "invalid-value", "a.toml:5:25", "unknown variant"),
        // Ranges.
        one("quality deferral over 30", &t("[update_ring.r]\ndisplay_name = \"R\"\nquality_updates_deferral_period_in_days = 45\n"), "out-of-range", "a.toml:5:43", "0 to 30"),
        one("grace period over 7", &t("[update_ring.r]\ndisplay_name = \"R\"\ndeadline_grace_period_in_days = 8\n"), "out-of-range", "a.toml:5:33", "0 to 7"),
        one("rollback window under 2", &t("[update_ring.r]\ndisplay_name = \"R\"\nfeature_updates_rollback_window_in_days = 1\n"), "out-of-range", "a.toml:5:43", "2 to 60"),
        one("restart warning not one of", &t("[update_ring.r]\ndisplay_name = \"R\"\nschedule_restart_warning_in_hours = 3\n"), "out-of-range", "a.toml:5:37", "one of 2, 4, 8, 12, 24"),
        one("negative number", &t("[update_ring.r]\ndisplay_name = \"R\"\ndeadline_for_quality_updates_in_days = -1\n"), "wrong-type", "a.toml:5:40", "invalid value"),
        one("active hours not a time", &t("[update_ring.r]\ndisplay_name = \"R\"\ninstallation_schedule = { active_hours_start = \"25:00\" }\n"), "invalid-time", "a.toml:5:48", "HH:MM"),
        // Graph constraints.
        one("mailNickname with a space", "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"Modern Workplace\"\n", "invalid-mail-nickname", "a.toml:3:17", "a space"),
        one("mailNickname too long", &format!("[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"{}\"\n", "x".repeat(65)), "invalid-mail-nickname", "a.toml:3:17", "at most 64"),
        one("mailNickname not ASCII", "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"grüppe\"\n", "invalid-mail-nickname", "a.toml:3:17", "only ASCII"),
        one("UPN without @", &t("[user.a]\nuser_principal_name = \"alice\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n"), "invalid-upn", "a.toml:4:23", "no `@`"),
        one("UPN domain not verified", &t("[user.a]\nuser_principal_name = \"a@fabrikam.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n"), "upn-domain", "a.toml:4:23", "not a verified domain"),
        one("bad guest e-mail", "[guest.g]\nemail = \"jane@\"\ndisplay_name = \"J\"\nexpires = 2027-01-01T00:00:00Z\n", "invalid-email", "a.toml:2:9", "no valid domain"),
        one("device name template too long", "[autopilot_profile.p]\ndisplay_name = \"P\"\ndevice_name_template = \"CONTOSO-LAPTOP-%RAND:4%\"\n", "device-name-too-long", "a.toml:3:24", "at most 15"),
        one("dynamic group with members", "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembership_rule = \"(user.department -eq \\\"IT\\\")\"\nmembers = []\n", "dynamic-members", "a.toml:5:11", "cannot be listed"),
        one("role-assignable dynamic group", "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembership_rule = \"(user.department -eq \\\"IT\\\")\"\nis_assignable_to_role = true\n", "dynamic-role-assignable", "a.toml:5:25", "cannot be role-assignable"),
        one("unknown role with suggestion", &t("[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n[role_assignment.r]\nprincipal = \"a\"\nrole = \"Intune Admin\"\n"), "unknown-role", "a.toml:9:8", "did you mean `Intune Administrator`"),
        one("unknown CA control", "[conditional_access.c]\ndisplay_name = \"C\"\nstate = \"enabled\"\nusers = { include_users = [\"All\"] }\ngrant = { built_in_controls = [\"mfaa\"] }\n", "unknown-control", "a.toml:5:32", "not a built-in grant control"),
        // Dates.
        one("expiry without offset", "[guest.g]\nemail = \"j@fabrikam.com\"\ndisplay_name = \"J\"\nexpires = 2027-01-01T00:00:00\n", "invalid-date", "a.toml:4:11", "append `Z` for UTC (`2027-01-01T00:00:00Z`)"),
        one("expiry as a date only", "[guest.g]\nemail = \"j@fabrikam.com\"\ndisplay_name = \"J\"\nexpires = 2027-01-01\n", "invalid-date", "a.toml:4:11", "date without a time of day"),
        one("expiry that is not a date", "[guest.g]\nemail = \"j@fabrikam.com\"\ndisplay_name = \"J\"\nexpires = \"next tuesday\"\n", "invalid-date", "a.toml:4:11", "not a date-time"),
        one("role expiry without offset", &t("[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n[role_assignment.r]\nprincipal = \"a\"\nrole = \"Global Reader\"\nexpires = 2027-01-01 08:30:00\n"), "invalid-date", "a.toml:10:11", "without a UTC offset"),
        one("expiry as a number", "[guest.g]\nemail = \"j@fabrikam.com\"\ndisplay_name = \"J\"\nexpires = 20270101\n", "invalid-date", "a.toml:4:11", "e.g. `2026-12-31T17:00:00Z`"),
        // References.
        one("undeclared member with suggestion", &format!("{GROUP}[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembers = [\"rnig\"]\n"), "unknown-reference", "a.toml:7:12", "did you mean `ring`"),
        one("policy assigned to a user", &t("[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n[update_ring.r]\ndisplay_name = \"R\"\nassignments = { include = [\"a\"] }\n"), "wrong-kind-reference", "a.toml:9:28", "which is user.a; expected a group"),
        one("ambiguous reference", &t(&format!("{GROUP}[user.ring]\nuser_principal_name = \"r@contoso.onmicrosoft.com\"\ndisplay_name = \"R\"\nmail_nickname = \"r\"\n[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembers = [\"ring\"]\n")), "ambiguous-reference", "a.toml:13:12", "user.ring or group.ring"),
        one("policy assigned to a user that failed to parse", "[user.a]\nuser_principal_name = 5\n[update_ring.r]\ndisplay_name = \"R\"\nassignments = { include = [\"a\"] }\n", "wrong-kind-reference", "a.toml:5:28", "which is user.a; expected a group"),
        one("member that is a policy", &format!("[update_ring.r]\ndisplay_name = \"R\"\n{GROUP}members = [\"update_ring.r\"]\n"), "wrong-kind-reference", "a.toml:6:12", "which is update_ring.r"),
        one("undeclared full address", &format!("{GROUP}[update_ring.r]\ndisplay_name = \"R\"\nassignments = {{ include = [\"group.rign\"] }}\n"), "unknown-reference", "a.toml:6:28", "no group has that key"),
        // Cycles.
        one("group that contains itself", "[group.a]\ndisplay_name = \"A\"\nmail_nickname = \"a\"\nmembers = [\"a\"]\n", "cycle", "a.toml:4:11", "group.a -> group.a"),
        one("two-group cycle", "[group.a]\ndisplay_name = \"A\"\nmail_nickname = \"a\"\nmembers = [\"b\"]\n[group.b]\ndisplay_name = \"B\"\nmail_nickname = \"b\"\nmembers = [\"a\"]\n", "cycle", "a.toml:4:11", "group.a -> group.b -> group.a"),
        one("three-group cycle", "[group.a]\ndisplay_name = \"A\"\nmail_nickname = \"a\"\nmembers = [\"b\"]\n[group.b]\ndisplay_name = \"B\"\nmail_nickname = \"b\"\nmembers = [\"c\"]\n[group.c]\ndisplay_name = \"C\"\nmail_nickname = \"c\"\nmembers = [\"a\"]\n", "cycle", "a.toml:4:11", "group.a -> group.b -> group.c -> group.a"),
        // Duplicates.
        Case { name: "same address in two files", files: vec![("a.toml", GROUP.as_bytes().to_vec()), ("b.toml", GROUP.as_bytes().to_vec())], code: "duplicate", at: "b.toml:1:1", message: "first declared at a.toml:1" },
        Case { name: "two [tenant] tables", files: vec![("a.toml", TENANT.as_bytes().to_vec()), ("b.toml", TENANT.as_bytes().to_vec())], code: "duplicate", at: "b.toml:1:1", message: "[tenant] is declared more than once" },
        one("two groups with one mailNickname", "[group.a]\ndisplay_name = \"A\"\nmail_nickname = \"same\"\n[group.b]\ndisplay_name = \"B\"\nmail_nickname = \"SAME\"\n", "duplicate-natural-key", "a.toml:6:17", "same mail_nickname as group.a"),
        Case { name: "two [tenant] tables, the first broken", files: vec![("a.toml", b"[tenant]\nprimary_domain = 1\n".to_vec()), ("b.toml", TENANT.as_bytes().to_vec())], code: "duplicate", at: "b.toml:1:1", message: "first declared at a.toml:1:1" },
        Case { name: "same address in two files, the first broken", files: vec![("a.toml", b"[group.ring]\ndisplay_name = 1\n".to_vec()), ("b.toml", GROUP.as_bytes().to_vec())], code: "duplicate", at: "b.toml:1:1", message: "first declared at a.toml:1:1" },
        one("one role twice to one principal", &t("[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n[role_assignment.r1]\nprincipal = \"a\"\nrole = \"Global Reader\"\n[role_assignment.r2]\nprincipal = \"user.a\"\nrole = \"Global Reader\"\n"), "duplicate-natural-key", "a.toml:12:8", "same role at the same scope as role_assignment.r1"),
        // Tables nested wrongly.
        one("a field directly under [user]", "[user]\nname = \"x\"\n", "wrong-type", "a.toml:2:8", "user.name must be a table, found string"),
        one("an array of tables where keyed tables go", "[[group]]\ndisplay_name = \"G\"\n", "wrong-type", "a.toml:1:1", "found an array of tables"),
        one("[[tenant]] instead of [tenant]", "[[tenant]]\nprimary_domain = \"contoso.onmicrosoft.com\"\n", "wrong-type", "a.toml:1:1", "[tenant] must be a table"),
        one("a sub-table that is not a field", &t("[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n[user.a.manager]\nkey = \"b\"\n"), "unknown-field", "a.toml:7:9", "unknown field `manager` in user.a"),
        // Wrong types.
        one("string where a number goes", &t("[update_ring.r]\ndisplay_name = \"R\"\nquality_updates_deferral_period_in_days = \"seven\"\n"), "wrong-type", "a.toml:5:43", "invalid type"),
        one("table where a list goes", &format!("{GROUP}[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembers = {{ a = 1 }}\n"), "wrong-type", "a.toml:7:11", "invalid type"),
        one("a kind that is not a table", "group = 3\n", "wrong-type", "a.toml:1:9", "must be a table"),
        one("missing required field", "[group.g]\ndisplay_name = \"G\"\n", "missing-field", "a.toml:1:1", "missing required field `mail_nickname`"),
        // Files and keys.
        one("empty file", "", "empty-file", "a.toml:1:1", "declares nothing"),
        one("file with only comments", "# nothing here yet\n\n", "empty-file", "a.toml:1:1", "declares nothing"),
        Case { name: "non-UTF-8 bytes", files: vec![("a.toml", b"[tenant]\nprimary_domain = \"caf\xe9\"\n".to_vec())], code: "not-utf8", at: "a.toml:2:22", message: "not valid UTF-8" },
        one("key with a dot", "[group.\"a.b\"]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\n", "invalid-key", "a.toml:1:1", "not a valid key"),
        one("key with a leading dash", "[group.-a]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\n", "invalid-key", "a.toml:1:1", "not a valid key"),
        // Governance.
        one("more approvals than approvers", &format!("[governance]\napprovals_required = 3\n[governance.approvers.a]\nname = \"A\"\npublic_key = \"{KEY}\"\n"), "too-few-approvers", "a.toml:2:22", "only 1 approver"),
        one("public key of the wrong length", "[governance]\napprovals_required = 1\nunattended = \"test\"\n[governance.approvers.a]\nname = \"A\"\npublic_key = \"ed25519:AAAA\"\n", "invalid-key", "a.toml:6:14", "holds 3 bytes; an Ed25519 public key is 32"),
        one("public key not base64", "[governance]\n[governance.approvers.a]\nname = \"A\"\npublic_key = \"ed25519:not base64!\"\n", "invalid-key", "a.toml:4:14", "not base64"),
        one("two approvers with one key", &format!("[governance]\napprovals_required = 2\n[governance.approvers.a]\nname = \"A\"\npublic_key = \"{KEY}\"\n[governance.approvers.b]\nname = \"B\"\npublic_key = \"{KEY}\"\n"), "duplicate-approver-key", "a.toml:8:14", "one person could give both approvals"),
        one("a weak (small-order) approver key", "[governance]\napprovals_required = 1\nunattended = \"test\"\n[governance.approvers.a]\nname = \"A\"\npublic_key = \"ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n", "invalid-key", "a.toml:6:14", "weak key of small order"),
        one("a non-canonical author key", "[governance]\napprovals_required = 1\nunattended = \"test\"\n[governance.authors.a]\nname = \"A\"\npublic_key = \"ed25519:7v///////////////////////////////////////38=\"\n", "invalid-key", "a.toml:6:14", "governance.authors.a: public_key is"),
        // Tenant.
        one("tenant id that is not a GUID", "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\ntenant_id = \"contoso\"\n", "invalid-guid", "a.toml:3:13", "not a GUID"),
        one("primary domain that is not a domain", "[tenant]\nprimary_domain = \"contoso\"\n", "invalid-domain", "a.toml:2:18", "not a domain name"),
        // More Graph constraints an admin expects.
        one("UPN with a character Entra refuses", &t("[user.a]\nuser_principal_name = \"a(b)@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n"), "invalid-upn", "a.toml:4:23", "contains `(` before the `@`"),
        one("UPN local part over 64", &t(&format!("[user.a]\nuser_principal_name = \"{}@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n", "a".repeat(65))), "invalid-upn", "a.toml:4:23", "at most 64"),
        one("guest from the tenant's own domain", &t("[guest.g]\nemail = \"j@contoso.com\"\ndisplay_name = \"J\"\nexpires = 2027-01-01T00:00:00Z\n"), "guest-in-own-domain", "a.toml:5:9", "declare a [user] instead").with_tenant_domains(),
        one("rule that mixes users and devices", "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembership_rule = '(user.department -eq \"IT\") or (device.deviceOSType -eq \"Windows\")'\n", "invalid-rule", "a.toml:4:19", "mixes user and device properties"),
        one("rule with an unclosed parenthesis", "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembership_rule = '(user.department -eq \"IT\"'\n", "invalid-rule", "a.toml:4:19", "never closed"),
        one("conditional access without an application", "[conditional_access.c]\ndisplay_name = \"C\"\nstate = \"enabled\"\nusers = { include_users = [\"All\"] }\ngrant = { built_in_controls = [\"mfa\"] }\n", "no-applications", "a.toml:1:1", "include at least one application"),
        one("unknown client app type", "[conditional_access.c]\ndisplay_name = \"C\"\nstate = \"enabled\"\nclient_app_types = [\"browsers\"]\nusers = { include_users = [\"All\"] }\ngrant = { built_in_controls = [\"mfa\"] }\n", "unknown-client-app-type", "a.toml:4:21", "did you mean `browser`"),
        one("application that is not an id", "[conditional_access.c]\ndisplay_name = \"C\"\nstate = \"enabled\"\nusers = { include_users = [\"All\"] }\napplications = { include_applications = [\"all\"] }\ngrant = { built_in_controls = [\"mfa\"] }\n", "invalid-application", "a.toml:5:42", "did you mean `All`"),
        one("Autopilot profile for all users", "[autopilot_profile.p]\ndisplay_name = \"P\"\nassignments = { all_users = true }\n", "autopilot-targets-users", "a.toml:3:29", "apply to devices"),
        one("Autopilot profile for a group of users", "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembership_rule = '(user.department -eq \"IT\")'\n[autopilot_profile.p]\ndisplay_name = \"P\"\nassignments = { include = [\"g\"] }\n", "autopilot-targets-users", "a.toml:7:28", "dynamic group of users"),
        one("device name template with an unknown macro", "[autopilot_profile.p]\ndisplay_name = \"P\"\ndevice_name_template = \"MWD-%SERIALNO%\"\n", "invalid-device-name", "a.toml:3:24", "the macros are %SERIAL% and %RAND:x%"),
        one("device name template with an underscore", "[autopilot_profile.p]\ndisplay_name = \"P\"\ndevice_name_template = \"MWD_%RAND:4%\"\n", "invalid-device-name", "a.toml:3:24", "contains `_`"),
        one("device name template without a macro", "[autopilot_profile.p]\ndisplay_name = \"P\"\ndevice_name_template = \"LAPTOP\"\n", "invalid-device-name", "a.toml:3:24", "every device would get the same name"),
        // Ring-by-ring rollout.
        one("rollout with one ring", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\"], soak = \"48h\" }}\n"), "rollout-too-few-rings", "a.toml:9:21", "at least two rings, found 1"),
        one("rollout ring that is not declared", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\", \"ring-brod\"], soak = \"48h\" }}\n"), "unknown-reference", "a.toml:9:35", "did you mean `ring-broad`"),
        one("rollout ring that is a user", &t(&format!("{RINGS}[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n[device_configuration.d]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"D\"\nrollout = {{ rings = [\"ring-test\", \"a\"], soak = \"2d\" }}\n")), "wrong-kind-reference", "a.toml:16:35", "which is user.a; expected a group"),
        one("rollout ring listed twice", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\", \"group.ring-test\"], soak = \"48h\" }}\n"), "rollout-duplicate-ring", "a.toml:9:35", "ring `group.ring-test` (group.ring-test) is listed twice"),
        one("rollout soak that is not a duration", &format!("{RINGS}[compliance_policy.c]\nodata_type = \"windows10CompliancePolicy\"\ndisplay_name = \"C\"\nrollout = {{ rings = [\"ring-test\", \"ring-broad\"], soak = \"2 days\" }}\n"), "invalid-soak", "a.toml:10:57", "`48h`, `2d`, `90m`"),
        one("rollout soak of zero", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\", \"ring-broad\"], soak = \"0h\" }}\n"), "invalid-soak", "a.toml:9:57", "soak is zero"),
        one("rollout with a ring group also included", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\", \"ring-broad\"], soak = \"48h\" }}\nassignments = {{ include = [\"ring-test\"] }}\n"), "rollout-with-include", "a.toml:10:27", "`ring-test` is a ring"),
        one("rollout with all devices", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\", \"ring-broad\"], soak = \"48h\" }}\nassignments = {{ all_devices = true }}\n"), "rollout-with-include", "a.toml:10:31", "all_devices cannot be set"),
        one("rollout ring also excluded", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\", \"ring-broad\"], soak = \"48h\" }}\nassignments = {{ exclude = [\"ring-broad\"] }}\n"), "rollout-ring-excluded", "a.toml:10:28", "its ring would get nothing"),
        one("rollout copy named like another policy", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\", \"ring-broad\"], soak = \"48h\" }}\n[device_configuration.other]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"R [ring-broad]\"\n"), "duplicate-natural-key", "a.toml:9:35", "would be named `R [ring-broad]`, like device_configuration.other"),
        one("rollout field misspelt", &format!("{RINGS}[update_ring.r]\ndisplay_name = \"R\"\nrollout = {{ rings = [\"ring-test\", \"ring-broad\"], sok = \"48h\" }}\n"), "unknown-field", "a.toml:9:50", "did you mean `soak`"),
        one("an empty unattended reason", "[governance]\napprovals_required = 1\nunattended = \" \"\n", "unattended-required", "a.toml:3:14", "needs a reason"),
        one("public key without its prefix", "[governance]\napprovals_required = 1\nunattended = \"test\"\n[governance.approvers.a]\nname = \"A\"\npublic_key = \"AAAA\"\n", "invalid-key", "a.toml:6:14", "ed25519:"),
    ]
}

#[test]
fn every_malformed_input_gives_its_located_error() {
    let cases = cases();
    assert!(cases.len() >= 35, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let files: Vec<(&str, &[u8])> =
            case.files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
        let diags = match load_bytes(&files) {
            Err(LoadError::Invalid(d)) => d,
            Ok(_) => {
                failures.push(format!("{}: loaded without error", case.name));
                continue;
            }
            Err(e) => {
                failures.push(format!("{}: unexpected error {e}", case.name));
                continue;
            }
        };
        let found = diags.errors().find(|d| {
            d.code == case.code
                && d.location.as_ref().is_some_and(|l| {
                    format!("{}:{}:{}", l.file.display(), l.line, l.column) == case.at
                })
        });
        match found {
            Some(d) => {
                let shown = format!("{} {}", d.message, d.help.clone().unwrap_or_default());
                if !shown.contains(case.message) {
                    failures.push(format!(
                        "{}: message `{shown}` lacks `{}`",
                        case.name, case.message
                    ));
                }
                let rendered = d.to_string();
                if !rendered.contains(&format!("--> {}", case.at)) {
                    failures.push(format!(
                        "{}: rendering lacks the location:\n{rendered}",
                        case.name
                    ));
                }
            }
            None => failures.push(format!(
                "{}: expected [{}] at {}, got:\n{}",
                case.name,
                case.code,
                case.at,
                diags
                    .0
                    .iter()
                    .map(|d| format!(
                        "  [{}] {:?} {}",
                        d.code,
                        d.location.as_ref().map(|l| (
                            l.file.display().to_string(),
                            l.line,
                            l.column
                        )),
                        d.message
                    ))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn several_problems_are_reported_together() {
    let text = format!(
        "{TENANT}[group.a]\ndisplay_name = \"A\"\nmail_nickname = \"has space\"\n[group.b]\ndisplay_name = \"B\"\nmail_nickname = \"b\"\nmembers = [\"nobody\"]\n\
         [update_ring.r]\ndisplay_name = \"R\"\ndeadline_grace_period_in_days = 9\n[user.u]\nuser_principal_name = \"u@contoso.onmicrosoft.com\"\ndisplay_name = \"U\"\nmail_nick = \"u\"\n"
    );
    let Err(LoadError::Invalid(d)) = schema::load_str(&[("a.toml", &text)]) else {
        panic!("expected errors")
    };
    let codes: Vec<&str> = d.errors().map(|d| d.code).collect();
    for code in [
        "invalid-mail-nickname",
        "unknown-reference",
        "out-of-range",
        "unknown-field",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    // Sorted by position: deterministic output.
    let lines: Vec<usize> = d
        .errors()
        .map(|d| d.location.as_ref().unwrap().line)
        .collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn far_off_expiries_are_warnings_not_errors() {
    // A role's far-off end is a warning (a privileged one is linted as
    // standing access by governance); a guest's is standing guest access,
    // an error (hostile12 #5).
    let text = format!(
        "{TENANT}[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n\
         [role_assignment.r]\nprincipal = \"a\"\nrole = \"Global Reader\"\nexpires = 2098-01-01T00:00:00Z\n"
    );
    let state = schema::load_str(&[("a.toml", &text)]).expect("warnings do not stop the load");
    let found: Vec<(&str, usize, usize)> = state
        .warnings
        .0
        .iter()
        .map(|d| {
            let l = d.location.as_ref().expect("located");
            (d.code, l.line, l.column)
        })
        .collect();
    assert_eq!(found, vec![("long-expiry", 10, 11)], "{}", state.warnings);
    let text = format!("{TENANT}[guest.g]\nemail = \"j@fabrikam.com\"\ndisplay_name = \"J\"\nexpires = 2099-01-01T00:00:00Z\n");
    let Err(LoadError::Invalid(d)) = schema::load_str(&[("a.toml", &text)]) else {
        panic!("a guest with standing access is refused")
    };
    let e = d.errors().find(|e| e.code == "standing-guest-access").expect("standing-guest-access");
    assert!(e.message.contains("guest.g expires in"), "{}", e.message);
    let l = e.location.as_ref().expect("located");
    assert_eq!((l.line, l.column), (6, 11));
}

#[test]
fn a_date_error_renders_like_rustc_with_help() {
    let text =
        "[guest.g]\nemail = \"j@fabrikam.com\"\ndisplay_name = \"J\"\nexpires = 2027-01-01\n";
    let Err(LoadError::Invalid(d)) = schema::load_str(&[("guests.toml", text)]) else {
        panic!("expected errors")
    };
    let shown = d.0[0].to_string();
    assert_eq!(
        shown,
        "error[invalid-date]: guest.g.expires: `2027-01-01` is a date without a time of day or UTC offset\n \
         --> guests.toml:4:11\n  \
         |\n\
         4 | expires = 2027-01-01\n  \
         |           ^^^^^^^^^^\n  \
         = help: write a moment with its offset, e.g. `2027-01-01T00:00:00Z` for midnight UTC or `2027-01-01T17:00:00+01:00`\n"
    );
}

#[test]
fn a_rollout_over_declared_rings_loads() {
    let text = format!(
        "{TENANT}{RINGS}[update_ring.quality]\ndisplay_name = \"Quality\"\nrollout = {{ rings = [\"ring-test\", \"group.ring-broad\"], soak = \"2d\" }}\nassignments = {{ exclude = [\"ring\"] }}\n{GROUP}"
    );
    let state = schema::load_str(&[("a.toml", &text)]).unwrap_or_else(|e| panic!("{e}"));
    let r = state.update_ring["quality"].value.rollout.clone().expect("rollout is kept");
    assert_eq!(r.rings, vec!["ring-test", "group.ring-broad"]);
    assert_eq!(r.soak_secs(), Some(2 * 86400));
}
