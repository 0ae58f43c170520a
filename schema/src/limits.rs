//! Stage 1 check: the length of every string Graph limits, at validate time,
//! so a 10 MB display name is refused with its location and never written.
//! Lengths are in characters, as Graph documents them.
//!
//! Where the limits come from (Microsoft Graph and Entra documentation):
//! * user (graph/api/resources/user): displayName 256, givenName 64,
//!   surname 64, jobTitle 128, department 64, mailNickname 64;
//!   userPrincipalName: 64 before the `@` (checked in `validate`) and 113 in
//!   all (Entra's "UserPrincipalName population" page: 64 + `@` + 48).
//! * group (graph/api/resources/group): displayName 256, mailNickname 64
//!   (checked in `validate`); description 1024 (Entra's limit for group
//!   descriptions; the Graph page names none); membershipRule 3072 (Entra
//!   "dynamic membership rules": a rule body can't exceed 3,072 characters).
//! * guest: the invited account is a user (displayName 256); an e-mail
//!   address is at most 254 characters (RFC 5321's path limit).
//! * windowsAutopilotDeploymentProfile (intune-enrollment-*): displayName
//!   "Max allowed length is 200 chars", description 1500.
//! * Intune device configurations, compliance policies, update rings and
//!   conditional access policies: Graph documents no maximum. tenantctl caps
//!   their names at 1,024 and free text at 10,000 characters, far above any
//!   real name, so a runaway value is a located error rather than a
//!   multi-megabyte request Graph would refuse anyway.
//!
//! Refusals never repeat the value: its length and location say enough.
//! Other checks do repeat values in messages, and every problem shows its
//! source line, so [`shorten`] trims what a diagnostic shows of a huge value.

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

/// The longest string anywhere inside a setting's value, in characters.
fn longest_string(v: &toml::Value) -> usize {
    match v {
        toml::Value::String(s) if s.len() > SETTING_TEXT => s.chars().count(),
        toml::Value::Array(a) => a.iter().map(longest_string).max().unwrap_or(0),
        toml::Value::Table(t) => t.values().map(longest_string).max().unwrap_or(0),
        _ => 0,
    }
}

struct Check<'a> {
    sources: &'a [SourceFile],
    diags: &'a mut Diagnostics,
}

impl Check<'_> {
    /// Refuse `value` at `path` (kind, key, field) when longer than `max`.
    fn at_most(
        &mut self,
        origin: &Origin,
        kind: Kind,
        key: &str,
        field: &str,
        value: &str,
        (max, graph): (usize, &str),
    ) {
        // Cheap first: a string of at most `max` bytes has at most `max` chars.
        if value.len() <= max {
            return;
        }
        let len = value.chars().count();
        if len <= max {
            return;
        }
        let path = [Seg::from(kind.as_str()), Seg::from(key), Seg::from(field)];
        let loc = self
            .sources
            .iter()
            .find(|s| s.holds(origin))
            .map(|s| s.locate(&path))
            .unwrap_or_else(|| Location::file(&origin.file));
        self.diags.push(
            Diagnostic::error(
                "too-long",
                format!(
                    "{kind}.{key}: {field} is {len} characters long; {graph} allows at most {max}"
                ),
            )
            .at(Some(loc))
            .with_help(format!("shorten {field} to {max} characters or fewer")),
        );
    }
}

/// Check the length of every string Graph (or, where it documents none,
/// tenantctl) limits.
pub fn check(state: &DesiredState, sources: &[SourceFile], diags: &mut Diagnostics) {
    let mut c = Check { sources, diags };
    let entra = "Entra";
    let intune = "Intune";
    let ours = "tenantctl (Graph documents no limit)";
    for (key, d) in &state.user {
        let (u, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::User,
            key,
            "display_name",
            &u.display_name,
            (256, entra),
        );
        c.at_most(
            o,
            Kind::User,
            key,
            "user_principal_name",
            &u.user_principal_name,
            (113, entra),
        );
        c.at_most(
            o,
            Kind::User,
            key,
            "mail_nickname",
            &u.mail_nickname,
            (64, entra),
        );
        for (field, value, max) in [
            ("given_name", &u.given_name, 64),
            ("surname", &u.surname, 64),
            ("job_title", &u.job_title, 128),
            ("department", &u.department, 64),
            ("usage_location", &u.usage_location, 2),
            ("password_env", &u.password_env, UNDOCUMENTED_NAME),
        ] {
            if let Some(v) = value {
                c.at_most(o, Kind::User, key, field, v, (max, entra));
            }
        }
    }
    for (key, d) in &state.guest {
        let (g, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::Guest,
            key,
            "display_name",
            &g.display_name,
            (256, entra),
        );
        c.at_most(
            o,
            Kind::Guest,
            key,
            "email",
            &g.email,
            (254, "an e-mail address"),
        );
        c.at_most(
            o,
            Kind::Guest,
            key,
            "redirect_url",
            &g.redirect_url,
            (UNDOCUMENTED_NAME, ours),
        );
    }
    for (key, d) in &state.group {
        let (g, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::Group,
            key,
            "display_name",
            &g.display_name,
            (256, entra),
        );
        c.at_most(
            o,
            Kind::Group,
            key,
            "mail_nickname",
            &g.mail_nickname,
            (64, entra),
        );
        if let Some(v) = &g.description {
            c.at_most(o, Kind::Group, key, "description", v, (1024, entra));
        }
        if let Some(v) = &g.membership_rule {
            c.at_most(o, Kind::Group, key, "membership_rule", v, (3072, entra));
        }
    }
    for (key, d) in &state.role_assignment {
        let (r, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::RoleAssignment,
            key,
            "directory_scope_id",
            &r.directory_scope_id,
            (UNDOCUMENTED_NAME, ours),
        );
        if let Some(v) = &r.justification {
            c.at_most(
                o,
                Kind::RoleAssignment,
                key,
                "justification",
                v,
                (UNDOCUMENTED_TEXT, ours),
            );
        }
    }
    for (key, d) in &state.device_configuration {
        let (p, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::DeviceConfiguration,
            key,
            "display_name",
            &p.display_name,
            (UNDOCUMENTED_NAME, ours),
        );
        if let Some(v) = &p.description {
            c.at_most(
                o,
                Kind::DeviceConfiguration,
                key,
                "description",
                v,
                (UNDOCUMENTED_TEXT, ours),
            );
        }
    }
    for (kind, key, d) in state
        .device_configuration
        .iter()
        .map(|(k, d)| (Kind::DeviceConfiguration, k, &d.origin, &d.value.settings))
        .chain(
            state
                .compliance_policy
                .iter()
                .map(|(k, d)| (Kind::CompliancePolicy, k, &d.origin, &d.value.settings)),
        )
        .map(|(kind, key, origin, settings)| (kind, key, (origin, settings)))
    {
        let (origin, settings) = d;
        for (name, value) in settings {
            let len = longest_string(value);
            if len > SETTING_TEXT {
                let path = [
                    Seg::from(kind.as_str()),
                    Seg::from(key.as_str()),
                    Seg::from("settings"),
                    Seg::from(name.as_str()),
                ];
                let loc = c
                    .sources
                    .iter()
                    .find(|s| s.holds(origin))
                    .map(|s| s.locate(&path))
                    .unwrap_or_else(|| crate::diagnostic::Location::file(&origin.file));
                c.diags.push(
                    Diagnostic::error("too-long", format!("{kind}.{key}: settings.{name} holds a string of {len} characters; {ours} allows at most {SETTING_TEXT}"))
                        .at(Some(loc)),
                );
            }
        }
    }
    for (key, d) in &state.compliance_policy {
        let (p, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::CompliancePolicy,
            key,
            "display_name",
            &p.display_name,
            (UNDOCUMENTED_NAME, ours),
        );
        if let Some(v) = &p.description {
            c.at_most(
                o,
                Kind::CompliancePolicy,
                key,
                "description",
                v,
                (UNDOCUMENTED_TEXT, ours),
            );
        }
    }
    for (key, d) in &state.update_ring {
        let (p, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::UpdateRing,
            key,
            "display_name",
            &p.display_name,
            (UNDOCUMENTED_NAME, ours),
        );
        if let Some(v) = &p.description {
            c.at_most(
                o,
                Kind::UpdateRing,
                key,
                "description",
                v,
                (UNDOCUMENTED_TEXT, ours),
            );
        }
    }
    for (key, d) in &state.autopilot_profile {
        let (p, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::AutopilotProfile,
            key,
            "display_name",
            &p.display_name,
            (200, intune),
        );
        if let Some(v) = &p.description {
            c.at_most(
                o,
                Kind::AutopilotProfile,
                key,
                "description",
                v,
                (1500, intune),
            );
        }
    }
    for (key, d) in &state.conditional_access {
        let (p, o) = (&d.value, &d.origin);
        c.at_most(
            o,
            Kind::ConditionalAccess,
            key,
            "display_name",
            &p.display_name,
            (UNDOCUMENTED_NAME, ours),
        );
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
