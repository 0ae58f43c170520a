//! Intune remediations (beta `deviceManagement/deviceHealthScripts`): a
//! detection and a remediation script, compared by SHA-256 and written as
//! the platform scripts are (`super::platform_script`); the run schedule
//! and whether to remediate live on each assignment (`runSchedule`,
//! `runRemediationScript`) and are normalized onto the object.

use std::collections::BTreeMap;

use engine::{DesiredResource, LiveObject};
use schema::kinds::remediation::{Every, RunSchedule};
use schema::kinds::{Assignments, Remediation};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::platform_script::{create, description, insert_content, insert_run_options, list_path, live_run_options, live_text, normalize_with, read_kind, update, Scripts};
use super::registry::{Api, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{desired_assignments, resource};
use crate::apply::delete_plain;
use crate::export::ExportCx;

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::Remediation,
    collection: "/deviceManagement/deviceHealthScripts",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.remediation { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "remediations.toml",
    export_title: "Intune remediations",
    read: Read::Own(|cx| read_kind(cx, &SCRIPTS)),
    create: |w| create(w, &SCRIPTS),
    update: |w, id| update(w, id, &SCRIPTS),
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![list_path(Kind::Remediation)],
    after_post: &["assignments"],
};

pub(crate) const SCRIPTS: Scripts = Scripts {
    kind: Kind::Remediation,
    odata: "#microsoft.graph.deviceHealthScript",
    assignment: "#microsoft.graph.deviceHealthScriptAssignment",
    assign_key: "deviceHealthScriptAssignments",
    contents: &["detectionScriptContent", "remediationScriptContent"],
};

const HOURLY: &str = "#microsoft.graph.deviceHealthScriptHourlySchedule";
const DAILY: &str = "#microsoft.graph.deviceHealthScriptDailySchedule";
const ONCE: &str = "#microsoft.graph.deviceHealthScriptRunOnceSchedule";

/// A schedule as Graph's deviceHealthScriptRunSchedule.
pub fn schedule_json(s: &RunSchedule) -> Value {
    let mut m = Map::new();
    let ty = match s.every {
        Every::Hourly => HOURLY,
        Every::Daily => DAILY,
        Every::Once => ONCE,
    };
    m.insert("@odata.type".into(), json!(ty));
    m.insert("interval".into(), json!(s.interval));
    if let Some(t) = &s.time {
        m.insert("time".into(), json!(format!("{t}:00")));
    }
    if let Some(u) = s.use_utc {
        m.insert("useUtc".into(), json!(u));
    }
    if let Some(d) = &s.date {
        m.insert("date".into(), json!(d));
    }
    Value::Object(m)
}

pub fn desired(key: &str, p: &Remediation, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(SCRIPTS.odata));
    props.insert("displayName".into(), json!(p.display_name));
    if let Some(d) = &p.description {
        props.insert("description".into(), json!(d));
    }
    if let Some(d) = &p.publisher {
        props.insert("publisher".into(), json!(d));
    }
    insert_run_options(&mut props, p.run_as_account, p.enforce_signature_check, p.run_as_32_bit);
    super::scope_tag::insert_desired(&mut props, state, &p.scope_tags);
    let a = &p.assignments;
    // The schedule lives on the assignments: with none, there is none.
    if !a.include.is_empty() || a.all_devices || a.all_users {
        props.insert("runRemediationScript".into(), json!(p.remediation_file.is_some()));
        if let Some(s) = &p.schedule {
            props.insert("runSchedule".into(), schedule_json(s));
        }
    }
    props.insert("assignments".into(), desired_assignments(state, a));
    let mut r = resource(Address::new(Kind::Remediation, key), p.display_name.to_lowercase(), p.display_name.clone(), props);
    insert_content(&mut r, "detectionScriptContent", p.detection_content.as_ref());
    insert_content(&mut r, "remediationScriptContent", p.remediation_content.as_ref());
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

/// A live remediation: its scripts by hash, and the schedule and whether
/// it remediates from its assignments (one value when they agree; all the
/// distinct ones when they do not, which never equals a declared one).
pub fn normalize(raw: &Value) -> LiveObject {
    let mut o = normalize_with(raw, &SCRIPTS);
    for p in ["publisher"] {
        if o.props.get(p).and_then(Value::as_str) == Some("") {
            o.props.remove(p);
        }
    }
    let list: Vec<&Value> = raw.get("assignments").and_then(Value::as_array).into_iter().flatten().collect();
    for (prop, clean) in [("runSchedule", true), ("runRemediationScript", false)] {
        let mut distinct: Vec<Value> = Vec::new();
        for a in &list {
            let v = a.get(prop).cloned().unwrap_or(Value::Null);
            let v = if clean { clean_schedule(&v) } else { v };
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        match distinct.len() {
            0 => {}
            1 => {
                o.props.insert(prop.into(), distinct.remove(0));
            }
            _ => {
                o.props.insert(prop.into(), Value::Array(distinct));
            }
        }
    }
    o
}

/// A live schedule without nulls, its time as `HH:MM:SS`.
fn clean_schedule(v: &Value) -> Value {
    let Value::Object(m) = v else { return v.clone() };
    let mut out = Map::new();
    for (k, x) in m {
        if x.is_null() {
            continue;
        }
        if k == "time" {
            let t = x.as_str().unwrap_or_default();
            out.insert(k.clone(), json!(t.get(..8).unwrap_or(t)));
        } else {
            out.insert(k.clone(), x.clone());
        }
    }
    Value::Object(out)
}

/// A live schedule as TOML declares it.
fn live_schedule(v: Option<&Value>) -> Result<Option<RunSchedule>, String> {
    let Some(Value::Object(m)) = v else { return Ok(None) };
    let every = match m.get("@odata.type").and_then(Value::as_str) {
        Some(HOURLY) => Every::Hourly,
        Some(DAILY) => Every::Daily,
        Some(ONCE) => Every::Once,
        other => return Err(format!("its run schedule type {other:?} is not modelled")),
    };
    let time = m.get("time").and_then(Value::as_str).map(|t| t.get(..5).unwrap_or(t).to_string());
    Ok(Some(RunSchedule {
        every,
        interval: m.get("interval").and_then(Value::as_u64).unwrap_or(1) as u32,
        time,
        use_utc: m.get("useUtc").and_then(Value::as_bool),
        date: m.get("date").and_then(Value::as_str).map(str::to_string),
    }))
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let parts = (|| -> Result<_, String> {
            let assignments: Assignments = super::intune_common::assignments(&o.props, &cx.keys)?;
            let tags = super::scope_tag::tags_of(cx, &o.props)?;
            let detection = live_text(o, "detectionScriptContent")?.ok_or("Graph returned no detection script")?;
            let remediation = live_text(o, "remediationScriptContent")?;
            let schedule = live_schedule(o.props.get("runSchedule"))?;
            Ok((assignments, tags, detection, remediation, schedule))
        })();
        let (assignments, scope_tags, detection, remediation, schedule) = match parts {
            Ok(p) => p,
            Err(e) => {
                cx.warn(format!("remediation {} ({}): {e}: not exported", o.display_name, o.id));
                continue;
            }
        };
        let a = cx.key(Kind::Remediation, &o.display_name, &o.id);
        let detection_file = format!("scripts/{}-detect.ps1", a.key);
        let remediation_file = remediation.as_ref().map(|_| format!("scripts/{}-remediate.ps1", a.key));
        let (run_as_account, enforce_signature_check, run_as_32_bit) = live_run_options(o);
        let p = Remediation {
            display_name: o.display_name.clone(),
            description: description(o),
            publisher: o.props.get("publisher").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string),
            detection_file: detection_file.clone(),
            remediation_file: remediation_file.clone(),
            run_as_account,
            enforce_signature_check,
            run_as_32_bit,
            schedule,
            scope_tags,
            assignments,
            detection_content: None,
            remediation_content: None,
        };
        cx.file(detection_file, detection);
        if let (Some(f), Some(text)) = (remediation_file, remediation) {
            cx.file(f, text);
        }
        t.insert(a.key.clone(), p);
        cx.record(a, &o.id);
    }
    cx.table(Kind::Remediation, "", &t);
}
