//! Cross-kind: two declarations that would match one live object.

use std::collections::BTreeMap;

use crate::address::{Address, Kind};
use crate::diagnostic::Origin;
use crate::path;
use crate::validate::Ctx;

/// (first key, second key, where the second is declared)
type Clash = (String, String, Origin);

/// Two declarations that would match the same live object are an error.
pub(super) fn check_natural_keys(cx: &mut Ctx) {
    fn clashes<'a>(items: impl Iterator<Item = (&'a String, &'a Origin, String)>) -> Vec<Clash> {
        let mut seen: BTreeMap<String, &String> = BTreeMap::new();
        let mut out = Vec::new();
        for (key, origin, natural) in items {
            let norm = natural.to_lowercase();
            if let Some(first) = seen.get(&norm) {
                out.push(((*first).clone(), key.clone(), origin.clone()));
            } else {
                seen.insert(norm, key);
            }
        }
        out
    }
    let s = cx.state;
    let sets: Vec<(Kind, &str, Vec<Clash>)> = vec![
        (
            Kind::User,
            "user_principal_name",
            clashes(
                s.user
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.user_principal_name.clone())),
            ),
        ),
        (
            Kind::Guest,
            "email",
            clashes(
                s.guest
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.email.clone())),
            ),
        ),
        (
            Kind::Group,
            "mail_nickname",
            clashes(
                s.group
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.mail_nickname.clone())),
            ),
        ),
        (
            Kind::AssignmentFilter,
            "display_name",
            clashes(
                s.assignment_filter
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::DeviceConfiguration,
            "display_name",
            clashes(
                s.device_configuration
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::CompliancePolicy,
            "display_name",
            clashes(
                s.compliance_policy
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::UpdateRing,
            "display_name",
            clashes(
                s.update_ring
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::AutopilotProfile,
            "display_name",
            clashes(
                s.autopilot_profile
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (
            Kind::ConditionalAccess,
            "display_name",
            clashes(
                s.conditional_access
                    .iter()
                    .map(|(k, d)| (k, &d.origin, d.value.display_name.clone())),
            ),
        ),
        (Kind::NamedLocation, "display_name", clashes(s.named_location.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.clone())))),
        (Kind::AuthenticationStrength, "display_name", clashes(s.authentication_strength.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.clone())))),
    ];
    for (kind, field, found) in sets {
        for (first, second, origin) in found {
            cx.error(
                "duplicate-natural-key",
                &origin,
                &path![kind.as_str(), &second, field],
                format!("{kind}.{second} has the same {field} as {kind}.{first}; both would match one object in the tenant"),
            );
        }
    }
    // Deployment-profile keys of Intune policies share one Graph collection.
    let mut names: BTreeMap<String, Address> = BTreeMap::new();
    for (key, d) in &s.device_configuration {
        names.insert(
            d.value.display_name.to_lowercase(),
            Address::new(Kind::DeviceConfiguration, key.clone()),
        );
    }
    for (key, d) in &s.update_ring {
        if let Some(other) = names.get(&d.value.display_name.to_lowercase()) {
            cx.error(
                "duplicate-natural-key",
                &d.origin,
                &path!["update_ring", key, "display_name"],
                format!("update_ring.{key} has the same display_name as {other}; both live in deviceConfigurations"),
            );
        }
    }
}
