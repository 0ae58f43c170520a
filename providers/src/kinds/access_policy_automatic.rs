//! Automatic assignment on an assignment policy
//! (`automaticRequestSettings`, Graph v1.0
//! `accessPackageAutomaticRequestSettings`) in props, Graph and TOML form.
//!
//! Always in props: undeclared, desired state says "off"
//! (`requestAccessForAllowedTargets` false, the only key it sets), so
//! automatic assignment turned on in the portal is drift shown field by
//! field and corrected by the policy's `PUT`, which sends
//! `"automaticRequestSettings": null` ("if absent, this is a
//! request-based policy"). The rule the policy assigns by is its
//! `attributeRuleMembers` target, `attribute_rule:<rule>` among the
//! props' `specificAllowedTargets`.

use schema::kinds::access_package_automatic::{AutomaticRequestSettings, ATTRIBUTE_RULE};
use serde_json::{json, Map, Value};

const ON: &str = "requestAccessForAllowedTargets";
const REMOVE: &str = "removeAccessWhenTargetLeavesAllowedTargets";
const GRACE: &str = "gracePeriodBeforeAccessRemoval";
/// The property's Graph name.
pub const PROP: &str = "automaticRequestSettings";

fn canonical(d: &str) -> Value {
    json!(schema::kinds::role_policy::canonical_duration(d).unwrap_or_else(|| d.to_string()))
}

/// A declared setting (or none: off) in props form.
pub fn props(a: Option<&AutomaticRequestSettings>) -> Value {
    match a {
        None => json!({ ON: false }),
        Some(a) => json!({
            ON: true,
            REMOVE: a.remove_access_when_target_leaves_allowed_targets,
            GRACE: a.grace_period_before_access_removal.as_deref().map_or(Value::Null, canonical),
        }),
    }
}

/// The specific allowed targets of a declared automatic policy: its rule.
pub fn targets(a: &AutomaticRequestSettings) -> Value {
    json!([format!("{ATTRIBUTE_RULE}{}", a.membership_rule)])
}

/// A live policy's setting in props form (absent or null: off).
pub fn normalize(raw: Option<&Value>) -> Value {
    let r = raw.filter(|r| r.is_object());
    let flag = |k: &str| json!(r.and_then(|r| r.get(k)).and_then(Value::as_bool).unwrap_or(false));
    json!({
        ON: flag(ON),
        REMOVE: flag(REMOVE),
        GRACE: r.and_then(|r| r.get(GRACE)).and_then(Value::as_str).map_or(Value::Null, canonical),
    })
}

/// Whether a props setting turns automatic assignment on.
pub fn is_on(props: Option<&Value>) -> bool {
    props.and_then(|p| p.get(ON)).and_then(Value::as_bool) == Some(true)
}

/// A props setting in Graph form: the object when on, null when off.
pub fn body(props: Option<&Value>) -> Value {
    if !is_on(props) {
        return Value::Null;
    }
    let mut m = Map::new();
    m.insert(ON.into(), json!(true));
    m.insert(REMOVE.into(), json!(props.and_then(|p| p.get(REMOVE)).and_then(Value::as_bool).unwrap_or(true)));
    if let Some(g) = props.and_then(|p| p.get(GRACE)).filter(|g| g.is_string()) {
        m.insert(GRACE.into(), g.clone());
    }
    Value::Object(m)
}

/// A live `attributeRuleMembers` subject in props form.
pub fn rule_subject(s: &Value) -> Value {
    json!(format!("{ATTRIBUTE_RULE}{}", s.get("membershipRule").and_then(Value::as_str).unwrap_or_default()))
}

/// A props `attribute_rule:` subject in Graph form, if it is one.
pub fn rule_json(s: &str) -> Option<Value> {
    s.strip_prefix(ATTRIBUTE_RULE).map(|rule| json!({"@odata.type": "#microsoft.graph.attributeRuleMembers", "membershipRule": rule}))
}

/// A live policy's automatic assignment as TOML (with the rule among its
/// targets), and the targets left once the rule is taken out; `None` when
/// it is off.
pub fn toml(props: &Value) -> Option<(AutomaticRequestSettings, Value)> {
    let a = props.get(PROP);
    if !is_on(a) {
        return None;
    }
    let targets: Vec<Value> = props.get("specificAllowedTargets").and_then(Value::as_array).cloned().unwrap_or_default();
    let (rules, rest): (Vec<Value>, Vec<Value>) = targets.into_iter().partition(|t| t.as_str().is_some_and(|s| s.starts_with(ATTRIBUTE_RULE)));
    let rule = rules.first().and_then(Value::as_str).and_then(|s| s.strip_prefix(ATTRIBUTE_RULE)).unwrap_or_default().to_string();
    let s = AutomaticRequestSettings {
        membership_rule: rule,
        remove_access_when_target_leaves_allowed_targets: a.and_then(|a| a.get(REMOVE)).and_then(Value::as_bool).unwrap_or(false),
        grace_period_before_access_removal: a.and_then(|a| a.get(GRACE)).and_then(Value::as_str).map(str::to_string),
    };
    Some((s, Value::Array(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_and_on_round_trip_between_graph_props_and_toml() {
        // A request-based policy: Graph leaves the property out or null.
        assert!(!is_on(Some(&normalize(None))) && !is_on(Some(&normalize(Some(&Value::Null)))));
        assert_eq!(body(Some(&props(None))), Value::Null, "off is written as null");
        let live = json!({ON: true, REMOVE: true, GRACE: "P7D"});
        let n = normalize(Some(&live));
        let policy = json!({PROP: n.clone(), "specificAllowedTargets": [rule_subject(&json!({"membershipRule": "(user.department -eq \"Sales\")"}))]});
        let (t, rest) = toml(&policy).expect("on");
        assert_eq!(t.membership_rule, "(user.department -eq \"Sales\")");
        assert_eq!(rest, json!([]));
        assert_eq!(props(Some(&t)), n, "declared as exported, it compares equal");
        assert_eq!(body(Some(&n))[GRACE], n[GRACE]);
        assert_eq!(rule_json("attribute_rule:(user.x -eq \"y\")").expect("a rule")["membershipRule"], json!("(user.x -eq \"y\")"));
    }
}
