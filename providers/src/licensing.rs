//! Licences of groups (group-based licensing) and users (direct
//! assignment): read, checked and written by SKU part number and service
//! plan name, resolved through `GET /subscribedSkus`.
//!
//! Stage 2 (read): after the collections are read, `read` fetches the
//! tenant's SKUs once and the `assignedLicenses` of exactly the declared
//! groups and users that declare `licenses` (`$batch`, 20 a call; export
//! lists them for every group and user), and puts them on the live object
//! as `assignedLicenses` in names, sorted, the form desired state has. It
//! refuses a declared SKU or plan the tenant does not have (naming the
//! file and the valid names) and a direct assignment beyond the seats
//! left, and says in the plan how many seats each SKU being assigned has
//! left. A read that fails makes those resources unknown, never drift.
//!
//! Apply: `assign` posts `assignLicense` with the licences to add (new
//! ones, and ones whose disabled plans changed) and the SKUs to remove.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use engine::apply::ExecError;
use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::kinds::licenses::License;
use schema::{Address, Kind};
use serde_json::{json, Value};

use crate::apply::{err, fail, Writer};
use crate::graph::{BatchRequest, GraphClient, GraphError, Method};

/// The property licences are compared under, on groups and users.
pub const PROP: &str = "assignedLicenses";

/// Desired licences as compared: `[{sku, disabledPlans}]`, by SKU, plans sorted.
pub fn desired_prop(list: &[License]) -> Value {
    let mut entries: Vec<(String, Vec<String>)> = list
        .iter()
        .map(|l| {
            let mut plans: Vec<String> = l.disabled_plans.iter().map(|p| p.trim().to_string()).collect();
            plans.sort();
            plans.dedup();
            (l.sku.trim().to_string(), plans)
        })
        .collect();
    entries.sort();
    Value::Array(entries.into_iter().map(|(sku, plans)| json!({"sku": sku, "disabledPlans": plans})).collect())
}

/// Licences as TOML, from the compared form.
pub fn export_list(v: Option<&Value>) -> Option<Vec<License>> {
    let list: Vec<License> = v?
        .as_array()?
        .iter()
        .filter_map(|e| {
            Some(License {
                sku: e.get("sku")?.as_str()?.to_string(),
                disabled_plans: e.get("disabledPlans").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect(),
            })
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

/// One subscribed SKU.
#[derive(Debug, Clone, PartialEq)]
pub struct Sku {
    pub id: String,
    pub part_number: String,
    /// Plan name -> plan id.
    pub plans: BTreeMap<String, String>,
    pub enabled: i64,
    pub consumed: i64,
}

impl Sku {
    pub fn available(&self) -> i64 {
        self.enabled - self.consumed
    }
}

/// The tenant's SKUs, by part number.
pub fn parse_skus(list: &[Value]) -> BTreeMap<String, Sku> {
    let mut out = BTreeMap::new();
    for s in list {
        let (Some(id), Some(part)) = (s.get("skuId").and_then(Value::as_str), s.get("skuPartNumber").and_then(Value::as_str)) else { continue };
        let plans = s
            .get("servicePlans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.get("servicePlanName")?.as_str()?.to_string(), p.get("servicePlanId")?.as_str()?.to_lowercase())))
            .collect();
        let enabled = s.pointer("/prepaidUnits/enabled").and_then(Value::as_i64).unwrap_or(0);
        let consumed = s.get("consumedUnits").and_then(Value::as_i64).unwrap_or(0);
        out.insert(part.to_string(), Sku { id: id.to_lowercase(), part_number: part.to_string(), plans, enabled, consumed });
    }
    out
}

/// The tenant's SKUs (prefetched with the listings: `listing_batch`).
pub(crate) const SKUS: &str = "/subscribedSkus";

pub(crate) async fn skus(client: &GraphClient) -> Result<BTreeMap<String, Sku>, GraphError> {
    Ok(parse_skus(&client.v1().list_all(SKUS).await?))
}

/// Live `assignedLicenses` (ids) in the compared form (names; an id the
/// tenant's SKUs do not name is kept as the id).
pub fn live_prop(assigned: Option<&Value>, skus: &BTreeMap<String, Sku>) -> Value {
    let by_id: BTreeMap<&str, &Sku> = skus.values().map(|s| (s.id.as_str(), s)).collect();
    let mut entries: Vec<(String, Vec<String>)> = Vec::new();
    for a in assigned.and_then(Value::as_array).into_iter().flatten() {
        let id = a.get("skuId").and_then(Value::as_str).unwrap_or_default().to_lowercase();
        let sku = by_id.get(id.as_str());
        let mut plans: Vec<String> = a
            .get("disabledPlans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|p| {
                let p = p.to_lowercase();
                sku.and_then(|s| s.plans.iter().find(|(_, pid)| **pid == p).map(|(n, _)| n.clone())).unwrap_or(p)
            })
            .collect();
        plans.sort();
        entries.push((sku.map(|s| s.part_number.clone()).unwrap_or(id), plans));
    }
    entries.sort();
    Value::Array(entries.into_iter().map(|(sku, plans)| json!({"sku": sku, "disabledPlans": plans})).collect())
}

/// `(sku, disabled plans)` pairs of a compared value.
fn pairs(v: Option<&Value>) -> Vec<(String, Vec<String>)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let plans = e.get("disabledPlans").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
            Some((e.get("sku")?.as_str()?.to_string(), plans))
        })
        .collect()
}

/// What is wrong with a declared list, given the tenant's SKUs.
pub fn problems(declared: Option<&Value>, skus: &BTreeMap<String, Sku>) -> Vec<String> {
    let mut out = Vec::new();
    let names = || skus.keys().cloned().collect::<Vec<_>>().join(", ");
    for (i, (sku, plans)) in pairs(declared).into_iter().enumerate() {
        let Some(s) = skus.get(&sku) else {
            let hint = skus.keys().find(|k| k.eq_ignore_ascii_case(&sku)).map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default();
            out.push(format!("licenses[{i}]: `{sku}` is not a SKU this tenant subscribes to{hint}; its SKUs: {}", if skus.is_empty() { "(none)".into() } else { names() }));
            continue;
        };
        for p in plans {
            if !s.plans.contains_key(&p) {
                let valid: Vec<&str> = s.plans.keys().map(String::as_str).collect();
                out.push(format!("licenses[{i}]: `{p}` is not a service plan of {sku}; its plans: {}", valid.join(", ")));
            }
        }
    }
    out
}

/// Declared users and groups that declare licences, with the live id each
/// is matched to (ledger id, else natural key).
fn targets<'a>(desired: &'a DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Vec<(&'a Address, Option<String>)> {
    let mut out = Vec::new();
    let (groups, users) = (Live::of(observed, Kind::Group), Live::of(observed, Kind::User));
    for (a, r) in &desired.resources {
        if !matches!(a.kind, Kind::Group | Kind::User) || !r.props.contains_key(PROP) {
            continue;
        }
        let live = if a.kind == Kind::Group { &groups } else { &users };
        let by_ledger = ledger.id(a).and_then(|id| live.by_id(id));
        let found = by_ledger.or_else(|| live.by_natural_key(&r.natural_key)).map(|o| o.id.clone());
        out.push((a, found));
    }
    out
}

/// The live objects of one kind by id and by natural key, looked up in
/// constant time: a scan of the kind's objects per declared or listed
/// object made reading licences quadratic (issue 13: at 100k objects,
/// most of `export`'s CPU went to finding each of 70,000 users among
/// them).
struct Live<'a> {
    by_id: HashMap<&'a str, &'a LiveObject>,
    /// The first object of each natural key, as a scan would find it.
    by_key: HashMap<&'a str, &'a LiveObject>,
}

impl<'a> Live<'a> {
    fn of(observed: &'a ObservedState, kind: Kind) -> Live<'a> {
        Live::of_objects(&observed.objects, kind)
    }

    fn of_objects(objects: &'a BTreeMap<Kind, Vec<LiveObject>>, kind: Kind) -> Live<'a> {
        let objects = objects.get(&kind).map(Vec::as_slice).unwrap_or_default();
        let mut live = Live { by_id: HashMap::with_capacity(objects.len()), by_key: HashMap::with_capacity(objects.len()) };
        for o in objects {
            live.by_id.entry(o.id.as_str()).or_insert(o);
            live.by_key.entry(o.natural_key.as_str()).or_insert(o);
        }
        live
    }

    fn by_id(&self, id: &str) -> Option<&'a LiveObject> {
        self.by_id.get(id).copied()
    }

    fn by_natural_key(&self, key: &str) -> Option<&'a LiveObject> {
        self.by_key.get(key).copied()
    }
}

/// Put each `(kind, id, licences)` on the live object of that id (the
/// first, as a scan would), in one pass over each kind's objects: linear,
/// where finding each object by a scan was quadratic. Ids no live object
/// has are skipped.
fn attach(observed: &mut ObservedState, read: Vec<(Kind, &str, Value)>) {
    let mut at: HashMap<(Kind, &str), usize> = HashMap::new();
    for kind in [Kind::Group, Kind::User] {
        for (i, o) in observed.objects.get(&kind).into_iter().flatten().enumerate() {
            at.entry((kind, o.id.as_str())).or_insert(i);
        }
    }
    let places: Vec<(Kind, usize, Value)> = read.into_iter().filter_map(|(kind, id, v)| at.get(&(kind, id)).map(|&i| (kind, i, v))).collect();
    drop(at);
    for (kind, i, v) in places {
        if let Some(o) = observed.objects.get_mut(&kind).and_then(|list| list.get_mut(i)) {
            o.props.insert(PROP.into(), v);
        }
    }
}

/// The read of one declared user's or group's licences (in the
/// listings' `$batch` when its ledger id is known: `listing_batch`).
pub(crate) fn read_path(kind: Kind, id: &str) -> String {
    format!("/{}/{id}?$select={}", collection(kind), select(kind))
}

fn collection(kind: Kind) -> &'static str {
    if kind == Kind::Group { "groups" } else { "users" }
}

/// What is `$select`ed to read an object's licences: a user's own come
/// from `licenseAssignmentStates` (its `assignedLicenses` also holds the
/// ones its groups give it).
fn select(kind: Kind) -> &'static str {
    if kind == Kind::Group { "id,assignedLicenses" } else { "id,assignedLicenses,licenseAssignmentStates" }
}

/// The licences assigned to the object itself: for a user, the states not
/// `assignedByGroup`; else (groups, or no states served) `assignedLicenses`.
pub fn own_licenses(raw: &Value) -> Option<Value> {
    match raw.get("licenseAssignmentStates").and_then(Value::as_array) {
        Some(states) => Some(Value::Array(
            states
                .iter()
                .filter(|s| s.get("assignedByGroup").is_none_or(Value::is_null))
                .map(|s| json!({"skuId": s.get("skuId").cloned().unwrap_or(Value::Null), "disabledPlans": s.get("disabledPlans").cloned().unwrap_or(json!([]))}))
                .collect(),
        )),
        None => raw.get("assignedLicenses").cloned(),
    }
}

/// Read the licences of declared users and groups that declare them (of
/// every user and group with `everything`, for export), check them, and
/// note seats. Only an authentication failure is an error, or any failure
/// with `everything` (an export must not silently lack licences).
pub async fn read(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, observed: &mut ObservedState, everything: bool) -> Result<(), GraphError> {
    if everything {
        return read_everything(client, observed).await;
    }
    let targets = targets(desired, ledger, observed);
    let targets: Vec<_> = targets.into_iter().filter(|(a, _)| !observed.unreadable.contains_key(&a.kind)).collect();
    if targets.is_empty() {
        return Ok(());
    }
    let skus = match skus(client).await {
        Ok(s) => s,
        Err(e @ GraphError::Auth { .. }) => return Err(e),
        Err(e) => {
            for (a, _) in &targets {
                observed.unread.insert((*a).clone(), format!("its licences could not be read: GET /subscribedSkus: {e}"));
            }
            return Ok(());
        }
    };
    let found: Vec<(&Address, String)> = targets.iter().filter_map(|(a, id)| id.clone().map(|i| (*a, i))).collect();
    let requests = found.iter().map(|(a, id)| BatchRequest::get(read_path(a.kind, id))).collect();
    let responses = client.v1().batch(requests).await;
    let responses = match responses {
        Ok(r) => r,
        Err(e @ GraphError::Auth { .. }) => return Err(e),
        Err(e) => {
            for (a, _) in &found {
                observed.unread.insert((*a).clone(), format!("its licences could not be read: {e}"));
            }
            return Ok(());
        }
    };
    let mut read = Vec::new();
    for ((a, id), response) in found.iter().zip(responses) {
        match response.into_result() {
            Ok(body) => {
                let body = body.unwrap_or(Value::Null);
                read.push((a.kind, id.as_str(), live_prop(own_licenses(&body).as_ref(), &skus)));
            }
            Err(e) => {
                observed.unread.insert((*a).clone(), format!("its licences could not be read: {e}"));
            }
        }
    }
    attach(observed, read);
    check(desired, &targets, &skus, observed);
    Ok(())
}

/// Refuse unknown names and direct assignments beyond the seats; say how
/// many seats each SKU being added has.
fn check(desired: &DesiredModel, targets: &[(&Address, Option<String>)], skus: &BTreeMap<String, Sku>, observed: &mut ObservedState) {
    // SKU -> (users it is added to directly, groups it is added to).
    let mut adding: BTreeMap<String, (Vec<&Address>, Vec<&Address>)> = BTreeMap::new();
    let live_objects = [Kind::Group, Kind::User].map(|kind| (kind, Live::of_objects(&observed.objects, kind)));
    for (a, id) in targets {
        let Some(r) = desired.resources.get(*a) else { continue };
        let found = problems(r.props.get(PROP), skus);
        if !found.is_empty() {
            let file = desired.origins.get(*a).map(|f| format!(" (declared in {f})")).unwrap_or_default();
            observed.refused.insert((*a).clone(), format!("licences{file}: {}", found.join("; ")));
            continue;
        }
        let live: BTreeSet<String> = id
            .as_deref()
            .and_then(|i| live_objects.iter().find(|(k, _)| *k == a.kind).and_then(|(_, live)| live.by_id(i)))
            .map(|o| pairs(o.props.get(PROP)).into_iter().map(|(s, _)| s).collect())
            .unwrap_or_default();
        for (sku, _) in pairs(r.props.get(PROP)) {
            if !live.contains(&sku) {
                let e = adding.entry(sku).or_default();
                if a.kind == Kind::User { e.0.push(a) } else { e.1.push(a) }
            }
        }
    }
    for (sku, (users, groups)) in adding {
        let Some(s) = skus.get(&sku) else { continue };
        let available = s.available();
        let to: Vec<String> = users.iter().chain(groups.iter()).map(|a| a.to_string()).collect();
        observed.warnings.push(format!("licences: {sku} has {available} of {} seats available; assigned to {}", s.enabled, to.join(", ")));
        let direct = users.len();
        if direct as i64 > available {
            for a in users {
                observed.refused.insert(a.clone(), format!("licence {sku} has {available} seat(s) left, fewer than the {direct} user(s) this plan assigns it to directly"));
            }
        } else if !groups.is_empty() && available <= users.len() as i64 {
            observed.warnings.push(format!("licences: {sku} has no seat left for the members of {}: Entra assigns none to members beyond the seats", groups.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")));
        }
    }
}

/// Export: the licences of every group and user.
async fn read_everything(client: &GraphClient, observed: &mut ObservedState) -> Result<(), GraphError> {
    let skus = skus(client).await?;
    for kind in [Kind::Group, Kind::User] {
        let list = client.v1().list_all(&format!("/{}?$select={}&$top=999", collection(kind), select(kind))).await?;
        let read = list.iter().map(|raw| (kind, raw.get("id").and_then(Value::as_str).unwrap_or_default(), live_prop(own_licenses(raw).as_ref(), &skus))).collect();
        attach(observed, read);
    }
    Ok(())
}

/// Whether `e` is Entra refusing to delete a group because licences are
/// assigned to it: a 400 whose message says so ("Unable to delete the
/// group because there is a product license assigned to the group. To
/// delete this group, remove any product licenses first.", the text
/// Entra gives; the Graph error code for it is not documented, so the
/// message is what is matched). Any other 400 is not retried.
pub fn refuses_licensed_delete(e: &crate::graph::GraphError) -> bool {
    match e {
        crate::graph::GraphError::InvalidRequest { status: 400, detail, .. } => detail.message.to_ascii_lowercase().contains("product license assigned to the group"),
        _ => false,
    }
}

/// Remove every licence assigned to group `id` itself, so that it can be
/// deleted: Entra refuses to delete a group that has licences assigned
/// (entra-docs `licensing-group-advanced.md`, "Deleting a group with an
/// assigned license"). A group already gone is left to the delete.
pub async fn remove_all_from_group(w: &Writer<'_>, id: &str) -> Result<(), ExecError> {
    let api = w.client().v1();
    let live_raw = match api.get_json(&format!("/groups/{id}?$select={}", select(Kind::Group))).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(fail(e)),
    };
    let remove: Vec<Value> = live_raw.get("assignedLicenses").and_then(Value::as_array).into_iter().flatten().filter_map(|l| l.get("skuId").cloned()).collect();
    if remove.is_empty() {
        return Ok(());
    }
    let body = json!({"addLicenses": [], "removeLicenses": remove});
    w.send(&api, Method::POST, &format!("/groups/{id}/assignLicense"), Some(body)).await?;
    Ok(())
}

/// Write the declared licences of the group or user `id`: add new ones and
/// ones whose disabled plans changed, remove the others.
pub async fn assign(w: &Writer<'_>, kind: Kind, id: &str) -> Result<(), ExecError> {
    let r = w.desired()?;
    let Some(want) = r.props.get(PROP) else { return Ok(()) };
    let api = w.client().v1();
    let skus = skus(&api).await.map_err(fail)?;
    let found = problems(Some(want), &skus);
    if !found.is_empty() {
        return Err(err(format!("{}: {}", w.address(), found.join("; "))));
    }
    let live_raw = api.get_json(&format!("/{}/{id}?$select={}", collection(kind), select(kind))).await.map_err(fail)?;
    let live = pairs(Some(&live_prop(own_licenses(&live_raw).as_ref(), &skus)));
    let wanted = pairs(Some(want));
    let mut add = Vec::new();
    for (sku, plans) in &wanted {
        if live.iter().any(|(s, p)| s == sku && p == plans) {
            continue;
        }
        let Some(s) = skus.get(sku) else { continue };
        let disabled: Vec<&str> = plans.iter().filter_map(|p| s.plans.get(p).map(String::as_str)).collect();
        add.push(json!({"skuId": s.id, "disabledPlans": disabled}));
    }
    let remove: Vec<Value> = live
        .iter()
        .filter(|(sku, _)| !wanted.iter().any(|(w, _)| w == sku))
        .map(|(sku, _)| skus.get(sku).map(|s| json!(s.id)).unwrap_or_else(|| json!(sku)))
        .collect();
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    let body = json!({"addLicenses": add, "removeLicenses": remove});
    w.send(&api, Method::POST, &format!("/{}/{id}/assignLicense", collection(kind)), Some(body)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> BTreeMap<String, Sku> {
        parse_skus(&[json!({
            "skuId": "05E9A617-0261-4CEE-BB44-138D3EF5D965", "skuPartNumber": "SPE_E3", "consumedUnits": 3,
            "prepaidUnits": {"enabled": 5, "suspended": 0, "warning": 0},
            "servicePlans": [
                {"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "servicePlanName": "EXCHANGE_S_ENTERPRISE"},
                {"servicePlanId": "7547a3fe-08ee-4ccb-b430-5077c5041653", "servicePlanName": "YAMMER_ENTERPRISE"}
            ]
        })])
    }

    #[test]
    fn names_and_ids_round_trip_and_compare_sorted() {
        let skus = tenant();
        assert_eq!(skus["SPE_E3"].available(), 2);
        let declared = desired_prop(&[License { sku: "SPE_E3".into(), disabled_plans: vec!["YAMMER_ENTERPRISE".into(), "EXCHANGE_S_ENTERPRISE".into()] }]);
        let live = live_prop(Some(&json!([{"skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "disabledPlans": ["7547A3FE-08EE-4CCB-B430-5077C5041653", "efb87545-963c-4e0d-99df-69c6916d9eb0"]}])), &skus);
        assert_eq!(declared, live);
        assert!(problems(Some(&declared), &skus).is_empty());
        assert_eq!(export_list(Some(&live)).map(|l| l.len()), Some(1));
        assert_eq!(export_list(Some(&json!([]))), None);
    }

    #[test]
    fn unknown_names_are_named_with_the_valid_ones() {
        let skus = tenant();
        let p = problems(Some(&desired_prop(&[License { sku: "spe_e3".into(), disabled_plans: vec![] }])), &skus);
        assert!(p[0].contains("did you mean `SPE_E3`") && p[0].contains("its SKUs: SPE_E3"), "{p:?}");
        let p = problems(Some(&desired_prop(&[License { sku: "SPE_E3".into(), disabled_plans: vec!["TEAMS1".into()] }])), &skus);
        assert!(p[0].contains("`TEAMS1` is not a service plan of SPE_E3; its plans: EXCHANGE_S_ENTERPRISE, YAMMER_ENTERPRISE"), "{p:?}");
    }
}

#[cfg(test)]
mod licensed_delete_tests {
    use super::refuses_licensed_delete;
    use crate::graph::{ApiErrorBody, GraphError, RequestInfo};

    fn bad_request(message: &str) -> GraphError {
        GraphError::InvalidRequest { request: RequestInfo { method: "DELETE".into(), path: "/v1.0/groups/x".into() }, status: 400, detail: Box::new(ApiErrorBody { code: "Request_BadRequest".into(), message: message.into(), ..Default::default() }) }
    }

    #[test]
    fn only_the_licence_refusal_is_retried_after_removing_licences() {
        assert!(refuses_licensed_delete(&bad_request("Unable to delete the group because there is a product license assigned to the group. To delete this group, remove any product licenses first.")));
        assert!(!refuses_licensed_delete(&bad_request("Invalid object identifier 'x'.")));
    }
}

/// Licences of a whole tenant found on their objects in linear work: 100k
/// users and 20k groups, listed in the reverse of the observed order. A
/// scan of a kind's objects per listed object (as `read_everything` and
/// `targets` did, issue 13) is 5 * 10^9 id comparisons here, minutes of
/// CPU; a lookup is well under a second. What is asserted is the result:
/// every object given its own licences, once, and found by ledger id or
/// natural key.
#[cfg(test)]
mod at_scale {
    use super::*;
    use engine::{DesiredResource, Props};

    const USERS: usize = 100_000;
    const GROUPS: usize = 20_000;

    fn live(kind: Kind, i: usize) -> LiveObject {
        LiveObject { kind, id: format!("{}-{i:08}", kind.as_str()), natural_key: format!("{}{i}@contoso.example", kind.as_str()), display_name: format!("{i}"), props: Props::new() }
    }

    fn licences(i: usize) -> Value {
        json!([{"sku": format!("SKU{}", i % 7), "disabledPlans": []}])
    }

    #[test]
    fn every_object_of_a_large_tenant_is_found_once_by_id_or_natural_key() {
        let mut observed = ObservedState::default();
        for i in 0..USERS {
            observed.insert(live(Kind::User, i));
        }
        for i in 0..GROUPS {
            observed.insert(live(Kind::Group, i));
        }
        // As listed: reversed, plus an id no observed object has.
        let ids: Vec<(Kind, String)> = (0..USERS).rev().map(|i| (Kind::User, live(Kind::User, i).id)).chain((0..GROUPS).rev().map(|i| (Kind::Group, live(Kind::Group, i).id))).collect();
        let mut read: Vec<(Kind, &str, Value)> = ids.iter().map(|(k, id)| (*k, id.as_str(), licences(id[id.len() - 8..].parse().expect("a number")))).collect();
        read.push((Kind::User, "not-observed", licences(0)));
        attach(&mut observed, read);
        for kind in [Kind::User, Kind::Group] {
            for (i, o) in observed.objects[&kind].iter().enumerate() {
                assert_eq!(o.props.get(PROP), Some(&licences(i)), "{}", o.id);
            }
        }

        // Every user declared with licences: half bound in the ledger, half
        // found by natural key.
        let mut desired = DesiredModel::default();
        let mut ledger = Ledger::default();
        for i in 0..USERS {
            let a = Address::new(Kind::User, format!("u{i}"));
            let mut props = Props::new();
            props.insert(PROP.into(), licences(i));
            let o = live(Kind::User, i);
            if i % 2 == 0 {
                ledger.record(a.clone(), o.id.clone(), None, None);
            }
            desired.insert(DesiredResource { address: a, natural_key: o.natural_key, display_name: o.display_name, props, immutable: Vec::new(), assignment_props: Vec::new(), create_only: Props::new(), depends_on: Vec::new(), expires: None });
        }
        let found = targets(&desired, &ledger, &observed);
        assert_eq!(found.len(), USERS);
        for (a, id) in &found {
            let i: usize = a.key[1..].parse().expect("a number");
            assert_eq!(id.as_deref(), Some(live(Kind::User, i).id.as_str()), "{a}");
        }
        // Declared as live: no SKU is being added, nothing refused or warned.
        let skus = parse_skus(&(0..7).map(|n| json!({"skuId": format!("00000000-0000-0000-0000-00000000000{n}"), "skuPartNumber": format!("SKU{n}"), "consumedUnits": 0, "prepaidUnits": {"enabled": 1, "suspended": 0, "warning": 0}, "servicePlans": []})).collect::<Vec<_>>());
        check(&desired, &found, &skus, &mut observed);
        assert!(observed.refused.is_empty() && observed.warnings.is_empty(), "{:?}", observed.warnings.first());
    }
}
