//! `[remediation.KEY]`: an Intune remediation (beta
//! `deviceManagement/deviceHealthScripts`): a detection script and,
//! optionally, a remediation script run when detection finds a problem,
//! on a schedule. The scripts are files beside the TOML, read by `load`
//! and compared by SHA-256 (see `super::platform_script`); the schedule is
//! set on every assignment (`runSchedule`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::platform_script::RunAsAccount;
use super::Assignments;

/// How often the scripts run (deviceHealthScriptRunSchedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Every {
    /// deviceHealthScriptHourlySchedule: every `interval` hours.
    Hourly,
    /// deviceHealthScriptDailySchedule: every `interval` days at `time`.
    Daily,
    /// deviceHealthScriptRunOnceSchedule: once, on `date` at `time`.
    Once,
}

impl Every {
    pub fn as_str(self) -> &'static str {
        match self {
            Every::Hourly => "hourly",
            Every::Daily => "daily",
            Every::Once => "once",
        }
    }
}

/// The run schedule of a remediation, on each of its assignments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSchedule {
    pub every: Every,
    /// Hours (hourly: 1 to 23) or days (daily: 1 to 30) between runs.
    #[serde(default = "one")]
    pub interval: u32,
    /// Time of day, `HH:MM` (daily and once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Whether `time` is UTC rather than the device's local time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_utc: Option<bool>,
    /// The day, `YYYY-MM-DD` (once only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

fn one() -> u32 {
    1
}

/// `[remediation.KEY]`: an Intune remediation (device health script).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    /// Natural key of the remediation.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// publisher, shown to admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// The detection script, a `.ps1` file relative to the desired-state
    /// directory (exit code 1: the problem is there).
    pub detection_file: String,
    /// The remediation script; without one, the remediation only detects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation_file: Option<String>,
    /// runAsAccount: `system` (Intune's default) or `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_account: Option<RunAsAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_signature_check: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_32_bit: Option<bool>,
    /// When the scripts run on the assigned devices; undeclared, Intune
    /// runs them daily.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<RunSchedule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
    /// The bytes of `detection_file` and `remediation_file`, read by `load`.
    #[serde(skip)]
    #[schemars(skip)]
    pub detection_content: Option<Vec<u8>>,
    #[serde(skip)]
    #[schemars(skip)]
    pub remediation_content: Option<Vec<u8>>,
}

/// Whether `t` is a time of day as `HH:MM`.
pub fn is_time(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 5 && b[2] == b':' && t[..2].parse::<u32>().is_ok_and(|h| h < 24) && t[3..].parse::<u32>().is_ok_and(|m| m < 60) && b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit())
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::validate::policy::check_assignments;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    use super::platform_script::{check_script_path, check_tags};
    let s = cx.state;
    let named = s.remediation.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::Remediation, named.collect());
    for (key, d) in &s.remediation {
        let p = &d.value;
        check_script_path(cx, &d.origin, Kind::Remediation, key, "detection_file", &p.detection_file);
        if let Some(f) = &p.remediation_file {
            check_script_path(cx, &d.origin, Kind::Remediation, key, "remediation_file", f);
        }
        if let Some(sc) = &p.schedule {
            let at = |f: &str| path!["remediation", key, "schedule", f];
            let max = match sc.every {
                Every::Hourly => 23,
                Every::Daily => 30,
                Every::Once => 1,
            };
            if !(1..=max).contains(&sc.interval) {
                cx.error("out-of-range", &d.origin, &at("interval"), format!("remediation.{key}: a {} schedule's interval is 1 to {max}, not {}", sc.every.as_str(), sc.interval));
            }
            match (&sc.time, sc.every) {
                (Some(_), Every::Hourly) => {
                    cx.error("invalid-schedule", &d.origin, &at("time"), format!("remediation.{key}: an hourly schedule has no time of day"));
                }
                (Some(t), _) if !is_time(t) => {
                    cx.error("invalid-schedule", &d.origin, &at("time"), format!("remediation.{key}: time `{t}` is not a time of day as HH:MM"));
                }
                _ => {}
            }
            match (&sc.date, sc.every) {
                (None, Every::Once) => {
                    cx.error("invalid-schedule", &d.origin, &path!["remediation", key, "schedule"], format!("remediation.{key}: a schedule run once needs a date"));
                }
                (Some(_), Every::Hourly | Every::Daily) => {
                    cx.error("invalid-schedule", &d.origin, &at("date"), format!("remediation.{key}: only a schedule run once has a date"));
                }
                (Some(dt), Every::Once) if chrono::NaiveDate::parse_from_str(dt, "%Y-%m-%d").is_err() => {
                    cx.error("invalid-schedule", &d.origin, &at("date"), format!("remediation.{key}: date `{dt}` is not a date as YYYY-MM-DD"));
                }
                _ => {}
            }
        }
        check_tags(cx, &d.origin, Kind::Remediation, key, &p.scope_tags);
        check_assignments(cx, Kind::Remediation, key, &d.origin, &p.assignments);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/deviceHealthScripts"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
