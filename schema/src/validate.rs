//! Stage 1 checks on a merged `DesiredState`: references, kinds, cycles,
//! natural-key clashes and Graph's documented constraints. Each check is a
//! named function that adds diagnostics; all run, so every problem is
//! reported at once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use petgraph::graph::DiGraph;

use crate::address::{Address, Kind};
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Origin};
use crate::kinds::conditional_access::{BUILT_IN_CONTROLS, SPECIAL_USERS};
use crate::kinds::{autopilot_profile, update_ring, Assignments, Rollout};
use crate::load::path_text;
use crate::path;
use crate::source::{Seg, SourceFile};
use crate::state::{DesiredState, ResolveError};

/// Finds locations of paths across all loaded files.
struct Ctx<'a> {
    /// The time expiries are judged against.
    now: DateTime<Utc>,
    state: &'a DesiredState,
    sources: &'a [SourceFile],
    diags: &'a mut Diagnostics,
}

impl Ctx<'_> {
    /// Location of `path` in the file that declares its first two segments.
    fn locate(&self, origin: &Origin, path: &[Seg]) -> Location {
        self.sources
            .iter()
            .find(|s| s.holds(origin))
            .map(|s| s.locate(path))
            .unwrap_or_else(|| Location::file(&origin.file))
    }

    fn error(
        &mut self,
        code: &'static str,
        origin: &Origin,
        path: &[Seg],
        message: String,
    ) -> &mut Diagnostic {
        let loc = self.locate(origin, path);
        self.diags
            .push(Diagnostic::error(code, message).at(Some(loc)));
        self.diags.0.last_mut().expect("just pushed")
    }

    fn warning(&mut self, code: &'static str, origin: &Origin, path: &[Seg], message: String) {
        let loc = self.locate(origin, path);
        self.diags
            .push(Diagnostic::warning(code, message).at(Some(loc)));
    }

    /// Resolve a reference and report why it does not, at its location.
    fn reference(
        &mut self,
        origin: &Origin,
        path: &[Seg],
        reference: &str,
        allowed: &[Kind],
    ) -> Option<Address> {
        let resolved = match self.state.resolve(reference, allowed) {
            Err(ResolveError::Undeclared {
                reference,
                suggestion,
            }) => {
                match broken_match(self.state, &reference, allowed) {
                    // Declared but unparsable, of a kind that fits: its own
                    // error says everything.
                    Some(found) if allowed.contains(&found.kind) => return None,
                    Some(found) => Err(ResolveError::WrongKind {
                        reference,
                        found,
                        expected: allowed.to_vec(),
                    }),
                    None => Err(ResolveError::Undeclared {
                        reference,
                        suggestion,
                    }),
                }
            }
            other => other,
        };
        match resolved {
            Ok(a) => Some(a),
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

/// A resource that was declared but failed to parse and that `reference`
/// names: an allowed kind first, so a fitting broken resource is preferred.
fn broken_match(state: &DesiredState, reference: &str, allowed: &[Kind]) -> Option<Address> {
    if let Ok(address) = reference.parse::<Address>() {
        if state.broken.contains(&address) {
            return Some(address);
        }
    }
    let mut kinds: Vec<Kind> = allowed.to_vec();
    kinds.extend(Kind::ALL.into_iter().filter(|k| !allowed.contains(k)));
    kinds
        .into_iter()
        .map(|k| Address::new(k, reference))
        .find(|a| state.broken.contains(a))
}

/// Run every check, adding problems to `diags`.
pub fn validate(state: &DesiredState, sources: &[SourceFile], diags: &mut Diagnostics) {
    validate_at(Utc::now(), state, sources, diags);
}

/// [`validate`] as of `now`, so expiry checks are reproducible in tests.
pub fn validate_at(
    now: DateTime<Utc>,
    state: &DesiredState,
    sources: &[SourceFile],
    diags: &mut Diagnostics,
) {
    let mut cx = Ctx {
        now,
        state,
        sources,
        diags,
    };
    check_tenant(&mut cx);
    check_state_backend(&mut cx);
    check_users(&mut cx);
    check_guests(&mut cx);
    check_expiry_horizon(&mut cx);
    check_groups(&mut cx);
    check_membership_rules(&mut cx);
    check_role_assignments(&mut cx);
    check_policies(&mut cx);
    check_update_rings(&mut cx);
    check_rollouts(&mut cx);
    check_autopilot(&mut cx);
    check_conditional_access(&mut cx);
    check_conditional_access_targets(&mut cx);
    check_governance(&mut cx);
    check_service_roles(&mut cx);
    check_managed_desktop(&mut cx);
    check_approver_keys(&mut cx);
    check_autopilot_targets(&mut cx);
    check_role_assignment_duplicates(&mut cx);
    check_natural_keys(&mut cx);
    check_cycles(&mut cx);
    crate::graph_types::check(cx.state, cx.sources, cx.diags);
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
        return Some(format!(
            "is {} characters long; Graph allows at most 64",
            nick.len()
        ));
    }
    if let Some(c) = nick.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        return Some(format!("contains `{c}`; only ASCII characters are allowed"));
    }
    if let Some(c) = nick
        .chars()
        .find(|c| "@()\\[]\";:<>, ".contains(*c) || (*c == '.' && !dots))
    {
        let shown = if c == ' ' {
            "a space".to_string()
        } else {
            format!("`{c}`")
        };
        return Some(format!("contains {shown}, which Graph does not allow"));
    }
    None
}

/// A user principal name as Entra accepts it: an e-mail-like `local@domain`
/// whose local part is at most 64 characters of letters, digits and
/// `' . - _ ! # ^ ~`, with no leading, trailing or double dot.
pub fn upn_problem(upn: &str) -> Option<String> {
    if let Some(p) = email_problem(upn) {
        return Some(p);
    }
    let (local, _) = upn.split_once('@')?;
    if local.chars().count() > 64 {
        return Some(format!(
            "the part of `{upn}` before `@` is {} characters long; Entra allows at most 64",
            local.chars().count()
        ));
    }
    if let Some(c) = local
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "'.-_!#^~".contains(*c)))
    {
        return Some(format!(
            "`{upn}` contains `{c}` before the `@`; Entra allows letters, digits and ' . - _ ! # ^ ~"
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some(format!(
            "`{upn}` has a leading, trailing or double `.` before the `@`"
        ));
    }
    None
}

/// A DNS domain name: dot-separated labels of letters, digits and hyphens.
pub fn domain_problem(domain: &str) -> Option<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let bad_label = |l: &&str| {
        l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || labels.iter().any(bad_label) || domain.len() > 253 {
        return Some(format!(
            "`{domain}` is not a domain name such as `contoso.onmicrosoft.com`"
        ));
    }
    None
}

/// Graph object ids, tenant ids and application ids are GUIDs.
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_tenant(cx: &mut Ctx) {
    let Some(t) = &cx.state.tenant else {
        return;
    };
    let origin = &t.origin;
    if let Some(p) = domain_problem(&t.value.primary_domain) {
        cx.error(
            "invalid-domain",
            origin,
            &path!["tenant", "primary_domain"],
            format!("tenant.primary_domain: {p}"),
        );
    }
    for (i, d) in t.value.verified_domains.iter().enumerate() {
        if let Some(p) = domain_problem(d) {
            cx.error(
                "invalid-domain",
                origin,
                &path!["tenant", "verified_domains", i],
                format!("tenant.verified_domains: {p}"),
            );
        }
    }
    for (field, value) in [
        ("tenant_id", &t.value.tenant_id),
        ("client_id", &t.value.client_id),
    ] {
        if let Some(v) = value {
            if !is_guid(v) {
                cx.error(
                    "invalid-guid",
                    origin,
                    &path!["tenant", field],
                    format!("tenant.{field}: `{v}` is not a GUID such as `00000000-0000-0000-0000-000000000000`"),
                );
            }
        }
    }
}

/// `[state]`: an azurerm backend names its account and container, in
/// Azure's naming rules; a local one takes no azurerm settings.
fn check_state_backend(cx: &mut Ctx) {
    use crate::kinds::state_backend::{account_problem, container_problem, prefix_problem, BackendKind};
    let Some(s) = &cx.state.state else {
        return;
    };
    let origin = &s.origin;
    let v = &s.value;
    match v.backend {
        BackendKind::Local => {
            for (field, value) in [("storage_account", &v.storage_account), ("container", &v.container), ("endpoint", &v.endpoint), ("prefix", &v.prefix)] {
                if value.is_some() {
                    cx.error("invalid-state", origin, &path!["state", field], format!("state.{field}: only an `azurerm` backend takes {field}; set backend = \"azurerm\" or remove it"));
                }
            }
        }
        BackendKind::Azurerm => {
            for (field, value, check) in [
                ("storage_account", &v.storage_account, account_problem as fn(&str) -> Option<String>),
                ("container", &v.container, container_problem),
            ] {
                match value {
                    None => {
                        cx.error("invalid-state", origin, &path!["state", "backend"], format!("state: an `azurerm` backend needs {field}"));
                    }
                    Some(x) => {
                        if let Some(p) = check(x) {
                            cx.error("invalid-state", origin, &path!["state", field], format!("state.{field}: {p}"));
                        }
                    }
                }
            }
            if let Some(p) = v.prefix.as_deref().and_then(prefix_problem) {
                cx.error("invalid-state", origin, &path!["state", "prefix"], format!("state.prefix: {p}"));
            }
            if let Some(e) = &v.endpoint {
                let rest = e.strip_prefix("https://").or_else(|| e.strip_prefix("http://"));
                let ok = rest.is_some_and(|r| {
                    let host = r.split('/').next().unwrap_or_default();
                    !host.is_empty() && !host.contains('@') && !r.contains(['?', '#', ' ', '\\'])
                });
                if !ok {
                    cx.error("invalid-state", origin, &path!["state", "endpoint"], format!("state.endpoint: `{e}` is not an http(s) URL without credentials or query, such as `https://account.blob.core.windows.net`"));
                }
            }
        }
    }
}

/// Time-boxed access with an end date years away is standing access in
/// disguise, and usually a typo in the year. PIM's own default maximum for
/// assignments is one year; allow a little over that.
pub const MAX_EXPIRY_DAYS: i64 = 400;

fn check_expiry_horizon(cx: &mut Ctx) {
    let limit = cx.now + chrono::Duration::days(MAX_EXPIRY_DAYS);
    let mut far = Vec::new();
    for (key, d) in &cx.state.guest {
        if d.value.expires > limit {
            far.push((Kind::Guest, key, &d.origin, d.value.expires));
        }
    }
    for (key, d) in &cx.state.role_assignment {
        if let Some(e) = d.value.expires {
            if e > limit {
                far.push((Kind::RoleAssignment, key, &d.origin, e));
            }
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

/// Strip quoted strings from a membership rule, so values such as
/// `"user.x"` or `"("` are not mistaken for syntax.
fn rule_outside_quotes(rule: &str) -> (String, bool) {
    let mut out = String::new();
    let mut quoted = false;
    for c in rule.chars() {
        if c == '"' {
            quoted = !quoted;
            out.push(' ');
        } else if !quoted {
            out.push(c);
        }
    }
    (out, !quoted)
}

/// What Entra would refuse in a dynamic membership rule before evaluating
/// it: unbalanced quotes or parentheses, and rules that mix user and device
/// properties (a group holds users or devices, never both).
pub fn membership_rule_problem(rule: &str) -> Option<String> {
    let (bare, quotes_closed) = rule_outside_quotes(rule);
    if !quotes_closed {
        return Some("has an unterminated `\"`".into());
    }
    let mut depth: i64 = 0;
    for c in bare.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Some("has a `)` without its `(`".into());
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Some("has a `(` that is never closed".into());
    }
    let lower = bare.to_ascii_lowercase();
    let user = lower.contains("user.");
    let device = lower.contains("device.");
    if user && device {
        return Some(
            "mixes user and device properties; a dynamic group holds users or devices, not both"
                .into(),
        );
    }
    if !user && !device {
        return Some("names no `user.` or `device.` property".into());
    }
    None
}

/// Whether a dynamic group's rule selects devices.
fn is_device_rule(rule: &str) -> bool {
    rule_outside_quotes(rule)
        .0
        .to_ascii_lowercase()
        .contains("device.")
}

fn check_membership_rules(cx: &mut Ctx) {
    for (key, d) in &cx.state.group {
        let Some(rule) = &d.value.membership_rule else {
            continue;
        };
        if rule.trim().is_empty() {
            continue; // reported by check_groups
        }
        if let Some(p) = membership_rule_problem(rule) {
            cx.error(
                "invalid-rule",
                &d.origin,
                &path!["group", key, "membership_rule"],
                format!("group.{key}: membership_rule {p}"),
            );
        }
    }
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
        if let Some(p) = upn_problem(&u.user_principal_name) {
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
        let own = cx.state.tenant.as_ref().and_then(|t| {
            let domain = g.email.rsplit_once('@')?.1.to_ascii_lowercase();
            t.value
                .domains()
                .any(|d| d.eq_ignore_ascii_case(&domain))
                .then_some(domain)
        });
        if let Some(domain) = own {
            cx.error(
                "guest-in-own-domain",
                &d.origin,
                &path!["guest", key, "email"],
                format!("guest.{key}: `{domain}` is one of the tenant's own domains; declare a [user] instead of inviting a guest"),
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
        if !crate::kinds::role_assignment::is_known_role(&r.role) {
            let names = crate::kinds::role_assignment::BUILT_IN_ROLES
                .iter()
                .map(|(n, _)| *n);
            let d2 = cx.error(
                "unknown-role",
                &d.origin,
                &path!["role_assignment", key, "role"],
                format!(
                    "role_assignment.{key}: `{}` is not a built-in directory role tenantctl knows, nor a role definition id (GUID)",
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

fn check_assignments(cx: &mut Ctx, kind: Kind, key: &str, origin: &Origin, a: &Assignments) {
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
    use crate::kinds::assignment::{ALL_DEVICES, ALL_USERS};
    for (target, f) in &a.filters {
        let at = path![kind.as_str(), key, "assignments", "filters", target.as_str()];
        if kind == Kind::AutopilotProfile {
            cx.error("filter-not-supported", origin, &at, format!("{kind}.{key}: Autopilot profile assignments take no assignment filter"));
            continue;
        }
        let included = a.include.contains(target) || (target == ALL_DEVICES && a.all_devices) || (target == ALL_USERS && a.all_users);
        if !included {
            let why = if a.exclude.contains(target) { "Graph has no filters on exclusions" } else { "filters apply to a group in `include`, or to all_devices / all_users when set" };
            cx.error("filter-target", origin, &at, format!("{kind}.{key}: assignments.filters.{target} names no included target: {why}"));
        }
        if f.filter.trim().is_empty() {
            cx.error("empty-filter", origin, &at, format!("{kind}.{key}: assignments.filters.{target}.filter is empty: give the filter's display name or id"));
        }
    }
}

fn check_settings(
    cx: &mut Ctx,
    kind: Kind,
    key: &str,
    origin: &Origin,
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
        check_compliance_actions(cx, key, &d.origin, d.value.actions.as_deref().unwrap_or_default());
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

/// A compliance policy's other scheduled actions: grace periods within a
/// year, a notification names its message template (a GUID) and may copy
/// groups, other actions carry neither, and no action is declared twice.
fn check_compliance_actions(cx: &mut Ctx, key: &str, origin: &Origin, actions: &[crate::kinds::compliance_policy::ComplianceAction]) {
    use crate::kinds::compliance_policy::ComplianceActionType;
    let mut seen = std::collections::BTreeSet::new();
    for (i, a) in actions.iter().enumerate() {
        let at = |f: &str| path!["compliance_policy", key, "actions", i, f];
        let ty = a.action_type.as_str();
        if a.grace_period_hours > 8760 {
            cx.error("out-of-range", origin, &at("grace_period_hours"), format!("compliance_policy.{key}: actions[{i}] ({ty}) grace_period_hours is {}; at most 8760 (a year)", a.grace_period_hours));
        }
        if !seen.insert((a.action_type, a.grace_period_hours)) {
            cx.error("duplicate-action", origin, &at("type"), format!("compliance_policy.{key}: actions[{i}]: {ty} after {} hours is declared twice", a.grace_period_hours));
        }
        if a.action_type == ComplianceActionType::Notification {
            match &a.template {
                None => {
                    cx.error("missing-template", origin, &at("type"), format!("compliance_policy.{key}: actions[{i}]: a notification needs `template`, the id of an Intune notification message template"));
                }
                Some(t) if !is_guid(t) => {
                    cx.error("invalid-guid", origin, &at("template"), format!("compliance_policy.{key}: actions[{i}]: template `{t}` is not a GUID such as `00000000-0000-0000-0000-000000000000`"));
                }
                Some(_) => {}
            }
            for (j, g) in a.cc.iter().enumerate() {
                cx.reference(origin, &path!["compliance_policy", key, "actions", i, "cc", j], g, &[Kind::Group]);
            }
        } else {
            if a.template.is_some() {
                cx.error("not-applicable", origin, &at("template"), format!("compliance_policy.{key}: actions[{i}]: only a notification has a template, not {ty}"));
            }
            if !a.cc.is_empty() {
                cx.error("not-applicable", origin, &at("cc"), format!("compliance_policy.{key}: actions[{i}]: only a notification copies groups, not {ty}"));
            }
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

/// Ring-by-ring rollouts: the rings are at least two distinct declared
/// groups, the soak is a positive duration, and the policy's own
/// `assignments` only exclude (each ring's copy is included for its ring
/// group alone, so an include of its own would be ambiguous). The ring
/// copies' display names (`NAME [RING]`) must not clash with other objects
/// of the same Graph collection.
fn check_rollouts(cx: &mut Ctx) {
    struct Policy<'a> {
        kind: Kind,
        key: &'a String,
        origin: &'a Origin,
        display_name: &'a str,
        rollout: &'a Option<Rollout>,
        assignments: &'a Assignments,
    }
    let s = cx.state;
    let mut policies: Vec<Policy> = Vec::new();
    for (key, d) in &s.device_configuration {
        policies.push(Policy { kind: Kind::DeviceConfiguration, key, origin: &d.origin, display_name: &d.value.display_name, rollout: &d.value.rollout, assignments: &d.value.assignments });
    }
    for (key, d) in &s.compliance_policy {
        policies.push(Policy { kind: Kind::CompliancePolicy, key, origin: &d.origin, display_name: &d.value.display_name, rollout: &d.value.rollout, assignments: &d.value.assignments });
    }
    for (key, d) in &s.update_ring {
        policies.push(Policy { kind: Kind::UpdateRing, key, origin: &d.origin, display_name: &d.value.display_name, rollout: &d.value.rollout, assignments: &d.value.assignments });
    }
    // Device configurations and update rings share one Graph collection.
    let collection = |k: Kind| if k == Kind::CompliancePolicy { 1 } else { 0 };
    // Display names of the objects that will exist, by collection.
    let mut names: BTreeMap<(u8, String), String> = BTreeMap::new();
    for p in policies.iter().filter(|p| p.rollout.is_none()) {
        names.entry((collection(p.kind), p.display_name.to_lowercase())).or_insert_with(|| format!("{}.{}", p.kind, p.key));
    }
    for p in &policies {
        let Some(r) = p.rollout else { continue };
        let (kind, key, origin) = (p.kind, p.key, p.origin);
        let here = |rest: &[&str]| {
            let mut v = path![kind.as_str(), key, "rollout"].to_vec();
            v.extend(rest.iter().map(|s| Seg::from(*s)));
            v
        };
        if r.rings.len() < 2 {
            cx.error(
                "rollout-too-few-rings",
                origin,
                &here(&["rings"]),
                format!("{kind}.{key}: a rollout needs at least two rings, found {}", r.rings.len()),
            )
            .help = Some("list the ring groups in order, e.g. `rings = [\"mwd-test\", \"mwd-broad\"]`; without rings, drop `rollout` and use `assignments`".into());
        }
        let mut rings: Vec<Address> = Vec::new();
        for (i, ring) in r.rings.iter().enumerate() {
            let at = path![kind.as_str(), key, "rollout", "rings", i];
            let Some(group) = cx.reference(origin, &at, ring, &[Kind::Group]) else { continue };
            if rings.contains(&group) {
                cx.error("rollout-duplicate-ring", origin, &at, format!("{kind}.{key}: ring `{ring}` ({group}) is listed twice"));
                continue;
            }
            if let Some(j) = p.assignments.exclude.iter().position(|e| matches!(s.resolve(e, &[Kind::Group]), Ok(a) if a == group)) {
                cx.error(
                    "rollout-ring-excluded",
                    origin,
                    &path![kind.as_str(), key, "assignments", "exclude", j],
                    format!("{kind}.{key}: ring group {group} is also excluded, so its ring would get nothing"),
                );
            }
            let name = format!("{} [{}]", p.display_name, group.key);
            let slot = (collection(kind), name.to_lowercase());
            match names.get(&slot) {
                Some(other) => {
                    cx.error(
                        "duplicate-natural-key",
                        origin,
                        &at,
                        format!("{kind}.{key}: the copy for ring {} would be named `{name}`, like {other}; both would match one object in the tenant", group.key),
                    );
                }
                None => {
                    names.insert(slot, format!("{kind}.{key}@{}", group.key));
                }
            }
            rings.push(group);
        }
        match r.soak_secs() {
            None => {
                cx.error(
                    "invalid-soak",
                    origin,
                    &here(&["soak"]),
                    format!("{kind}.{key}: rollout.soak `{}` is not a duration", r.soak),
                )
                .help = Some("write a whole number and a unit: `48h`, `2d`, `90m`, `30s` or `1w`".into());
            }
            Some(0) => {
                cx.error(
                    "invalid-soak",
                    origin,
                    &here(&["soak"]),
                    format!("{kind}.{key}: rollout.soak is zero, so every ring would change at once; give each ring time to show problems"),
                );
            }
            Some(_) => {}
        }
        let a = p.assignments;
        if !a.include.is_empty() {
            let rings_listed: Vec<&String> = a.include.iter().filter(|g| matches!(s.resolve(g, &[Kind::Group]), Ok(x) if rings.contains(&x))).collect();
            let why = match rings_listed.first() {
                Some(g) => format!("`{g}` is a ring: its copy is already assigned to it"),
                None => "the rollout's rings are the policy's targets".to_string(),
            };
            cx.error(
                "rollout-with-include",
                origin,
                &path![kind.as_str(), key, "assignments", "include"],
                format!("{kind}.{key} has a rollout, so assignments.include must be empty: {why}"),
            )
            .help = Some("each ring's copy is assigned to its ring group plus the policy's `exclude` list; add another ring instead of an include".into());
        }
        for (field, on) in [("all_devices", a.all_devices), ("all_users", a.all_users)] {
            if on {
                cx.error(
                    "rollout-with-include",
                    origin,
                    &path![kind.as_str(), key, "assignments", field],
                    format!("{kind}.{key} has a rollout, so assignments.{field} cannot be set: every ring would get the change at once"),
                );
            }
        }
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
            if let Some(p) = device_name_template_problem(t) {
                cx.error(
                    "invalid-device-name",
                    &d.origin,
                    &path!["autopilot_profile", key, "device_name_template"],
                    format!("autopilot_profile.{key}: device_name_template `{t}` {p}"),
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
                if !crate::kinds::role_assignment::is_known_role(r) {
                    let mut at = base(field).to_vec();
                    at.push(Seg::Index(i));
                    cx.error("unknown-role", &d.origin, &at, format!("conditional_access.{key}: `{r}` is not a built-in directory role tenantctl knows, nor a role definition id (GUID)"));
                }
            }
        }
        if p.users.include_users.is_empty()
            && p.users.include_groups.is_empty()
            && p.users.include_roles.is_empty()
        {
            cx.error("no-users", &d.origin, &path!["conditional_access", key, "users"], format!("conditional_access.{key}: include at least one user, group or role (or \"All\")"));
        }
        // Graph refuses a policy without an application condition (an
        // empty includeApplications is a 400): one must be declared.
        if p.applications.include_applications.is_empty() {
            cx.error(
                "no-applications",
                &d.origin,
                &path!["conditional_access", key, "applications"],
                format!("conditional_access.{key}: include at least one application (e.g. applications = {{ include_applications = [\"All\"] }}); Graph refuses a policy without one"),
            );
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

/// `[governance.managed_desktop]`: its keys name declared objects, ring
/// device groups hold devices only, and at most one Autopilot profile
/// targets the all-devices group.
fn check_managed_desktop(cx: &mut Ctx) {
    let Some(g) = &cx.state.governance else { return };
    let Some(md) = &g.value.managed_desktop else { return };
    let origin = &g.origin;
    let mut groups: Vec<(&str, usize, &String)> = md.rings.iter().enumerate().map(|(i, k)| ("rings", i, k)).collect();
    for (field, k) in [("all_devices", &md.all_devices), ("service_accounts_group", &md.service_accounts_group)] {
        if let Some(k) = k {
            groups.push((field, usize::MAX, k));
        }
    }
    // A key a file that failed to parse meant to declare is not reported
    // again: that file's own error says everything.
    let broken = |kind: &str, k: &str| cx.state.broken.iter().any(|a| a.kind.as_str() == kind && a.key == k);
    for (field, i, k) in groups {
        if !cx.state.group.contains_key(k) && !broken("group", k) {
            let message = format!("governance.managed_desktop.{field}: no group `{k}` is declared");
            if i == usize::MAX {
                cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", field], message);
            } else {
                cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", field, i], message);
            }
        }
    }
    if let Some(k) = &md.autopilot_profile {
        if !cx.state.autopilot_profile.contains_key(k) && !broken("autopilot_profile", k) {
            cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", "autopilot_profile"], format!("governance.managed_desktop.autopilot_profile: no autopilot_profile `{k}` is declared"));
        }
    }
    for ring in &md.rings {
        let Some(d) = cx.state.group.get(ring) else { continue };
        for (i, m) in d.value.members.iter().flatten().enumerate() {
            if cx.state.user.contains_key(m) || cx.state.guest.contains_key(m) {
                cx.error("ring-devices-only", &d.origin, &path!["group", ring.as_str(), "members", i], format!("group.{ring} is a Managed Desktop ring device group: it holds devices only, not `{m}`"));
            }
        }
    }
    if let Some(all) = &md.all_devices {
        let targeting: Vec<(&String, &Origin)> =
            cx.state.autopilot_profile.iter().filter(|(_, d)| d.value.assignments.include.iter().any(|i| i == all)).map(|(k, d)| (k, &d.origin)).collect();
        if targeting.len() > 1 {
            let names: Vec<String> = targeting.iter().map(|(k, _)| format!("autopilot_profile.{k}")).collect();
            for (k, origin) in &targeting[1..] {
                let at = path!["autopilot_profile", k.as_str(), "assignments", "include"];
                cx.error("one-autopilot-profile", origin, &at, format!("autopilot_profile.{k}: at most one Autopilot profile targets the all-devices group {all} ({})", names.join(", ")));
            }
        }
    }
}

/// Least privilege of service accounts: `allowed_roles` and `read_only`
/// are for `kind = "service"` users, name built-in roles, and a read-only
/// account allows only read-only roles.
fn check_service_roles(cx: &mut Ctx) {
    use crate::kinds::role_assignment::{role_template_id, READ_ONLY_ROLES};
    use crate::kinds::user::UserKind;
    for (key, d) in &cx.state.user {
        let u = &d.value;
        if u.kind != UserKind::Service && (!u.allowed_roles.is_empty() || u.read_only) {
            let field = if u.read_only { "read_only" } else { "allowed_roles" };
            cx.error("service-account-only", &d.origin, &path!["user", key, field], format!("user.{key}: {field} is for service accounts (kind = \"service\")"));
        }
        for (i, r) in u.allowed_roles.iter().enumerate() {
            if role_template_id(r).is_none() {
                cx.error("unknown-role", &d.origin, &path!["user", key, "allowed_roles", i], format!("user.{key}: `{r}` is not a built-in directory role tenantctl knows"));
            } else if u.read_only && !READ_ONLY_ROLES.contains(&r.as_str()) {
                cx.error(
                    "read-only-role",
                    &d.origin,
                    &path!["user", key, "allowed_roles", i],
                    format!("user.{key} is read_only and may hold only read-only roles ({}); `{r}` is not one", READ_ONLY_ROLES.join(", ")),
                );
            }
        }
    }
    if let Some(g) = &cx.state.governance {
        for (k, why) in &g.value.exceptions {
            if why.trim().is_empty() {
                cx.error("exception-reason", &g.origin, &path!["governance", "exceptions", k.as_str()], format!("governance.exceptions: `{k}` needs a reason"));
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
    for (name, a) in &gov.authors {
        if !a.public_key.starts_with("ed25519:") {
            cx.error("invalid-key", origin, &path!["governance", "authors", name, "public_key"], format!("governance.authors.{name}: public_key must be `ed25519:` followed by base64 (see `tenantctl keygen`)"));
        }
    }
    // Two-key completion is the default; fewer needs a stated reason.
    match (&gov.unattended, gov.approvals_required < crate::kinds::governance::DEFAULT_APPROVALS) {
        (None, true) => {
            cx.error(
                "unattended-required",
                origin,
                &path!["governance", "approvals_required"],
                format!(
                    "governance: approvals_required = {} is below two-key completion (2); say why with `unattended = \"REASON\"` in [governance], or require 2",
                    gov.approvals_required
                ),
            );
        }
        (Some(reason), true) => cx.warning(
            "unattended",
            origin,
            &path!["governance", "unattended"],
            format!("governance: approvals_required = {}, so sensitive changes are applied with fewer than two approvers (unattended: {reason})", gov.approvals_required),
        ),
        _ => {}
    }
}

/// Client app types Graph accepts in `conditions.clientAppTypes`.
pub const CLIENT_APP_TYPES: &[&str] = &[
    "all",
    "browser",
    "mobileAppsAndDesktopClients",
    "exchangeActiveSync",
    "easSupported",
    "other",
];

/// Special values Graph accepts in `conditions.applications` lists; anything
/// else must be an application id.
pub const SPECIAL_APPLICATIONS: &[&str] = &["All", "None", "Office365", "MicrosoftAdminPortals"];

fn check_conditional_access_targets(cx: &mut Ctx) {
    for (key, d) in &cx.state.conditional_access {
        let p = &d.value;
        for (i, t) in p.client_app_types.iter().enumerate() {
            if !CLIENT_APP_TYPES.contains(&t.as_str()) {
                let d2 = cx.error(
                    "unknown-client-app-type",
                    &d.origin,
                    &path!["conditional_access", key, "client_app_types", i],
                    format!("conditional_access.{key}: `{t}` is not a client app type"),
                );
                d2.help = Some(
                    match crate::suggest::closest(t, CLIENT_APP_TYPES.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("expected one of: {}", CLIENT_APP_TYPES.join(", ")),
                    },
                );
            }
        }
        for (field, list) in [
            ("include_applications", &p.applications.include_applications),
            ("exclude_applications", &p.applications.exclude_applications),
        ] {
            for (i, a) in list.iter().enumerate() {
                if SPECIAL_APPLICATIONS.contains(&a.as_str()) || is_guid(a) {
                    continue;
                }
                let d2 = cx.error(
                    "invalid-application",
                    &d.origin,
                    &path!["conditional_access", key, "applications", field, i],
                    format!("conditional_access.{key}: `{a}` is neither an application id nor one of {}", SPECIAL_APPLICATIONS.join(", ")),
                );
                if let Some(s) = crate::suggest::closest(a, SPECIAL_APPLICATIONS.iter().copied()) {
                    d2.help = Some(format!("did you mean `{s}`?"));
                }
            }
        }
        if p.users.include_users.iter().any(|u| u == "None") && p.users.include_users.len() > 1 {
            cx.error(
                "none-with-others",
                &d.origin,
                &path!["conditional_access", key, "users", "include_users"],
                format!("conditional_access.{key}: include_users lists \"None\" together with other users"),
            );
        }
    }
}

/// Ed25519 public keys in `[governance.approvers]`: `ed25519:` and the
/// base64 of exactly 32 bytes, each approver with a key of their own (two
/// approvers sharing a key would let one person give both approvals).
fn check_approver_keys(cx: &mut Ctx) {
    use base64::Engine as _;
    let Some(g) = &cx.state.governance else {
        return;
    };
    let origin = &g.origin;
    let mut seen: BTreeMap<&str, &String> = BTreeMap::new();
    for (name, a) in &g.value.approvers {
        let here = path!["governance", "approvers", name, "public_key"];
        let Some(b64) = a.public_key.strip_prefix("ed25519:") else {
            continue; // reported by check_governance
        };
        match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
            Ok(bytes) if bytes.len() == 32 => {}
            Ok(bytes) => {
                cx.error(
                    "invalid-key",
                    origin,
                    &here,
                    format!("governance.approvers.{name}: public_key holds {} bytes; an Ed25519 public key is 32", bytes.len()),
                );
                continue;
            }
            Err(e) => {
                cx.error(
                    "invalid-key",
                    origin,
                    &here,
                    format!("governance.approvers.{name}: public_key is not base64 ({e})"),
                );
                continue;
            }
        }
        if let Some(first) = seen.insert(b64.trim(), name) {
            cx.error(
                "duplicate-approver-key",
                origin,
                &here,
                format!("governance.approvers.{name} has the same public_key as governance.approvers.{first}; one person could give both approvals"),
            );
        }
    }
}

/// Autopilot profiles apply to devices: one assigned to all users, or to a
/// dynamic group whose rule selects users, never reaches a device.
fn check_autopilot_targets(cx: &mut Ctx) {
    for (key, d) in &cx.state.autopilot_profile {
        let a = &d.value.assignments;
        if a.all_users {
            cx.error(
                "autopilot-targets-users",
                &d.origin,
                &path!["autopilot_profile", key, "assignments", "all_users"],
                format!("autopilot_profile.{key}: Autopilot profiles apply to devices; assign it to device groups or all_devices"),
            );
        }
        for (field, list) in [("include", &a.include), ("exclude", &a.exclude)] {
            for (i, r) in list.iter().enumerate() {
                let Ok(g) = cx.state.resolve(r, &[Kind::Group]) else {
                    continue; // reported by check_assignments
                };
                let rule = cx
                    .state
                    .group
                    .get(&g.key)
                    .and_then(|g| g.value.membership_rule.clone());
                if let Some(rule) = rule {
                    if !is_device_rule(&rule) {
                        cx.error(
                            "autopilot-targets-users",
                            &d.origin,
                            &path!["autopilot_profile", key, "assignments", field, i],
                            format!("autopilot_profile.{key}: {g} is a dynamic group of users; Autopilot profiles apply to device groups"),
                        );
                    }
                }
            }
        }
    }
}

/// The characters a device name may have outside `%SERIAL%` and `%RAND:x%`
/// macros: letters, digits and hyphens, and not only digits.
pub fn device_name_template_problem(template: &str) -> Option<String> {
    let mut fixed = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('%') {
        fixed.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else {
            return Some("has a `%` that starts a macro but never ends it".into());
        };
        let token = &after[..end];
        let rand_ok = token
            .strip_prefix("RAND:")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=15).contains(&n));
        if !(token.eq_ignore_ascii_case("SERIAL") || rand_ok) {
            return Some(format!(
                "uses `%{token}%`; the macros are %SERIAL% and %RAND:x% (x from 1 to 15)"
            ));
        }
        rest = &after[end + 1..];
    }
    fixed.push_str(rest);
    if let Some(c) = fixed
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        let shown = if c == ' ' {
            "a space".to_string()
        } else {
            format!("`{c}`")
        };
        return Some(format!(
            "contains {shown}; device names use letters, digits and hyphens"
        ));
    }
    if template == fixed && !fixed.is_empty() && fixed.chars().all(|c| c.is_ascii_digit()) {
        return Some("is only digits, which Windows does not allow as a computer name".into());
    }
    if template == fixed && !fixed.is_empty() {
        return Some(
            "has no %SERIAL% or %RAND:x% macro, so every device would get the same name".into(),
        );
    }
    None
}

/// Two role assignments of one role to one principal at one scope would be
/// the same object in Entra.
fn check_role_assignment_duplicates(cx: &mut Ctx) {
    let mut seen: BTreeMap<(Address, &str, &str, bool), &String> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (key, d) in &cx.state.role_assignment {
        let r = &d.value;
        let Ok(principal) = cx
            .state
            .resolve(&r.principal, &[Kind::User, Kind::Guest, Kind::Group])
        else {
            continue;
        };
        let eligible = r.assignment == crate::kinds::role_assignment::AssignmentType::Eligible;
        let id = (
            principal.clone(),
            // A role named and the same role given by its template id clash.
            crate::kinds::role_assignment::role_template_id(&r.role).unwrap_or(r.role.as_str()),
            r.directory_scope_id.as_str(),
            eligible,
        );
        if let Some(first) = seen.insert(id, key) {
            clashes.push((key, first.clone(), principal, &d.origin));
        }
    }
    for (key, first, principal, origin) in clashes {
        cx.error(
            "duplicate-natural-key",
            origin,
            &path!["role_assignment", key, "role"],
            format!("role_assignment.{key} gives {principal} the same role at the same scope as role_assignment.{first}"),
        );
    }
}

/// (first key, second key, where the second is declared)
type Clash = (String, String, Origin);

/// Two declarations that would match the same live object are an error.
fn check_natural_keys(cx: &mut Ctx) {
    fn clashes<'a>(items: impl Iterator<Item = (&'a String, &'a Origin, String)>) -> Vec<Clash> {
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
