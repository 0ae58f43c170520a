//! Checks shared by the Intune policy kinds: assignments and raw settings.

use std::collections::BTreeMap;

use crate::address::Kind;
use crate::diagnostic::Origin;
use crate::kinds::Assignments;
use crate::path;
use crate::validate::Ctx;

pub(crate) fn check_assignments(cx: &mut Ctx, kind: Kind, key: &str, origin: &Origin, a: &Assignments) {
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
        } else if f.filter.starts_with("assignment_filter.") {
            // A declared filter by address must exist; a bare key of a
            // declared filter refers to it, anything else is the display
            // name or id of a filter tenantctl does not manage.
            let mut here = at.to_vec();
            here.push(crate::source::Seg::from("filter"));
            cx.reference(origin, &here, &f.filter, &[Kind::AssignmentFilter]);
        }
    }
}

pub(crate) fn check_settings(
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
        if crate::graph_types::RESERVED.contains(&name.as_str()) {
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
