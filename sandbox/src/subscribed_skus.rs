//! Licences: the tenant's subscribed SKUs (`GET /subscribedSkus`) and
//! `POST /groups/{id}/assignLicense` / `POST /users/{id}/assignLicense`,
//! as strict as Graph: both `addLicenses` and `removeLicenses` required
//! (possibly empty), a SKU the tenant does not subscribe to or a plan not
//! in the SKU is refused, removing a licence not assigned is refused, a
//! user without `usageLocation` cannot be licensed, and a direct
//! assignment beyond the SKU's seats is refused. Group-based licences are
//! not refused for seats (Entra records a per-user error instead).
//!
//! Consumed seats count each user once per SKU, whether licensed directly
//! or as a direct member of a licensed group. Not modelled: group-inherited
//! licences showing on the user object (`assignedLicenses` and
//! `licenseAssignmentStates` of a user hold its direct licences only).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::error::GraphError;
use crate::graph::{body_object, Ctx, GReq, GResp};
use crate::store::{Tenant, MEMBERS};

/// (skuId, skuPartNumber, seats, [(servicePlanId, servicePlanName)]).
type SkuDef = (&'static str, &'static str, i64, &'static [(&'static str, &'static str)]);

/// The sandbox tenant's subscriptions (ids as Microsoft publishes them).
pub const SKUS: &[SkuDef] = &[
    (
        "05e9a617-0261-4cee-bb44-138d3ef5d965",
        "SPE_E3",
        25,
        &[
            ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE"),
            ("c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "INTUNE_A"),
            ("43de0ff5-c92c-492b-9116-175376d08c38", "OFFICESUBSCRIPTION"),
            ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE"),
            ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YAMMER_ENTERPRISE"),
        ],
    ),
    (
        "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
        "EMS",
        10,
        &[("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM"), ("c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "INTUNE_A")],
    ),
    ("f8a1db68-be16-40ed-86d5-cb42ce701560", "POWER_BI_PRO", 1, &[("70d33638-9c74-4d01-bfd3-562de28bd4ba", "BI_AZURE_P2")]),
];

fn sku(id: &str) -> Option<&'static SkuDef> {
    SKUS.iter().find(|s| s.0.eq_ignore_ascii_case(id))
}

fn skus_of(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|l| l.get("skuId").and_then(Value::as_str)).map(str::to_lowercase).collect()
}

/// Users holding each SKU (directly, or as a direct member of a group holding it).
fn consumed(t: &Tenant) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, u) in t.coll("users").into_iter().flatten() {
        for s in skus_of(u.data.get("assignedLicenses")) {
            out.entry(s).or_default().insert(id.clone());
        }
    }
    for (gid, g) in t.coll("groups").into_iter().flatten() {
        let held = skus_of(g.data.get("assignedLicenses"));
        if held.is_empty() {
            continue;
        }
        for m in t.links(gid, MEMBERS).into_iter().flatten() {
            if t.get("users", m).is_some() {
                for s in &held {
                    out.entry(s.clone()).or_default().insert(m.clone());
                }
            }
        }
    }
    out
}

/// `GET /subscribedSkus`.
pub fn list(t: &Tenant, ctx: &Ctx, req: &GReq) -> Result<GResp, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    let used = consumed(t);
    let value: Vec<Value> = SKUS
        .iter()
        .map(|(id, part, seats, plans)| {
            json!({
                "id": format!("{}_{id}", t.info.tenant_id),
                "accountId": t.info.tenant_id,
                "accountName": t.info.display_name,
                "appliesTo": "User",
                "capabilityStatus": "Enabled",
                "consumedUnits": used.get(*id).map_or(0, BTreeSet::len),
                "prepaidUnits": {"enabled": seats, "lockedOut": 0, "suspended": 0, "warning": 0},
                "servicePlans": plans.iter().map(|(pid, name)| json!({"servicePlanId": pid, "servicePlanName": name, "provisioningStatus": "Success", "appliesTo": "User"})).collect::<Vec<_>>(),
                "skuId": id,
                "skuPartNumber": part,
                "subscriptionIds": [],
            })
        })
        .collect();
    Ok(GResp::json(200, json!({"@odata.context": ctx.context("subscribedSkus"), "value": value})))
}

fn guid_list(body: &Map<String, Value>, name: &str) -> Result<Vec<Value>, GraphError> {
    match body.get(name) {
        Some(Value::Array(a)) => Ok(a.clone()),
        _ => Err(GraphError::bad_request(format!("Invalid value specified for property '{name}' of resource 'assignLicense': a collection is required."))),
    }
}

/// `POST /{users|groups}/{id}/assignLicense`.
pub fn assign(t: &mut Tenant, ctx: &Ctx, req: &GReq, coll: &str, id: &str) -> Result<GResp, GraphError> {
    if req.method != "POST" {
        return Err(GraphError::method_not_allowed());
    }
    let body = body_object(req)?;
    if let Some(extra) = body.keys().find(|k| *k != "addLicenses" && *k != "removeLicenses") {
        return Err(GraphError::bad_request(format!("The parameter '{extra}' in the request payload is not a valid parameter for the operation 'assignLicense'.")));
    }
    let add = guid_list(&body, "addLicenses")?;
    let remove = guid_list(&body, "removeLicenses")?;
    let rec = t.get(coll, id).cloned().ok_or_else(|| GraphError::not_found(id))?;
    let mut held: Vec<Value> = rec.data.get("assignedLicenses").and_then(Value::as_array).cloned().unwrap_or_default();
    let held_ids: BTreeSet<String> = skus_of(Some(&Value::Array(held.clone()))).into_iter().collect();
    if coll == "users" && !add.is_empty() && rec.data.get("usageLocation").is_none_or(Value::is_null) {
        return Err(GraphError::bad_request("License assignment cannot be done for user with invalid usage location."));
    }
    let mut new_entries = Vec::new();
    for a in &add {
        let sku_id = a.get("skuId").and_then(Value::as_str).unwrap_or_default().to_lowercase();
        let Some((sid, _, seats, plans)) = sku(&sku_id) else {
            return Err(GraphError::bad_request(format!("License {sku_id} does not correspond to a valid company License.")));
        };
        let disabled: Vec<String> = match a.get("disabledPlans") {
            Some(Value::Array(p)) => p.iter().map(|x| x.as_str().unwrap_or_default().to_lowercase()).collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(GraphError::bad_request("Invalid value specified for property 'disabledPlans' of resource 'AssignedLicense'.")),
        };
        for p in &disabled {
            if !plans.iter().any(|(pid, _)| pid.eq_ignore_ascii_case(p)) {
                return Err(GraphError::bad_request(format!("Service plan {p} is not a service plan of license {sid}.")));
            }
        }
        if coll == "users" && !held_ids.contains(*sid) {
            let used = consumed(t).get(*sid).map_or(0, BTreeSet::len) as i64;
            let already = consumed(t).get(*sid).is_some_and(|u| u.contains(id));
            if !already && used >= *seats {
                return Err(GraphError::bad_request(format!("Subscription for license {sid} does not have any available licenses.")));
            }
        }
        new_entries.push(json!({"disabledPlans": disabled, "skuId": sid}));
    }
    for r in &remove {
        let rid = r.as_str().unwrap_or_default().to_lowercase();
        if !held_ids.contains(&rid) {
            return Err(GraphError::bad_request(format!("User does not have a corresponding license {rid}.")));
        }
    }
    let removed: BTreeSet<String> = remove.iter().filter_map(Value::as_str).map(str::to_lowercase).collect();
    let added: BTreeSet<String> = skus_of(Some(&Value::Array(new_entries.clone()))).into_iter().collect();
    held.retain(|l| {
        let s = l.get("skuId").and_then(Value::as_str).unwrap_or_default().to_lowercase();
        !removed.contains(&s) && !added.contains(&s)
    });
    held.extend(new_entries);
    held.sort_by(|a, b| a.get("skuId").and_then(Value::as_str).cmp(&b.get("skuId").and_then(Value::as_str)));
    let states: Vec<Value> = held
        .iter()
        .map(|l| json!({"assignedByGroup": null, "disabledPlans": l.get("disabledPlans").cloned().unwrap_or(json!([])), "error": "None", "skuId": l.get("skuId").cloned().unwrap_or(Value::Null), "state": "Active"}))
        .collect();
    let is_user = coll == "users";
    t.update(coll, id, |r| {
        r.data.insert("assignedLicenses".into(), Value::Array(held));
        if is_user {
            r.data.insert("licenseAssignmentStates".into(), Value::Array(states));
        }
    });
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(ctx.context(&format!("{coll}/$entity"))));
    if let Some(r) = t.get(coll, id) {
        out.extend(r.data.clone());
    }
    // Graph answers a group's assignment 202 Accepted (it is processed in
    // the background), a user's 200 OK.
    Ok(GResp::json(if is_user { 200 } else { 202 }, Value::Object(out)))
}
