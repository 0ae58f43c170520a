//! `[group.KEY]`: security groups, assigned or dynamic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether Entra evaluates a dynamic group's rule (`On`) or not (`Paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ProcessingState {
    On,
    Paused,
}

/// `[group.KEY]`: a security group, either assigned (members and owners by key) or dynamic (a membership rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub display_name: String,
    /// Natural key of the group; at most 64 ASCII characters, none of
    /// `@()\[]";:.<>,` or space.
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r#"^[^@()\\\[\]";:<>,\s.]+$"#)
    )]
    pub mail_nickname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Members by key (`key` or `kind.key` for users, guests and groups).
    /// Absent: membership is not managed (e.g. device groups filled by
    /// Autopilot). Present, even empty: membership is exactly this list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// Owners by key (users only). Absent: owners are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<Vec<String>>,
    /// Makes the group dynamic (groupTypes = ["DynamicMembership"]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_rule_processing_state: Option<ProcessingState>,
    /// The group can hold directory roles; cannot be combined with a dynamic rule.
    #[serde(default)]
    pub is_assignable_to_role: bool,
    /// Membership must never be changed by anyone but desired state: any
    /// out-of-band change is drift, and changes to it are sensitive.
    #[serde(default)]
    pub protected: bool,
    /// Group-based licensing: the SKUs (by part number, `SPE_E3`) every
    /// member gets, each with the service plans switched off. Absent:
    /// licences are not managed; present, even empty: exactly these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<Vec<crate::kinds::licenses::License>>,
}

impl Group {
    pub fn is_dynamic(&self) -> bool {
        self.membership_rule.is_some()
    }
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::validate::{mail_nickname_problem, Ctx};

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_groups(cx);
    crate::kinds::licenses::check_group_licenses(cx);
    check_membership_rules(cx);
}

/// Strip quoted strings from a membership rule, so values such as
/// `"user.x"` or `"("` are not mistaken for syntax.
pub(crate) fn rule_outside_quotes(rule: &str) -> (String, bool) {
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
pub(crate) fn is_device_rule(rule: &str) -> bool {
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

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/groups"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
