//! One module per resource kind: how its desired TOML maps to Graph's
//! normalized properties (`desired`), how a live Graph object maps to the
//! same shape (`normalize`), and which collection it is read from. Reads are
//! organised by Graph collection in `crate::observe`, because some
//! collections hold two kinds (users and guests; device configurations and
//! update rings). Each kind registers its `PROVIDER` in [`registry`].

pub mod assignment_filter;
pub mod authentication_strength;
pub mod autopilot_profile;
pub mod compliance_policy;
pub mod conditional_access;
pub mod device_category;
pub mod device_configuration;
pub mod driver_update_profile;
pub mod feature_update_profile;
pub mod group;
pub mod intune_common;
pub mod guest;
pub mod named_location;
pub mod quality_update_profile;
pub mod registry;
pub mod role_assignment;
pub mod rollout;
pub mod scope_tag;
pub mod settings_catalog;
pub mod update_profile;
pub mod update_ring;
pub mod user;
pub mod authorization_policy;
pub mod cross_tenant_access;
pub mod settings_catalog_template;
pub mod platform_script;
pub mod remediation;
pub mod enrollment_status_page;
pub mod enrollment_restriction;
pub mod intune_role_definition;
pub mod intune_role_assignment;
pub mod authentication_methods_policy;
pub mod role_policy;
pub mod role_policy_licence;
pub mod role_definition;
pub mod administrative_unit;
pub mod mobile_app;
pub mod winget_app;
pub mod m365_apps;
pub mod app_assignment;
pub mod graph_object;
pub mod access_catalog;
pub mod access_catalog_extensions;
pub mod access_package;
pub mod access_package_export;
pub mod access_policy_props;
pub mod access_policy_pending;
pub mod access_policy_audience;
pub mod access_policy_reach;
pub mod access_policy_approvers;
pub mod access_package_deleted_requests;
pub mod settings_catalog_secret;
pub mod access_package_assignment;
pub mod access_package_incompatible;
pub mod entitlement_licence;
pub mod access_policy_rename;
pub mod access_package_policy_write;
pub mod access_policy_keys;
pub mod access_policy_review;
pub mod access_policy_questions;
pub mod access_policy_stages;
pub mod access_extension_guard;
pub mod access_policy_automatic;
pub mod access_package_removal;
pub mod access_package_roles_added;
pub mod access_resources;
pub mod access_package_live;

use std::collections::BTreeSet;

use engine::model::reference;
use engine::{DesiredModel, DesiredResource, Props};
use schema::kinds::Assignments;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};

/// Build the engine's desired model from loaded desired state.
pub fn desired_model(state: &DesiredState) -> DesiredModel {
    let mut m = DesiredModel { governance: state.governance(), ..Default::default() };
    for p in registry::all() {
        (p.desired)(state, &mut m);
    }
    // Policies rolled out ring by ring become one resource per ring.
    rollout::expand(state, &mut m);
    assignment_filter::depend_on_filters(state, &mut m);
    governance_sets(state, &mut m);
    m.governance.declared = declared_governance(&m);
    // Built again from its sorted entries: a map grown by insert, in key
    // order, leaves its nodes about half full, and this one is held for
    // the whole run (at 100k resources, 48 MB of nodes; issue 13).
    let resources = std::mem::take(&mut *m.resources);
    m.resources = resources.into_iter().collect();
    m
}

/// Governance the objects declare on themselves, recorded with
/// `[governance]` in the trust root (see `Governance::declared`).
fn declared_governance(m: &DesiredModel) -> std::collections::BTreeMap<String, schema::kinds::governance::Declared> {
    let mut out: std::collections::BTreeMap<String, schema::kinds::governance::Declared> = std::collections::BTreeMap::new();
    for g in &m.protected_groups {
        out.entry(g.to_string()).or_default().protected = true;
    }
    for s in &m.service_accounts {
        let d = out.entry(s.to_string()).or_default();
        d.service = true;
        if let Some(r) = m.service_account_roles.get(s) {
            d.read_only = r.read_only;
            d.allowed_roles = Some(r.allowed.clone());
        }
    }
    // A rollout's rings and soak protect the Managed Desktop rings; Graph
    // keeps neither, so the trust root does (issue 12, h14 finding 28).
    for ring in m.rings.values() {
        let text = format!("{} soak {}", ring.rings.join(" > "), schema::kinds::rollout::format_duration(ring.soak_secs));
        out.entry(ring.policy.to_string()).or_default().rollout = Some(text);
    }
    for (a, held) in engine::governance::exception_binding::bindings(m) {
        out.entry(a.to_string()).or_default().excepted = Some(held);
    }
    out
}

/// The sets governance needs: service accounts, the groups that hold only
/// service accounts (by static members, or by a dynamic rule that names
/// only service accounts' UPNs), and protected groups.
fn governance_sets(state: &DesiredState, m: &mut DesiredModel) {
    use schema::kinds::user::UserKind;
    // A service account is declared `kind = "service"`, or is a member of
    // the Managed Desktop service-accounts group (declared, or matched by
    // its rule): dropping `kind` does not turn the rules off for an account
    // the group still holds (and changing the group is protected).
    let in_sa_group = service_accounts_group_members(state, m);
    let is_service = |k: &String, u: &schema::kinds::user::User| u.kind == UserKind::Service || in_sa_group.contains(k);
    let service: Vec<(&String, String)> = state
        .user
        .iter()
        .filter(|(k, u)| is_service(k, &u.value))
        .map(|(k, u)| (k, u.value.user_principal_name.to_lowercase()))
        .collect();
    m.service_accounts = service.iter().map(|(k, _)| Address::new(Kind::User, k.as_str())).collect();
    for (k, u) in state.user.iter().filter(|(k, u)| is_service(k, &u.value)) {
        let roles = engine::model::ServiceRoles { allowed: u.value.allowed_roles.clone(), read_only: u.value.read_only };
        m.service_account_roles.insert(Address::new(Kind::User, k.as_str()), roles);
    }
    let people: Vec<String> = state
        .user
        .iter()
        .filter(|(k, u)| !is_service(k, &u.value))
        .map(|(_, u)| u)
        .map(|u| u.value.user_principal_name.to_lowercase())
        .collect();
    for (k, g) in &state.group {
        let address = Address::new(Kind::Group, k.as_str());
        if g.value.protected {
            m.protected_groups.insert(address.clone());
        }
        let by_members = g.value.members.as_ref().is_some_and(|members| {
            !members.is_empty()
                && members.iter().all(|r| matches!(state.resolve(r, &[Kind::User]), Ok(a) if m.service_accounts.contains(&a)))
        });
        let by_rule = g.value.membership_rule.as_deref().is_some_and(|rule| {
            let rule = rule.to_lowercase();
            let names = |upn: &str| {
                let local = upn.split('@').next().unwrap_or(upn);
                rule.contains(&format!("\"{upn}\"")) || rule.contains(&format!("\"{local}@\""))
            };
            rule.contains("user.") && service.iter().any(|(_, upn)| names(upn)) && !people.iter().any(|upn| names(upn))
        });
        if by_members || by_rule {
            m.service_account_groups.insert(address);
        }
    }
}

/// The user keys the Managed Desktop service-accounts group holds in
/// desired state: its declared members, and the users its membership rule
/// matches on their declared properties.
fn service_accounts_group_members(state: &DesiredState, m: &DesiredModel) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(key) = m.governance.managed_desktop.as_ref().and_then(|md| md.service_accounts_group.as_ref()) else { return out };
    let Some(g) = state.group.get(key) else { return out };
    for r in g.value.members.iter().flatten() {
        if let Ok(a) = state.resolve(r, &[Kind::User]) {
            out.insert(a.key.to_string());
        }
    }
    if let Some(rule) = g.value.membership_rule.as_deref() {
        for k in state.user.keys() {
            let props = m.resources.get(&Address::new(Kind::User, k.as_str())).map(|r| &r.props);
            if props.and_then(|p| engine::governance::rule::evaluate(rule, p)) == Some(true) {
                out.insert(k.clone());
            }
        }
    }
    out
}

/// A desired resource with its dependencies derived from the references in
/// its props (plus any given).
pub(crate) fn resource(address: Address, natural_key: String, display_name: String, props: Props) -> DesiredResource {
    let mut deps = BTreeSet::new();
    for v in props.values() {
        engine::plan::referenced_addresses(v, &mut deps);
    }
    deps.remove(&address);
    DesiredResource {
        address,
        natural_key,
        display_name,
        props,
        immutable: Vec::new(),
        assignment_props: Vec::new(),
        create_only: Props::new(),
        depends_on: deps.into_iter().collect(),
        expires: None,
    }
}

/// A reference written in TOML, resolved to its address (validation has
/// already proved it resolves; an unresolvable one is kept verbatim so it
/// shows up rather than vanishing).
pub(crate) fn ref_to(state: &DesiredState, r: &str, allowed: &[Kind]) -> Value {
    match state.resolve(r, allowed) {
        Ok(a) => reference(a.to_string()),
        Err(_) => reference(r.to_string()),
    }
}

/// Intune assignments, normalized: include/exclude group references and the
/// two "all" targets, unfiltered; targets with an assignment filter appear
/// only under `filters`, keyed `"<filter name or id>|<mode>"` (lowercase)
/// with their targets (group references, "allDevices", "allUsers"). So a
/// filter set on a target in Intune but not declared takes it out of
/// `include`: filtered and unfiltered never compare equal.
pub(crate) fn desired_assignments(state: &DesiredState, a: &Assignments) -> Value {
    use schema::kinds::assignment::{ALL_DEVICES, ALL_USERS};
    let group = |g: &String| ref_to(state, g, &[Kind::Group]);
    let mut filters: std::collections::BTreeMap<String, Vec<Value>> = std::collections::BTreeMap::new();
    for (target, f) in &a.filters {
        let t = match target.as_str() {
            ALL_DEVICES => json!("allDevices"),
            ALL_USERS => json!("allUsers"),
            g => ref_to(state, g, &[Kind::Group]),
        };
        // A declared filter is keyed by its display name, as observe keys
        // live targets; others by the name or id written.
        let name = assignment_filter::declared(state, &f.filter).map_or(f.filter.as_str(), |(_, d)| d.display_name.as_str());
        filters.entry(filter_key(name, f.mode.as_str())).or_default().push(t);
    }
    let mut m = Map::new();
    m.insert("include".into(), Value::Array(a.include.iter().filter(|g| !a.filters.contains_key(*g)).map(group).collect()));
    m.insert("exclude".into(), Value::Array(a.exclude.iter().map(group).collect()));
    m.insert("allDevices".into(), Value::Bool(a.all_devices && !a.filters.contains_key(ALL_DEVICES)));
    m.insert("allUsers".into(), Value::Bool(a.all_users && !a.filters.contains_key(ALL_USERS)));
    if !filters.is_empty() {
        m.insert("filters".into(), Value::Object(filters.into_iter().map(|(k, v)| (k, Value::Array(v))).collect()));
    }
    Value::Object(m)
}

/// `"<filter>|<mode>"`, the key of a filter in normalized assignments.
pub(crate) fn filter_key(filter: &str, mode: &str) -> String {
    format!("{}|{}", filter.trim().to_lowercase(), mode.to_lowercase())
}

/// Where observe puts a filter's display name on a live target (never sent
/// to Graph: targets are rebuilt from normalized assignments).
pub const FILTER_NAME: &str = "@tenantctl.filterName";

/// Graph's assignment list (`[{target: {@odata.type, groupId,
/// deviceAndAppManagementAssignmentFilterId/Type}}]`) in the normalized form
/// above, group ids as references. A filtered target is keyed under
/// `filters` by the filter's id and, when observe found it, its name.
pub(crate) fn live_assignments(assignments: &Value) -> Value {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    let mut all_devices = false;
    let mut all_users = false;
    let mut filters: std::collections::BTreeMap<String, Vec<Value>> = std::collections::BTreeMap::new();
    for a in assignments.as_array().into_iter().flatten() {
        let target = a.get("target").unwrap_or(a);
        let ty = target.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
        let group = target.get("groupId").and_then(Value::as_str);
        let filter_id = target.get("deviceAndAppManagementAssignmentFilterId").and_then(Value::as_str).filter(|f| !f.is_empty());
        let mode = target.get("deviceAndAppManagementAssignmentFilterType").and_then(Value::as_str).filter(|m| !m.eq_ignore_ascii_case("none"));
        let filtered = |t: Value, filters: &mut std::collections::BTreeMap<String, Vec<Value>>| match (filter_id, mode) {
            (Some(id), Some(mode)) => {
                filters.entry(filter_key(id, mode)).or_default().push(t.clone());
                if let Some(name) = target.get(FILTER_NAME).and_then(Value::as_str) {
                    filters.entry(filter_key(name, mode)).or_default().push(t);
                }
                true
            }
            _ => false,
        };
        match (ty.trim_start_matches("#microsoft.graph."), group) {
            ("exclusionGroupAssignmentTarget", Some(g)) => exclude.push(reference(g)),
            ("groupAssignmentTarget", Some(g)) if !filtered(reference(g), &mut filters) => include.push(reference(g)),
            ("groupAssignmentTarget", Some(_)) => {}
            ("allDevicesAssignmentTarget", _) => all_devices = !filtered(json!("allDevices"), &mut filters),
            ("allLicensedUsersAssignmentTarget", _) => all_users = !filtered(json!("allUsers"), &mut filters),
            _ => {}
        }
    }
    let mut m = Map::new();
    m.insert("include".into(), Value::Array(include));
    m.insert("exclude".into(), Value::Array(exclude));
    m.insert("allDevices".into(), Value::Bool(all_devices));
    m.insert("allUsers".into(), Value::Bool(all_users));
    m.insert("filters".into(), Value::Object(filters.into_iter().map(|(k, v)| (k, Value::Array(v))).collect()));
    Value::Object(m)
}

/// Graph's `/assign` body for normalized assignments, with references
/// replaced by group ids and filter names or ids by filter ids
/// (`filter_id`). `odata_assignment` is e.g.
/// `#microsoft.graph.deviceConfigurationAssignment`.
pub fn assign_body(
    assignments: &Value,
    ids: &dyn Fn(&str) -> Option<String>,
    filter_id: &dyn Fn(&str) -> Result<String, String>,
    odata_assignment: &str,
) -> Result<Value, String> {
    let mut targets = assignment_targets(assignments, ids)?;
    targets.extend(filtered_targets(assignments, ids, filter_id)?);
    Ok(serde_json::json!({ "assignments": targets.into_iter().map(|t| {
        serde_json::json!({"@odata.type": odata_assignment, "target": t})
    }).collect::<Vec<_>>() }))
}

/// The id of the assignment filter `f` (a display name or an id, as
/// lowercased in normalized assignments) among the tenant's `filters`.
/// Two filters with the name is an error naming both ids, never a guess.
pub fn resolve_filter(filters: &[Value], f: &str) -> Result<String, String> {
    if let Some(x) = filters.iter().find(|x| str_field(x, "id").eq_ignore_ascii_case(f)) {
        return Ok(str_field(x, "id").to_string());
    }
    let named: Vec<&str> = filters.iter().filter(|x| str_field(x, "displayName").trim().to_lowercase() == f).map(|x| str_field(x, "id")).collect();
    match named.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!("no assignment filter named `{f}` (or with that id) exists in the tenant")),
        many => Err(format!("{} assignment filters are named `{f}` ({}); name it by id", many.len(), many.join(", "))),
    }
}

/// Puts each filtered target's filter name beside its id (`FILTER_NAME`),
/// from the tenant's `filters`, so desired state may name filters either way.
pub fn annotate_filter_names(policies: &mut [Value], filters: &[Value]) {
    for p in policies.iter_mut() {
        for a in p.get_mut("assignments").and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(target) = a.get_mut("target").and_then(Value::as_object_mut) else { continue };
            let id = target.get("deviceAndAppManagementAssignmentFilterId").and_then(Value::as_str).unwrap_or_default().to_string();
            if let Some(f) = filters.iter().find(|f| !id.is_empty() && str_field(f, "id").eq_ignore_ascii_case(&id)) {
                target.insert(FILTER_NAME.into(), json!(str_field(f, "displayName")));
            }
        }
    }
}

/// Whether any policy's assignment targets carry a filter.
pub fn uses_filters(policies: &[Value]) -> bool {
    policies.iter().any(|p| {
        p.get("assignments").and_then(Value::as_array).into_iter().flatten().any(|a| {
            a.pointer("/target/deviceAndAppManagementAssignmentFilterId").and_then(Value::as_str).is_some_and(|f| !f.is_empty())
        })
    })
}

/// The filter names or ids normalized assignments use.
pub fn filters_named(assignments: &Value) -> Vec<String> {
    assignments.get("filters").and_then(Value::as_object).into_iter().flatten().filter_map(|(k, _)| k.rsplit_once('|').map(|(f, _)| f.to_string())).collect()
}

/// The targets under `filters`, each with its filter id and mode.
fn filtered_targets(assignments: &Value, ids: &dyn Fn(&str) -> Option<String>, filter_id: &dyn Fn(&str) -> Result<String, String>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (key, targets) in assignments.get("filters").and_then(Value::as_object).into_iter().flatten() {
        let (filter, mode) = key.rsplit_once('|').ok_or_else(|| format!("malformed filter key {key}"))?;
        let fid = filter_id(filter)?;
        for t in targets.as_array().into_iter().flatten() {
            let mut target = match t.as_str() {
                Some("allDevices") => json!({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}),
                Some("allUsers") => json!({"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}),
                _ => {
                    let address = engine::model::as_reference(t).unwrap_or_default().to_string();
                    let id = ids(&address).ok_or_else(|| format!("{address} has no object id yet"))?;
                    json!({"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": id})
                }
            };
            target["deviceAndAppManagementAssignmentFilterId"] = json!(fid);
            target["deviceAndAppManagementAssignmentFilterType"] = json!(mode);
            out.push(target);
        }
    }
    Ok(out)
}

/// The Graph targets of normalized assignments, without filtered ones
/// (Autopilot profiles, which take no filters).
pub fn assignment_targets(assignments: &Value, ids: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    let list = |k: &str| assignments.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    for (k, ty) in [("include", "#microsoft.graph.groupAssignmentTarget"), ("exclude", "#microsoft.graph.exclusionGroupAssignmentTarget")] {
        for r in list(k) {
            let address = engine::model::as_reference(&r).unwrap_or_default().to_string();
            let id = ids(&address).ok_or_else(|| format!("{address} has no object id yet"))?;
            out.push(serde_json::json!({"@odata.type": ty, "groupId": id}));
        }
    }
    if assignments.get("allDevices").and_then(Value::as_bool) == Some(true) {
        out.push(serde_json::json!({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}));
    }
    if assignments.get("allUsers").and_then(Value::as_bool) == Some(true) {
        out.push(serde_json::json!({"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}));
    }
    Ok(out)
}

/// snake_case -> camelCase, for TOML field names that mirror Graph's.
pub(crate) fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A serializable TOML type as Graph props: keys camelCased, recursively.
pub(crate) fn camel_props<T: serde::Serialize>(v: &T, skip: &[&str]) -> Props {
    fn conv(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (camel(&k), conv(v))).collect()),
            Value::Array(a) => Value::Array(a.into_iter().map(conv).collect()),
            other => other,
        }
    }
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m
            .into_iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .map(|(k, v)| (camel(&k), conv(v)))
            .collect(),
        _ => Props::new(),
    }
}

/// TOML settings (already Graph-named) as JSON values.
pub(crate) fn settings_json(settings: &std::collections::BTreeMap<String, toml::Value>) -> Props {
    settings
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
        .collect()
}

/// Server-managed properties never compared nor fingerprinted.
pub(crate) const VOLATILE: &[&str] = &[
    "@odata.context",
    "@odata.etag",
    "assignments@odata.context",
    "createdDateTime",
    "lastModifiedDateTime",
    "modifiedDateTime",
    "version",
    "renewedDateTime",
    "deletedDateTime",
    "securityIdentifier",
    "onPremisesSyncEnabled",
    "proxyAddresses",
];

/// A live object's props: everything but ids, volatile fields and the
/// listed extras.
pub(crate) fn live_props(raw: &Value, drop: &[&str]) -> Props {
    raw.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != "id" && !VOLATILE.contains(&k.as_str()) && !drop.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn str_field<'a>(raw: &'a Value, name: &str) -> &'a str {
    raw.get(name).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case() {
        assert_eq!(camel("quality_updates_deferral_period_in_days"), "qualityUpdatesDeferralPeriodInDays");
        assert_eq!(camel("allow_windows11_upgrade"), "allowWindows11Upgrade");
    }

    #[test]
    fn assignments_round_trip_through_graph_targets() {
        let live = live_assignments(&json!([
            {"id": "p_g1", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g1"}},
            {"id": "p_g2", "target": {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "g2"}},
            {"id": "p_ad", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}
        ]));
        assert_eq!(live["include"], json!([{"@ref": "g1"}]));
        assert_eq!(live["exclude"], json!([{"@ref": "g2"}]));
        assert_eq!(live["allDevices"], json!(true));
        let body = assign_body(&live, &|a| Some(format!("id-{a}")), &|f| Err(format!("no filter {f}")), "#microsoft.graph.deviceConfigurationAssignment").expect("test fixture");
        let targets = body["assignments"].as_array().expect("test fixture");
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[0]["target"]["groupId"], json!("id-g1"));
        assert_eq!(targets[1]["target"]["@odata.type"], json!("#microsoft.graph.exclusionGroupAssignmentTarget"));
    }
}
