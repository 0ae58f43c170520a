//! The plan as JSON: the saved-plan format (documented in README.md,
//! versioned by `format_version`). Secret-named values are redacted here too.

use serde_json::Value;

use crate::plan::Plan;
use crate::render::{is_secret_name, names_a_secret};

fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let secret_setting = names_a_secret(m);
            for (k, x) in m.iter_mut() {
                if is_secret_name(k) || (secret_setting && k == "value") {
                    *x = Value::String("(redacted)".into());
                } else {
                    redact(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The plan as a JSON value with secrets redacted: what the saved file
/// holds, what reviewers read, and what `Plan::hash` (so every signature)
/// covers.
pub fn redacted(plan: &Plan) -> Value {
    let mut v = serde_json::to_value(plan).unwrap_or(Value::Null);
    redact(&mut v);
    v
}

/// Pretty JSON with a trailing newline; byte-identical for identical plans.
pub fn json(plan: &Plan) -> String {
    let v = redacted(plan);
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}
