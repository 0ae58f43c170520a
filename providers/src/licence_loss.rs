//! What a licensed group's delete takes away (hostile run 20, finding 8):
//! the groups the plan will delete (in the ledger, no longer declared,
//! pruning on for groups) have their licences read (`assignedLicenses`,
//! in SKU part numbers, onto the live object the delete carries, so the
//! plan shows them as removed) and, when licensed, their direct members
//! (into [`ObservedState::memberships`]), so the plan can say who loses
//! which licence (`engine::governance::licence_loss`).
//!
//! Costs nothing unless groups are pruned: one `$batch` for their
//! licences, one for the licensed ones' members. A failed read leaves the
//! delete as it was (its licences not shown) and is logged; the note the
//! engine writes then says the members were not read.

use engine::{DesiredModel, Ledger, ObservedState};
use schema::Kind;
use serde_json::Value;

use crate::graph::{BatchRequest, GraphClient, GraphError};
use crate::licensing::{live_prop, skus, PROP};

/// The live ids of the groups the plan deletes for pruning.
fn pruned(desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Vec<String> {
    if !desired.governance.prune.kinds.iter().any(|k| k == Kind::Group.as_str()) || observed.unreadable.contains_key(&Kind::Group) {
        return Vec::new();
    }
    let live: std::collections::BTreeSet<&str> = observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| o.id.as_str()).collect();
    ledger
        .resources
        .iter()
        .filter(|(a, e)| a.kind == Kind::Group && !desired.resources.contains_key(*a) && live.contains(e.id.as_str()))
        .map(|(_, e)| e.id.clone())
        .collect()
}

/// Read the licences (and, when licensed, the direct members) of the
/// groups the plan prunes. Only an authentication failure is an error.
pub async fn read(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, observed: &mut ObservedState) -> Result<(), GraphError> {
    let ids = pruned(desired, ledger, observed);
    if ids.is_empty() {
        return Ok(());
    }
    match read_ids(client, &ids, observed).await {
        Err(e @ GraphError::Auth { .. }) => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "the licences of pruned groups could not be read; their deletes do not show them");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

async fn read_ids(client: &GraphClient, ids: &[String], observed: &mut ObservedState) -> Result<(), GraphError> {
    let v1 = client.v1();
    let requests = ids.iter().map(|id| BatchRequest::get(format!("/groups/{id}?$select=id,assignedLicenses"))).collect();
    let responses = v1.batch(requests).await?;
    let mut licensed: Vec<String> = Vec::new();
    let mut found: Vec<(String, Value)> = Vec::new();
    for (id, response) in ids.iter().zip(responses) {
        let body = response.into_result()?.unwrap_or(Value::Null);
        if body.get("assignedLicenses").and_then(Value::as_array).is_some_and(|l| !l.is_empty()) {
            licensed.push(id.clone());
            found.push((id.clone(), body));
        }
    }
    if licensed.is_empty() {
        return Ok(());
    }
    let skus = skus(client).await?;
    for (id, body) in found {
        if let Some(o) = observed.objects.get_mut(&Kind::Group).and_then(|l| l.iter_mut().find(|o| o.id == id)) {
            o.props.insert(PROP.into(), live_prop(body.get("assignedLicenses"), &skus));
        }
    }
    let requests = licensed.iter().map(|id| BatchRequest::get(format!("/groups/{id}/members?$select=id&$top=999"))).collect();
    let responses = v1.batch(requests).await?;
    for (id, response) in licensed.iter().zip(responses) {
        let body = response.into_result()?.unwrap_or(Value::Null);
        let mut items: Vec<Value> = body.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(link) = body.get("@odata.nextLink").and_then(Value::as_str) {
            items.extend(v1.list_all(link).await?);
        }
        let members = items
            .iter()
            .filter_map(|m| Some((m.get("id").and_then(Value::as_str)?.to_string(), engine::governance::live::member_type(m.get("@odata.type").and_then(Value::as_str)))))
            .collect();
        observed.memberships.entry(id.clone()).or_insert(members);
    }
    Ok(())
}
