//! The plan as JSON: the saved-plan format (documented in README.md,
//! versioned by `format_version`). Secret-named values are redacted here too.

use serde_json::Value;

use crate::plan::{Change, Plan};
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
/// It is [`redacted`] printed, with the changes made values one at a time
/// (see [`Spliced`]).
pub fn json(plan: &Plan) -> String {
    let printed = Spliced::of(plan).and_then(|spliced| serde_json::to_string_pretty(&spliced));
    // As the whole value did: a plan that does not serialize is `null`.
    let mut s = printed.unwrap_or_else(|_| serde_json::to_string_pretty(&Value::Null).unwrap_or_default());
    s.push('\n');
    s
}

/// `Plan::hash`: the fingerprint of [`redacted`] without `author` and
/// `approvals` (the signatures themselves), made with the changes turned
/// into values one at a time.
pub(crate) fn redacted_hash(plan: &Plan) -> String {
    let hashed = Spliced::of(plan).and_then(|mut spliced| {
        spliced.top.remove("author");
        spliced.top.remove("approvals");
        match spliced.changes {
            Some(changes) => crate::fingerprint::object_with_array(&spliced.top, "changes", changes.iter().map(redacted_change)),
            None => Ok(crate::fingerprint::fingerprint(&Value::Object(spliced.top))),
        }
    });
    hashed.unwrap_or_else(|_| crate::fingerprint::fingerprint(&Value::Null))
}

/// One change as [`redacted`] holds it in its `changes`.
fn redacted_change(c: &Change) -> Result<Value, serde_json::Error> {
    let mut v = serde_json::to_value(c)?;
    redact(&mut v);
    Ok(v)
}

/// [`redacted`] without its changes made values all at once: at 100k
/// objects the value of an adopted tenant's first plan (30,003 changes)
/// was 350 MB, built for every `Plan::hash` and saved plan, the peak of
/// `plan` (issue 13). `top` is the redacted plan with no changes (its
/// entries in the plan's order, `changes` among them); `changes`, when
/// set, are printed in its place, each made a value and redacted when it
/// is printed. Serialized, it is the redacted plan's value serialized:
/// the same map and sequence calls, with the same lengths.
struct Spliced<'p> {
    top: serde_json::Map<String, Value>,
    /// `None` when the plan's changes are redacted whole (a secret-named
    /// key), as `top` then holds them.
    changes: Option<&'p [Change]>,
}

impl<'p> Spliced<'p> {
    fn of(plan: &'p Plan) -> Result<Spliced<'p>, serde_json::Error> {
        // Every field named: one added to the plan is not left out.
        let Plan {
            format_version,
            desired_fingerprint,
            observed_fingerprint,
            changes,
            ids,
            unchanged,
            unknown,
            orphans,
            warnings,
            sensitive,
            lints,
            rollout,
            author,
            approvals,
            governance,
            change,
            not_after,
            written_by,
            refused,
        } = plan;
        let shell = Plan {
            format_version: *format_version,
            desired_fingerprint: desired_fingerprint.clone(),
            observed_fingerprint: observed_fingerprint.clone(),
            changes: Vec::new(),
            ids: ids.clone(),
            unchanged: unchanged.clone(),
            unknown: unknown.clone(),
            orphans: orphans.clone(),
            warnings: warnings.clone(),
            sensitive: sensitive.clone(),
            lints: lints.clone(),
            rollout: rollout.clone(),
            author: author.clone(),
            approvals: approvals.clone(),
            governance: governance.clone(),
            change: change.clone(),
            not_after: not_after.clone(),
            written_by: written_by.clone(),
            refused: refused.clone(),
        };
        let mut v = serde_json::to_value(&shell)?;
        drop(shell);
        let Value::Object(top) = &mut v else {
            return Err(serde::ser::Error::custom("a plan serializes as an object"));
        };
        // The plan's own entries are redacted as `redact` does the whole
        // value's (whether the object names a secret does not depend on
        // `changes`, which is neither a name nor a value it reads).
        let secret_setting = names_a_secret(top);
        let whole = |k: &str| is_secret_name(k) || (secret_setting && k == "value");
        for (k, x) in top.iter_mut() {
            if whole(k) {
                *x = Value::String("(redacted)".into());
            } else {
                redact(x);
            }
        }
        let top = std::mem::take(top);
        let changes = (!whole("changes") && top.contains_key("changes")).then_some(changes.as_slice());
        Ok(Spliced { top, changes })
    }
}

impl serde::Serialize for Spliced<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.top.len()))?;
        for (k, v) in &self.top {
            match self.changes {
                Some(changes) if k == "changes" => m.serialize_entry(k, &Changes(changes))?,
                _ => m.serialize_entry(k, v)?,
            }
        }
        m.end()
    }
}

/// A plan's changes as the redacted plan's value holds them, each made a
/// value when it is serialized.
struct Changes<'p>(&'p [Change]);

impl serde::Serialize for Changes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for c in self.0 {
            seq.serialize_element(&redacted_change(c).map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A plan with secrets in every place a change holds values (declared,
    /// create-only, field sides, live properties, a secret-named setting's
    /// value), signatures, and the plan's other maps and lists.
    fn plan(changes: usize) -> Plan {
        let change = |i: usize| {
            json!({
                "address": format!("device_configuration.p{i}"),
                "action": if i.is_multiple_of(3) { "delete" } else { "update" },
                "display_name": format!("P \"{i}\""),
                "id": format!("id-{i}"),
                "reason": "why",
                "fields": [
                    {"field": "wiFiPreSharedKey", "before": "old", "after": "new"},
                    {"field": "omaSettings", "after": [{"displayName": "Corp", "omaUri": "./Vendor/MSFT/WiFi/Profile/Corp/PreSharedKey", "value": "hunter2"}]},
                    {"field": "description", "before": null}
                ],
                "waits_on": ["group.g"],
                "wave": i % 4,
                "desired": {
                    "address": format!("device_configuration.p{i}"),
                    "natural_key": format!("p{i}"),
                    "display_name": "P",
                    "props": {"zeta": 1, "alpha": {"b": [true, null, 2.5], "a": "x"}, "passwordProfile": {"password": "hunter2"}},
                    "create_only": {"passwordFromEnv": "PW_VAR"}
                },
                "notes": ["n"],
                "live": {"clientSecret": "s3cret", "b": 1, "a": [{"@ref": "id-1"}]}
            })
        };
        serde_json::from_value(json!({
            "format_version": 3,
            "desired_fingerprint": "sha256:d",
            "observed_fingerprint": "sha256:o",
            "changes": (0..changes).map(change).collect::<Vec<_>>(),
            "ids": {"group.g": "gid", "user.u": "uid"},
            "unchanged": ["user.u"],
            "warnings": ["w"],
            "sensitive": {"device_configuration.p1": "control"},
            "author": {"public_key": "ed25519:k", "signature": "sig"},
            "approvals": [{"approver": "a", "public_key": "ed25519:k", "plan": "sha256:p", "signature": "sig"}],
            "not_after": "2026-12-09T00:00:00Z",
            "written_by": "alice"
        }))
        .expect("a plan")
    }

    /// The hash and the saved JSON are what they were when the whole
    /// redacted value was built (every signature and saved plan stays
    /// valid), for no change, one, and many.
    #[test]
    fn hash_and_json_are_those_of_the_whole_redacted_value() {
        for n in [0, 1, 7] {
            let p = plan(n);
            let mut whole = redacted(&p);
            let pretty = format!("{}\n", serde_json::to_string_pretty(&whole).expect("prints"));
            assert!(!pretty.contains("hunter2") && !pretty.contains("s3cret"), "{pretty}");
            assert_eq!(json(&p), pretty, "{n} change(s)");
            let m = whole.as_object_mut().expect("an object");
            m.remove("author");
            m.remove("approvals");
            assert_eq!(p.hash(), crate::fingerprint::fingerprint(&whole), "{n} change(s)");
        }
        // Signatures are not hashed; every change is.
        let (a, mut b) = (plan(3), plan(3));
        b.approvals.clear();
        b.author = None;
        assert_eq!(a.hash(), b.hash());
        b.changes[2].wave += 1;
        assert_ne!(a.hash(), b.hash());
    }
}
