//! Automatic assignment policies (`automaticRequestSettings`, v1.0
//! `accessPackageAutomaticRequestSettings`), as strict as the docs say
//! Graph is, and what Entra does with one:
//!
//! * turned on (`requestAccessForAllowedTargets` true), the policy's
//!   `allowedTargetScope` is `specificDirectoryUsers` and its targets are
//!   a membership rule (`attributeRuleMembers`), as the docs' only form
//!   ("Create assignmentPolicies", example 3); a package has at most one
//!   automatic policy ("Configure an automatic assignment policy");
//!   `gracePeriodBeforeAccessRemoval` is an ISO 8601 duration;
//! * once the policy is written, every user the rule matches who does not
//!   hold the package gets an assignment through it (delivered at once,
//!   and added to the package's groups), and an assignment it made ends
//!   when its user leaves the rule or the policy stops being automatic
//!   (with `removeAccessWhenTargetLeavesAllowedTargets`; the grace period
//!   is not waited for here).
//!
//! The sandbox evaluates rules of comparisons (`-eq`, `-ne`,
//! `-startsWith`) of `user.<property>` with a quoted string, joined by
//! `-and` or `-or` (not both), in parentheses or not; a rule beyond that
//! matches nobody here (Entra accepts it; the sandbox just delivers
//! nothing for it).

use serde_json::{json, Map, Value};

use crate::entitlement::{ASSIGNMENTS, POLICIES};
use crate::error::GraphError;
use crate::graph::Ctx;
use crate::store::Tenant;

const PACKAGE_ID: &str = "accessPackageId";
const POLICY_ID: &str = "assignmentPolicyId";
const TARGET_ID: &str = "targetId";
/// Set in an assignment's navigation data when a policy's rule made it.
const AUTOMATIC: &str = "automaticallyAssigned";
const RULE_TYPE: &str = "#microsoft.graph.attributeRuleMembers";

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::bad_request(msg)
}

fn is_on(data: &Map<String, Value>) -> bool {
    data.get("automaticRequestSettings").and_then(|a| a.get("requestAccessForAllowedTargets")).and_then(Value::as_bool) == Some(true)
}

fn rules(data: &Map<String, Value>) -> Vec<String> {
    data.get("specificAllowedTargets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.get("@odata.type").and_then(Value::as_str) == Some(RULE_TYPE))
        .filter_map(|s| s.get("membershipRule").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// A policy body's automatic assignment (of package `package`; `own` is
/// the policy's id when it is replaced), refused where Graph refuses it.
pub fn check(t: &Tenant, data: &Map<String, Value>, package: &str, own: Option<&str>) -> Result<(), GraphError> {
    let Some(a) = data.get("automaticRequestSettings").filter(|a| !a.is_null()) else { return Ok(()) };
    if !a.is_object() {
        return Err(bad("The property 'automaticRequestSettings' must be an accessPackageAutomaticRequestSettings object."));
    }
    if let Some(g) = a.get("gracePeriodBeforeAccessRemoval").filter(|g| !g.is_null()) {
        if g.as_str().and_then(crate::pim::parse_duration).is_none() {
            return Err(bad(format!("The value '{g}' of 'gracePeriodBeforeAccessRemoval' is not a valid ISO 8601 duration.")));
        }
    }
    if !is_on(data) {
        return Ok(());
    }
    let scope = data.get("allowedTargetScope").and_then(Value::as_str).unwrap_or("notSpecified");
    if scope != "specificDirectoryUsers" || rules(data).is_empty() {
        return Err(bad(format!("An automatic assignment policy assigns the users of a membership rule: it needs allowedTargetScope 'specificDirectoryUsers' and an attributeRuleMembers target (not '{scope}')."))
            .with_detail("InvalidAutomaticRequestSettings", "automaticRequestSettings"));
    }
    let other = t.coll(POLICIES).and_then(|c| c.iter().find(|(id, r)| Some(id.as_str()) != own && r.nav.get(PACKAGE_ID).and_then(Value::as_str) == Some(package) && is_on(&r.data)).map(|(id, _)| id.clone()));
    if let Some(other) = other {
        return Err(bad(format!("The access package '{package}' already has an automatic assignment policy ('{other}'); a package has at most one.")).with_detail("InvalidAutomaticRequestSettings", "automaticRequestSettings"));
    }
    Ok(())
}

/// One comparison of a rule, for `user`.
fn term(t: &str, user: &Map<String, Value>) -> Option<bool> {
    let t = t.trim().trim_start_matches('(').trim_end_matches(')').trim();
    let mut parts = t.splitn(3, ' ');
    let (attr, op, value) = (parts.next()?, parts.next()?, parts.next()?.trim());
    let attr = attr.strip_prefix("user.")?;
    let value = value.strip_prefix('"')?.strip_suffix('"')?.to_lowercase();
    let have = user.get(attr).and_then(Value::as_str).unwrap_or_default().to_lowercase();
    match op.to_lowercase().as_str() {
        "-eq" => Some(have == value),
        "-ne" => Some(have != value),
        "-startswith" => Some(have.starts_with(&value)),
        _ => None,
    }
}

/// Whether `user` is a member of the dynamic group `group` (its rule
/// processing on): its rule matches the user, as far as the sandbox
/// evaluates rules. Entra computes a dynamic group's members from its
/// rule; the sandbox does so where a policy admits the group's members.
pub(crate) fn dynamic_member(group: &Map<String, Value>, user: &Map<String, Value>) -> bool {
    let dynamic = group.get("groupTypes").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v.as_str() == Some("DynamicMembership")));
    let on = group.get("membershipRuleProcessingState").and_then(Value::as_str).is_none_or(|s| s == "On");
    dynamic && on && group.get("membershipRule").and_then(Value::as_str).is_some_and(|r| matches(r, user))
}

/// Whether `rule` matches `user` (as far as the sandbox evaluates rules).
fn matches(rule: &str, user: &Map<String, Value>) -> bool {
    let lower = rule.to_lowercase();
    if lower.contains(" -or ") {
        let mut at = 0;
        let mut any = false;
        for (i, _) in lower.match_indices(" -or ") {
            any |= term(&rule[at..i], user) == Some(true);
            at = i + 5;
        }
        return any || term(&rule[at..], user) == Some(true);
    }
    let mut at = 0;
    for (i, _) in lower.match_indices(" -and ") {
        if term(&rule[at..i], user) != Some(true) {
            return false;
        }
        at = i + 6;
    }
    term(&rule[at..], user) == Some(true)
}

/// After policy `policy` was written: its rule's users get the package,
/// and assignments it made whose users it no longer matches end.
pub fn sync(t: &mut Tenant, ctx: &Ctx, policy: &str) {
    let Some(p) = t.get(POLICIES, policy).cloned() else { return };
    let package = p.nav.get(PACKAGE_ID).and_then(Value::as_str).unwrap_or_default().to_string();
    let on = is_on(&p.data);
    let rules = rules(&p.data);
    let users: Vec<(String, Map<String, Value>)> = t.coll("users").map(|c| c.iter().filter(|(_, r)| !ctx.lagged(r)).map(|(id, r)| (id.clone(), r.data.clone())).collect()).unwrap_or_default();
    let in_scope = |id: &str| on && users.iter().any(|(u, d)| u == id && rules.iter().any(|r| matches(r, d)));
    let live = |r: &crate::store::Record| r.data.get("state").and_then(Value::as_str).is_some_and(|s| ["delivering", "partiallyDelivered", "delivered"].contains(&s));
    let nav = |r: &crate::store::Record, k: &str| r.nav.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let remove = p.data.get("automaticRequestSettings").and_then(|a| a.get("removeAccessWhenTargetLeavesAllowedTargets")).and_then(Value::as_bool).unwrap_or(true) || !on;
    let leaving: Vec<String> = t
        .coll(ASSIGNMENTS)
        .map(|c| c.iter().filter(|(_, r)| live(r) && nav(r, POLICY_ID) == policy && r.nav.contains_key(AUTOMATIC) && !in_scope(&nav(r, TARGET_ID))).map(|(id, _)| id.clone()).collect())
        .unwrap_or_default();
    if remove {
        for id in leaving {
            t.update(ASSIGNMENTS, &id, |r| {
                r.data.insert("state".into(), json!("expired"));
                r.data.insert("status".into(), json!("Expired"));
                r.data.insert("expiredDateTime".into(), json!(ctx.now_iso()));
            });
            crate::entitlement_delivery::withdraw(t, &id);
        }
    }
    if !on {
        return;
    }
    let now = chrono::DateTime::from_timestamp_millis(ctx.now_ms).unwrap_or_default();
    for (user, _) in users.iter().filter(|(u, _)| in_scope(u)) {
        let held = t.coll(ASSIGNMENTS).is_some_and(|c| c.values().any(|r| live(r) && nav(r, PACKAGE_ID) == package && nav(r, TARGET_ID) == *user));
        if held {
            continue;
        }
        let mut data = Map::new();
        data.insert("state".into(), json!("delivered"));
        data.insert("status".into(), json!("Delivered"));
        data.insert("expiredDateTime".into(), Value::Null);
        data.insert("schedule".into(), crate::entitlement_assignments::policy_schedule(&p, now));
        let mut n = Map::new();
        n.insert(PACKAGE_ID.into(), json!(package));
        n.insert(POLICY_ID.into(), json!(policy));
        n.insert(TARGET_ID.into(), json!(user));
        n.insert(AUTOMATIC.into(), json!(true));
        let id = crate::resources::insert_new(t, ctx, ASSIGNMENTS, data, n);
        crate::entitlement_delivery::deliver(t, &id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_of_comparisons_are_evaluated() {
        let user = json!({"department": "Sales", "userPrincipalName": "svc-x@contoso.com"});
        let u = user.as_object().expect("an object");
        assert!(matches("(user.department -eq \"sales\")", u));
        assert!(!matches("(user.department -eq \"Finance\")", u));
        assert!(matches("(user.department -eq \"Sales\") -and (user.userPrincipalName -startsWith \"svc-\")", u));
        assert!(!matches("(user.department -eq \"Sales\") -and (user.userPrincipalName -ne \"svc-x@contoso.com\")", u));
        assert!(matches("(user.department -eq \"Finance\") -or (user.department -eq \"Sales\")", u));
        assert!(!matches("(user.department -match \"S.*\")", u), "beyond what the sandbox evaluates: nobody");
    }
}
