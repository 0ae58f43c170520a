//! One `service-account-targeted` finding per policy and service account
//! reached through live membership (gov23's unchecked duplicate).
//!
//! Two passes judge a device policy whose group's membership desired
//! state does not manage: `super::live` (every policy, excludes counted)
//! and `super::unmanaged_reach` (device policies, the group's live
//! members). A service account both reach, e.g. through the
//! service-accounts group nested live into the policy's group, was
//! reported twice, in two wordings. The `super::unmanaged_reach` finding
//! is kept: it names the nesting path and says the membership is not
//! managed, so it refuses only the changes of that policy
//! (`super::live_reach::blocks`), as its module says. The other is
//! dropped only where both name the same policy and account, so what
//! only one pass sees is still said.

use std::collections::HashSet;

use super::lints::Finding;

const LINT: &str = "service-account-targeted";

/// The account a `super::unmanaged_reach` finding names.
fn unmanaged_account(f: &Finding) -> Option<&str> {
    (f.lint == LINT).then(|| f.message.split_once(" is in ").map(|(a, _)| a)).flatten()
}

/// `membership` (from `super::live`) without the findings `unmanaged`
/// (from `super::unmanaged_reach`) says again, then `unmanaged`.
pub(crate) fn merge(membership: Vec<Finding>, unmanaged: Vec<Finding>) -> Vec<Finding> {
    let said: HashSet<(&str, &str)> = unmanaged.iter().filter_map(|f| unmanaged_account(f).map(|a| (f.address.as_str(), a))).collect();
    let mut out: Vec<Finding> = Vec::with_capacity(membership.len() + unmanaged.len());
    if said.is_empty() {
        out.extend(membership);
    } else {
        out.extend(membership.into_iter().filter(|f| {
            let account = (f.lint == LINT).then(|| f.message.strip_prefix("reaches service account ").and_then(|m| m.split_once(' ')).map(|(a, _)| a)).flatten();
            !account.is_some_and(|a| said.contains(&(f.address.as_str(), a)))
        }));
    }
    out.extend(unmanaged);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::Severity;

    fn f(message: &str) -> Finding {
        Finding { severity: Severity::Error, lint: LINT.into(), address: "device_configuration.p".into(), message: message.into() }
    }

    #[test]
    fn the_same_account_through_the_same_policy_is_said_once() {
        let membership = vec![f("reaches service account user.a through group.x > group.sa, a service-accounts group: no"), f("reaches service account user.b through group.y: no")];
        let unmanaged = vec![f("user.a is in group.x > group.sa live (its membership is not managed in desired state), a service account")];
        let out = merge(membership, unmanaged);
        let messages: Vec<&str> = out.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages, vec!["reaches service account user.b through group.y: no", "user.a is in group.x > group.sa live (its membership is not managed in desired state), a service account"]);
    }
}
