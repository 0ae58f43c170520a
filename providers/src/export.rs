//! Export: the reverse of the per-kind mappings. Reads a whole tenant
//! (`observe::observe_everything`) and writes desired-state TOML, one file
//! per kind, with readable keys derived from names, references between
//! objects by key, and the ledger that binds every key to its object, so
//! that planning the export against the same tenant makes no changes. This
//! is how an existing tenant is adopted.
//!
//! What is skipped, with a warning: groups that are not plain security
//! groups (Microsoft 365 and mail-enabled groups are not a kind here),
//! disabled guests (their access has in effect ended), role assignments
//! whose principal is not exported (service principals), and conditional
//! access policies that name users, groups or roles by an id not exported.
//! Membership or owners naming an object that is not exported (devices,
//! service principals) leave membership unmanaged for that group.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use engine::model::as_reference;
use engine::{Ledger, LiveObject, ObservedState, Props};
use schema::kinds::conditional_access::{ApplicationConditions, GrantControls, GrantOperator, PolicyState, UserConditions};
use schema::kinds::role_assignment::AssignmentType;
use schema::kinds::assignment::{AssignmentFilter, FilterMode};
use schema::kinds::compliance_policy::{ComplianceAction, ComplianceActionType};
use schema::kinds::user::UserKind;
use schema::kinds::*;
use schema::{Address, Kind};
use serde_json::Value;

use crate::kinds::compliance_policy::{ACTIONS, BLOCK_GRACE};
use crate::kinds::registry;

/// The exported desired state: file name -> TOML text, plus the ledger.
#[derive(Debug, Clone, Default)]
pub struct Export {
    pub files: BTreeMap<String, String>,
    pub ledger: Ledger,
    pub warnings: Vec<String>,
    pub counts: BTreeMap<Kind, usize>,
}

/// A key from a name: lowercase ASCII letters, digits and hyphens.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    out.truncate(100);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "unnamed".to_string()
    } else {
        out
    }
}

/// Keys unique across every kind, so a bare key never means two things.
#[derive(Default)]
struct Keys {
    taken: BTreeSet<String>,
    /// object id -> address
    by_id: BTreeMap<String, Address>,
    /// Exported assignment filters: lowercased display name -> key.
    filter_names: BTreeMap<String, String>,
}

impl Keys {
    fn assign(&mut self, kind: Kind, name: &str, id: &str) -> Address {
        let base = slug(name);
        let mut key = base.clone();
        let mut n = 2;
        while self.taken.contains(&key) {
            key = format!("{base}-{n}");
            n += 1;
        }
        self.taken.insert(key.clone());
        let a = Address::new(kind, &key);
        self.by_id.insert(id.to_string(), a.clone());
        a
    }

    fn key_of(&self, id: &str) -> Option<&Address> {
        self.by_id.get(id)
    }

    /// A live policy's scope tags as desired state declares them (keys of
    /// exported tags).
    fn scope_tags(&self, p: &Props) -> Result<Vec<String>, String> {
        crate::kinds::scope_tag::export_tags(p, &|id| self.key_of(id).filter(|a| a.kind == Kind::ScopeTag).map(|a| a.key.clone()))
    }

    /// How policies name a filter (`name` is a lowercased display name or
    /// an id): the key of an exported filter, else as it was.
    fn filter(&self, name: &str) -> String {
        match self.key_of(name) {
            Some(a) if a.kind == Kind::AssignmentFilter => a.key.clone(),
            _ => self.filter_names.get(name).cloned().unwrap_or_else(|| name.to_string()),
        }
    }
}

fn s(p: &Props, k: &str) -> Option<String> {
    p.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string)
}

fn b(p: &Props, k: &str) -> Option<bool> {
    p.get(k).and_then(Value::as_bool)
}

/// JSON to TOML, dropping nulls (TOML has none; absent and null compare equal).
pub fn json_to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(x) => toml::Value::Boolean(*x),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(x) => toml::Value::String(x.clone()),
        Value::Array(a) => toml::Value::Array(a.iter().filter_map(json_to_toml).collect()),
        Value::Object(m) => toml::Value::Table(m.iter().filter_map(|(k, v)| json_to_toml(v).map(|t| (k.clone(), t))).collect()),
    })
}

fn camel_to_snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Live props as snake_case JSON (for typed kinds), nulls and `@` keys dropped.
fn snake(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().filter(|(k, v)| !k.starts_with('@') && !v.is_null()).map(|(k, v)| (camel_to_snake(k), snake(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(snake).collect()),
        other => other.clone(),
    }
}

/// Deserialize a typed kind from live props, dropping top-level properties
/// the type does not model (read-only or unmanaged Graph properties).
fn typed<T: serde::de::DeserializeOwned>(mut m: serde_json::Map<String, Value>) -> Result<T, String> {
    for _ in 0..64 {
        match serde_json::from_value::<T>(Value::Object(m.clone())) {
            Ok(t) => return Ok(t),
            Err(e) => {
                let msg = e.to_string();
                let unknown = msg.strip_prefix("unknown field `").and_then(|r| r.split('`').next()).map(str::to_string);
                match unknown {
                    Some(f) if m.remove(&f).is_some() => continue,
                    _ => return Err(msg),
                }
            }
        }
    }
    Err("too many unmodelled properties".into())
}

fn assignments(p: &Props, keys: &Keys) -> Result<Assignments, String> {
    let a = p.get("assignments").cloned().unwrap_or(Value::Null);
    let groups = |k: &str| -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for r in a.get(k).and_then(Value::as_array).into_iter().flatten() {
            let id = as_reference(r).unwrap_or_default();
            match keys.key_of(id) {
                Some(addr) if addr.kind == Kind::Group => out.push(addr.key.clone()),
                _ => return Err(format!("assigned to group {id}, which is not exported")),
            }
        }
        out.sort();
        Ok(out)
    };
    let mut out = Assignments {
        include: groups("include")?,
        exclude: groups("exclude")?,
        all_devices: a.get("allDevices").and_then(Value::as_bool).unwrap_or(false),
        all_users: a.get("allUsers").and_then(Value::as_bool).unwrap_or(false),
        filters: BTreeMap::new(),
    };
    // Filtered targets, under their filter's name where observe found it
    // (each is keyed by id and by name), else its id.
    let is_id = |f: &str| f.len() == 36 && f.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    for (key, targets) in a.get("filters").and_then(Value::as_object).into_iter().flatten() {
        let Some((filter, mode)) = key.rsplit_once('|') else { continue };
        let mode = match mode {
            "include" => FilterMode::Include,
            "exclude" => FilterMode::Exclude,
            other => return Err(format!("unknown assignment filter mode {other}")),
        };
        for t in targets.as_array().into_iter().flatten() {
            let target = match t.as_str() {
                Some("allDevices") => {
                    out.all_devices = true;
                    schema::kinds::assignment::ALL_DEVICES.to_string()
                }
                Some("allUsers") => {
                    out.all_users = true;
                    schema::kinds::assignment::ALL_USERS.to_string()
                }
                _ => {
                    let id = as_reference(t).unwrap_or_default();
                    match keys.key_of(id) {
                        Some(addr) if addr.kind == Kind::Group => addr.key.clone(),
                        _ => return Err(format!("assigned to group {id}, which is not exported")),
                    }
                }
            };
            let better = out.filters.get(&target).is_none_or(|f| is_id(&f.filter) && !is_id(filter));
            if better {
                out.filters.insert(target, AssignmentFilter { filter: keys.filter(filter), mode });
            }
        }
    }
    for g in out.filters.keys() {
        if !matches!(g.as_str(), schema::kinds::assignment::ALL_DEVICES | schema::kinds::assignment::ALL_USERS) && !out.include.contains(g) {
            out.include.push(g.clone());
        }
    }
    out.include.sort();
    Ok(out)
}

/// Settings of device configurations and compliance policies: every live
/// property but the modelled ones, by Graph name.
/// The name of the first secret a policy's properties hold, if any: a
/// secret-named property with a value, or a secret-named OMA setting.
fn holds_secret(p: &Props) -> Option<String> {
    fn walk(v: &Value) -> Option<String> {
        match v {
            Value::Object(m) => {
                if engine::render::names_a_secret(m) && m.get("value").is_some_and(|x| !engine::diff::is_empty(x)) {
                    let name = m.get("displayName").and_then(Value::as_str).unwrap_or("a setting");
                    return Some(name.to_string());
                }
                m.iter().find_map(|(k, x)| {
                    if engine::render::is_secret_name(k) && !engine::diff::is_empty(x) {
                        Some(k.clone())
                    } else {
                        walk(x)
                    }
                })
            }
            Value::Array(a) => a.iter().find_map(walk),
            _ => None,
        }
    }
    p.iter().find_map(|(k, v)| if engine::render::is_secret_name(k) && !engine::diff::is_empty(v) { Some(k.clone()) } else { walk(v) })
}

fn settings(p: &Props, skip: &[&str]) -> BTreeMap<String, toml::Value> {
    p.iter()
        .filter(|(k, _)| !k.starts_with('@') && !skip.contains(&k.as_str()))
        .filter_map(|(k, v)| json_to_toml(v).map(|t| (k.clone(), t)))
        .collect()
}

/// A compliance policy's other scheduled actions in desired state's form
/// (None when it has none, so nothing is declared).
fn compliance_actions(p: &Props, keys: &Keys) -> Result<Option<Vec<ComplianceAction>>, String> {
    let list = p.get(ACTIONS).and_then(Value::as_array).cloned().unwrap_or_default();
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for a in list {
        let action_type: ComplianceActionType = serde_json::from_value(a["actionType"].clone()).map_err(|e| format!("scheduled action: {e}"))?;
        let mut cc = Vec::new();
        for r in a.get("notificationMessageCCList").and_then(Value::as_array).into_iter().flatten() {
            let id = as_reference(r).unwrap_or_default();
            let key = keys.key_of(id).filter(|k| k.kind == Kind::Group).ok_or_else(|| format!("a notification copies group {id}, which is not exported"))?;
            cc.push(key.key.clone());
        }
        out.push(ComplianceAction {
            action_type,
            grace_period_hours: a["gracePeriodHours"].as_u64().unwrap_or(0) as u32,
            template: a.get("notificationTemplateId").and_then(Value::as_str).map(str::to_string),
            cc,
        });
    }
    Ok(Some(out))
}

fn bare_type(p: &Props) -> String {
    s(p, "@odata.type").unwrap_or_default().trim_start_matches('#').trim_start_matches("microsoft.graph.").to_string()
}

/// Build the export of an observed tenant. `domains` are the tenant's
/// verified domains, default first.
pub fn export(observed: &ObservedState, domains: &[String], now: DateTime<Utc>) -> Export {
    let mut out = Export::default();
    let mut keys = Keys::default();
    let empty = Vec::new();
    let objects = |k: Kind| -> Vec<&LiveObject> {
        let mut v: Vec<&LiveObject> = observed.objects.get(&k).unwrap_or(&empty).iter().collect();
        v.sort_by(|a, b| (a.display_name.to_lowercase(), &a.id).cmp(&(b.display_name.to_lowercase(), &b.id)));
        v
    };
    // Keys first for principals, so references resolve.
    let users: Vec<(Address, &LiveObject)> = objects(Kind::User)
        .into_iter()
        .map(|o| (keys.assign(Kind::User, o.natural_key.split('@').next().unwrap_or(&o.display_name), &o.id), o))
        .collect();
    let guests: Vec<(Address, &LiveObject)> = objects(Kind::Guest)
        .into_iter()
        .filter(|o| {
            let enabled = b(&o.props, "accountEnabled") != Some(false);
            if !enabled {
                out.warnings.push(format!("guest {} ({}) is disabled: not exported", o.natural_key, o.id));
            }
            enabled && !o.natural_key.is_empty()
        })
        .map(|o| (keys.assign(Kind::Guest, &format!("guest-{}", o.natural_key.split('@').next().unwrap_or_default()), &o.id), o))
        .collect();
    let groups: Vec<(Address, &LiveObject)> = objects(Kind::Group)
        .into_iter()
        .filter(|o| {
            let security = b(&o.props, "securityEnabled") == Some(true) && b(&o.props, "mailEnabled") != Some(true);
            let unified = o.props.get("groupTypes").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "Unified"));
            if !security || unified {
                out.warnings.push(format!("group {} ({}) is not a security group: not exported", o.display_name, o.id));
            }
            security && !unified
        })
        .map(|o| (keys.assign(Kind::Group, &o.display_name, &o.id), o))
        .collect();

    let mut user_t = BTreeMap::new();
    for (a, o) in &users {
        let p = &o.props;
        let u = User {
            // As Graph spells it: the UPN is compared as declared.
            user_principal_name: s(p, "userPrincipalName").unwrap_or_else(|| o.natural_key.clone()),
            display_name: o.display_name.clone(),
            mail_nickname: s(p, "mailNickname").unwrap_or_else(|| o.natural_key.split('@').next().unwrap_or_default().to_string()),
            kind: UserKind::Member,
            allowed_roles: Vec::new(),
            read_only: false,
            account_enabled: b(p, "accountEnabled").unwrap_or(true),
            usage_location: s(p, "usageLocation"),
            given_name: s(p, "givenName"),
            surname: s(p, "surname"),
            job_title: s(p, "jobTitle"),
            department: s(p, "department"),
            disable_password_expiration: (s(p, "passwordPolicies").as_deref() == Some("DisablePasswordExpiration")).then_some(true),
            password_env: None,
            force_change_password_next_sign_in: None,
        };
        user_t.insert(a.key.clone(), u);
        out.ledger.record(a.clone(), o.id.clone(), None, None);
    }
    let mut guest_t = BTreeMap::new();
    let expires = now + chrono::Duration::days(90);
    for (a, o) in &guests {
        guest_t.insert(
            a.key.clone(),
            Guest {
                email: o.natural_key.clone(),
                display_name: o.display_name.clone(),
                redirect_url: "https://myapps.microsoft.com".into(),
                expires,
                send_invitation: false,
                sponsor: None,
            },
        );
        out.ledger.record(a.clone(), o.id.clone(), None, None);
    }
    let mut group_t = BTreeMap::new();
    for (a, o) in &groups {
        let p = &o.props;
        let dynamic = p.get("groupTypes").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "DynamicMembership"));
        let refs = |field: &str, allowed: &[Kind]| -> Option<Vec<String>> {
            let list = p.get(field)?.as_array()?;
            let mut out = Vec::new();
            for r in list {
                let addr = keys.key_of(as_reference(r)?).filter(|a| allowed.contains(&a.kind))?;
                out.push(addr.key.clone());
            }
            out.sort();
            Some(out)
        };
        let members = if dynamic { None } else { refs("members", &[Kind::User, Kind::Guest, Kind::Group]) };
        let owners = refs("owners", &[Kind::User]);
        for (field, got) in [("members", &members), ("owners", &owners)] {
            if p.contains_key(field) && got.is_none() && !(dynamic && field == "members") {
                out.warnings.push(format!("{a}: {field} include objects that are not exported; {field} are left unmanaged"));
            }
        }
        group_t.insert(
            a.key.clone(),
            Group {
                display_name: o.display_name.clone(),
                mail_nickname: s(p, "mailNickname").unwrap_or_else(|| a.key.clone()),
                description: s(p, "description"),
                members,
                owners,
                membership_rule: if dynamic { s(p, "membershipRule") } else { None },
                membership_rule_processing_state: if dynamic {
                    match s(p, "membershipRuleProcessingState").as_deref() {
                        Some("Paused") => Some(group::ProcessingState::Paused),
                        _ => None,
                    }
                } else {
                    None
                },
                is_assignable_to_role: b(p, "isAssignableToRole").unwrap_or(false),
                protected: false,
            },
        );
        out.ledger.record(a.clone(), o.id.clone(), None, None);
    }

    let mut role_t = BTreeMap::new();
    for o in objects(Kind::RoleAssignment) {
        let p = &o.props;
        let principal_id = p.get("principal").and_then(as_reference).unwrap_or_default();
        let Some(principal) = keys.key_of(principal_id).cloned() else {
            out.warnings.push(format!("role assignment {} ({}): principal {principal_id} is not exported (a service principal?): not exported", o.display_name, o.id));
            continue;
        };
        let role = s(p, "role").unwrap_or_default();
        let eligible = s(p, "assignment").as_deref() == Some("eligible");
        let a = keys.assign(Kind::RoleAssignment, &format!("{}-{}{}", principal.key, role, if eligible { "-eligible" } else { "" }), &o.id);
        let expires = s(p, "endDateTime").and_then(|e| e.parse::<DateTime<Utc>>().ok());
        role_t.insert(
            a.key.clone(),
            RoleAssignment {
                principal: principal.key.clone(),
                role,
                assignment: if eligible { AssignmentType::Eligible } else { AssignmentType::Active },
                expires,
                directory_scope_id: s(p, "directoryScopeId").unwrap_or_else(|| "/".into()),
                justification: None,
            },
        );
        out.ledger.record(a, o.id.clone(), None, None);
    }

    // Filters before the policies whose assignments name them by key.
    let mut filter_t = BTreeMap::new();
    for o in objects(Kind::AssignmentFilter) {
        let p = &o.props;
        let platform = p.get("platform").cloned().unwrap_or(Value::Null);
        match serde_json::from_value::<schema::kinds::assignment_filter::FilterPlatform>(platform.clone()) {
            Ok(platform) => {
                let f = schema::kinds::AssignmentFilter {
                    display_name: o.display_name.clone(),
                    platform,
                    rule: s(p, "rule").unwrap_or_default(),
                    description: s(p, "description"),
                };
                let a = keys.assign(Kind::AssignmentFilter, &o.display_name, &o.id);
                keys.filter_names.insert(o.display_name.trim().to_lowercase(), a.key.clone());
                filter_t.insert(a.key.clone(), f);
                out.ledger.record(a, o.id.clone(), None, None);
            }
            Err(_) => out.warnings.push(format!("assignment filter {} ({}): platform {platform} is not a device platform tenantctl manages: not exported", o.display_name, o.id)),
        }
    }

    // Scope tags before the policies that name them by key.
    let mut update_profiles_t: BTreeMap<Kind, BTreeMap<String, toml::Value>> = BTreeMap::new();

    for o in objects(Kind::ScopeTag) {
        match assignments(&o.props, &keys).and_then(|asg| crate::kinds::update_profile::export(Kind::ScopeTag, o, asg, Vec::new())) {
            Ok(None) => {}
            Ok(Some(v)) => {
                let a = keys.assign(Kind::ScopeTag, &o.display_name, &o.id);
                update_profiles_t.entry(Kind::ScopeTag).or_default().insert(a.key.clone(), v);
                out.ledger.record(a, o.id.clone(), None, None);
            }
            Err(e) => out.warnings.push(format!("scope tag {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    for o in objects(Kind::DeviceCategory) {
        match keys.scope_tags(&o.props).and_then(|tags| crate::kinds::update_profile::export(Kind::DeviceCategory, o, Assignments::default(), tags)) {
            Ok(None) => {}
            Ok(Some(v)) => {
                let a = keys.assign(Kind::DeviceCategory, &o.display_name, &o.id);
                update_profiles_t.entry(Kind::DeviceCategory).or_default().insert(a.key.clone(), v);
                out.ledger.record(a, o.id.clone(), None, None);
            }
            Err(e) => out.warnings.push(format!("device category {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    let mut config_t = BTreeMap::new();
    for o in objects(Kind::DeviceConfiguration) {
        let p = &o.props;
        if let Some(what) = holds_secret(p) {
            // Desired state is kept in git: a pre-shared key or password
            // must not be written there. Such a profile is declared by hand.
            out.warnings.push(format!("device configuration {} ({}): holds a secret ({what}): not exported; declare it by hand", o.display_name, o.id));
            continue;
        }
        match assignments(p, &keys).and_then(|asg| Ok((asg, keys.scope_tags(p)?))) {
            Ok((asg, scope_tags)) => {
                let a = keys.assign(Kind::DeviceConfiguration, &o.display_name, &o.id);
                config_t.insert(
                    a.key.clone(),
                    DeviceConfiguration {
                        odata_type: bare_type(p),
                        display_name: o.display_name.clone(),
                        description: s(p, "description"),
                        settings: settings(p, &["displayName", "description", "assignments", "roleScopeTagIds"]),
                        scope_tags,
                        assignments: asg,
                        rollout: None,
                    },
                );
                out.ledger.record(a, o.id.clone(), None, None);
            }
            Err(e) => out.warnings.push(format!("device configuration {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    let mut compliance_t = BTreeMap::new();
    for o in objects(Kind::CompliancePolicy) {
        let p = &o.props;
        if let Some(what) = holds_secret(p) {
            out.warnings.push(format!("compliance policy {} ({}): holds a secret ({what}): not exported; declare it by hand", o.display_name, o.id));
            continue;
        }
        match assignments(p, &keys).and_then(|asg| Ok((asg, compliance_actions(p, &keys)?, keys.scope_tags(p)?))) {
            Ok((asg, actions, scope_tags)) => {
                let a = keys.assign(Kind::CompliancePolicy, &o.display_name, &o.id);
                compliance_t.insert(
                    a.key.clone(),
                    CompliancePolicy {
                        odata_type: bare_type(p),
                        display_name: o.display_name.clone(),
                        description: s(p, "description"),
                        grace_period_hours: p.get(BLOCK_GRACE).and_then(Value::as_u64).unwrap_or(0) as u32,
                        actions,
                        settings: settings(p, &["displayName", "description", "assignments", "roleScopeTagIds", BLOCK_GRACE, ACTIONS]),
                        scope_tags,
                        assignments: asg,
                        rollout: None,
                    },
                );
                out.ledger.record(a, o.id.clone(), None, None);
            }
            Err(e) => out.warnings.push(format!("compliance policy {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    let mut ring_t = BTreeMap::new();
    for o in objects(Kind::UpdateRing) {
        let result = assignments(&o.props, &keys).and_then(|asg| {
            let scope_tags = keys.scope_tags(&o.props)?;
            let mut props = o.props.clone();
            props.remove("assignments");
            props.remove("roleScopeTagIds");
            let schedule = props.remove("installationSchedule").filter(|s| !s.is_null());
            let Value::Object(mut m) = snake(&Value::Object(props.into_iter().collect())) else { return Err("not an object".to_string()) };
            m.insert("assignments".into(), serde_json::to_value(&asg).map_err(|e| e.to_string())?);
            m.insert("scope_tags".into(), serde_json::to_value(&scope_tags).map_err(|e| e.to_string())?);
            if let Some(s) = schedule {
                // HH:MM, as validation accepts it (Graph answers 08:00:00.0000000).
                m.insert("installation_schedule".into(), crate::kinds::update_ring::export_schedule(&s));
            }
            typed::<UpdateRing>(m)
        });
        match result {
            Ok(ring) => {
                let a = keys.assign(Kind::UpdateRing, &o.display_name, &o.id);
                ring_t.insert(a.key.clone(), ring);
                out.ledger.record(a, o.id.clone(), None, None);
            }
            Err(e) => out.warnings.push(format!("update ring {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    let mut autopilot_t = BTreeMap::new();
    for o in objects(Kind::AutopilotProfile) {
        let result = assignments(&o.props, &keys).and_then(|asg| {
            let scope_tags = keys.scope_tags(&o.props)?;
            let mut props = o.props.clone();
            props.remove("assignments");
            props.remove("roleScopeTagIds");
            let join = if bare_type(&o.props).starts_with("activeDirectory") { "hybrid" } else { "entra" };
            let Value::Object(mut m) = snake(&Value::Object(props.into_iter().collect())) else { return Err("not an object".to_string()) };
            m.insert("assignments".into(), serde_json::to_value(&asg).map_err(|e| e.to_string())?);
            m.insert("join_type".into(), Value::String(join.into()));
            m.insert("scope_tags".into(), serde_json::to_value(&scope_tags).map_err(|e| e.to_string())?);
            typed::<AutopilotProfile>(m)
        });
        match result {
            Ok(profile) => {
                let a = keys.assign(Kind::AutopilotProfile, &o.display_name, &o.id);
                autopilot_t.insert(a.key.clone(), profile);
                out.ledger.record(a, o.id.clone(), None, None);
            }
            Err(e) => out.warnings.push(format!("Autopilot profile {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    for kind in crate::kinds::update_profile::KINDS {
        for o in objects(kind) {
            match assignments(&o.props, &keys).and_then(|asg| crate::kinds::update_profile::export(kind, o, asg, keys.scope_tags(&o.props)?)) {
                Ok(None) => {}
                Ok(Some(v)) => {
                    let a = keys.assign(kind, &o.display_name, &o.id);
                    update_profiles_t.entry(kind).or_default().insert(a.key.clone(), v);
                    out.ledger.record(a, o.id.clone(), None, None);
                }
                Err(e) => out.warnings.push(format!("{kind} {} ({}): {e}: not exported", o.display_name, o.id)),
            }
        }
    }
    let mut ca_t = BTreeMap::new();
    for o in objects(Kind::ConditionalAccess) {
        match conditional_access(o, &keys) {
            Ok(c) => {
                let a = keys.assign(Kind::ConditionalAccess, &o.display_name, &o.id);
                ca_t.insert(a.key.clone(), c);
                out.ledger.record(a, o.id.clone(), None, None);
            }
            Err(e) => out.warnings.push(format!("conditional access policy {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }

    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let header = |what: &str| format!("# {what}, exported by `tenantctl export` at {stamp}.\n# Review before committing; keys are derived from names and may be renamed\n# (rename them in the ledger too).\n\n");
    if let Some((primary, rest)) = domains.split_first() {
        let t = Tenant { primary_domain: primary.clone(), verified_domains: rest.to_vec(), tenant_id: None, cloud: Default::default(), client_id: None };
        put(&mut out, "tenant.toml", &header("The tenant"), "tenant", toml::Value::try_from(&t).ok());
    }
    let guest_note = "# Guests in Graph have no expiry; each is given 90 days from the export.\n# Set the real end of each guest's access.\n";
    let head = |kind: Kind| header(registry::provider(kind).export_title);
    table(&mut out, &head(Kind::User), &user_t, Kind::User);
    table(&mut out, &format!("{}{guest_note}\n", head(Kind::Guest)), &guest_t, Kind::Guest);
    table(&mut out, &head(Kind::Group), &group_t, Kind::Group);
    table(&mut out, &head(Kind::RoleAssignment), &role_t, Kind::RoleAssignment);
    table(&mut out, &head(Kind::AssignmentFilter), &filter_t, Kind::AssignmentFilter);
    table(&mut out, &head(Kind::DeviceConfiguration), &config_t, Kind::DeviceConfiguration);
    table(&mut out, &head(Kind::CompliancePolicy), &compliance_t, Kind::CompliancePolicy);
    table(&mut out, &head(Kind::UpdateRing), &ring_t, Kind::UpdateRing);
    table(&mut out, &head(Kind::AutopilotProfile), &autopilot_t, Kind::AutopilotProfile);
    table(&mut out, &head(Kind::ConditionalAccess), &ca_t, Kind::ConditionalAccess);
    for (kind, t) in &update_profiles_t {
        table(&mut out, &head(*kind), t, *kind);
    }
    out
}

fn put(out: &mut Export, file: &str, header: &str, name: &str, value: Option<toml::Value>) {
    let Some(v) = value else { return };
    let mut root = toml::Table::new();
    root.insert(name.to_string(), v);
    let body = toml::to_string_pretty(&root).unwrap_or_default();
    out.files.insert(file.to_string(), format!("{header}{body}"));
}

/// `[KIND.KEY]` tables of one kind, in its provider's export file.
fn table<T: serde::Serialize>(out: &mut Export, header: &str, items: &BTreeMap<String, T>, kind: Kind) {
    if items.is_empty() {
        return;
    }
    let (file, name) = (registry::provider(kind).export_file, kind.as_str());
    out.counts.insert(kind, items.len());
    match crate::export_split::split_table(file, name, items, crate::export_split::FILE_BUDGET) {
        Ok(parts) => {
            for (part, body) in parts {
                out.files.insert(part, format!("{header}{body}"));
            }
        }
        Err(e) => out.warnings.push(format!("{file}: could not be written as TOML: {e}")),
    }
}

fn conditional_access(o: &LiveObject, keys: &Keys) -> Result<ConditionalAccess, String> {
    let p = &o.props;
    let unmodelled = crate::ca_unmodelled::of(p);
    if !unmodelled.is_empty() {
        return Err(crate::ca_unmodelled::reason(&unmodelled));
    }
    let list = |path: &str| -> Vec<Value> { Value::Object(p.clone().into_iter().collect()).pointer(path).and_then(Value::as_array).cloned().unwrap_or_default() };
    let strings = |path: &str| -> Vec<String> { list(path).iter().filter_map(Value::as_str).map(str::to_string).collect() };
    let principals = |path: &str, allowed: &[Kind]| -> Result<Vec<String>, String> {
        list(path)
            .iter()
            .map(|v| match (as_reference(v), v.as_str()) {
                (Some(id), _) => keys.key_of(id).filter(|a| allowed.contains(&a.kind)).map(|a| a.key.clone()).ok_or_else(|| format!("names {id}, which is not exported")),
                (None, Some(s)) => Ok(s.to_string()),
                _ => Err("has a condition it cannot read".to_string()),
            })
            .collect()
    };
    let state: PolicyState = serde_json::from_value(p.get("state").cloned().unwrap_or(Value::Null)).map_err(|e| format!("state: {e}"))?;
    let operator = match Value::Object(p.clone().into_iter().collect()).pointer("/grantControls/operator").and_then(Value::as_str) {
        Some("AND") => GrantOperator::AND,
        _ => GrantOperator::OR,
    };
    Ok(ConditionalAccess {
        display_name: o.display_name.clone(),
        state,
        client_app_types: strings("/conditions/clientAppTypes"),
        users: UserConditions {
            include_users: principals("/conditions/users/includeUsers", &[Kind::User, Kind::Guest])?,
            exclude_users: principals("/conditions/users/excludeUsers", &[Kind::User, Kind::Guest])?,
            include_groups: principals("/conditions/users/includeGroups", &[Kind::Group])?,
            exclude_groups: principals("/conditions/users/excludeGroups", &[Kind::Group])?,
            include_roles: strings("/conditions/users/includeRoles"),
            exclude_roles: strings("/conditions/users/excludeRoles"),
        },
        applications: ApplicationConditions {
            include_applications: strings("/conditions/applications/includeApplications"),
            exclude_applications: strings("/conditions/applications/excludeApplications"),
        },
        grant: GrantControls { operator, built_in_controls: strings("/grantControls/builtInControls") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable_keys() {
        assert_eq!(slug("Modern Workplace Devices [Test]"), "modern-workplace-devices-test");
        assert_eq!(slug("  ***  "), "unnamed");
        assert!(schema::address::is_valid_key(&slug("Ünïcode Näme 1")));
    }

    #[test]
    fn keys_are_deduplicated() {
        let mut k = Keys::default();
        assert_eq!(k.assign(Kind::Group, "Sales", "1").key, "sales");
        assert_eq!(k.assign(Kind::User, "sales", "2").key, "sales-2");
        assert_eq!(k.key_of("2").map(|a| a.kind), Some(Kind::User));
    }

    #[test]
    fn json_nulls_vanish_in_toml() {
        let v = json_to_toml(&serde_json::json!({"a": null, "b": [1, 2.5], "c": {"d": null, "e": "x"}})).unwrap();
        assert_eq!(toml::to_string(&v).unwrap().trim(), "b = [1, 2.5]\n\n[c]\ne = \"x\"");
    }
}
