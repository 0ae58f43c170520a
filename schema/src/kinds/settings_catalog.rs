//! `[settings_catalog.KEY]`: an Intune Settings Catalog policy
//! (`/beta/deviceManagement/configurationPolicies`), its settings given by
//! setting definition id in readable TOML:
//!
//! * a choice: the option's id (`"…_1"`), or, when it has children, a
//!   table `{ value = "<option id>", "<child definition id>" = … }`;
//! * a simple setting: an integer or a string;
//! * a simple collection: an array of integers or strings;
//! * a group collection: an array of tables, each child by definition id;
//! * a secret (a definition with `isSecret`, e.g. a Wi-Fi key): the table
//!   `{ secret_env = "NAME" }`, the value read from that environment
//!   variable at apply and never written in TOML, plans, journals, exports
//!   or logs; add `rotate = true` to send it again (Graph returns only an
//!   encrypted token, so a set secret is never compared by value).
//!
//! Which one a value is, and whether it is allowed, is checked at plan time
//! against the tenant's setting definitions (`configurationSettings`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// `[settings_catalog.KEY]`: an Intune Settings Catalog policy with its settings by definition id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsCatalog {
    /// Natural key of the policy (Graph's `name`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Graph's `platforms`, e.g. `windows10`, `macOS`, `iOS` (with a
    /// `template`, the template's when left out).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platforms: String,
    /// Graph's `technologies`, e.g. `mdm` or `mdm,microsoftSense` (with a
    /// `template`, the template's when left out).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub technologies: String,
    /// The template a security baseline or endpoint security policy is
    /// made from (`configurationPolicyTemplates`), by display name (e.g.
    /// `"Windows security baseline"`, `"Microsoft Defender Antivirus"`,
    /// `"Local admin password solution (Windows LAPS)"`; the active version
    /// when several share it) or id. Settings then come from the
    /// template: those not declared take the template's defaults, which
    /// the plan shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Settings by setting definition id (see the module documentation).
    /// Every live setting is managed: one not declared here is drift.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub settings: BTreeMap<String, toml::Value>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag. Undeclared, they are not
    /// managed (an update keeps the policy's live tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
    /// Ring-by-ring rollout: one policy per ring group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<super::Rollout>,
}

/// The key of a choice value's option inside a table that also holds the
/// choice's children.
pub const CHOICE_VALUE: &str = "value";

/// The key of a secret value's environment variable: `{ secret_env = "NAME" }`.
pub const SECRET_ENV: &str = "secret_env";

/// The key asking a secret to be sent again: `{ secret_env = "NAME", rotate = true }`.
pub const SECRET_ROTATE: &str = "rotate";

/// What is wrong with a secret's table `{ secret_env = "NAME" [, rotate = true] }`.
fn secret_problem(t: &toml::map::Map<String, toml::Value>) -> Option<String> {
    if let Some(k) = t.keys().find(|k| k.as_str() != SECRET_ENV && k.as_str() != SECRET_ROTATE) {
        return Some(format!("a secret is `{{ {SECRET_ENV} = \"NAME\" }}` (optionally with `{SECRET_ROTATE} = true`); `{k}` is not one of its keys"));
    }
    if t.get(SECRET_ROTATE).is_some_and(|r| !r.is_bool()) {
        return Some(format!("`{SECRET_ROTATE}` is true or false"));
    }
    match t.get(SECRET_ENV) {
        Some(toml::Value::String(var)) if !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            if crate::env_names::is_credential_variable(var) {
                Some(format!("`{SECRET_ENV}` names `{var}`, which holds a credential of the run, not this setting's secret"))
            } else {
                None
            }
        }
        _ => Some(format!("`{SECRET_ENV}` must name an environment variable (letters, digits and `_`), not hold the secret")),
    }
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate`; the values are checked against the tenant's setting
// definitions at plan time (providers).

use crate::address::Kind;
use crate::path;
use crate::validate::policy::check_assignments;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    // The name is the natural key: two policies may not share it.
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    for (key, d) in &cx.state.settings_catalog {
        let name = d.value.name.trim().to_lowercase();
        if let Some(first) = names.get(&name) {
            cx.error(
                "duplicate-natural-key",
                &d.origin,
                &path![Kind::SettingsCatalog.as_str(), key.as_str(), "name"],
                format!("settings_catalog.{key}: name `{}` is also settings_catalog.{first}'s (the name finds the policy in Intune)", d.value.name),
            );
        } else {
            names.insert(name, key.as_str());
        }
    }
    for (key, d) in &cx.state.settings_catalog {
        let here = |field: &str| path![Kind::SettingsCatalog.as_str(), key.as_str(), field];
        if d.value.template.as_deref().is_some_and(|t| t.trim().is_empty()) {
            cx.error("empty-field", &d.origin, &here("template"), format!("settings_catalog.{key}: `template` is empty (give the template's display name or id, or leave it out)"));
        }
        // With a template, platforms and technologies default to the template's.
        let templated = d.value.template.is_some();
        for (field, v) in [("name", &d.value.name), ("platforms", &d.value.platforms), ("technologies", &d.value.technologies)] {
            if v.trim().is_empty() && !(templated && field != "name") {
                cx.error("empty-field", &d.origin, &here(field), format!("settings_catalog.{key}: `{field}` is empty"));
            }
        }
        for (id, v) in &d.value.settings {
            if let Some(problem) = shape_problem(id, v) {
                cx.error(
                    "invalid-setting",
                    &d.origin,
                    &path![Kind::SettingsCatalog.as_str(), key.as_str(), "settings", id.as_str()],
                    format!("settings_catalog.{key}: setting `{id}`: {problem}"),
                );
            }
        }
        check_assignments(cx, Kind::SettingsCatalog, key, &d.origin, &d.value.assignments);
    }
}

/// What is wrong with the shape of one setting's value, if anything (TOML
/// allows what no setting instance can hold: floats, booleans, dates,
/// mixed arrays, tables nested without a choice value).
pub fn shape_problem(id: &str, v: &toml::Value) -> Option<String> {
    if id.trim().is_empty() || id.chars().any(char::is_whitespace) {
        return Some("a setting definition id has no spaces and is not empty".into());
    }
    match v {
        toml::Value::Integer(_) => None,
        toml::Value::String(s) if s.is_empty() => Some("an empty string is no value; leave the setting out".into()),
        toml::Value::String(_) => None,
        toml::Value::Float(_) | toml::Value::Boolean(_) | toml::Value::Datetime(_) => {
            Some("a value is an integer, a string, an option id, an array or a table (booleans are choices: give the option id)".into())
        }
        toml::Value::Array(items) => {
            let scalars = items.iter().all(|i| matches!(i, toml::Value::Integer(_) | toml::Value::String(_)));
            let tables = items.iter().all(toml::Value::is_table);
            if items.is_empty() {
                Some("an empty collection; leave the setting out".into())
            } else if scalars {
                None
            } else if tables {
                items.iter().filter_map(|t| t.as_table()).flat_map(|t| t.iter()).find_map(|(k, v)| shape_problem(k, v))
            } else {
                Some("a collection holds only integers and strings, or only tables (a group collection)".into())
            }
        }
        toml::Value::Table(t) if t.contains_key(SECRET_ENV) => secret_problem(t),
        toml::Value::Table(t) => match t.get(CHOICE_VALUE) {
            Some(toml::Value::String(_)) => t.iter().filter(|(k, _)| k.as_str() != CHOICE_VALUE).find_map(|(k, v)| shape_problem(k, v)),
            _ => Some(format!("a table is a choice with children: it needs `{CHOICE_VALUE} = \"<option id>\"`")),
        },
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/configurationPolicies"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
