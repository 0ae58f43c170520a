//! Cross-kind: `[governance]`, service accounts' roles and approver keys.

use std::collections::BTreeMap;

use crate::address::{Address, Kind};
use crate::path;
use crate::validate::Ctx;

/// Least privilege of service accounts: `allowed_roles` and `read_only`
/// are for `kind = "service"` users, name built-in roles, and a read-only
/// account allows only read-only roles.
pub(super) fn check_service_roles(cx: &mut Ctx) {
    use crate::kinds::user::UserKind;
    for (key, d) in &cx.state.user {
        let u = &d.value;
        if u.kind != UserKind::Service && (!u.allowed_roles.is_empty() || u.read_only) {
            let field = if u.read_only { "read_only" } else { "allowed_roles" };
            cx.error("service-account-only", &d.origin, &path!["user", key, field], format!("user.{key}: {field} is for service accounts (kind = \"service\")"));
        }
        for (i, r) in u.allowed_roles.iter().enumerate() {
            super::role_entries::check_entry(cx, key, d, i, r);
        }
    }
    super::role_entries::check_intune_names(cx);
    if let Some(g) = &cx.state.governance {
        for (k, why) in &g.value.exceptions {
            if why.trim().is_empty() {
                cx.error("exception-reason", &g.origin, &path!["governance", "exceptions", k.as_str()], format!("governance.exceptions: `{k}` needs a reason"));
            }
        }
    }
}

pub(super) fn check_governance(cx: &mut Ctx) {
    let Some(g) = &cx.state.governance else {
        return;
    };
    let origin = &g.origin;
    let gov = &g.value;
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    for (field, list) in [("sensitive_kinds", &gov.sensitive_kinds)] {
        for (i, k) in list.iter().enumerate() {
            if !kinds.contains(&k.as_str()) {
                cx.error(
                    "unknown-kind",
                    origin,
                    &path!["governance", field, i],
                    format!("governance.{field}: `{k}` is not a resource kind"),
                );
            }
        }
    }
    for (i, k) in gov.prune.kinds.iter().enumerate() {
        if !kinds.contains(&k.as_str()) {
            cx.error(
                "unknown-kind",
                origin,
                &path!["governance", "prune", "kinds", i],
                format!("governance.prune.kinds: `{k}` is not a resource kind"),
            );
        }
    }
    for (field, list) in [
        ("protected", &gov.protected),
        ("sensitive_addresses", &gov.sensitive_addresses),
    ] {
        for (i, a) in list.iter().enumerate() {
            if let Err(e) = a.parse::<Address>() {
                cx.error(
                    "invalid-address",
                    origin,
                    &path!["governance", field, i],
                    format!("governance.{field}: {e}"),
                );
            }
        }
    }
    if !gov.declared.is_empty() {
        cx.error(
            "invalid-field",
            origin,
            &path!["governance", "declared"],
            "governance.declared is recorded by tenantctl from the objects' own attributes (a group's `protected`, a user's `kind`, `read_only` and `allowed_roles`); declare those on the objects".to_string(),
        );
    }
    let approvers = gov.approvers.len() as u32;
    if gov.approvals_required > approvers && !gov.approvers.is_empty() {
        cx.error(
            "too-few-approvers",
            origin,
            &path!["governance", "approvals_required"],
            format!(
                "governance: {} approvals are required but only {approvers} approver(s) are listed",
                gov.approvals_required
            ),
        );
    }
    for (i, a) in gov.protected.iter().enumerate() {
        if let Ok(address) = a.parse::<Address>() {
            if !cx.state.contains(&address) {
                cx.warning("protected-undeclared", origin, &path!["governance", "protected", i], format!("governance.protected: {address} is not declared; it is protected only if it exists in the ledger"));
            }
        }
    }
    for (name, a) in &gov.approvers {
        if !a.public_key.starts_with("ed25519:") {
            cx.error("invalid-key", origin, &path!["governance", "approvers", name, "public_key"], format!("governance.approvers.{name}: public_key must be `ed25519:` followed by base64 (see `tenantctl keygen`)"));
        }
    }
    for (name, a) in &gov.authors {
        if !a.public_key.starts_with("ed25519:") {
            cx.error("invalid-key", origin, &path!["governance", "authors", name, "public_key"], format!("governance.authors.{name}: public_key must be `ed25519:` followed by base64 (see `tenantctl keygen`)"));
        }
    }
    // Two-key completion is the default; fewer needs a stated reason.
    match (&gov.unattended, gov.approvals_required < crate::kinds::governance::DEFAULT_APPROVALS) {
        (None, true) => {
            cx.error(
                "unattended-required",
                origin,
                &path!["governance", "approvals_required"],
                format!(
                    "governance: approvals_required = {} is below two-key completion (2); say why with `unattended = \"REASON\"` in [governance], or require 2",
                    gov.approvals_required
                ),
            );
        }
        (Some(reason), true) if reason.trim().is_empty() => {
            cx.error(
                "unattended-required",
                origin,
                &path!["governance", "unattended"],
                format!("governance: approvals_required = {} needs a reason in `unattended`; an empty one says nothing", gov.approvals_required),
            );
        }
        (Some(reason), true) => cx.warning(
            "unattended",
            origin,
            &path!["governance", "unattended"],
            format!("governance: approvals_required = {}, so sensitive changes are applied with fewer than two approvers (unattended: {reason})", gov.approvals_required),
        ),
        _ => {}
    }
}

/// Ed25519 public keys in `[governance.approvers]` and
/// `[governance.authors]`: `ed25519:` and the base64 of exactly 32 bytes
/// that are a sound key (on the curve, not of small order, canonically
/// encoded), each approver with a key of their own (two approvers sharing
/// a key would let one person give both approvals). Keys are compared by
/// their decoded bytes.
pub(super) fn check_approver_keys(cx: &mut Ctx) {
    use base64::Engine as _;
    let Some(g) = &cx.state.governance else {
        return;
    };
    let origin = &g.origin;
    let mut seen: BTreeMap<[u8; 32], &String> = BTreeMap::new();
    let lists = [("approvers", &g.value.approvers), ("authors", &g.value.authors)];
    for (list, people) in lists {
        for (name, a) in people {
            let here = path!["governance", list, name, "public_key"];
            let Some(b64) = a.public_key.strip_prefix("ed25519:") else {
                continue; // reported by check_governance
            };
            let bytes = match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                Ok(bytes) => bytes,
                Err(e) => {
                    cx.error("invalid-key", origin, &here, format!("governance.{list}.{name}: public_key is not base64 ({e})"));
                    continue;
                }
            };
            let Ok(arr) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                cx.error("invalid-key", origin, &here, format!("governance.{list}.{name}: public_key holds {} bytes; an Ed25519 public key is 32", bytes.len()));
                continue;
            };
            if let Some(why) = crate::kinds::governance::ed25519_key_problem(&arr) {
                cx.error("invalid-key", origin, &here, format!("governance.{list}.{name}: public_key is {why}; make a key with `tenantctl keygen`"));
                continue;
            }
            if list != "approvers" {
                continue;
            }
            if let Some(first) = seen.insert(arr, name) {
                cx.error(
                    "duplicate-approver-key",
                    origin,
                    &here,
                    format!("governance.approvers.{name} has the same public_key as governance.approvers.{first}; one person could give both approvals"),
                );
            }
        }
    }
}
