//! `licenses = [{ sku = "SPE_E3", disabled_plans = [...] }]` on `group`
//! (group-based licensing) and `user` (direct assignment): the TOML type
//! and its checks. SKUs and service plans are named as Graph's
//! `subscribedSkus` names them (`skuPartNumber`, `servicePlanName`); which
//! names the tenant holds is only known live, so `plan` checks them
//! (`providers::licensing`), naming the file and the valid names.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::address::{Address, Kind};
use crate::path;
use crate::validate::Ctx;

/// One licence: a SKU by part number, with the service plans switched off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// The SKU's part number, as `GET /subscribedSkus` lists it
    /// (`skuPartNumber`: `SPE_E3`, `ENTERPRISEPACK`, `EMS`).
    pub sku: String,
    /// Service plans of the SKU left off (`servicePlanName`:
    /// `EXCHANGE_S_ENTERPRISE`, `YAMMER_ENTERPRISE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_plans: Vec<String>,
}

/// The governance rule that service accounts hold no licence: the service
/// model's standard operating procedures forbid assigning "policy,
/// multi-factor authentication, conditional access, or application
/// deployment" to the service accounts, and a licence is what deploys
/// Microsoft 365 Apps and the services to an account.
pub const SERVICE_ACCOUNT_LICENSED: &str = "service-account-licensed";

/// Each entry's own problems: an empty SKU, a SKU listed twice, a plan
/// listed twice.
fn check_list(cx: &mut Ctx, kind: &str, key: &str, origin: &crate::diagnostic::Origin, list: &[License]) {
    let mut seen = BTreeSet::new();
    for (i, l) in list.iter().enumerate() {
        if l.sku.trim().is_empty() {
            cx.error("invalid-license", origin, &path![kind, key, "licenses", i, "sku"], format!("{kind}.{key}: licenses[{i}] names no SKU"));
        } else if !is_name(&l.sku) {
            cx.error("invalid-license", origin, &path![kind, key, "licenses", i, "sku"], format!("{kind}.{key}: licenses[{i}].sku {:?} is not a SKU part number (letters, digits, `_`, `-`, `.`)", l.sku));
        } else if !seen.insert(l.sku.to_ascii_uppercase()) {
            cx.error("duplicate-license", origin, &path![kind, key, "licenses", i, "sku"], format!("{kind}.{key}: SKU `{}` is listed twice; list it once with every plan to switch off", l.sku));
        }
        let mut plans = BTreeSet::new();
        for (j, p) in l.disabled_plans.iter().enumerate() {
            if !is_name(p) {
                cx.error("invalid-license", origin, &path![kind, key, "licenses", i, "disabled_plans", j], format!("{kind}.{key}: disabled plan {p:?} is not a service plan name (letters, digits, `_`, `-`, `.`)"));
            } else if !plans.insert(p.to_ascii_uppercase()) {
                cx.error("invalid-license", origin, &path![kind, key, "licenses", i, "disabled_plans", j], format!("{kind}.{key}: disabled plan `{p}` of `{}` is empty or listed twice", l.sku));
            }
        }
    }
}

/// SKU part numbers and service plan names are letters, digits, `_`, `-`
/// and `.` (`SPE_E3`, `Microsoft_365_Copilot`, `EXCHANGE_S_ENTERPRISE`), so
/// nothing else reaches a request or an error message.
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Service accounts by user key: `kind = "service"`.
fn service_accounts(cx: &Ctx) -> BTreeSet<String> {
    cx.state.user.iter().filter(|(_, d)| d.value.kind == crate::kinds::user::UserKind::Service).map(|(k, _)| k.clone()).collect()
}

/// The service accounts among a group's declared direct members, and the
/// groups nested in it. Group-based licensing reaches only a group's
/// first-level user members (entra-docs `licensing-group-advanced.md`,
/// "Limitations": members of nested groups get no licence), so a service
/// account in a nested group is not licensed by it.
fn direct_members(cx: &Ctx, group: &str, service: &BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut found, mut nested) = (BTreeSet::new(), BTreeSet::new());
    let Some(d) = cx.state.group.get(group) else { return (found, nested) };
    for m in d.value.members.iter().flatten() {
        match cx.state.resolve(m, &[Kind::User, Kind::Guest, Kind::Group]) {
            Ok(Address { kind: Kind::User, key }) if service.contains(&key) => {
                found.insert(key);
            }
            Ok(Address { kind: Kind::Group, key }) => {
                nested.insert(key);
            }
            _ => {}
        }
    }
    (found, nested)
}

pub(crate) fn check_group_licenses(cx: &mut Ctx) {
    let service = service_accounts(cx);
    let mut problems: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut nesting: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, d) in &cx.state.group {
        let Some(list) = &d.value.licenses else { continue };
        check_list(cx, "group", key, &d.origin, list);
        if !list.is_empty() {
            let (held, nested) = direct_members(cx, key, &service);
            if !held.is_empty() {
                problems.insert(key.clone(), held);
            }
            if !nested.is_empty() {
                nesting.insert(key.clone(), nested);
            }
        }
    }
    for (key, nested) in nesting {
        let Some(d) = cx.state.group.get(&key) else { continue };
        let names: Vec<String> = nested.iter().map(|k| format!("group.{k}")).collect();
        cx.warning(
            "licence-not-inherited",
            &d.origin,
            &path!["group", key.as_str(), "members"],
            format!("group.{key} assigns licences, but group-based licensing reaches only its direct user members: the members of {} get no licence from it", names.join(", ")),
        );
    }
    for (key, held) in problems {
        let Some(d) = cx.state.group.get(&key) else { continue };
        let names: Vec<String> = held.iter().map(|k| format!("user.{k}")).collect();
        cx.error(
            SERVICE_ACCOUNT_LICENSED,
            &d.origin,
            &path!["group", key.as_str(), "licenses"],
            format!("group.{key} assigns licences to its members, and it holds the service account(s) {}: service accounts get no licence (no application deployment to them)", names.join(", ")),
        )
        .help = Some("license a group that does not hold service accounts".into());
    }
}

pub(crate) fn check_user_licenses(cx: &mut Ctx) {
    for (key, d) in &cx.state.user {
        let Some(list) = &d.value.licenses else { continue };
        check_list(cx, "user", key, &d.origin, list);
        if list.is_empty() {
            continue;
        }
        if d.value.usage_location.is_none() {
            cx.error("license-needs-usage-location", &d.origin, &path!["user", key, "licenses"], format!("user.{key}: a licence is assigned only to a user with a usage location; declare `usage_location` (e.g. \"US\")"));
        }
        if d.value.kind == crate::kinds::user::UserKind::Service {
            cx.error(
                SERVICE_ACCOUNT_LICENSED,
                &d.origin,
                &path!["user", key, "licenses"],
                format!("user.{key} is a service account: service accounts get no licence (no application deployment to them)"),
            );
        }
    }
}
