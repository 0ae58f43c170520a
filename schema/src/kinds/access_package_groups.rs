//! A group an access package grants gets its members from the package:
//! Entra adds each assignee to the group when their assignment is
//! delivered, and takes them out when it ends. Desired state that also
//! declared the group's `members` would fight the package: every plan
//! would remove the assignees Entra added (or add directly whom the
//! package already grants, a second path to the same access that does not
//! end with the assignment). So a granted group must leave `members`
//! undeclared (`package-group-members`, located at the group's
//! `members`); its live members, assignees included, are then not drift.

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

pub const PACKAGE_GROUP_MEMBERS: &str = "package-group-members";

/// Every group a declared package grants, checked.
pub(crate) fn validate(cx: &mut Ctx) {
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        for g in &d.value.groups {
            let Ok(a) = cx.state.resolve(g, &[Kind::Group]) else { continue };
            let Some(grp) = cx.state.group.get(a.key.as_str()) else { continue };
            if grp.value.members.is_some() {
                found.push((a.key.to_string(), key.to_string(), grp.origin.clone()));
            }
        }
    }
    for (group, package, origin) in found {
        cx.error(
            PACKAGE_GROUP_MEMBERS,
            &origin,
            &path!["group", group.as_str(), "members"],
            format!(
                "group.{group} is granted by access_package.{package}, whose assignments put their targets in it (and take them out when they end); declaring its members as well would remove them again on every apply, or grant directly what the package grants for a time: leave `members` undeclared and grant access through access_package_assignment"
            ),
        );
    }
}
