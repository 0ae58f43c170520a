//! Stage 1 checks on a merged `DesiredState`: references, kinds, cycles,
//! natural-key clashes and Graph's documented constraints. Each check is a
//! named function that adds diagnostics; all run, so every problem is
//! reported at once.

use std::collections::BTreeMap;

use petgraph::graph::DiGraph;

use crate::address::{Address, Kind};
use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::kinds::conditional_access::{BUILT_IN_CONTROLS, SPECIAL_USERS};
use crate::kinds::role_assignment::role_template_id;
use crate::kinds::{autopilot_profile, update_ring, Assignments};
use crate::load::path_text;
use crate::path;
use crate::source::{Seg, SourceFile};
use crate::state::{DesiredState, ResolveError};

/// Finds locations of paths across all loaded files.
struct Ctx<'a> {
    state: &'a DesiredState,
    sources: &'a [SourceFile],
    diags: &'a mut Diagnostics,
}

impl Ctx<'_> {
    /// Location of `path` in the file that declares its first two segments.
    fn locate(&self, origin: &Location, path: &[Seg]) -> Location {
        self.sources
            .iter()
            .find(|s| s.path == origin.file)
            .map(|s| s.locate(path))
            .unwrap_or_else(|| origin.clone())
    }

    fn error(
        &mut self,
        code: &'static str,
        origin: &Location,
        path: &[Seg],
        message: String,
    ) -> &mut Diagnostic {
        let loc = self.locate(origin, path);
        self.diags
            .push(Diagnostic::error(code, message).at(Some(loc)));
        self.diags.0.last_mut().expect("just pushed")
    }

    fn warning(&mut self, code: &'static str, origin: &Location, path: &[Seg], message: String) {
        let loc = self.locate(origin, path);
        self.diags
            .push(Diagnostic::warning(code, message).at(Some(loc)));
    }

    /// Resolve a reference and report why it does not, at its location.
    fn reference(
        &mut self,
        origin: &Location,
        path: &[Seg],
        reference: &str,
        allowed: &[Kind],
    ) -> Option<Address> {
        match self.state.resolve(reference, allowed) {
            Ok(a) => Some(a),
            Err(ResolveError::Undeclared { reference, .. })
                if allowed.iter().any(|k| {
                    self.state
                        .broken
                        .contains(&Address::new(*k, reference.clone()))
                }) =>
            {
                None
            }
            Err(e) => {
                let field = path_text(path);
                let expected = allowed
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ");
                let (code, message, help) = match e {
                    ResolveError::Undeclared { reference, suggestion } => (
                        "unknown-reference",
                        format!("{field} refers to `{reference}`, but no {expected} has that key"),
                        suggestion.map(|s| format!("did you mean `{s}`?")),
                    ),
                    ResolveError::WrongKind { reference, found, .. } => (
                        "wrong-kind-reference",
                        format!("{field} refers to `{reference}`, which is {found}; expected a {expected}"),
                        None,
                    ),
                    ResolveError::Ambiguous { reference, candidates } => (
                        "ambiguous-reference",
                        format!(
                            "{field} refers to `{reference}`, which could be {}",
                            candidates.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" or ")
                        ),
                        Some("write the full address, e.g. `user.KEY`".to_string()),
                    ),
                };
                let d = self.error(code, origin, path, message);
                if let Some(h) = help {
                    d.help = Some(h);
                }
                None
            }
        }
    }
}

/// Run every check, adding problems to `diags`.
pub fn validate(state: &DesiredState, sources: &[SourceFile], diags: &mut Diagnostics) {
    let mut cx = Ctx {
        state,
        sources,
        diags,
    };
    check_users(&mut cx);
    check_guests(&mut cx);
    check_groups(&mut cx);
    check_role_assignments(&mut cx);
    check_policies(&mut cx);
    check_update_rings(&mut cx);
    check_autopilot(&mut cx);
    check_conditional_access(&mut cx);
    check_governance(&mut cx);
    check_natural_keys(&mut cx);
    check_cycles(&mut cx);
}

/// mailNickname: at most 64 ASCII characters, none of `@()\[]";:.<>,` or space.
pub fn mail_nickname_problem(nick: &str) -> Option<String> {
    nickname_problem(nick, false)
}

/// The same rule for users, whose aliases may contain interior dots
/// (`adele.vance`), as Exchange allows.
pub fn user_mail_nickname_problem(nick: &str) -> Option<String> {
    if nick.starts_with('.') || nick.ends_with('.') || nick.contains("..") {
        return Some("has a leading, trailing or double `.`, which Graph does not allow".into());
    }
    nickname_problem(nick, true)
}

fn nickname_problem(nick: &str, dots: bool) -> Option<String> {
    if nick.is_empty() {
        return Some("must not be empty".into());
    }
    if nick.len() > 64 {
        return Some(format!("is {} characters long; Graph allows at most 64", nick.len()));
    }
    if let Some(c) = nick.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        return Some(format!("contains `{c}`; only ASCII characters are allowed"));
    }
    if let Some(c) = nick.chars().find(|c| "@()\\[]\";:<>, ".contains(*c) || (*c == '.' && !dots)) {
        let shown = if c == ' ' { "a space".to_string() } else { format!("`{c}`") };
        return Some(format!("contains {shown}, which Graph does not allow"));
    }
    None
}

/// A plain check of e-mail syntax: one `@`, a non-empty local part, a dotted domain.
pub fn email_problem(email: &str) -> Option<String> {
    let Some((local, domain)) = email.split_once('@') else {
        return Some(format!("`{email}` is not an e-mail address (no `@`)"));
    };
    if local.is_empty() || domain.contains('@') || email.chars().any(char::is_whitespace) {
        return Some(format!("`{email}` is not an e-mail address"));
    }
    if !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Some(format!("`{email}` has no valid domain"));
    }
    None
}

fn check_users(cx: &mut Ctx) {
    let domains: Option<Vec<String>> = cx
        .state
        .tenant
        .as_ref()
        .map(|t| t.value.domains().map(str::to_ascii_lowercase).collect());
    for (key, d) in &cx.state.user {
        let u = &d.value;
        if let Some(p) = email_problem(&u.user_principal_name) {
            cx.error(
                "invalid-upn",
                &d.origin,
                &path!["user", key, "user_principal_name"],
                format!("user.{key}: {p}"),
            );
        } else if let (Some(domains), Some((_, domain))) =
            (&domains, u.user_principal_name.split_once('@'))
        {
            if !domains.contains(&domain.to_ascii_lowercase()) {
                cx.error(
                    "upn-domain",
                    &d.origin,
                    &path!["user", key, "user_principal_name"],
                    format!("user.{key}: `{domain}` is not a verified domain of the tenant"),
                )
                .help = Some(format!("verified domains: {}", domains.join(", ")));
            }
        }
        if let Some(p) = user_mail_nickname_problem(&u.mail_nickname) {
            cx.error(
                "invalid-mail-nickname",
                &d.origin,
                &path!["user", key, "mail_nickname"],
                format!("user.{key}: mail_nickname {p}"),
            );
        }
        if let Some(loc) = &u.usage_location {
            if loc.len() != 2 || !loc.chars().all(|c| c.is_ascii_uppercase()) {
                cx.error(
                    "invalid-usage-location",
                    &d.origin,
                    &path!["user", key, "usage_location"],
                    format!("user.{key}: usage_location `{loc}` is not an ISO 3166 alpha-2 code such as `US`"),
                );
            }
        }
        if let Some(var) = &u.password_env {
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                cx.error(
                    "invalid-env-name",
                    &d.origin,
                    &path!["user", key, "password_env"],
                    format!("user.{key}: password_env must name an environment variable, not hold a password"),
                );
            }
        }
    }
}

fn check_guests(cx: &mut Ctx) {
    for (key, d) in &cx.state.guest {
        let g = &d.value;
        if let Some(p) = email_problem(&g.email) {
            cx.error(
                "invalid-email",
                &d.origin,
                &path!["guest", key, "email"],
                format!("guest.{key}: {p}"),
            );
        }
        if !(g.redirect_url.starts_with("https://") || g.redirect_url.starts_with("http://")) {
            cx.error(
                "invalid-url",
                &d.origin,
                &path!["guest", key, "redirect_url"],
                format!(
                    "guest.{key}: redirect_url `{}` is not an http(s) URL",
                    g.redirect_url
                ),
            );
        }
    }
}

fn check_groups(cx: &mut Ctx) {
    for (key, d) in &cx.state.group {
        let g = &d.value;
        if let Some(p) = mail_nickname_problem(&g.mail_nickname) {
            cx.error(
                "invalid-mail-nickname",
                &d.origin,
                &path!["group", key, "mail_nickname"],
                format!("group.{key}: mail_nickname {p}"),
            );
        }
        if g.is_dynamic() {
            if g.members.is_some() {
                cx.error(
                    "dynamic-members",
                    &d.origin,
                    &path!["group", key, "members"],
                    format!("group.{key} has a membership_rule, so its members cannot be listed"),
                )
                .help = Some(
                    "Graph refuses member changes on dynamic groups; remove `members` or the rule"
                        .into(),
                );
            }
            if g.is_assignable_to_role {
                cx.error(
                    "dynamic-role-assignable",
                    &d.origin,
                    &path!["group", key, "is_assignable_to_role"],
                    format!("group.{key}: a dynamic group cannot be role-assignable"),
                );
            }
            if let Some(rule) = &g.membership_rule {
                if rule.trim().is_empty() {
                    cx.error(
                        "invalid-rule",
                        &d.origin,
                        &path!["group", key, "membership_rule"],
                        format!("group.{key}: membership_rule is empty"),
                    );
                }
            }
        } else if g.membership_rule_processing_state.is_some() {
            cx.error(
                "processing-state-without-rule",
                &d.origin,
                &path!["group", key, "membership_rule_processing_state"],
                format!("group.{key}: membership_rule_processing_state needs a membership_rule"),
            );
        }
        for (field, allowed) in [
            ("members", &[Kind::User, Kind::Guest, Kind::Group][..]),
            ("owners", &[Kind::User][..]),
        ] {
            let list = if field == "members" {
                &g.members
            } else {
                &g.owners
            };
            for (i, r) in list.iter().flatten().enumerate() {
                cx.reference(&d.origin, &path!["group", key, field, i], r, allowed);
            }
        }
    }
}

fn check_role_assignments(cx: &mut Ctx) {
    for (key, d) in &cx.state.role_assignment {
        let r = &d.value;
        if let Some(a) = cx.reference(
            &d.origin,
            &path!["role_assignment", key, "principal"],
            &r.principal,
            &[Kind::User, Kind::Guest, Kind::Group],
        ) {
            if a.kind == Kind::Group
                && !cx
                    .state
                    .group
                    .get(&a.key)
                    .is_some_and(|g| g.value.is_assignable_to_role)
            {
                cx.error(
                    "group-not-role-assignable",
                    &d.origin,
                    &path!["role_assignment", key, "principal"],
                    format!("role_assignment.{key}: {a} must set is_assignable_to_role = true to hold a role"),
                );
            }
        }
        if role_template_id(&r.role).is_none() {
            let names = crate::kinds::role_assignment::BUILT_IN_ROLES
                .iter()
                .map(|(n, _)| *n);
            let d2 = cx.error(
                "unknown-role",
                &d.origin,
                &path!["role_assignment", key, "role"],
                format!(
                    "role_assignment.{key}: `{}` is not a built-in directory role tenantctl knows",
                    r.role
                ),
            );
            if let Some(s) = crate::suggest::closest(&r.role, names) {
                d2.help = Some(format!("did you mean `{s}`?"));
            }
        }
        if r.directory_scope_id.is_empty() || !r.directory_scope_id.starts_with('/') {
            cx.error(
                "invalid-scope",
                &d.origin,
                &path!["role_assignment", key, "directory_scope_id"],
                format!("role_assignment.{key}: directory_scope_id must start with `/`"),
            );
        }
    }
}

fn check_assignments(cx: &mut Ctx, kind: Kind, key: &str, origin: &Location, a: &Assignments) {
    for (field, list) in [("include", &a.include), ("exclude", &a.exclude)] {
        for (i, r) in list.iter().enumerate() {
            cx.reference(
                origin,
                &path![kind.as_str(), key, "assignments", field, i],
                r,
                &[Kind::Group],
            );
        }
    }
    for g in &a.include {
        if a.exclude.contains(g) {
            cx.error(
                "include-and-exclude",
                origin,
                &path![kind.as_str(), key, "assignments", "exclude"],
                format!("{kind}.{key}: group `{g}` is both included and excluded"),
            );
        }
    }
}

fn check_settings(
    cx: &mut Ctx,
    kind: Kind,
    key: &str,
    origin: &Location,
    odata_type: &str,
    settings: &BTreeMap<String, toml::Value>,
) {
    let bare = odata_type
        .trim_start_matches('#')
        .trim_start_matches("microsoft.graph.");
    if bare.is_empty()
        || !bare.chars().all(|c| c.is_ascii_alphanumeric())
        || !bare.starts_with(|c: char| c.is_ascii_lowercase())
    {
        cx.error(
            "invalid-odata-type",
            origin,
            &path![kind.as_str(), key, "odata_type"],
            format!("{kind}.{key}: `{odata_type}` is not a Graph type name such as `windows10GeneralConfiguration`"),
        );
    }
    for name in settings.keys() {
        let reserved = [
            "@odata.type",
            "id",
            "displayName",
            "description",
            "assignments",
            "createdDateTime",
            "lastModifiedDateTime",
            "version",
            "scheduledActionsForRule",
        ];
        if reserved.contains(&name.as_str()) {
            cx.error(
                "reserved-setting",
                origin,
                &path![kind.as_str(), key, "settings", name],
                format!(
                    "{kind}.{key}: `{name}` is managed by tenantctl and cannot be set in settings"
                ),
            );
        }
    }
}

fn check_policies(cx: &mut Ctx) {
    for (key, d) in &cx.state.device_configuration {
        check_settings(
            cx,
            Kind::DeviceConfiguration,
            key,
            &d.origin,
            &d.value.odata_type,
            &d.value.settings,
        );
        check_assignments(
            cx,
            Kind::DeviceConfiguration,
            key,
            &d.origin,
            &d.value.assignments,
        );
    }
    for (key, d) in &cx.state.compliance_policy {
        check_settings(
            cx,
            Kind::CompliancePolicy,
            key,
            &d.origin,
            &d.value.odata_type,
            &d.value.settings,
        );
        check_assignments(
            cx,
            Kind::CompliancePolicy,
            key,
            &d.origin,
            &d.value.assignments,
        );
        if d.value.grace_period_hours > 8760 {
            cx.error(
                "out-of-range",
                &d.origin,
                &path!["compliance_policy", key, "grace_period_hours"],
                format!(
                    "compliance_policy.{key}: grace_period_hours is {}; at most 8760 (a year)",
                    d.value.grace_period_hours
                ),
            );
        }
    }
}

fn is_hh_mm(t: &str) -> bool {
    let Some((h, m)) = t.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u32>().is_ok_and(|h| h < 24)
        && m.parse::<u32>().is_ok_and(|m| m < 60)
}

fn check_update_rings(cx: &mut Ctx) {
    for (key, d) in &cx.state.update_ring {
        let json = serde_json::to_value(&d.value).unwrap_or_default();
        for (field, min, max) in update_ring::RANGES {
            if let Some(v) = json.get(*field).and_then(|v| v.as_u64()) {
                if v < u64::from(*min) || v > u64::from(*max) {
                    cx.error(
                        "out-of-range",
                        &d.origin,
                        &path!["update_ring", key, *field],
                        format!("update_ring.{key}: {field} is {v}; Graph allows {min} to {max}"),
                    );
                }
            }
        }
        for (field, allowed) in update_ring::ONE_OF {
            if let Some(v) = json.get(*field).and_then(|v| v.as_u64()) {
                if !allowed.iter().any(|a| u64::from(*a) == v) {
                    let list = allowed
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    cx.error(
                        "out-of-range",
                        &d.origin,
                        &path!["update_ring", key, *field],
                        format!("update_ring.{key}: {field} is {v}; Graph allows one of {list}"),
                    );
                }
            }
        }
        if let Some(s) = &d.value.installation_schedule {
            let active = s.active_hours_start.is_some() || s.active_hours_end.is_some();
            let scheduled = s.scheduled_install_day.is_some() || s.scheduled_install_time.is_some();
            let here = path!["update_ring", key, "installation_schedule"];
            if active && scheduled {
                cx.error("schedule-conflict", &d.origin, &here, format!("update_ring.{key}: installation_schedule is either active hours or a scheduled install, not both"));
            }
            for (field, v) in [
                ("active_hours_start", &s.active_hours_start),
                ("active_hours_end", &s.active_hours_end),
                ("scheduled_install_time", &s.scheduled_install_time),
            ] {
                if let Some(v) = v {
                    if !is_hh_mm(v) {
                        let mut p = here.to_vec();
                        p.push(Seg::from(field));
                        cx.error(
                            "invalid-time",
                            &d.origin,
                            &p,
                            format!(
                                "update_ring.{key}: {field} `{v}` is not a time of day as HH:MM"
                            ),
                        );
                    }
                }
            }
        }
        check_assignments(cx, Kind::UpdateRing, key, &d.origin, &d.value.assignments);
    }
}

fn check_autopilot(cx: &mut Ctx) {
    for (key, d) in &cx.state.autopilot_profile {
        if let Some(t) = &d.value.device_name_template {
            let n = autopilot_profile::expanded_name_length(t);
            if n > 15 || t.is_empty() {
                cx.error(
                    "device-name-too-long",
                    &d.origin,
                    &path!["autopilot_profile", key, "device_name_template"],
                    format!("autopilot_profile.{key}: device_name_template `{t}` expands to {n} characters; at most 15 are allowed"),
                );
            }
            if t.contains(' ') {
                cx.error(
                    "invalid-device-name",
                    &d.origin,
                    &path!["autopilot_profile", key, "device_name_template"],
                    format!("autopilot_profile.{key}: device names cannot contain spaces"),
                );
            }
        }
        check_assignments(
            cx,
            Kind::AutopilotProfile,
            key,
            &d.origin,
            &d.value.assignments,
        );
    }
}

fn check_conditional_access(cx: &mut Ctx) {
    for (key, d) in &cx.state.conditional_access {
        let p = &d.value;
        let base = |f: &str| path!["conditional_access", key, "users", f];
        for field in ["include_users", "exclude_users"] {
            let list = if field == "include_users" {
                &p.users.include_users
            } else {
                &p.users.exclude_users
            };
            for (i, r) in list.iter().enumerate() {
                if SPECIAL_USERS.contains(&r.as_str()) {
                    continue;
                }
                let mut at = base(field).to_vec();
                at.push(Seg::Index(i));
                cx.reference(&d.origin, &at, r, &[Kind::User, Kind::Guest]);
            }
        }
        for field in ["include_groups", "exclude_groups"] {
            let list = if field == "include_groups" {
                &p.users.include_groups
            } else {
                &p.users.exclude_groups
            };
            for (i, r) in list.iter().enumerate() {
                let mut at = base(field).to_vec();
                at.push(Seg::Index(i));
                cx.reference(&d.origin, &at, r, &[Kind::Group]);
            }
        }
        for field in ["include_roles", "exclude_roles"] {
            let list = if field == "include_roles" {
                &p.users.include_roles
            } else {
                &p.users.exclude_roles
            };
            for (i, r) in list.iter().enumerate() {
                if role_template_id(r).is_none() {
                    let mut at = base(field).to_vec();
                    at.push(Seg::Index(i));
                    cx.error("unknown-role", &d.origin, &at, format!("conditional_access.{key}: `{r}` is not a built-in directory role tenantctl knows"));
                }
            }
        }
        if p.users.include_users.is_empty()
            && p.users.include_groups.is_empty()
            && p.users.include_roles.is_empty()
        {
            cx.error("no-users", &d.origin, &path!["conditional_access", key, "users"], format!("conditional_access.{key}: include at least one user, group or role (or \"All\")"));
        }
        if p.grant.built_in_controls.is_empty() {
            cx.error(
                "no-controls",
                &d.origin,
                &path!["conditional_access", key, "grant", "built_in_controls"],
                format!("conditional_access.{key}: grant needs at least one control"),
            );
        }
        for (i, c) in p.grant.built_in_controls.iter().enumerate() {
            if !BUILT_IN_CONTROLS.contains(&c.as_str()) {
                let d2 = cx.error(
                    "unknown-control",
                    &d.origin,
                    &path!["conditional_access", key, "grant", "built_in_controls", i],
                    format!("conditional_access.{key}: `{c}` is not a built-in grant control"),
                );
                d2.help = crate::suggest::closest(c, BUILT_IN_CONTROLS.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"));
            }
        }
    }
}

fn check_governance(cx: &mut Ctx) {
    let Some(g) = &cx.state.governance else {
        return;
    };
    let origin = &g.origin;
    let gov = &g.value;
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    for (field, list) in [("sensitive_kinds", &gov.sensitive_kinds)] {
        for (i, k) in list.iter().enumerate() {
            if !kinds.contains(&k.as_str()) {
                cx.error(
                    "unknown-kind",
                    origin,
                    &path!["governance", field, i],
                    format!("governance.{field}: `{k}` is not a resource kind"),
                );
            }
        }
    }
    for (i, k) in gov.prune.kinds.iter().enumerate() {
        if !kinds.contains(&k.as_str()) {
            cx.error(
                "unknown-kind",
                origin,
                &path!["governance", "prune", "kinds", i],
                format!("governance.prune.kinds: `{k}` is not a resource kind"),
            );
        }
    }
    for (field, list) in [
        ("protected", &gov.protected),
        ("sensitive_addresses", &gov.sensitive_addresses),
    ] {
        for (i, a) in list.iter().enumerate() {
            if let Err(e) = a.parse::<Address>() {
                cx.error(
                    "invalid-address",
                    origin,
                    &path!["governance", field, i],
                    format!("governance.{field}: {e}"),
                );
            }
        }
    }
    let approvers = gov.approvers.len() as u32;
    if gov.approvals_required > approvers && !gov.approvers.is_empty() {
        cx.error(
            "too-few-approvers",
            origin,
            &path!["governance", "approvals_required"],
            format!(
                "governance: {} approvals are required but only {approvers} approver(s) are listed",
                gov.approvals_required
            ),
        );
    }
    for (i, a) in gov.protected.iter().enumerate() {
        if let Ok(address) = a.parse::<Address>() {
            if !cx.state.contains(&address) {
                cx.warning("protected-undeclared", origin, &path!["governance", "protected", i], format!("governance.protected: {address} is not declared; it is protected only if it exists in the ledger"));
            }
        }
    }
    for (name, a) in &gov.approvers {
        if !a.public_key.starts_with("ed25519:") {
            cx.error("invalid-key", origin, &path!["governance", "approvers", name, "public_key"], format!("governance.approvers.{name}: public_key must be `ed25519:` followed by base64 (see `tenantctl keygen`)"));
        }
    }
}

/// (first key, second key, where the second is declared)
type Clash = (String, String, Location);

/// Two declarations that would match the same live object are an error.
fn check_natural_keys(cx: &mut Ctx) {
    fn clashes<'a>(
        items: impl Iterator<Item = (&'a String, &'a Location, String)>,
    ) -> Vec<Clash> {
        let mut seen: BTreeMap<String, &String> = BTreeMap::new();
        let mut out = Vec::new();
        for (key, origin, natural) in items {
            let norm = natural.to_lowercase();
            if let Some(first) = seen.get(&norm) {
                out.push(((*first).clone(), key.clone(), origin.clone()));
            } else {
                seen.insert(norm, key);
            }
        }
        out
    }
    let s = cx.state;
    let sets: Vec<(Kind, &str, Vec<Clash>)> = vec![
        (
            Kind::User,
            "user_principal_name",
            clashes(
                s.user
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.user_principal_name.clone())),
            ),
        ),
        (
            Kind::Guest,
            "email",
            clashes(
                s.guest
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.email.clone())),
            ),
        ),
        (
            Kind::Group,
            "mail_nickname",
            clashes(
                s.group
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.mail_nickname.clone())),
            ),
        ),
        (
            Kind::DeviceConfiguration,
            "display_name",
            clashes(
                s.device_configuration
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::CompliancePolicy,
            "display_name",
            clashes(
                s.compliance_policy
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::UpdateRing,
            "display_name",
            clashes(
                s.update_ring
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::AutopilotProfile,
            "display_name",
            clashes(
                s.autopilot_profile
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::ConditionalAccess,
            "display_name",
            clashes(
                s.conditional_access
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
    ];
    for (kind, field, found) in sets {
        for (first, second, origin) in found {
            cx.error(
                "duplicate-natural-key",
                &origin,
                &path![kind.as_str(), &second, field],
                format!("{kind}.{second} has the same {field} as {kind}.{first}; both would match one object in the tenant"),
            );
        }
    }
    // Deployment-profile keys of Intune policies share one Graph collection.
    let mut names: BTreeMap<String, Address> = BTreeMap::new();
    for (key, d) in &s.device_configuration {
        names.insert(
            d.value.display_name.to_lowercase(),
            Address::new(Kind::DeviceConfiguration, key.clone()),
        );
    }
    for (key, d) in &s.update_ring {
        if let Some(other) = names.get(&d.value.display_name.to_lowercase()) {
            cx.error(
                "duplicate-natural-key",
                &d.origin,
                &path!["update_ring", key, "display_name"],
                format!("update_ring.{key} has the same display_name as {other}; both live in deviceConfigurations"),
            );
        }
    }
}

/// Nested group membership must not loop.
fn check_cycles(cx: &mut Ctx) {
    let mut graph = DiGraph::<String, ()>::new();
    let mut nodes = BTreeMap::new();
    for key in cx.state.group.keys() {
        nodes.insert(key.clone(), graph.add_node(key.clone()));
    }
    for (key, d) in &cx.state.group {
        for m in d.value.members.iter().flatten() {
            if let Ok(a) = cx.state.resolve(m, &[Kind::User, Kind::Guest, Kind::Group]) {
                if a.kind == Kind::Group {
                    graph.add_edge(nodes[key], nodes[&a.key], ());
                }
            }
        }
    }
    for scc in petgraph::algo::tarjan_scc(&graph) {
        let is_cycle = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        if !is_cycle {
            continue;
        }
        let mut keys: Vec<String> = scc.iter().map(|n| graph[*n].clone()).collect();
        keys.sort();
        // Walk the cycle from its smallest key so the path reads in order.
        let start = keys[0].clone();
        let mut path_keys = vec![start.clone()];
        let mut current = start.clone();
        loop {
            let next = graph
                .neighbors(nodes[&current])
                .map(|n| graph[n].clone())
                .filter(|k| keys.contains(k))
                .min();
            match next {
                Some(n) if n == start || path_keys.contains(&n) => {
                    path_keys.push(n);
                    break;
                }
                Some(n) => {
                    path_keys.push(n.clone());
                    current = n;
                }
                None => break,
            }
        }
        let shown = path_keys
            .iter()
            .map(|k| format!("group.{k}"))
            .collect::<Vec<_>>()
            .join(" -> ");
        let origin = cx.state.group[&start].origin.clone();
        cx.error(
            "cycle",
            &origin,
            &path!["group", &start, "members"],
            format!("group membership forms a cycle: {shown}"),
        );
    }
}
