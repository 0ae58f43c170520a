//! `[cross_tenant_access.KEY]`: cross-tenant access settings (v1.0
//! `/policies/crossTenantAccessPolicy`). Without `tenant_id` it is the
//! tenant's default configuration (`/default`, a singleton: declared at
//! most once, updated, never created or deleted); with `tenant_id` it is a
//! partner's configuration (`/partners`, created, updated and deleted by
//! tenant id). Only the fields declared are managed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrossTenantAccess {
    /// The partner tenant's id (a GUID); absent: the default configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Which of the partner's claims are trusted (MFA, compliant and hybrid
    /// joined devices), so its users are not asked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_trust: Option<InboundTrust>,
    /// Which of their users and applications may come in as guests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b2b_collaboration_inbound: Option<B2bSetting>,
    /// Which of our users may go to them as guests, and to which applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b2b_collaboration_outbound: Option<B2bSetting>,
    /// Whether invitations are redeemed without the consent prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_user_consent_settings: Option<ConsentSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundTrust {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_mfa_accepted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_compliant_device_accepted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_hybrid_azure_ad_joined_device_accepted: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_allowed: Option<bool>,
}

/// Graph's `crossTenantAccessPolicyB2BSetting`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct B2bSetting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_and_groups: Option<TargetConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications: Option<TargetConfiguration>,
}

/// Allowed or blocked, for these targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetConfiguration {
    pub access_type: AccessType,
    /// `{ target = "AllUsers", target_type = "user" }`, a user or group id,
    /// `AllApplications` or an application id.
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AccessType {
    Allowed,
    Blocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub target: String,
    pub target_type: TargetType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TargetType {
    User,
    Group,
    Application,
}

// Validation: this kind's own checks, run through the registry.

use crate::path;
use crate::validate::{is_guid, Ctx};

pub(crate) fn validate(cx: &mut Ctx) {
    let defaults: Vec<(String, crate::diagnostic::Origin)> = cx.state.cross_tenant_access.iter().filter(|(_, d)| d.value.tenant_id.is_none()).map(|(k, d)| (k.clone(), d.origin.clone())).collect();
    super::authorization_policy::singleton(cx, "cross_tenant_access", defaults);
    let mut seen = std::collections::BTreeMap::new();
    for (key, d) in &cx.state.cross_tenant_access {
        let (c, o) = (&d.value, &d.origin);
        if let Some(t) = &c.tenant_id {
            if !is_guid(t) {
                cx.error("invalid-tenant-id", o, &path!["cross_tenant_access", key, "tenant_id"], format!("cross_tenant_access.{key}: tenant_id `{t}` is not a tenant id (a GUID)"));
            } else if let Some(other) = seen.insert(t.to_lowercase(), key.clone()) {
                cx.error("duplicate-partner", o, &path!["cross_tenant_access", key, "tenant_id"], format!("cross_tenant_access.{key}: tenant {t} is already configured as cross_tenant_access.{other}"));
            }
        }
        for (dir, b) in [("b2b_collaboration_inbound", &c.b2b_collaboration_inbound), ("b2b_collaboration_outbound", &c.b2b_collaboration_outbound)] {
            let Some(b) = b else { continue };
            for (part, cfg, allowed, all) in [("users_and_groups", &b.users_and_groups, &[TargetType::User, TargetType::Group][..], "AllUsers"), ("applications", &b.applications, &[TargetType::Application][..], "AllApplications")] {
                let Some(cfg) = cfg else { continue };
                if cfg.targets.is_empty() {
                    cx.error("empty-targets", o, &path!["cross_tenant_access", key, dir, part, "targets"], format!("cross_tenant_access.{key}: {dir}.{part} names no target (use `{all}` for every one)"));
                }
                for (i, t) in cfg.targets.iter().enumerate() {
                    if !allowed.contains(&t.target_type) {
                        cx.error("invalid-target", o, &path!["cross_tenant_access", key, dir, part, "targets", i, "target_type"], format!("cross_tenant_access.{key}: {dir}.{part} takes {} targets, not `{:?}`", if allowed.len() == 1 { "application" } else { "user and group" }, t.target_type));
                    } else if t.target != all && !is_guid(&t.target) {
                        cx.error("invalid-target", o, &path!["cross_tenant_access", key, dir, part, "targets", i, "target"], format!("cross_tenant_access.{key}: target `{}` is neither `{all}` nor an object id", t.target));
                    }
                }
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("cross-tenant access");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/policies/crossTenantAccessPolicy/partners", "/policies/crossTenantAccessPolicy/default"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
