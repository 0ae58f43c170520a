//! Windows Update for Business rings, typed in desired state, stored as
//! `windowsUpdateForBusinessConfiguration` device configurations.

use engine::DesiredResource;
use schema::kinds::update_ring::InstallationSchedule;
use schema::kinds::UpdateRing;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::device_configuration::UPDATE_RING_TYPE;
use super::{camel_props, desired_assignments, resource};
use super::intune_common::assignments;
use super::registry::{Api, Created, KindProvider, Read, BY_DISPLAY_NAME_AND_TYPE};
use crate::apply::delete_plain;
use crate::export::{snake, typed, ExportCx};
use engine::LiveObject;

/// "8:00", "08:00" or "08:00:00.0000000" -> "08:00:00", Graph's TimeOfDay.
pub fn time_of_day(t: &str) -> String {
    let mut parts = t.split(':');
    let h = parts.next().and_then(|h| h.trim().parse::<u32>().ok()).unwrap_or(0);
    let m = parts.next().and_then(|m| m.trim().parse::<u32>().ok()).unwrap_or(0);
    let s = parts.next().and_then(|s| s.split('.').next()).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    format!("{h:02}:{m:02}:{s:02}")
}

fn schedule(s: &InstallationSchedule) -> Value {
    if s.scheduled_install_day.is_some() || s.scheduled_install_time.is_some() {
        json!({
            "@odata.type": "#microsoft.graph.windowsUpdateScheduledInstall",
            "scheduledInstallDay": s.scheduled_install_day,
            "scheduledInstallTime": s.scheduled_install_time.as_deref().map(time_of_day),
        })
    } else {
        json!({
            "@odata.type": "#microsoft.graph.windowsUpdateActiveHoursInstall",
            "activeHoursStart": s.active_hours_start.as_deref().map(time_of_day),
            "activeHoursEnd": s.active_hours_end.as_deref().map(time_of_day),
        })
    }
}

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::UpdateRing,
    collection: "/deviceManagement/deviceConfigurations",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME_AND_TYPE),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.update_ring { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "update-rings.toml",
    export_title: "Windows update rings",
    read: Read::With(Kind::DeviceConfiguration),
    create: super::device_configuration::create,
    update: super::device_configuration::update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: Vec::new,
    after_post: &["assignments"],
};

pub fn desired(key: &str, u: &UpdateRing, state: &DesiredState) -> DesiredResource {
    let mut p = camel_props(u, &["assignments", "installation_schedule", "description", "scope_tags"]);
    super::scope_tag::insert_desired(&mut p, state, &u.scope_tags);
    p.insert("@odata.type".into(), json!(UPDATE_RING_TYPE));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &u.description {
        p.insert("description".into(), json!(d));
    }
    if let Some(s) = &u.installation_schedule {
        p.insert("installationSchedule".into(), schedule(s));
    }
    p.insert("assignments".into(), desired_assignments(state, &u.assignments));
    let mut r = resource(Address::new(Kind::UpdateRing, key), u.display_name.to_lowercase(), u.display_name.clone(), p);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

/// Live installation schedules use the same time format as desired.
pub fn normalize_schedule(props: &mut engine::Props) {
    if let Some(Value::Object(s)) = props.get_mut("installationSchedule") {
        for k in ["activeHoursStart", "activeHoursEnd", "scheduledInstallTime"] {
            if let Some(Value::String(t)) = s.get(k) {
                let t = time_of_day(t);
                s.insert(k.into(), json!(t));
            }
        }
    }
}

/// Graph's TimeOfDay (`08:00:00.0000000`, or normalized `08:00:00`) as
/// desired state writes it (`HH:MM`, what validation accepts). Seconds are
/// dropped: Intune's pickers set whole minutes.
pub fn hh_mm(t: &str) -> String {
    time_of_day(t)[..5].to_string()
}

/// A live `installationSchedule` in desired state's form (for export):
/// active hours or a scheduled day and time, `HH:MM`, no `@odata.type`.
pub fn export_schedule(v: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (graph, toml) in [("activeHoursStart", "active_hours_start"), ("activeHoursEnd", "active_hours_end"), ("scheduledInstallTime", "scheduled_install_time")] {
        if let Some(t) = v.get(graph).and_then(Value::as_str) {
            out.insert(toml.into(), json!(hh_mm(t)));
        }
    }
    if let Some(d) = v.get("scheduledInstallDay").filter(|d| !d.is_null()) {
        out.insert("scheduled_install_day".into(), d.clone());
    }
    Value::Object(out)
}


fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = std::collections::BTreeMap::new();
    for o in objects {
        let result = assignments(&o.props, &cx.keys).and_then(|asg| {
            let scope_tags = super::scope_tag::tags_of(cx, &o.props)?;
            let mut props = o.props.clone();
            props.remove("assignments");
            props.remove("roleScopeTagIds");
            let schedule = props.remove("installationSchedule").filter(|s| !s.is_null());
            let Value::Object(mut m) = snake(&Value::Object(props.into_iter().collect())) else { return Err("not an object".to_string()) };
            m.insert("assignments".into(), serde_json::to_value(&asg).map_err(|e| e.to_string())?);
            m.insert("scope_tags".into(), serde_json::to_value(&scope_tags).map_err(|e| e.to_string())?);
            if let Some(s) = schedule {
                // HH:MM, as validation accepts it (Graph answers 08:00:00.0000000).
                m.insert("installation_schedule".into(), export_schedule(&s));
            }
            typed::<UpdateRing>(m)
        });
        match result {
            Ok(ring) => {
                let a = cx.key(Kind::UpdateRing, &o.display_name, &o.id);
                t.insert(a.key.clone(), ring);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("update ring {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::UpdateRing, "", &t);
}

#[cfg(test)]
mod tests {
    #[test]
    fn exported_schedules_use_hh_mm() {
        let live = serde_json::json!({"@odata.type": "#microsoft.graph.windowsUpdateActiveHoursInstall", "activeHoursStart": "08:00:00", "activeHoursEnd": "17:30:00.0000000"});
        assert_eq!(super::export_schedule(&live), serde_json::json!({"active_hours_start": "08:00", "active_hours_end": "17:30"}));
    }

    #[test]
    fn times_of_day() {
        assert_eq!(super::time_of_day("8:00"), "08:00:00");
        assert_eq!(super::time_of_day("17:30:00.0000000"), "17:30:00");
    }
}
