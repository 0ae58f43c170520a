//! `/assign` replaces an object's whole assignment set. Where one object
//! holds several assignment sets written by one `/assign` (an app's
//! install intents and their settings), a change to one of them rewrites
//! the others too: the plan says so, with the whole resulting set, so an
//! approver sees everything the call leaves assigned.

use serde_json::Value;

use crate::model::as_reference;
use crate::plan::{Action, Change};

/// A note on each change that writes one of several assignment sets.
pub fn notes(changes: &mut [Change]) {
    for c in changes.iter_mut().filter(|c| matches!(c.action, Action::Assign | Action::Update)) {
        let Some(d) = &c.desired else { continue };
        if d.assignment_props.len() < 2 {
            continue;
        }
        let touched = c.fields.iter().any(|f| d.assignment_props.iter().any(|p| f.field == *p || f.field.starts_with(&format!("{p}."))));
        if !touched {
            continue;
        }
        let sets: Vec<String> = d.assignment_props.iter().filter_map(|p| d.props.get(p).map(|v| format!("{p} = {}", summary(v)))).collect();
        c.notes.push(format!("`assign` replaces the whole set; after this change: {}", sets.join("; ")));
    }
}

/// One assignment set (normalized targets) or settings value, in brief.
fn summary(v: &Value) -> String {
    let Some(m) = v.as_object() else { return v.to_string() };
    if !m.contains_key("include") {
        return v.to_string();
    }
    let refs = |k: &str| -> Vec<String> {
        let mut v: Vec<String> = m.get(k).and_then(Value::as_array).into_iter().flatten().map(|r| as_reference(r).map_or_else(|| r.to_string(), str::to_string)).collect();
        v.sort();
        v
    };
    let mut parts = Vec::new();
    if m.get("allUsers").and_then(Value::as_bool) == Some(true) {
        parts.push("all users".to_string());
    }
    if m.get("allDevices").and_then(Value::as_bool) == Some(true) {
        parts.push("all devices".to_string());
    }
    let include = refs("include");
    if !include.is_empty() {
        parts.push(format!("include {}", include.join(", ")));
    }
    for (filter, targets) in m.get("filters").and_then(Value::as_object).into_iter().flatten() {
        let t: Vec<String> = targets.as_array().into_iter().flatten().map(|r| as_reference(r).map_or_else(|| r.as_str().unwrap_or_default().to_string(), str::to_string)).collect();
        parts.push(format!("{} with filter {filter}", t.join(", ")));
    }
    let exclude = refs("exclude");
    if !exclude.is_empty() {
        parts.push(format!("exclude {}", exclude.join(", ")));
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}
