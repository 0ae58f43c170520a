//! Stage 2 of the pipeline: read the live tenant into `ObservedState`.
//!
//! One listing per Graph collection (users and guests share `/users`;
//! update rings share `deviceConfigurations`), the collections read
//! concurrently, every page followed, the largest page size, `$select` on
//! directory objects, assignments and scheduled actions through `$expand`,
//! and per-object reads (group members and owners, Autopilot assignments)
//! through `$batch`, 20 at a time, only for the objects that need them.
//! A collection that cannot be read marks its kinds unreadable: unknown,
//! never drift.

use std::collections::{BTreeMap, BTreeSet};

use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::Kind;
use serde_json::Value;

use crate::graph::{BatchRequest, GraphClient, GraphError};
use crate::kinds::{assignment_filter, autopilot_profile, compliance_policy, conditional_access, device_configuration, group, guest, role_assignment, update_ring, user};

/// Which kinds to read: those declared or owned in the ledger.
pub fn kinds_in_scope(desired: &DesiredModel, ledger: &Ledger) -> BTreeSet<Kind> {
    desired.resources.keys().chain(ledger.resources.keys()).map(|a| a.kind).collect()
}

/// An error with its causes, for reasons shown to people.
fn chain(e: &GraphError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Read every collection the desired state and ledger need. A collection
/// that cannot be read makes its kinds unknown; failing to authenticate at
/// all is an error, since nothing could be read.
pub async fn observe(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger) -> Result<ObservedState, GraphError> {
    let kinds = kinds_in_scope(desired, ledger);
    let want = |ks: &[Kind]| ks.iter().any(|k| kinds.contains(k));
    let modified = std::sync::Mutex::new(BTreeMap::new());
    // Each read is boxed: their futures side by side in one join made the
    // caller's future large enough to overflow a 2 MB test-thread stack in
    // debug builds (tests/rollout_e2e.rs).
    let (users, groups, roles, configs, compliance, autopilot, ca, filters) = tokio::join!(
        maybe(want(&[Kind::User, Kind::Guest]), Box::pin(read_users(client))),
        maybe(want(&[Kind::Group]), Box::pin(read_groups(client, desired, ledger))),
        maybe(want(&[Kind::RoleAssignment]), Box::pin(read_role_assignments(client))),
        maybe(want(&[Kind::DeviceConfiguration, Kind::UpdateRing]), Box::pin(read_device_configurations(client, &modified))),
        maybe(want(&[Kind::CompliancePolicy]), Box::pin(read_compliance(client, &modified))),
        maybe(want(&[Kind::AutopilotProfile]), Box::pin(read_autopilot(client))),
        maybe(want(&[Kind::ConditionalAccess]), Box::pin(read_conditional_access(client))),
        maybe(want(&[Kind::AssignmentFilter]), Box::pin(read_assignment_filters(client))),
    );
    let mut observed = ObservedState::default();
    let mut pim = true;
    let roles = roles.map(|r| {
        r.map(|r| {
            pim = r.pim;
            r.objects
        })
    });
    let results: [(&[Kind], Read); 8] = [
        (&[Kind::User, Kind::Guest], users),
        (&[Kind::Group], groups),
        (&[Kind::RoleAssignment], roles),
        (&[Kind::DeviceConfiguration, Kind::UpdateRing], configs),
        (&[Kind::CompliancePolicy], compliance),
        (&[Kind::AutopilotProfile], autopilot),
        (&[Kind::ConditionalAccess], ca),
        (&[Kind::AssignmentFilter], filters),
    ];
    for (ks, result) in results {
        match result {
            None => {}
            Some(Ok(objects)) => {
                for k in ks {
                    observed.objects.entry(*k).or_default();
                }
                for o in objects {
                    observed.insert(o);
                }
            }
            Some(Err(e @ GraphError::Auth { .. })) => return Err(e),
            Some(Err(e)) => {
                let reason = chain(&e);
                tracing::warn!(error = %reason, "read failed; affected resources are unknown");
                for k in ks {
                    observed.unreadable.insert(*k, reason.clone());
                }
            }
        }
    }
    for list in observed.objects.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    observed.modified = modified.into_inner().unwrap_or_default();
    crate::kinds::update_profile::observe(client, &kinds, &mut observed).await?;
    if !pim && !observed.unreadable.contains_key(&Kind::RoleAssignment) {
        pim_unavailable(&mut observed, desired, ledger);
    }
    crate::membership::read_live(client, desired, ledger, &mut observed).await?;
    crate::ca_unmodelled::refuse(&mut observed, desired, ledger);
    Ok(observed)
}

/// Read every collection in full, with members and owners of every
/// assigned group: what `export` adopts. Any failed read is an error, since
/// an export that silently lacks a collection would not adopt it.
pub async fn observe_everything(client: &GraphClient) -> Result<ObservedState, GraphError> {
    let (desired, ledger) = (DesiredModel::default(), Ledger::default());
    let modified = std::sync::Mutex::new(BTreeMap::new());
    let (users, groups, roles, configs, compliance, autopilot, ca, filters) = tokio::join!(
        Box::pin(read_users(client)),
        Box::pin(read_groups_with(client, &desired, &ledger, true)),
        Box::pin(read_role_assignments(client)),
        Box::pin(read_device_configurations(client, &modified)),
        Box::pin(read_compliance(client, &modified)),
        Box::pin(read_autopilot(client)),
        Box::pin(read_conditional_access(client)),
        Box::pin(read_assignment_filters(client)),
    );
    let mut observed = ObservedState::default();
    for k in Kind::ALL {
        observed.objects.entry(k).or_default();
    }
    let roles = roles?;
    if !roles.pim {
        observed.warnings.push(role_assignment::PIM_UNAVAILABLE.into());
    }
    for list in [users?, groups?, roles.objects, configs?, compliance?, autopilot?, ca?, filters?] {
        for o in list {
            observed.insert(o);
        }
    }
    for list in observed.objects.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    crate::kinds::update_profile::observe_all(client, &mut observed).await?;
    Ok(observed)
}

/// One collection's read: not attempted, or its objects, or why it failed.
type Read = Option<Result<Vec<LiveObject>, GraphError>>;

async fn maybe<T, F: std::future::Future<Output = Result<T, GraphError>>>(wanted: bool, f: F) -> Option<Result<T, GraphError>> {
    if wanted {
        Some(f.await)
    } else {
        None
    }
}

async fn read_users(client: &GraphClient) -> Result<Vec<LiveObject>, GraphError> {
    let raw = client.v1().list_all(&format!("/users?$select={}&$top=999", user::SELECT)).await?;
    Ok(raw.iter().filter_map(|u| user::normalize(u).or_else(|| guest::normalize(u))).collect())
}

/// Groups, with members and owners for the groups whose membership is
/// managed: those whose natural key or ledger id a desired group with
/// members/owners names.
async fn read_groups(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger) -> Result<Vec<LiveObject>, GraphError> {
    read_groups_with(client, desired, ledger, false).await
}

/// Groups; with `everything`, members and owners of every assigned group (export).
async fn read_groups_with(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, everything: bool) -> Result<Vec<LiveObject>, GraphError> {
    let v1 = client.v1();
    let raw = v1.list_all(&format!("/groups?$select={}&$top=999", group::SELECT)).await?;
    let mut wants_members = BTreeSet::new();
    let mut wants_owners = BTreeSet::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::Group) {
        let ids: Vec<String> = ledger.id(&r.address).map(str::to_string).into_iter().collect();
        let keys = std::iter::once(r.natural_key.clone()).chain(ids);
        for k in keys {
            if r.props.contains_key("members") {
                wants_members.insert(k.clone());
            }
            if r.props.contains_key("owners") {
                wants_owners.insert(k);
            }
        }
    }
    let mut requests = Vec::new();
    for g in &raw {
        let id = crate::kinds::str_field(g, "id");
        let key = crate::kinds::str_field(g, "mailNickname").to_lowercase();
        let dynamic = g.get("groupTypes").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "DynamicMembership"));
        if !dynamic && (everything || wants_members.contains(&key) || wants_members.contains(id)) {
            requests.push(("members", id.to_string()));
        }
        if everything || wants_owners.contains(&key) || wants_owners.contains(id) {
            requests.push(("owners", id.to_string()));
        }
    }
    let related = read_related(&v1, &requests).await?;
    Ok(raw
        .iter()
        .map(|g| {
            let id = crate::kinds::str_field(g, "id").to_string();
            group::normalize(
                g,
                related.get(&("members", id.clone())).map(Vec::as_slice),
                related.get(&("owners", id)).map(Vec::as_slice),
            )
        })
        .collect())
}

/// `/groups/{id}/{rel}` for each request, 20 per `$batch`, following any
/// further pages of large groups. Returns the member/owner ids.
async fn read_related(
    client: &GraphClient,
    requests: &[(&'static str, String)],
) -> Result<BTreeMap<(&'static str, String), Vec<String>>, GraphError> {
    let batch: Vec<BatchRequest> = requests
        .iter()
        .map(|(rel, id)| BatchRequest::get(format!("/groups/{id}/{rel}?$select=id&$top=999")))
        .collect();
    let responses = client.batch(batch).await?;
    let mut out = BTreeMap::new();
    for ((rel, id), response) in requests.iter().zip(responses) {
        let body = response.into_result()?.unwrap_or(Value::Null);
        let mut ids: Vec<String> = ids_of(&body);
        if let Some(next) = body.get("@odata.nextLink").and_then(Value::as_str) {
            for item in client.list_all(next).await? {
                if let Some(i) = item.get("id").and_then(Value::as_str) {
                    ids.push(i.to_string());
                }
            }
        }
        ids.sort();
        out.insert((*rel, id.clone()), ids);
    }
    Ok(out)
}

fn ids_of(body: &Value) -> Vec<String> {
    body.get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Active assignments from `roleAssignments` (what holds a role now), with
/// the end of time-boxed ones from `roleAssignmentSchedules`; eligible ones
/// from `roleEligibilitySchedules`. The PIM lists answer
/// `400 AadPremiumLicenseRequired` on a tenant without Entra ID P2: then
/// the plain assignments are read on their own and PIM is unavailable.
async fn read_role_assignments(client: &GraphClient) -> Result<role_assignment::Read, GraphError> {
    let v1 = client.v1();
    let (active, schedules, eligible) = tokio::join!(
        v1.list_all("/roleManagement/directory/roleAssignments"),
        v1.list_all("/roleManagement/directory/roleAssignmentSchedules"),
        v1.list_all("/roleManagement/directory/roleEligibilitySchedules"),
    );
    let unlicensed = |r: &Result<Vec<Value>, GraphError>| matches!(r, Err(e) if e.code() == Some(role_assignment::LICENCE_REQUIRED));
    if unlicensed(&schedules) || unlicensed(&eligible) {
        return Ok(role_assignment::Read { objects: role_assignment::combine(&active?, None), pim: false });
    }
    Ok(role_assignment::Read { objects: role_assignment::combine(&active?, Some((&schedules?, &eligible?))), pim: true })
}

/// Without PIM, the desired assignments that need it are refused (naming
/// the licence), ledger entries that may be PIM schedules are unknown
/// rather than forgotten, and the plan says once why.
fn pim_unavailable(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    observed.warnings.push(role_assignment::PIM_UNAVAILABLE.into());
    let seen: BTreeSet<&str> = observed.objects.get(&Kind::RoleAssignment).into_iter().flatten().map(|o| o.id.as_str()).collect();
    let mut refused = BTreeMap::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::RoleAssignment && role_assignment::needs_pim(r)) {
        refused.insert(r.address.clone(), role_assignment::needs_pim_reason(r));
    }
    for (address, entry) in ledger.resources.iter().filter(|(a, _)| a.kind == Kind::RoleAssignment) {
        if !seen.contains(entry.id.as_str()) && !desired.resources.contains_key(address) {
            refused.insert(address.clone(), role_assignment::PIM_UNAVAILABLE.into());
        }
    }
    observed.refused.extend(refused);
}

/// Policies' `lastModifiedDateTime` (deviceConfiguration and
/// deviceCompliancePolicy both carry it), by id, for the rollout soak.
fn record_modified(raw: &[Value], into: &std::sync::Mutex<BTreeMap<String, String>>) {
    if let Ok(mut m) = into.lock() {
        for p in raw {
            if let Some(t) = p.get("lastModifiedDateTime").and_then(Value::as_str) {
                m.insert(crate::kinds::str_field(p, "id").to_string(), t.to_string());
            }
        }
    }
}

async fn read_device_configurations(client: &GraphClient, modified: &std::sync::Mutex<BTreeMap<String, String>>) -> Result<Vec<LiveObject>, GraphError> {
    let beta = client.beta();
    let mut raw = beta.list_all("/deviceManagement/deviceConfigurations?$expand=assignments&$top=999").await?;
    record_modified(&raw, modified);
    read_oma_plain_values(&beta, &mut raw).await?;
    read_filter_names(&beta, &mut raw).await?;
    Ok(raw
        .iter()
        .map(|p| {
            let kind = device_configuration::kind_of(p);
            let mut o = device_configuration::normalize_policy(p, kind);
            if kind == Kind::UpdateRing {
                update_ring::normalize_schedule(&mut o.props);
            }
            o
        })
        .collect())
}

/// Custom profiles come back from beta with string, Base64 and XML OMA
/// values encrypted (`****`); their plain values are read with
/// `getOmaSettingPlainTextValue`, through `$batch`, 20 at a time, only for
/// the encrypted settings, and put in place of the mask. A value that
/// cannot be read fails the read (the kinds become unknown), since
/// comparing a mask with desired state would show drift that is not there.
async fn read_oma_plain_values(beta: &GraphClient, raw: &mut [Value]) -> Result<(), GraphError> {
    let mut wanted: Vec<(usize, String)> = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        wanted.extend(device_configuration::encrypted_oma_references(p).into_iter().map(|r| (i, r)));
    }
    let mut plain: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    if !wanted.is_empty() {
        let requests = wanted
            .iter()
            .map(|(i, r)| BatchRequest::get(device_configuration::oma_plain_value_path(crate::kinds::str_field(&raw[*i], "id"), r)))
            .collect();
        for ((i, reference), response) in wanted.into_iter().zip(beta.batch(requests).await?) {
            let request = response.request.clone();
            let body = response.into_result()?.unwrap_or(Value::Null);
            let value = body.get("value").and_then(Value::as_str).ok_or_else(|| GraphError::UnexpectedResponse {
                request,
                reason: "getOmaSettingPlainTextValue answered without a string 'value'".into(),
            })?;
            plain.entry(i).or_default().insert(reference, value.to_string());
        }
    }
    let none = BTreeMap::new();
    for (i, p) in raw.iter_mut().enumerate() {
        let missing = device_configuration::decrypt_oma_settings(p, plain.get(&i).unwrap_or(&none));
        if !missing.is_empty() {
            let id = crate::kinds::str_field(p, "id").to_string();
            return Err(GraphError::UnexpectedResponse {
                request: crate::graph::RequestInfo { method: "GET".into(), path: format!("/beta/deviceManagement/deviceConfigurations/{id}") },
                reason: format!("{} encrypted OMA setting(s) without a readable plain value", missing.len()),
            });
        }
    }
    Ok(())
}

async fn read_compliance(client: &GraphClient, modified: &std::sync::Mutex<BTreeMap<String, String>>) -> Result<Vec<LiveObject>, GraphError> {
    const EXPAND: &str = "scheduledActionsForRule($expand=scheduledActionConfigurations)";
    let beta = client.beta();
    let base = "/deviceManagement/deviceCompliancePolicies";
    let mut raw = beta.list_all(&format!("{base}?$expand=assignments,{EXPAND}&$top=999")).await?;
    record_modified(&raw, modified);
    // Graph documents this expansion on the single GET; should a list come
    // back without it, read those policies one by one (batched) rather than
    // take a missing block action for "no grace period".
    let missing: Vec<usize> = (0..raw.len()).filter(|i| raw[*i].get("scheduledActionsForRule").is_none()).collect();
    if !missing.is_empty() {
        let requests = missing
            .iter()
            .map(|i| BatchRequest::get(format!("{base}/{}?$expand={EXPAND}", crate::kinds::str_field(&raw[*i], "id"))))
            .collect();
        for (i, response) in missing.into_iter().zip(beta.batch(requests).await?) {
            let body = response.into_result()?.unwrap_or(Value::Null);
            let rules = body.get("scheduledActionsForRule").cloned().unwrap_or(Value::Null);
            if let Some(m) = raw[i].as_object_mut() {
                m.insert("scheduledActionsForRule".into(), rules);
            }
        }
    }
    read_filter_names(&beta, &mut raw).await?;
    Ok(raw.iter().map(compliance_policy::normalize).collect())
}

/// Assignment filters (beta) are named in desired state by display name or
/// id; when any target uses one, the tenant's filters are read so both
/// compare.
async fn read_filter_names(beta: &GraphClient, raw: &mut [Value]) -> Result<(), GraphError> {
    if crate::kinds::uses_filters(raw) {
        let filters = beta.list_all("/deviceManagement/assignmentFilters").await?;
        crate::kinds::annotate_filter_names(raw, &filters);
    }
    Ok(())
}

/// Autopilot assignments are read per profile, batched.
async fn read_autopilot(client: &GraphClient) -> Result<Vec<LiveObject>, GraphError> {
    let beta = client.beta();
    let base = "/deviceManagement/windowsAutopilotDeploymentProfiles";
    let raw = beta.list_all(&format!("{base}?$top=999")).await?;
    let requests: Vec<BatchRequest> = raw
        .iter()
        .map(|p| BatchRequest::get(format!("{base}/{}/assignments", crate::kinds::str_field(p, "id"))))
        .collect();
    let responses = beta.batch(requests).await?;
    let mut out = Vec::new();
    for (p, response) in raw.iter().zip(responses) {
        let body = response.into_result()?.unwrap_or(Value::Null);
        let mut p = p.clone();
        if let Some(m) = p.as_object_mut() {
            m.insert("assignments".into(), body.get("value").cloned().unwrap_or(Value::Array(vec![])));
        }
        out.push(autopilot_profile::normalize(&p));
    }
    Ok(out)
}

async fn read_conditional_access(client: &GraphClient) -> Result<Vec<LiveObject>, GraphError> {
    let raw = client.v1().list_all("/identity/conditionalAccess/policies").await?;
    Ok(raw.iter().map(conditional_access::normalize).collect())
}

/// Assignment filters as a kind (beta only).
async fn read_assignment_filters(client: &GraphClient) -> Result<Vec<LiveObject>, GraphError> {
    let raw = client.beta().list_all(&format!("{}?$top=999", assignment_filter::PROVIDER.collection)).await?;
    Ok(raw.iter().map(assignment_filter::normalize).collect())
}
