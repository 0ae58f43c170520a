//! `[compliance_policy.KEY]`: an Intune device compliance policy. Graph
//! refuses one without exactly one block action, so the block action is part
//! of the type rather than free-form settings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Assignments, Rollout};

/// `[compliance_policy.KEY]`: an Intune device compliance policy; its block action runs after `grace_period_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompliancePolicy {
    /// e.g. `windows10CompliancePolicy`.
    pub odata_type: String,
    /// Natural key of the policy.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Hours a device may be non-compliant before it is marked so (the block
    /// action's grace period).
    #[serde(default)]
    pub grace_period_hours: u32,
    /// The policy's other scheduled actions (e-mail notification, remote
    /// lock, retire...), each after its own grace period. When declared,
    /// this is the complete list besides the block action; when absent,
    /// the actions set in Intune are kept as they are, never dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ComplianceAction>>,
    /// Graph properties of the policy, by their Graph (camelCase) names.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub settings: BTreeMap<String, toml::Value>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag. Undeclared, they are not
    /// managed (Intune gives an object the built-in tag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
    /// Roll changes out ring by ring: one copy of the policy per ring group,
    /// each change promoted to the next ring after `soak`. `assignments`
    /// may then only exclude (every ring's copy is assigned to its ring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// A scheduled action of a compliance policy besides its block action
/// (Graph's deviceComplianceActionItem), e.g.
/// `{ type = "notification", grace_period_hours = 24, template = "GUID", cc = ["it-admins"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplianceAction {
    /// What happens to a non-compliant device (actionType).
    #[serde(rename = "type")]
    pub action_type: ComplianceActionType,
    /// Hours after the device becomes non-compliant (gracePeriodHours).
    #[serde(default)]
    pub grace_period_hours: u32,
    /// notification only: the id (GUID) of the Intune notification message
    /// template to e-mail (notificationTemplateId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// notification only: group keys copied on the e-mail
    /// (notificationMessageCCList).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
}

/// deviceComplianceActionType, without `block` (that is
/// `grace_period_hours`) and `noAction`. Compliance policies are read and
/// written through beta, whose enum also has `remoteLock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ComplianceActionType {
    /// E-mail the end user (with a message template).
    Notification,
    /// Push a notification to the Company Portal app.
    PushNotification,
    /// Lock the device remotely (beta only).
    RemoteLock,
    /// Retire (unenrol) the device.
    Retire,
    /// Wipe the device.
    Wipe,
    /// Remove resource access profiles (Wi-Fi, VPN, certificates).
    RemoveResourceAccessProfiles,
}

impl ComplianceActionType {
    /// Graph's name (actionType).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "notification",
            Self::PushNotification => "pushNotification",
            Self::RemoteLock => "remoteLock",
            Self::Retire => "retire",
            Self::Wipe => "wipe",
            Self::RemoveResourceAccessProfiles => "removeResourceAccessProfiles",
        }
    }
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::diagnostic::Origin;
use crate::path;
use crate::validate::policy::{check_assignments, check_settings};
use crate::validate::{is_guid, Ctx};

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_compliance_policies(cx);
}

fn check_compliance_policies(cx: &mut Ctx) {
    for (key, d) in &cx.state.compliance_policy {
        check_settings(
            cx,
            Kind::CompliancePolicy,
            key,
            &d.origin,
            &d.value.odata_type,
            &d.value.settings,
        );
        check_assignments(
            cx,
            Kind::CompliancePolicy,
            key,
            &d.origin,
            &d.value.assignments,
        );
        check_compliance_actions(cx, key, &d.origin, d.value.actions.as_deref().unwrap_or_default());
        if d.value.grace_period_hours > 8760 {
            cx.error(
                "out-of-range",
                &d.origin,
                &path!["compliance_policy", key, "grace_period_hours"],
                format!(
                    "compliance_policy.{key}: grace_period_hours is {}; at most 8760 (a year)",
                    d.value.grace_period_hours
                ),
            );
        }
    }
}

/// A compliance policy's other scheduled actions: grace periods within a
/// year, a notification names its message template (a GUID) and may copy
/// groups, other actions carry neither, and no action is declared twice.
fn check_compliance_actions(cx: &mut Ctx, key: &str, origin: &Origin, actions: &[crate::kinds::compliance_policy::ComplianceAction]) {
    use crate::kinds::compliance_policy::ComplianceActionType;
    let mut seen = std::collections::BTreeSet::new();
    for (i, a) in actions.iter().enumerate() {
        let at = |f: &str| path!["compliance_policy", key, "actions", i, f];
        let ty = a.action_type.as_str();
        if a.grace_period_hours > 8760 {
            cx.error("out-of-range", origin, &at("grace_period_hours"), format!("compliance_policy.{key}: actions[{i}] ({ty}) grace_period_hours is {}; at most 8760 (a year)", a.grace_period_hours));
        }
        if !seen.insert((a.action_type, a.grace_period_hours)) {
            cx.error("duplicate-action", origin, &at("type"), format!("compliance_policy.{key}: actions[{i}]: {ty} after {} hours is declared twice", a.grace_period_hours));
        }
        if a.action_type == ComplianceActionType::Notification {
            match &a.template {
                None => {
                    cx.error("missing-template", origin, &at("type"), format!("compliance_policy.{key}: actions[{i}]: a notification needs `template`, the id of an Intune notification message template"));
                }
                Some(t) if !is_guid(t) => {
                    cx.error("invalid-guid", origin, &at("template"), format!("compliance_policy.{key}: actions[{i}]: template `{t}` is not a GUID such as `00000000-0000-0000-0000-000000000000`"));
                }
                Some(_) => {}
            }
            for (j, g) in a.cc.iter().enumerate() {
                cx.reference(origin, &path!["compliance_policy", key, "actions", i, "cc", j], g, &[Kind::Group]);
            }
        } else {
            if a.template.is_some() {
                cx.error("not-applicable", origin, &at("template"), format!("compliance_policy.{key}: actions[{i}]: only a notification has a template, not {ty}"));
            }
            if !a.cc.is_empty() {
                cx.error("not-applicable", origin, &at("cc"), format!("compliance_policy.{key}: actions[{i}]: only a notification copies groups, not {ty}"));
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/deviceCompliancePolicies"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
