//! The people in a PIM approver group whose membership desired state does
//! not manage (hostile run 26, finding 4). A `role_policy`'s activation
//! approvers are the "second person" of PIM: desired state names people
//! (users, never guests: `wrong-kind-reference`) or groups. A group
//! declared without `members` holds whoever the tenant puts in it, so at
//! plan time each of its live members (nested groups followed, a declared
//! group nested live too: [`super::live_members`]) other than a service
//! account (`pim-approver-service-account`, `super::approver_live`) is
//! judged, `unmanaged-pim-approver`:
//! * a guest, or anyone desired state does not declare, approves
//!   privileged activations nobody reviewed: an error;
//! * a user desired state declares approves through a membership nobody
//!   reviewed: a warning (they are known people, but the approver list is
//!   the portal's, not desired state's).
//!
//! Being about live membership tenantctl does not change, the error
//! refuses only a plan that changes the role policy
//! (`super::live_reach::blocks`); declaring the group's members clears it.

use schema::{Address, Kind};

use super::lints::{Finding, Severity};
use super::live_members::{is_guest, Held};
use super::live_reach::{nesting_note, UNMANAGED_MEMBERSHIP};
use crate::model::{DesiredModel, ObservedState};

/// A person approving PIM activations through a group whose membership
/// desired state does not manage.
pub const UNMANAGED_PIM_APPROVER: &str = "unmanaged-pim-approver";

/// Findings for the people (not service accounts) among `held`, the live
/// members of approver group `g` of role policy `address` (role `role`).
pub fn people(desired: &DesiredModel, observed: &ObservedState, address: &Address, role: &str, g: &Address, held: &Held) -> Vec<Finding> {
    let mut out = Vec::new();
    for (id, (ty, path)) in &held.members {
        let who = held.address(id);
        if who.is_some_and(|a| desired.service_accounts.contains(a)) || ty != "user" {
            continue;
        }
        let declared = who.is_some_and(|a| desired.resources.contains_key(a));
        let guest = is_guest(observed, who, id);
        let name = match who {
            Some(a) => a.to_string(),
            None => {
                let live = [Kind::User, Kind::Guest].iter().flat_map(|k| observed.objects.get(k).into_iter().flatten()).find(|o| o.id == *id);
                live.map(|o| format!("id:{id} ({})", o.display_name)).unwrap_or_else(|| format!("id:{id}"))
            }
        };
        let nested = nesting_note(desired, path);
        let (severity, what) = match (guest, declared) {
            (true, _) => (Severity::Error, "a guest: desired state never names a guest as an approver of activation"),
            (false, false) => (Severity::Error, "someone desired state does not declare"),
            (false, true) => (Severity::Warning, "a declared user, but not declared an approver"),
        };
        out.push(Finding {
            severity,
            lint: UNMANAGED_PIM_APPROVER.into(),
            address: address.to_string(),
            message: format!("user {name} approves activations of {role} through {path}, a live member ({UNMANAGED_MEMBERSHIP}){nested}: {what}; declare the members of {g} (members = [...]) or remove them from the group"),
        });
    }
    out
}
