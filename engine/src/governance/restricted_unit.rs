//! A restricted management administrative unit protects its members:
//! tenant-wide administrators (user, helpdesk, password, authentication
//! administrators) cannot manage them, only those assigned at the unit's
//! scope. Taking a member out, or deleting the unit, hands those accounts
//! back to every tenant-wide administrator, so it widens who may manage
//! them: reviewed, whichever way the change comes (hostile run 28,
//! finding 4, as a restore; run 29, finding 3, as a plain pull request
//! applied with `--auto-approve`).

use std::collections::BTreeSet;

use schema::Kind;
use serde_json::Value;

use crate::plan::{Action, Change};

const RESTRICTED: &str = "isMemberManagementRestricted";

/// Whether the unit restricts the management of its members, as desired
/// state or the tenant has it.
pub fn restricted(change: &Change) -> bool {
    let on = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(true);
    change.desired.as_ref().is_some_and(|d| on(d.props.get(RESTRICTED))) || change.live.as_ref().is_some_and(|l| on(l.get(RESTRICTED)))
}

fn members(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|x| crate::model::as_reference(x).or_else(|| x.as_str())).map(str::to_string).collect()
}

/// Why the change needs approval: members taken out of a restricted unit,
/// or the unit deleted.
pub fn reason(change: &Change) -> Option<String> {
    if change.address.kind != Kind::AdministrativeUnit || !restricted(change) {
        return None;
    }
    if change.action == Action::Delete {
        return Some(format!("deletes restricted management unit {}: every member is handed back to the tenant-wide administrators", change.address));
    }
    let f = change.fields.iter().find(|f| f.field == "members")?;
    let after = members(f.after.as_ref());
    let out: Vec<String> = members(f.before.as_ref()).into_iter().filter(|m| !after.contains(m)).collect();
    (!out.is_empty()).then(|| format!("takes {} out of restricted management unit {}: tenant-wide administrators can manage them again", out.join(", "), change.address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;
    use serde_json::json;

    fn unit(restricted: bool, before: Value, after: Value) -> Change {
        let mut c = Change::new("administrative_unit.vip".parse().expect("an address"), Action::Update, "VIP", "declared");
        c.fields = vec![FieldChange { field: "members".into(), before: Some(before), after: Some(after) }];
        c.live = Some([(RESTRICTED.to_string(), json!(restricted))].into_iter().collect());
        c
    }

    #[test]
    fn a_member_taken_out_of_a_restricted_unit_is_reviewed() {
        let both = json!(["user.adele", "user.breakglass-1"]);
        let one = json!(["user.breakglass-1"]);
        assert!(reason(&unit(true, both.clone(), one.clone())).is_some_and(|r| r.contains("user.adele")));
        assert!(reason(&unit(true, one.clone(), both.clone())).is_none(), "a member put in is protected, not exposed");
        assert!(reason(&unit(false, both, one)).is_none(), "an open unit's scope only narrows");
    }
}
