//! Stage 1 check: the length of every string Graph limits, at validate time,
//! so a 10 MB display name is refused with its location and never written.
//! Lengths are in characters, as Graph documents them.
//!
//! The numbers are Graph's, from one table: `limits` in the generated
//! graph-metadata (the CSDL's MaxLength facets, then the limits the docs
//! give where the CSDL has none, each with its citation), the same table
//! the sandbox enforces. [`LIMITS`] only says which desired-state field is
//! which Graph property. Where Graph documents no maximum (Intune policy
//! names, conditional access names, free text), tenantctl caps names at
//! 1,024 and free text at 10,000 characters, far above any real value, so
//! a runaway value is a located error rather than a multi-megabyte request
//! Graph would refuse anyway.
//!
//! Refusals never repeat the value: its length and location say enough.
//! Other checks do repeat values in messages, and every problem shows its
//! source line, so [`shorten`] trims what a diagnostic shows of a huge value.

use graph_metadata::metadata;

use crate::address::Kind;
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Origin};
use crate::source::{Seg, SourceFile};
use crate::state::DesiredState;

/// tenantctl's cap on names Graph documents no limit for.
pub const UNDOCUMENTED_NAME: usize = 1024;
/// tenantctl's cap on free text Graph documents no limit for.
pub const UNDOCUMENTED_TEXT: usize = 10_000;
/// tenantctl's cap on one string inside a policy's `settings` (OMA-URI
/// values and XML payloads can be long; Graph documents no limit).
pub const SETTING_TEXT: usize = 1024 * 1024;

/// Where a field's maximum comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Max {
    /// Graph's limit for (type, property) in graph-metadata's `limits`.
    Graph(&'static str, &'static str),
    /// A name Graph sets no limit for: [`UNDOCUMENTED_NAME`].
    Name,
    /// Free text Graph sets no limit for: [`UNDOCUMENTED_TEXT`].
    Text,
}

/// Every length-limited field of desired state: (kind, field, maximum).
pub const LIMITS: &[(Kind, &str, Max)] = &[
    (
        Kind::User,
        "display_name",
        Max::Graph("user", "displayName"),
    ),
    (
        Kind::User,
        "user_principal_name",
        Max::Graph("user", "userPrincipalName"),
    ),
    (
        Kind::User,
        "mail_nickname",
        Max::Graph("user", "mailNickname"),
    ),
    (Kind::User, "given_name", Max::Graph("user", "givenName")),
    (Kind::User, "surname", Max::Graph("user", "surname")),
    (Kind::User, "job_title", Max::Graph("user", "jobTitle")),
    (Kind::User, "department", Max::Graph("user", "department")),
    (
        Kind::User,
        "usage_location",
        Max::Graph("user", "usageLocation"),
    ),
    (Kind::User, "password_env", Max::Name),
    (
        Kind::Guest,
        "display_name",
        Max::Graph("invitation", "invitedUserDisplayName"),
    ),
    (
        Kind::Guest,
        "email",
        Max::Graph("invitation", "invitedUserEmailAddress"),
    ),
    (Kind::Guest, "redirect_url", Max::Name),
    (
        Kind::Group,
        "display_name",
        Max::Graph("group", "displayName"),
    ),
    (
        Kind::Group,
        "mail_nickname",
        Max::Graph("group", "mailNickname"),
    ),
    (
        Kind::Group,
        "description",
        Max::Graph("group", "description"),
    ),
    (
        Kind::Group,
        "membership_rule",
        Max::Graph("group", "membershipRule"),
    ),
    (Kind::RoleAssignment, "directory_scope_id", Max::Name),
    (Kind::RoleAssignment, "justification", Max::Text),
    (Kind::DeviceConfiguration, "display_name", Max::Name),
    (Kind::DeviceConfiguration, "description", Max::Text),
    (Kind::CompliancePolicy, "display_name", Max::Name),
    (Kind::CompliancePolicy, "description", Max::Text),
    (Kind::UpdateRing, "display_name", Max::Name),
    (Kind::UpdateRing, "description", Max::Text),
    (
        Kind::AutopilotProfile,
        "display_name",
        Max::Graph("windowsAutopilotDeploymentProfile", "displayName"),
    ),
    (
        Kind::AutopilotProfile,
        "description",
        Max::Graph("windowsAutopilotDeploymentProfile", "description"),
    ),
    (Kind::ConditionalAccess, "display_name", Max::Name),
    (Kind::ConditionalAccess, "description", Max::Text),
    (Kind::NamedLocation, "display_name", Max::Name),
    (Kind::AuthenticationStrength, "display_name", Max::Name),
    (Kind::AuthenticationStrength, "description", Max::Text),
];

impl Max {
    /// The maximum and who sets it, as a message says it; `None` for a
    /// Graph limit the metadata does not have (a test keeps that from
    /// happening).
    pub fn resolve(self) -> Option<(usize, &'static str)> {
        let ours = "tenantctl (Graph documents no limit)";
        match self {
            Max::Graph(t, p) => metadata().limit(t, p).map(|l| {
                let who = if l.source.starts_with("RFC") {
                    "an e-mail address"
                } else {
                    "Graph"
                };
                (l.max as usize, who)
            }),
            Max::Name => Some((UNDOCUMENTED_NAME, ours)),
            Max::Text => Some((UNDOCUMENTED_TEXT, ours)),
        }
    }
}

/// The longest string anywhere inside a setting's value, in characters.
fn longest_string(v: &toml::Value) -> usize {
    match v {
        toml::Value::String(s) if s.len() > SETTING_TEXT => s.chars().count(),
        toml::Value::Array(a) => a.iter().map(longest_string).max().unwrap_or(0),
        toml::Value::Table(t) => t.values().map(longest_string).max().unwrap_or(0),
        _ => 0,
    }
}

/// One declared object's limited string fields: (field, value).
struct Object<'a> {
    kind: Kind,
    key: &'a str,
    origin: &'a Origin,
    fields: Vec<(&'static str, Option<&'a str>)>,
}

/// The limited string fields of every declared object.
fn objects(state: &DesiredState) -> Vec<Object<'_>> {
    let mut out = Vec::new();
    for (key, d) in &state.user {
        let u = &d.value;
        out.push(Object {
            kind: Kind::User,
            key,
            origin: &d.origin,
            fields: vec![
                ("display_name", Some(u.display_name.as_str())),
                ("user_principal_name", Some(u.user_principal_name.as_str())),
                ("mail_nickname", Some(u.mail_nickname.as_str())),
                ("given_name", u.given_name.as_deref()),
                ("surname", u.surname.as_deref()),
                ("job_title", u.job_title.as_deref()),
                ("department", u.department.as_deref()),
                ("usage_location", u.usage_location.as_deref()),
                ("password_env", u.password_env.as_deref()),
            ],
        });
    }
    for (key, d) in &state.guest {
        let g = &d.value;
        out.push(Object {
            kind: Kind::Guest,
            key,
            origin: &d.origin,
            fields: vec![
                ("display_name", Some(g.display_name.as_str())),
                ("email", Some(g.email.as_str())),
                ("redirect_url", Some(g.redirect_url.as_str())),
            ],
        });
    }
    for (key, d) in &state.group {
        let g = &d.value;
        out.push(Object {
            kind: Kind::Group,
            key,
            origin: &d.origin,
            fields: vec![
                ("display_name", Some(g.display_name.as_str())),
                ("mail_nickname", Some(g.mail_nickname.as_str())),
                ("description", g.description.as_deref()),
                ("membership_rule", g.membership_rule.as_deref()),
            ],
        });
    }
    for (key, d) in &state.role_assignment {
        let r = &d.value;
        out.push(Object {
            kind: Kind::RoleAssignment,
            key,
            origin: &d.origin,
            fields: vec![
                ("directory_scope_id", Some(r.directory_scope_id.as_str())),
                ("justification", r.justification.as_deref()),
            ],
        });
    }
    // Every policy kind has a display name and an optional description.
    fn named<'a>(
        kind: Kind,
        key: &'a str,
        origin: &'a Origin,
        name: &'a str,
        description: Option<&'a str>,
    ) -> Object<'a> {
        Object {
            kind,
            key,
            origin,
            fields: vec![("display_name", Some(name)), ("description", description)],
        }
    }
    for (key, d) in &state.device_configuration {
        out.push(named(
            Kind::DeviceConfiguration,
            key,
            &d.origin,
            &d.value.display_name,
            d.value.description.as_deref(),
        ));
    }
    for (key, d) in &state.compliance_policy {
        out.push(named(
            Kind::CompliancePolicy,
            key,
            &d.origin,
            &d.value.display_name,
            d.value.description.as_deref(),
        ));
    }
    for (key, d) in &state.update_ring {
        out.push(named(
            Kind::UpdateRing,
            key,
            &d.origin,
            &d.value.display_name,
            d.value.description.as_deref(),
        ));
    }
    for (key, d) in &state.autopilot_profile {
        out.push(named(
            Kind::AutopilotProfile,
            key,
            &d.origin,
            &d.value.display_name,
            d.value.description.as_deref(),
        ));
    }
    for (key, d) in &state.conditional_access {
        out.push(named(
            Kind::ConditionalAccess,
            key,
            &d.origin,
            &d.value.display_name,
            d.value.description.as_deref(),
        ));
    }
    for (key, d) in &state.named_location {
        out.push(named(Kind::NamedLocation, key, &d.origin, &d.value.display_name, None));
    }
    for (key, d) in &state.authentication_strength {
        out.push(named(Kind::AuthenticationStrength, key, &d.origin, &d.value.display_name, d.value.description.as_deref()));
    }
    out
}

fn locate(sources: &[SourceFile], origin: &Origin, path: &[Seg]) -> Location {
    sources
        .iter()
        .find(|s| s.holds(origin))
        .map(|s| s.locate(path))
        .unwrap_or_else(|| Location::file(&origin.file))
}

/// Check the length of every string Graph (or, where it documents none,
/// tenantctl) limits.
pub fn check(state: &DesiredState, sources: &[SourceFile], diags: &mut Diagnostics) {
    for o in objects(state) {
        for (field, value) in &o.fields {
            let Some(value) = value else { continue };
            let Some((max, who)) = LIMITS
                .iter()
                .find(|(k, f, _)| *k == o.kind && f == field)
                .and_then(|(_, _, m)| m.resolve())
            else {
                continue;
            };
            // Cheap first: a string of at most `max` bytes has at most `max` chars.
            if value.len() <= max {
                continue;
            }
            let len = value.chars().count();
            if len <= max {
                continue;
            }
            let (kind, key) = (o.kind, o.key);
            let path = [Seg::from(kind.as_str()), Seg::from(key), Seg::from(*field)];
            diags.push(
                Diagnostic::error(
                    "too-long",
                    format!("{kind}.{key}: {field} is {len} characters long; {who} allows at most {max}"),
                )
                .at(Some(locate(sources, o.origin, &path)))
                .with_help(format!("shorten {field} to {max} characters or fewer")),
            );
        }
    }
    let ours = "tenantctl (Graph documents no limit)";
    let policies = state
        .device_configuration
        .iter()
        .map(|(k, d)| (Kind::DeviceConfiguration, k, &d.origin, &d.value.settings))
        .chain(
            state
                .compliance_policy
                .iter()
                .map(|(k, d)| (Kind::CompliancePolicy, k, &d.origin, &d.value.settings)),
        );
    for (kind, key, origin, settings) in policies {
        for (name, value) in settings {
            let len = longest_string(value);
            if len > SETTING_TEXT {
                let path = [
                    Seg::from(kind.as_str()),
                    Seg::from(key.as_str()),
                    Seg::from("settings"),
                    Seg::from(name.as_str()),
                ];
                diags.push(
                    Diagnostic::error("too-long", format!("{kind}.{key}: settings.{name} holds a string of {len} characters; {ours} allows at most {SETTING_TEXT}"))
                        .at(Some(locate(sources, origin, &path))),
                );
            }
        }
    }
}

/// The most a diagnostic shows of its message or help.
const MAX_MESSAGE: usize = 400;

/// Whether `c` would reorder, hide or recolour text on a terminal.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Keep every diagnostic readable and inert whatever the input holds: a
/// message that repeats a huge value is cut, and control and bidi
/// characters a value brought in are shown as `\u{..}` escapes (the source
/// line is windowed and neutralised when shown).
pub fn shorten(diags: &mut Diagnostics) {
    fn cut(text: &mut String) {
        if text.chars().any(is_hidden) {
            *text = text
                .chars()
                .map(|c| {
                    if is_hidden(c) {
                        format!("\\u{{{:x}}}", c as u32)
                    } else {
                        c.to_string()
                    }
                })
                .collect();
        }
        if text.len() > MAX_MESSAGE {
            let total = text.chars().count();
            if total > MAX_MESSAGE {
                let kept: String = text.chars().take(MAX_MESSAGE).collect();
                *text = format!("{kept}… ({} more characters)", total - MAX_MESSAGE);
            }
        }
    }
    for d in &mut diags.0 {
        cut(&mut d.message);
        if let Some(help) = &mut d.help {
            cut(help);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_limits_come_from_the_metadata_the_sandbox_enforces() {
        let m = metadata();
        for (kind, field, max) in LIMITS {
            let Max::Graph(t, p) = *max else { continue };
            let limit = m.limit(t, p).unwrap_or_else(|| {
                panic!("{kind}.{field}: graph-metadata has no limit for {t}.{p}")
            });
            assert_eq!(max.resolve().map(|(n, _)| n), Some(limit.max as usize));
            // The sandbox checks writes against the property's `max`.
            match m.properties(t, true).get(p) {
                Some(graph_metadata::PropInfo::Typed(prop)) => assert_eq!(
                    prop.max,
                    Some(limit.max),
                    "{t}.{p}: the sandbox's maximum differs from validate's"
                ),
                other => panic!("{t}.{p} is not a typed property: {other:?}"),
            }
        }
        // Each documented limit has its citation.
        assert!(m.data.limits.iter().all(|l| !l.source.is_empty()));
        assert_eq!(
            m.limit("windowsAutopilotDeploymentProfile", "displayName")
                .map(|l| l.max),
            Some(200)
        );
    }

    #[test]
    fn huge_messages_and_lines_are_shown_in_part() {
        let line = format!("display_name = \"{}\"", "x".repeat(10_000));
        let mut diags = Diagnostics::default();
        let loc = Location::from_span(std::path::Path::new("f.toml"), &line, 15..line.len());
        diags.push(Diagnostic::error("too-long", "m".repeat(5000)).at(Some(loc)));
        shorten(&mut diags);
        let shown = diags.to_string();
        assert!(shown.len() < 2000, "{}", shown.len());
        assert!(shown.contains("--> f.toml:1:16"), "{shown}");
        assert!(shown.contains("4600 more characters"), "{shown}");
    }

    #[test]
    fn control_and_bidi_characters_in_messages_are_escaped() {
        let mut diags = Diagnostics::default();
        diags.push(
            Diagnostic::error("invalid-upn", "`a\u{202E}b\x1b[2J@x` is bad").with_help("x\ny"),
        );
        shorten(&mut diags);
        assert_eq!(diags.0[0].message, "`a\\u{202e}b\\u{1b}[2J@x` is bad");
        assert_eq!(diags.0[0].help.as_deref(), Some("x\\u{a}y"));
    }
}
