//! `[update_ring.KEY]`: a Windows Update for Business ring
//! (`#microsoft.graph.windowsUpdateForBusinessConfiguration`), fully typed
//! with the ranges Graph documents. Every field is optional: only what is
//! declared is managed; Graph's defaults apply to the rest on create.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Assignments, Rollout};

/// automaticUpdateMode: how updates are installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AutomaticUpdateMode {
    UserDefined,
    NotifyDownload,
    AutoInstallAtMaintenanceTime,
    AutoInstallAndRebootAtMaintenanceTime,
    AutoInstallAndRebootAtScheduledTime,
    AutoInstallAndRebootWithoutEndUserControl,
    /// Windows' own default behaviour. A member of the beta enum only (not
    /// v1.0's); tenantctl reads and writes update rings through beta.
    WindowsDefault,
}

/// businessReadyUpdatesOnly: the servicing channel; `all` is the General Availability channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BusinessReadyUpdates {
    UserDefined,
    All,
    BusinessReadyOnly,
    WindowsInsiderBuildFast,
    WindowsInsiderBuildSlow,
    WindowsInsiderBuildRelease,
}

/// Whether a user-facing option is enabled, disabled, or left to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Enablement {
    NotConfigured,
    Enabled,
    Disabled,
}

/// updateNotificationLevel: which Windows Update notifications users see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UpdateNotificationLevel {
    NotConfigured,
    DefaultNotifications,
    RestartWarningsOnly,
    DisableAllNotifications,
}

/// deliveryOptimizationMode: how update content is downloaded and shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryOptimizationMode {
    UserDefined,
    HttpOnly,
    HttpWithPeeringNat,
    HttpWithPeeringPrivateGroup,
    HttpWithInternetPeering,
    SimpleDownload,
    BypassMode,
}

/// prereleaseFeatures: whether preview features and experiments are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PrereleaseFeatures {
    UserDefined,
    SettingsOnly,
    SettingsAndExperimentations,
    NotAllowed,
}

/// A day for scheduled installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Weekday {
    UserDefined,
    Everyday,
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    NoScheduledScan,
}

/// installationSchedule: active hours, or a scheduled day and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallationSchedule {
    /// `HH:MM` (windowsUpdateActiveHoursInstall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_hours_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_hours_end: Option<String>,
    /// (windowsUpdateScheduledInstall)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_install_day: Option<Weekday>,
    /// `HH:MM`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_install_time: Option<String>,
}

/// `[update_ring.KEY]`: a Windows Update for Business ring (windowsUpdateForBusinessConfiguration). Only declared fields are managed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRing {
    /// Natural key of the ring's policy.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// 0-30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 30))]
    pub quality_updates_deferral_period_in_days: Option<u32>,
    /// 0-365 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 365))]
    pub feature_updates_deferral_period_in_days: Option<u32>,
    /// 0-30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 30))]
    pub deadline_for_quality_updates_in_days: Option<u32>,
    /// 0-30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 30))]
    pub deadline_for_feature_updates_in_days: Option<u32>,
    /// 0-7 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 7))]
    pub deadline_grace_period_in_days: Option<u32>,
    /// `false`: devices restart automatically outside active hours before the
    /// deadline; `true`: they wait until the deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postpone_reboot_until_after_deadline: Option<bool>,
    /// Pause quality updates for the ring (35 days at most, then resumes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_updates_paused: Option<bool>,
    /// Pause feature updates for the ring (35 days at most, then resumes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_updates_paused: Option<bool>,
    /// 2-60 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 60))]
    pub feature_updates_rollback_window_in_days: Option<u32>,
    /// Also install updates for other Microsoft products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microsoft_update_service_allowed: Option<bool>,
    /// `true` blocks driver updates from Windows Update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drivers_excluded: Option<bool>,
    /// Let eligible Windows 10 devices upgrade to Windows 11.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_windows11_upgrade: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_checks_before_restart: Option<bool>,
    /// Servicing channel: `all` is the General Availability channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_ready_updates_only: Option<BusinessReadyUpdates>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_update_mode: Option<AutomaticUpdateMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_schedule: Option<InstallationSchedule>,
    /// Whether users may pause updates themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pause_access: Option<Enablement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_windows_update_scan_access: Option<Enablement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_notification_level: Option<UpdateNotificationLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_restart_notification_dismissal: Option<String>,
    /// 2, 4, 8, 12 or 24 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "restart_warning_hours")]
    pub schedule_restart_warning_in_hours: Option<u32>,
    /// 15, 30 or 60 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "imminent_restart_warning_minutes")]
    pub schedule_imminent_restart_warning_in_minutes: Option<u32>,
    /// 2-30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 30))]
    pub engaged_restart_deadline_in_days: Option<u32>,
    /// 1-3 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3))]
    pub engaged_restart_snooze_schedule_in_days: Option<u32>,
    /// 0-30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 30))]
    pub engaged_restart_transition_schedule_in_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_optimization_mode: Option<DeliveryOptimizationMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prerelease_features: Option<PrereleaseFeatures>,
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

/// Documented inclusive ranges of the numeric ring properties, used by
/// validation: (field, min, max).
pub const RANGES: &[(&str, u32, u32)] = &[
    ("quality_updates_deferral_period_in_days", 0, 30),
    ("feature_updates_deferral_period_in_days", 0, 365),
    ("deadline_for_quality_updates_in_days", 0, 30),
    ("deadline_for_feature_updates_in_days", 0, 30),
    ("deadline_grace_period_in_days", 0, 7),
    ("feature_updates_rollback_window_in_days", 2, 60),
    ("engaged_restart_deadline_in_days", 2, 30),
    ("engaged_restart_snooze_schedule_in_days", 1, 3),
    ("engaged_restart_transition_schedule_in_days", 0, 30),
];

/// Properties that accept only some values: (field, allowed).
pub const ONE_OF: &[(&str, &[u32])] = &[
    ("schedule_restart_warning_in_hours", &[2, 4, 8, 12, 24]),
    (
        "schedule_imminent_restart_warning_in_minutes",
        &[15, 30, 60],
    ),
];

/// JSON Schema of an optional integer that takes only `allowed` values.
fn one_of_schema(allowed: &[u32]) -> schemars::schema::Schema {
    use schemars::schema::{InstanceType, SchemaObject, SingleOrVec};
    SchemaObject {
        instance_type: Some(SingleOrVec::Single(Box::new(InstanceType::Integer))),
        enum_values: Some(
            allowed
                .iter()
                .map(|v| serde_json::Value::from(*v))
                .collect(),
        ),
        ..Default::default()
    }
    .into()
}

fn allowed(field: &str) -> &'static [u32] {
    ONE_OF
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, a)| *a)
        .unwrap_or(&[])
}

fn restart_warning_hours(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
    one_of_schema(allowed("schedule_restart_warning_in_hours"))
}

fn imminent_restart_warning_minutes(
    _: &mut schemars::gen::SchemaGenerator,
) -> schemars::schema::Schema {
    one_of_schema(allowed("schedule_imminent_restart_warning_in_minutes"))
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::source::Seg;
use crate::validate::policy::check_assignments;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_update_rings(cx);
}

fn is_hh_mm(t: &str) -> bool {
    let Some((h, m)) = t.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u32>().is_ok_and(|h| h < 24)
        && m.parse::<u32>().is_ok_and(|m| m < 60)
}

fn check_update_rings(cx: &mut Ctx) {
    for (key, d) in &cx.state.update_ring {
        let json = serde_json::to_value(&d.value).unwrap_or_default();
        for (field, min, max) in RANGES {
            if let Some(v) = json.get(*field).and_then(|v| v.as_u64()) {
                if v < u64::from(*min) || v > u64::from(*max) {
                    cx.error(
                        "out-of-range",
                        &d.origin,
                        &path!["update_ring", key, *field],
                        format!("update_ring.{key}: {field} is {v}; Graph allows {min} to {max}"),
                    );
                }
            }
        }
        for (field, allowed) in ONE_OF {
            if let Some(v) = json.get(*field).and_then(|v| v.as_u64()) {
                if !allowed.iter().any(|a| u64::from(*a) == v) {
                    let list = allowed
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    cx.error(
                        "out-of-range",
                        &d.origin,
                        &path!["update_ring", key, *field],
                        format!("update_ring.{key}: {field} is {v}; Graph allows one of {list}"),
                    );
                }
            }
        }
        if let Some(s) = &d.value.installation_schedule {
            let active = s.active_hours_start.is_some() || s.active_hours_end.is_some();
            let scheduled = s.scheduled_install_day.is_some() || s.scheduled_install_time.is_some();
            let here = path!["update_ring", key, "installation_schedule"];
            if active && scheduled {
                cx.error("schedule-conflict", &d.origin, &here, format!("update_ring.{key}: installation_schedule is either active hours or a scheduled install, not both"));
            }
            for (field, v) in [
                ("active_hours_start", &s.active_hours_start),
                ("active_hours_end", &s.active_hours_end),
                ("scheduled_install_time", &s.scheduled_install_time),
            ] {
                if let Some(v) = v {
                    if !is_hh_mm(v) {
                        let mut p = here.to_vec();
                        p.push(Seg::from(field));
                        cx.error(
                            "invalid-time",
                            &d.origin,
                            &p,
                            format!(
                                "update_ring.{key}: {field} `{v}` is not a time of day as HH:MM"
                            ),
                        );
                    }
                }
            }
        }
        check_assignments(cx, Kind::UpdateRing, key, &d.origin, &d.value.assignments);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/deviceConfigurations"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
