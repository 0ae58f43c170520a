//! Assignment filters (`deviceManagement/assignmentFilters`, beta only): a
//! rule over device properties that narrows an Intune assignment to the
//! devices it matches. A policy's `assignments.filters.TARGET.filter`
//! names a declared filter by its key (or `assignment_filter.KEY`), or a
//! filter tenantctl does not manage by display name or id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentFilter {
    /// Unique among the tenant's filters: it is how an existing filter is
    /// found, and how Intune shows it on assignments.
    pub display_name: String,
    pub platform: FilterPlatform,
    /// The filter rule, e.g. `(device.deviceOwnership -eq "Corporate")`.
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Scope tags (Graph's `roleScopeTags`, tag ids): keys of declared
    /// `scope_tag`s (or `scope_tag.KEY`), or `default` for Intune's built-in
    /// tag. Undeclared, they are not managed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
}

/// Graph's `devicePlatformType` values a device filter applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FilterPlatform {
    #[serde(rename = "windows10AndLater")]
    Windows10AndLater,
    #[serde(rename = "iOS")]
    Ios,
    #[serde(rename = "macOS")]
    MacOs,
    #[serde(rename = "android")]
    Android,
    #[serde(rename = "androidForWork")]
    AndroidForWork,
    #[serde(rename = "androidWorkProfile")]
    AndroidWorkProfile,
    #[serde(rename = "androidAOSP")]
    AndroidAosp,
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::path;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_assignment_filters(cx);
    check_scope_tags(cx);
}

/// A filter's `scope_tags` name declared tags (or `default`).
fn check_scope_tags(cx: &mut Ctx) {
    for (key, d) in &cx.state.assignment_filter {
        for (i, t) in d.value.scope_tags.iter().enumerate() {
            if !crate::kinds::scope_tag::is_default(t) {
                cx.reference(&d.origin, &path!["assignment_filter", key.as_str(), "scope_tags", i], t, &[crate::address::Kind::ScopeTag]);
            }
        }
    }
}

/// A filter rule Intune would refuse before evaluating it: empty, with
/// unbalanced quotes or parentheses, or naming no `device.` property.
pub fn filter_rule_problem(rule: &str) -> Option<String> {
    if rule.trim().is_empty() {
        return Some("is empty".into());
    }
    let (outside, closed) = crate::kinds::group::rule_outside_quotes(rule);
    if !closed {
        return Some("has an unclosed quote".into());
    }
    let mut depth = 0i32;
    for c in outside.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Some("closes a parenthesis it never opened".into());
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Some("has unbalanced parentheses".into());
    }
    if !outside.to_lowercase().contains("device.") {
        return Some("names no device property (such as `device.deviceOwnership`)".into());
    }
    None
}

fn check_assignment_filters(cx: &mut Ctx) {
    for (key, d) in &cx.state.assignment_filter {
        let f = &d.value;
        if f.display_name.trim().is_empty() {
            cx.error("empty-name", &d.origin, &path!["assignment_filter", key, "display_name"], format!("assignment_filter.{key}: display_name is empty"));
        }
        if let Some(p) = filter_rule_problem(&f.rule) {
            cx.error("invalid-filter-rule", &d.origin, &path!["assignment_filter", key, "rule"], format!("assignment_filter.{key}: rule {p}"));
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/assignmentFilters"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
