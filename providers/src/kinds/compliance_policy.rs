//! Device compliance policies. Graph requires exactly one block action; it
//! is modelled as the virtual property `blockGracePeriodHours`, written on
//! create inside `scheduledActionsForRule` and afterwards through
//! `scheduleActionsForRules`.

use engine::{DesiredResource, LiveObject};
use schema::kinds::device_configuration::qualified_odata_type;
use schema::kinds::CompliancePolicy;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::device_configuration::normalize_policy;
use super::{desired_assignments, resource, settings_json};

pub const BLOCK_GRACE: &str = "blockGracePeriodHours";

pub fn desired(key: &str, c: &CompliancePolicy, state: &DesiredState) -> DesiredResource {
    let mut p = settings_json(&c.settings);
    p.insert("@odata.type".into(), json!(qualified_odata_type(&c.odata_type)));
    p.insert("displayName".into(), json!(c.display_name));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &c.description {
        p.insert("description".into(), json!(d));
    }
    p.insert(BLOCK_GRACE.into(), json!(c.grace_period_hours));
    p.insert("assignments".into(), desired_assignments(state, &c.assignments));
    let mut r = resource(Address::new(Kind::CompliancePolicy, key), c.display_name.to_lowercase(), c.display_name.clone(), p);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

/// Read with `$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)`.
pub fn normalize(raw: &Value) -> LiveObject {
    let mut o = normalize_policy(raw, Kind::CompliancePolicy);
    let grace = raw
        .get("scheduledActionsForRule")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|r| r.get("scheduledActionConfigurations").and_then(Value::as_array).cloned().unwrap_or_default())
        .find(|c| c.get("actionType").and_then(Value::as_str) == Some("block"))
        .and_then(|c| c.get("gracePeriodHours").cloned());
    o.props.remove("scheduledActionsForRule");
    o.props.insert(BLOCK_GRACE.into(), grace.unwrap_or(Value::Null));
    o
}

/// The scheduled actions with the one block action.
pub fn scheduled_actions(grace_hours: &Value) -> Value {
    json!([{
        "ruleName": "PasswordRequired",
        "scheduledActionConfigurations": [{
            "actionType": "block",
            "gracePeriodHours": grace_hours.as_u64().unwrap_or(0),
            "notificationTemplateId": "",
            "notificationMessageCCList": [],
        }],
    }])
}
