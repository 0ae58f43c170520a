//! What the app kinds share (`winget_app`, `m365_apps`, `app_assignment`,
//! all in beta `deviceAppManagement/mobileApps`): assignments by install
//! intent, each intent's targets like any Intune policy's (groups by key,
//! `all_users` / `all_devices`, assignment filters), written with
//! `mobileApps/{id}/assign` (`mobileAppAssignments`), and the settings of
//! each intent's assignments (`settings.<intent>`: notifications, restart
//! grace, install deadline, delivery optimization), set on every
//! assignment of the intent.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// An app's assignments by intent (Graph's `installIntent`): which groups
/// must have it (`required`), may install it from the Company Portal
/// (`available`), or get it removed (`uninstall`). Each intent's
/// `exclude` leaves groups out of that intent. `/assign` replaces the whole
/// set, so this is always the complete desired set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppAssignments {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub required: Assignments,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub available: Assignments,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub uninstall: Assignments,
    /// Offered to users of devices Intune does not enroll (Graph's
    /// `availableWithoutEnrollment`; users, not devices).
    #[serde(default, skip_serializing_if = "is_empty")]
    pub available_without_enrollment: Assignments,
    /// The settings of each intent's assignments (Graph's
    /// `mobileAppAssignment.settings`), set on every target of the intent.
    /// An intent without settings here keeps the ones its assignments have.
    #[serde(default, skip_serializing_if = "IntentSettings::is_empty")]
    pub settings: IntentSettings,
}

fn is_empty(a: &Assignments) -> bool {
    *a == Assignments::default()
}

/// The intents, as Graph spells them.
pub const INTENTS: [&str; 4] = ["required", "available", "uninstall", "availableWithoutEnrollment"];

/// The TOML field of each intent (as in [`INTENTS`]).
pub const INTENT_FIELDS: [&str; 4] = ["required", "available", "uninstall", "available_without_enrollment"];

impl AppAssignments {
    /// Each intent (as Graph spells it) with its targets.
    pub fn by_intent(&self) -> [(&'static str, &Assignments); 4] {
        [
            ("required", &self.required),
            ("available", &self.available),
            ("uninstall", &self.uninstall),
            ("availableWithoutEnrollment", &self.available_without_enrollment),
        ]
    }
}

/// Assignment settings per intent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntentSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<AppAssignmentSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<AppAssignmentSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<AppAssignmentSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_without_enrollment: Option<AppAssignmentSettings>,
}

impl IntentSettings {
    pub fn is_empty(&self) -> bool {
        *self == IntentSettings::default()
    }
    /// Each intent (as in [`INTENTS`]) with its settings.
    pub fn by_intent(&self) -> [(&'static str, Option<&AppAssignmentSettings>); 4] {
        [
            ("required", self.required.as_ref()),
            ("available", self.available.as_ref()),
            ("uninstall", self.uninstall.as_ref()),
            ("availableWithoutEnrollment", self.available_without_enrollment.as_ref()),
        ]
    }
}

/// What an app's assignment settings hold for Windows apps (Graph's
/// `win32LobAppAssignmentSettings` and `winGetAppAssignmentSettings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppAssignmentSettings {
    /// Which toasts users see: `showAll`, `showReboot` or `hideAll`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
    /// The restart grace period (restartSettings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartSettings>,
    /// When the install is available and due (installTimeSettings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_time: Option<InstallTime>,
    /// `notConfigured` or `foreground` (Win32 apps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_optimization_priority: Option<DeliveryPriority>,
}

/// win32LobAppNotification / winGetAppNotification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Notifications {
    ShowAll,
    ShowReboot,
    HideAll,
}

/// win32LobAppDeliveryOptimizationPriority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryPriority {
    NotConfigured,
    Foreground,
}

/// win32LobAppRestartSettings / winGetAppRestartSettings (minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartSettings {
    /// gracePeriodInMinutes: how long after the install the restart waits.
    pub grace_period_minutes: u32,
    /// countdownDisplayBeforeRestartInMinutes.
    pub countdown_minutes: u32,
    /// restartNotificationSnoozeDurationInMinutes (none: no snooze).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze_minutes: Option<u32>,
}

/// mobileAppInstallTimeSettings / winGetAppInstallTimeSettings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallTime {
    /// Whether the times are the device's local time (else UTC).
    #[serde(default)]
    pub use_local_time: bool,
    /// Available from (RFC 3339, e.g. `2026-12-07T08:00:00Z`; Win32 apps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The install deadline (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
}

// Validation shared by the app kinds.

use crate::address::Kind;
use crate::diagnostic::Origin;
use crate::path;
use crate::validate::Ctx;

/// Each intent's targets checked like a policy's; a group in two intents
/// (Intune keeps one intent per group and app), and `available` to all
/// devices (Intune offers apps in the Company Portal to users, not
/// devices), refused.
pub(crate) fn check_app_assignments(cx: &mut Ctx, kind: Kind, key: &str, origin: &Origin, a: &AppAssignments) {
    for (intent, targets) in a.by_intent() {
        check_intent(cx, kind, key, origin, intent, targets);
    }
    let mut seen: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (intent, targets) in a.by_intent() {
        for g in &targets.include {
            if let Some(first) = seen.insert(g.as_str(), intent) {
                cx.error(
                    "app-intent-conflict",
                    origin,
                    &path![kind.as_str(), key, "assignments", intent, "include"],
                    format!("{kind}.{key}: group `{g}` is assigned both `{first}` and `{intent}`; Intune keeps one intent per group"),
                );
            }
        }
    }
    for (field, a) in [("available", &a.available), ("available_without_enrollment", &a.available_without_enrollment)] {
        if a.all_devices {
            cx.error(
                "available-to-devices",
                origin,
                &path![kind.as_str(), key, "assignments", field, "all_devices"],
                format!("{kind}.{key}: `{field}` apps are offered to users in the Company Portal; Intune refuses all devices as their target"),
            )
            .help = Some("use `all_users`, or make it `required` for all devices".into());
        }
    }
    check_settings(cx, kind, key, origin, a);
}

/// Settings only for intents with targets, of the app's settings type
/// (Store apps have no delivery optimization priority nor start time;
/// Microsoft 365 Apps take none), with RFC 3339 times.
fn check_settings(cx: &mut Ctx, kind: Kind, key: &str, origin: &Origin, a: &AppAssignments) {
    for ((intent, s), (field, (_, targets))) in a.settings.by_intent().into_iter().zip(INTENT_FIELDS.into_iter().zip(a.by_intent())) {
        let Some(s) = s else { continue };
        let at = path![kind.as_str(), key, "assignments", "settings", field];
        if *targets == Assignments::default() {
            cx.error("settings-without-targets", origin, &at, format!("{kind}.{key}: assignments.settings.{field} is set but `{intent}` has no targets"));
        }
        if kind == Kind::M365Apps {
            cx.error("settings-not-supported", origin, &at, format!("{kind}.{key}: Microsoft 365 Apps assignments take no settings (officeSuiteApp has no assignment settings type)"));
            continue;
        }
        if kind == Kind::WingetApp {
            if s.delivery_optimization_priority.is_some() {
                cx.error("settings-not-supported", origin, &at, format!("{kind}.{key}: Store apps' assignment settings (winGetAppAssignmentSettings) have no delivery_optimization_priority"));
            }
            if s.install_time.as_ref().is_some_and(|t| t.start.is_some()) {
                cx.error("settings-not-supported", origin, &at, format!("{kind}.{key}: Store apps' install time (winGetAppInstallTimeSettings) has a deadline, no start"));
            }
        }
        for (what, t) in s.install_time.iter().flat_map(|t| [("start", &t.start), ("deadline", &t.deadline)]) {
            if let Some(t) = t {
                if chrono::DateTime::parse_from_rfc3339(t).is_err() {
                    cx.error("bad-time", origin, &at, format!("{kind}.{key}: assignments.settings.{field}.install_time.{what} `{t}` is not an RFC 3339 time (e.g. 2026-12-07T08:00:00Z)"));
                }
            }
        }
    }
}

fn check_intent(cx: &mut Ctx, kind: Kind, key: &str, origin: &Origin, intent: &str, a: &Assignments) {
    use crate::kinds::assignment::{ALL_DEVICES, ALL_USERS};
    for (field, list) in [("include", &a.include), ("exclude", &a.exclude)] {
        for (i, r) in list.iter().enumerate() {
            cx.reference(origin, &path![kind.as_str(), key, "assignments", intent, field, i], r, &[Kind::Group]);
        }
    }
    for g in a.include.iter().filter(|g| a.exclude.contains(g)) {
        cx.error(
            "include-and-exclude",
            origin,
            &path![kind.as_str(), key, "assignments", intent, "exclude"],
            format!("{kind}.{key}: group `{g}` is both included and excluded ({intent})"),
        );
    }
    for (target, f) in &a.filters {
        let at = path![kind.as_str(), key, "assignments", intent, "filters", target.as_str()];
        let included = a.include.contains(target) || (target == ALL_DEVICES && a.all_devices) || (target == ALL_USERS && a.all_users);
        if !included {
            cx.error("filter-target", origin, &at, format!("{kind}.{key}: assignments.{intent}.filters.{target} names no included target: filters apply to a group in `include`, or to all_devices / all_users when set"));
        }
        if f.filter.trim().is_empty() {
            cx.error("empty-filter", origin, &at, format!("{kind}.{key}: assignments.{intent}.filters.{target}.filter is empty: give the filter's key, display name or id"));
        } else if f.filter.starts_with("assignment_filter.") {
            let mut here = at.to_vec();
            here.push(crate::source::Seg::from("filter"));
            cx.reference(origin, &here, &f.filter, &[Kind::AssignmentFilter]);
        }
    }
}
