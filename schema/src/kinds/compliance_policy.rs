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
