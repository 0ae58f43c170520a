//! What apply of an app assignment needs from the live app, carried in
//! the change (`live`) so apply does not read the app again before its
//! `/assign`: `/assign` replaces every intent's assignments with their
//! settings, so the settings desired state leaves undeclared are kept from
//! the live ones, written in the app's type's settings type.
//!
//! Likewise an update of the authentication methods policy carries each
//! method's raw live feature settings and include targets (what its PATCH
//! keeps as they are, `keep_live`), which the plan's one read of the
//! singleton already had: apply no longer GETs each touched method.
//!
//! So does an update of a role's PIM settings: its activation approval
//! rule as live (`CARRIED_PIM`), whose unmodelled settings the rule's
//! PATCH keeps.
//!
//! Only the settings and the app's type are carried, never the live
//! targets: governance judges a change by its desired and live sides
//! (`admin_reach::sensitive_reach` reads `assignments`), and what it says
//! must not change with this. A saved plan is applied only while the
//! tenant is as it was read (the observed fingerprint covers these props),
//! so what is carried is what `/assign` would have read.

use crate::model::{LiveObject, Props};
use crate::plan::{Action, Change};
use schema::{Address, Kind};
use std::collections::BTreeMap;

/// The live props apply of an app assignment reuses: each intent's
/// settings and the app's type (as the providers' read names them).
pub const CARRIED: [&str; 5] = ["settingsRequired", "settingsAvailable", "settingsUninstall", "settingsAvailableWithoutEnrollment", "@tenantctl.appType"];

/// The live props apply of an authentication methods policy update
/// reuses (as its provider's read names them).
pub const CARRIED_METHODS: [&str; 1] = ["@tenantctl.liveMethods"];

/// The live props apply of a PIM role settings update reuses: the raw
/// activation approval rule's `setting`, whose escalation, extension
/// approval, justification and stage timeouts desired state does not
/// model and the rule's PATCH must send back as they are (hostile run 23,
/// finding 13).
pub const CARRIED_PIM: [&str; 1] = ["@tenantctl.liveApproval"];

/// What a kind's updates carry, if anything.
fn carried(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::AppAssignment => &CARRIED,
        Kind::AuthenticationMethodsPolicy => &CARRIED_METHODS,
        Kind::RolePolicy => &CARRIED_PIM,
        _ => &[],
    }
}

/// Sets `live` (the carried props only) on each app assignment and
/// authentication methods policy update that has none, from the object
/// the plan matched.
pub fn carry(changes: &mut [Change], matched: &BTreeMap<Address, &LiveObject>) {
    for c in changes.iter_mut().filter(|c| !carried(c.address.kind).is_empty() && matches!(c.action, Action::Update | Action::Assign) && c.live.is_none()) {
        let Some(o) = matched.get(&c.address) else { continue };
        let props: Props = carried(c.address.kind).iter().filter_map(|k| o.props.get(*k).map(|v| ((*k).to_string(), v.clone()))).collect();
        c.live = Some(props);
    }
}
