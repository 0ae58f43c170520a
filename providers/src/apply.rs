//! Stage 5, the Graph side: carry out one planned change. Decides nothing
//! (the plan did); it only knows how each kind is written in Graph:
//! - creates first look the natural key up, so a create whose response was
//!   lost (killed process, dropped connection) is adopted, never duplicated;
//! - after a create, the new object is waited for until readable, because
//!   Entra replicates asynchronously and dependents would see 404s;
//! - Intune `/assign` replaces the whole set, so the full desired set is sent;
//!   compliance block actions go through `scheduleActionsForRules`;
//!   Autopilot assignments are written one by one and removed before the
//!   profile is deleted; PATCH bodies carry `@odata.type`.
//! - passwords come from the environment variable desired state names, or
//!   are generated, and are never logged or returned.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use engine::apply::{ExecError, Executor, Outcome};
use engine::model::as_reference;
use engine::{Action, Change, DesiredResource, Props};
use rand::Rng;
use schema::kinds::role_assignment::role_template_id;
use schema::{Address, Kind};
use serde_json::{json, Value};

use crate::graph::{GraphClient, GraphError, GraphRequest, Method};
use crate::kinds::registry::{self, Api};
use crate::kinds::{assign_body, assignment_filter, assignment_targets, filters_named, compliance_policy, conditional_access, group, guest, role_assignment, user};

/// Looks up an environment variable (initial passwords).
type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What a create is about to do or just did, for the caller to record
/// before the create goes on (see [`GraphExecutor::with_create_hook`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateEvent<'a> {
    /// The create's POST is about to be sent.
    Sending { address: &'a Address },
    /// Graph answered the POST with this id (the object may not be
    /// readable yet).
    Created { address: &'a Address, id: &'a str },
}

/// Records create events; an error stops the create.
type CreateHook = Box<dyn Fn(CreateEvent<'_>) -> Result<(), String> + Send + Sync>;

pub struct GraphExecutor {
    client: GraphClient,
    env: EnvLookup,
    now: DateTime<Utc>,
    create_retry_delay: std::time::Duration,
    hook: Option<CreateHook>,
}

impl GraphExecutor {
    /// `env` looks up environment variables (initial passwords).
    pub fn new(client: GraphClient, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static, now: DateTime<Utc>) -> Self {
        GraphExecutor { client, env: Box::new(env), now, create_retry_delay: std::time::Duration::from_secs(2), hook: None }
    }

    /// Call `hook` before each create's POST and as soon as Graph answers it
    /// with an id, before waiting for the object to replicate: a run killed
    /// in between leaves a record that the object may exist, so the next
    /// run waits for it instead of creating it again. A hook error fails
    /// the create before anything more is sent.
    pub fn with_create_hook(mut self, hook: impl Fn(CreateEvent<'_>) -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    fn event(&self, e: CreateEvent<'_>) -> Result<(), ExecError> {
        match &self.hook {
            Some(h) => h(e).map_err(|m| err(format!("recording the create: {m}"))),
            None => Ok(()),
        }
    }

    /// The wait before looking a create up again after an ambiguous
    /// failure, multiplied by the attempt number (tests shorten it).
    pub fn with_create_retry_delay(mut self, delay: std::time::Duration) -> Self {
        self.create_retry_delay = delay;
        self
    }
}

fn fail(e: GraphError) -> ExecError {
    // A Network error on a POST that may have reached the server is not
    // retried by the client; it is ambiguous, and only the caller knows
    // how to retry it safely (creates look their natural key up again).
    let retryable = e.is_retryable() || matches!(e, GraphError::Network { .. } | GraphError::Transient { .. } | GraphError::Throttled { .. });
    ExecError { request_id: e.request_id().map(str::to_string), message: e.to_string(), retryable }
}

fn err(message: impl Into<String>) -> ExecError {
    ExecError { message: message.into(), request_id: None, retryable: false }
}

/// What a PIM request achieves, to check against the live schedule.
enum PimDone {
    /// `adminRemove`: no schedule left.
    Removed,
    /// `adminUpdate`: the schedule ends at this time (null: never).
    EndsAt(Value),
}

/// How many times a create is retried after an ambiguous failure. Each try
/// starts with a natural-key lookup, so a create that did reach Graph is
/// adopted, not repeated.
const CREATE_ATTEMPTS: u32 = 4;

/// OData string literal: single quotes doubled.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn desired(change: &Change) -> Result<&DesiredResource, ExecError> {
    change.desired.as_ref().ok_or_else(|| err(format!("{}: the plan carries no desired properties", change.address)))
}

/// The top-level properties a change touches.
fn touched(change: &Change) -> BTreeSet<String> {
    change.fields.iter().map(|f| f.field.split('.').next().unwrap_or(&f.field).to_string()).collect()
}

/// Object id of a reference: an address (through `ids`) or `id:X` for an
/// object tenantctl does not manage.
fn ref_id(target: &str, ids: &BTreeMap<Address, String>) -> Option<String> {
    if let Some(raw) = target.strip_prefix("id:") {
        return Some(raw.to_string());
    }
    target.parse::<Address>().ok().and_then(|a| ids.get(&a).cloned())
}

fn ref_ids(v: Option<&Value>, ids: &BTreeMap<Address, String>) -> Result<BTreeSet<String>, ExecError> {
    let mut out = BTreeSet::new();
    for r in v.and_then(Value::as_array).into_iter().flatten() {
        let target = as_reference(r).unwrap_or_default();
        out.insert(ref_id(target, ids).ok_or_else(|| err(format!("{target} has no object id yet")))?);
    }
    Ok(out)
}

fn generate_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#$%*-_=+";
    let mut rng = rand::thread_rng();
    // Upper, lower, digit and symbol guaranteed, for Entra's complexity rule.
    let mut p: String = (0..20).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect();
    p.push_str("Aa1!");
    p
}

struct Calls {
    request_ids: Vec<String>,
}

impl Calls {
    fn note(&mut self, r: &crate::graph::GraphResponse) {
        if let Some(id) = &r.request_id {
            self.request_ids.push(id.clone());
        }
    }
}

impl Executor for GraphExecutor {
    async fn execute(&self, change: &Change, ids: &BTreeMap<Address, String>) -> Result<Outcome, ExecError> {
        let mut calls = Calls { request_ids: Vec::new() };
        let (id, note) = match change.action {
            Action::Forget => (None, None),
            Action::Create => {
                let (id, note) = self.create_idempotent(change, ids, &mut calls).await?;
                (Some(id), note)
            }
            Action::Update | Action::Assign => {
                let id = change.id.clone().ok_or_else(|| err(format!("{}: no object id to update", change.address)))?;
                self.update(change, &id, ids, &mut calls).await?;
                (Some(id), None)
            }
            Action::Delete => {
                let id = change.id.clone().ok_or_else(|| err(format!("{}: no object id to delete", change.address)))?;
                self.delete(change, &id, ids, &mut calls).await?;
                (None, None)
            }
            Action::Replace => {
                let old = change.id.clone().ok_or_else(|| err(format!("{}: no object id to replace", change.address)))?;
                self.delete(change, &old, ids, &mut calls).await?;
                let (id, note) = self.create_idempotent(change, ids, &mut calls).await?;
                (Some(id), note)
            }
        };
        Ok(Outcome { id, request_ids: calls.request_ids, note })
    }
}

impl GraphExecutor {
    fn api(&self, kind: Kind) -> GraphClient {
        api_of(&self.client, kind)
    }

    fn collection(kind: Kind) -> &'static str {
        registry::provider(kind).collection
    }

    /// An existing object with the change's natural key, if any.
    async fn lookup(&self, kind: Kind, r: &DesiredResource) -> Result<Option<String>, ExecError> {
        let filter = match kind {
            Kind::User => format!("userPrincipalName eq {}", lit(&r.natural_key)),
            // Only guests: a member user with the same mail is never
            // adopted as the guest.
            // Guests are matched by mail or by any of otherMails (where an
            // invited address may be kept when mail is not set).
            Kind::Guest => format!("(mail eq {key} or otherMails/any(m:m eq {key})) and userType eq 'Guest'", key = lit(&r.natural_key)),
            Kind::Group => format!("mailNickname eq {}", lit(r.props.get("mailNickname").and_then(Value::as_str).unwrap_or_default())),
            Kind::RoleAssignment => return Ok(None),
            _ => format!("displayName eq {}", lit(r.props.get("displayName").and_then(Value::as_str).unwrap_or_default())),
        };
        let Some(key_field) = registry::provider(kind).natural_key else {
            return Ok(None);
        };
        let intune = matches!(kind, Kind::DeviceConfiguration | Kind::UpdateRing | Kind::CompliancePolicy | Kind::AutopilotProfile);
        let select = if kind == Kind::Guest { format!("id,{key_field},otherMails,userType") } else { format!("id,{key_field}") };
        let path = format!("{}?$filter={}&$select={select}", Self::collection(kind), urlencode(&filter));
        let wanted_key = match kind {
            Kind::User | Kind::Guest => r.natural_key.clone(),
            _ => r.props.get(key_field).and_then(Value::as_str).unwrap_or_default().to_lowercase(),
        };
        let wanted_type = r.props.get("@odata.type").and_then(Value::as_str);
        // Some collections have been known to ignore $filter: never adopt an
        // object on the server's word alone.
        let found: Vec<Value> = self
            .api(kind)
            .list_all(&path)
            .await
            .map_err(fail)?
            .into_iter()
            .filter(|o| {
                let is = |v: &Value| v.as_str().is_some_and(|k| k.to_lowercase() == wanted_key);
                o.get(key_field).is_some_and(is) || (kind == Kind::Guest && o.get("otherMails").and_then(Value::as_array).is_some_and(|m| m.iter().any(is)))
            })
            .filter(|o| kind != Kind::Guest || o.get("userType").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("guest")))
            .filter(|o| match (wanted_type, o.get("@odata.type").and_then(Value::as_str)) {
                (Some(w), Some(t)) if intune => w == t,
                _ => true,
            })
            .collect();
        Ok(match found.as_slice() {
            [one] => one.get("id").and_then(Value::as_str).map(str::to_string),
            [] => None,
            many => {
                return Err(err(format!(
                    "{} objects already match `{}`; refusing to guess: {}",
                    many.len(),
                    r.natural_key,
                    many.iter().filter_map(|m| m.get("id").and_then(Value::as_str)).collect::<Vec<_>>().join(", ")
                )))
            }
        })
    }

    async fn send(&self, api: &GraphClient, method: Method, path: &str, body: Option<Value>, calls: &mut Calls) -> Result<Value, ExecError> {
        let mut request = GraphRequest::new(method, path);
        request.body = body;
        let response = api.execute(request).await.map_err(fail)?;
        calls.note(&response);
        Ok(response.body.unwrap_or(Value::Null))
    }

    async fn create_idempotent(&self, change: &Change, ids: &BTreeMap<Address, String>, calls: &mut Calls) -> Result<(String, Option<String>), ExecError> {
        let mut attempt = 1;
        loop {
            match self.create(change, ids, calls).await {
                Err(e) if e.retryable && attempt < CREATE_ATTEMPTS => {
                    tracing::debug!(address = %change.address, attempt, error = %e.message, "create failed ambiguously; looking it up and trying again");
                    // Give a create that did land time to replicate, so the
                    // lookup sees it rather than making a duplicate.
                    tokio::time::sleep(self.create_retry_delay * attempt).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn create(&self, change: &Change, ids: &BTreeMap<Address, String>, calls: &mut Calls) -> Result<(String, Option<String>), ExecError> {
        let r = desired(change)?;
        let kind = change.address.kind;
        let api = self.api(kind);
        if let Some(existing) = self.lookup(kind, r).await? {
            // A previous run created it but never recorded it: adopt it and
            // bring it to the desired state rather than creating a duplicate.
            // Only the relations a create sets up after its POST (members,
            // owners, assignments) may be missing; properties were in the
            // POST, and re-sending them could touch fields Graph refuses to
            // change (isAssignableToRole) or that app-only calls may not set
            // on privileged users. The next plan compares everything.
            let mut adopt = change.clone();
            adopt.fields = ["members", "owners", "assignments"]
                .iter()
                .filter(|k| r.props.contains_key(**k))
                .map(|k| engine::diff::FieldChange { field: k.to_string(), before: None, after: r.props.get(*k).cloned() })
                .collect();
            adopt.id = Some(existing.clone());
            if !adopt.fields.is_empty() {
                self.update(&adopt, &existing, ids, calls).await?;
            }
            return Ok((existing.clone(), Some(format!("adopted existing object {existing} with the same natural key"))));
        }
        let base = Self::collection(kind);
        let address = &change.address;
        self.event(CreateEvent::Sending { address })?;
        let id = match kind {
            Kind::User => {
                let password = match r.create_only.get("passwordFromEnv").and_then(Value::as_str) {
                    Some(var) => (self.env)(var).ok_or_else(|| err(format!("{}: environment variable {var} (password_env) is not set", change.address)))?,
                    None => generate_password(),
                };
                let created = self.send(&api, Method::POST, base, Some(user::create_body(r, &password)), calls).await?;
                id_of(&created)?
            }
            Kind::Guest => {
                let created = self.send(&api, Method::POST, "/invitations", Some(guest::invitation_body(r)), calls).await?;
                let id = created.pointer("/invitedUser/id").and_then(Value::as_str).map(str::to_string).ok_or_else(|| err("the invitation response has no invitedUser.id"))?;
                self.event(CreateEvent::Created { address, id: &id })?;
                self.wait(&api, &format!("/users/{id}")).await?;
                if r.props.get("accountEnabled") == Some(&Value::Bool(false)) {
                    self.send(&api, Method::PATCH, &format!("/users/{id}"), Some(json!({"accountEnabled": false})), calls).await?;
                }
                id
            }
            Kind::Group => {
                let created = self.send(&api, Method::POST, base, Some(group::create_body(r)), calls).await?;
                let id = id_of(&created)?;
                self.event(CreateEvent::Created { address, id: &id })?;
                self.wait(&api, &format!("/groups/{id}")).await?;
                for rel in ["members", "owners"] {
                    for m in ref_ids(r.props.get(rel), ids)? {
                        self.add_ref(&api, &id, rel, &m, calls).await?;
                    }
                }
                id
            }
            Kind::RoleAssignment => self.create_role_assignment(r, ids, calls).await?,
            Kind::DeviceConfiguration | Kind::UpdateRing => {
                let body = crate::kinds::scope_tag::write_body(r, &[], &|a| ref_id(a, ids)).map_err(err)?;
                let created = self.send(&api, Method::POST, base, Some(body), calls).await?;
                let id = id_of(&created)?;
                self.event(CreateEvent::Created { address, id: &id })?;
                self.wait(&api, &format!("{base}/{id}")).await?;
                self.assign(&api, change, &id, ids, "#microsoft.graph.deviceConfigurationAssignment", calls).await?;
                id
            }
            Kind::CompliancePolicy => {
                let mut body = crate::kinds::scope_tag::write_body(r, compliance_policy::NOT_PATCHED, &|a| ref_id(a, ids)).map_err(err)?;
                let lookup = |a: &str| ref_id(a, ids);
                let others = compliance_policy::desired_actions(r, &lookup).map_err(err)?.unwrap_or_default();
                if let Some(m) = body.as_object_mut() {
                    let grace = r.props.get(compliance_policy::BLOCK_GRACE).cloned().unwrap_or(json!(0));
                    m.insert("scheduledActionsForRule".into(), compliance_policy::scheduled_actions(&grace, &others));
                }
                let created = self.send(&api, Method::POST, base, Some(body), calls).await?;
                let id = id_of(&created)?;
                self.event(CreateEvent::Created { address, id: &id })?;
                self.wait(&api, &format!("{base}/{id}")).await?;
                self.assign(&api, change, &id, ids, "#microsoft.graph.deviceCompliancePolicyAssignment", calls).await?;
                id
            }
            Kind::AutopilotProfile => {
                let body = crate::kinds::scope_tag::write_body(r, &[], &|a| ref_id(a, ids)).map_err(err)?;
                let created = self.send(&api, Method::POST, base, Some(body), calls).await?;
                let id = id_of(&created)?;
                self.event(CreateEvent::Created { address, id: &id })?;
                self.wait(&api, &format!("{base}/{id}")).await?;
                self.autopilot_assignments(&api, r, &id, ids, calls).await?;
                id
            }
            Kind::ConditionalAccess => {
                let lookup = |a: &str| ref_id(a, ids);
                let body = conditional_access::write_body(r, &lookup).map_err(err)?;
                let created = self.send(&api, Method::POST, base, Some(body), calls).await?;
                id_of(&created)?
            }
            Kind::AssignmentFilter => {
                let created = self.send(&api, Method::POST, base, Some(assignment_filter::create_body(r)), calls).await?;
                id_of(&created)?
            }
            Kind::DeviceCategory => {
                let body = crate::kinds::scope_tag::write_body(r, &[], &|a| ref_id(a, ids)).map_err(err)?;
                let created = self.send(&api, Method::POST, base, Some(body), calls).await?;
                id_of(&created)?
            }
            Kind::ScopeTag | Kind::FeatureUpdateProfile | Kind::QualityUpdateProfile | Kind::DriverUpdateProfile => {
                let body = crate::kinds::scope_tag::write_body(r, &[], &|a| ref_id(a, ids)).map_err(err)?;
                let created = self.send(&api, Method::POST, base, Some(body), calls).await?;
                let id = id_of(&created)?;
                self.event(CreateEvent::Created { address, id: &id })?;
                self.wait(&api, &format!("{base}/{id}")).await?;
                self.assign(&api, change, &id, ids, crate::kinds::update_profile::assignment_type(kind), calls).await?;
                id
            }
        };
        self.event(CreateEvent::Created { address, id: &id })?;
        Ok((id, None))
    }

    async fn update(&self, change: &Change, id: &str, ids: &BTreeMap<Address, String>, calls: &mut Calls) -> Result<(), ExecError> {
        let r = desired(change)?;
        let kind = change.address.kind;
        let api = self.api(kind);
        let base = Self::collection(kind);
        let fields = touched(change);
        let scalar = |skip: &[&str]| -> Props {
            fields
                .iter()
                .filter(|f| !skip.contains(&f.as_str()) && *f != "assignments")
                .map(|f| (f.clone(), r.props.get(f).cloned().unwrap_or(Value::Null)))
                .collect()
        };
        match kind {
            Kind::User | Kind::Guest => {
                let mut body = scalar(&[]);
                // passwordPolicies is a set of flags in one string: only the
                // managed flag changes, the live value's others are kept
                // (Graph clears them all with "None", not null).
                if let Some(want) = body.get("passwordPolicies").cloned() {
                    let live = self.client.v1().get_json(&format!("/users/{id}?$select=passwordPolicies")).await.map_err(fail)?;
                    let flags = user::password_policies(live.get("passwordPolicies").and_then(Value::as_str), !want.is_null());
                    body.insert("passwordPolicies".into(), json!(flags));
                }
                if !body.is_empty() {
                    self.send(&api, Method::PATCH, &format!("/users/{id}"), Some(json!(body)), calls).await?;
                }
            }
            Kind::Group => {
                let body = scalar(&["members", "owners"]);
                if !body.is_empty() {
                    self.send(&api, Method::PATCH, &format!("/groups/{id}"), Some(json!(body)), calls).await?;
                }
                for rel in ["members", "owners"] {
                    if !fields.contains(rel) {
                        continue;
                    }
                    let want = ref_ids(r.props.get(rel), ids)?;
                    let have = self.related(&api, id, rel).await?;
                    for m in want.difference(&have) {
                        self.add_ref(&api, id, rel, m, calls).await?;
                    }
                    for m in have.difference(&want) {
                        match api.execute(GraphRequest::new(Method::DELETE, format!("/groups/{id}/{rel}/{m}/$ref"))).await {
                            Ok(resp) => calls.note(&resp),
                            Err(e) if e.is_not_found() => {}
                            Err(e) => return Err(fail(e)),
                        }
                    }
                }
            }
            Kind::RoleAssignment => {
                // Only the end date changes in place (immutable fields
                // replace): an adminUpdate sets the new end, or none.
                let principal = ref_id(as_reference(r.props.get("principal").unwrap_or(&Value::Null)).unwrap_or_default(), ids)
                    .ok_or_else(|| err(format!("{}: principal has no object id", change.address)))?;
                let (path, body) = role_assignment::schedule_request(r, &principal, self.now, "adminUpdate");
                let end = r.props.get("endDateTime").cloned().unwrap_or(Value::Null);
                self.pim_request(&api, path, body, PimDone::EndsAt(end), calls).await?;
            }
            Kind::DeviceConfiguration | Kind::UpdateRing | Kind::CompliancePolicy => {
                let mut body = scalar(compliance_policy::NOT_PATCHED);
                crate::kinds::scope_tag::resolve(&mut body, &|a| ref_id(a, ids)).map_err(err)?;
                if !body.is_empty() {
                    // Intune refuses a PATCH without the object's type.
                    body.insert("@odata.type".into(), r.props.get("@odata.type").cloned().unwrap_or(Value::Null));
                    self.send(&api, Method::PATCH, &format!("{base}/{id}"), Some(json!(body)), calls).await?;
                }
                if kind == Kind::CompliancePolicy && compliance_policy::NOT_PATCHED.iter().any(|f| fields.contains(*f)) {
                    let grace = r.props.get(compliance_policy::BLOCK_GRACE).cloned().unwrap_or(json!(0));
                    // The call replaces every action: declared actions are
                    // sent as declared, undeclared ones as they are live.
                    let lookup = |a: &str| ref_id(a, ids);
                    let others = match compliance_policy::desired_actions(r, &lookup).map_err(err)? {
                        Some(declared) => declared,
                        None => {
                            let live = api.get_json(&format!("{base}/{id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)")).await.map_err(fail)?;
                            compliance_policy::live_actions(&live).iter().map(compliance_policy::keep_action).collect()
                        }
                    };
                    let body = json!({"deviceComplianceScheduledActionForRules": compliance_policy::scheduled_actions(&grace, &others)});
                    // Replaces the rules: safe to repeat.
                    let request = GraphRequest::new(Method::POST, format!("{base}/{id}/scheduleActionsForRules")).json(body).safe_to_retry(true);
                    let response = api.execute(request).await.map_err(fail)?;
                    calls.note(&response);
                }
                if fields.contains("assignments") {
                    let ty = if kind == Kind::CompliancePolicy { "#microsoft.graph.deviceCompliancePolicyAssignment" } else { "#microsoft.graph.deviceConfigurationAssignment" };
                    self.assign(&api, change, id, ids, ty, calls).await?;
                }
            }
            Kind::AutopilotProfile => {
                let mut body = scalar(&[]);
                crate::kinds::scope_tag::resolve(&mut body, &|a| ref_id(a, ids)).map_err(err)?;
                if !body.is_empty() {
                    body.insert("@odata.type".into(), r.props.get("@odata.type").cloned().unwrap_or(Value::Null));
                    self.send(&api, Method::PATCH, &format!("{base}/{id}"), Some(json!(body)), calls).await?;
                }
                if fields.contains("assignments") {
                    self.autopilot_assignments(&api, r, id, ids, calls).await?;
                }
            }
            Kind::ConditionalAccess => {
                let lookup = |a: &str| ref_id(a, ids);
                let full = conditional_access::write_body(r, &lookup).map_err(err)?;
                let body: serde_json::Map<String, Value> = full
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| fields.contains(k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.send(&api, Method::PATCH, &format!("{base}/{id}"), Some(Value::Object(body)), calls).await?;
            }
            Kind::AssignmentFilter => {
                let body = scalar(&[]);
                if !body.is_empty() {
                    self.send(&api, Method::PATCH, &format!("{base}/{id}"), Some(json!(body)), calls).await?;
                }
            }
            Kind::DeviceCategory | Kind::ScopeTag | Kind::FeatureUpdateProfile | Kind::QualityUpdateProfile | Kind::DriverUpdateProfile => {
                let mut body = scalar(&[]);
                crate::kinds::scope_tag::resolve(&mut body, &|a| ref_id(a, ids)).map_err(err)?;
                if !body.is_empty() {
                    body.insert("@odata.type".into(), r.props.get("@odata.type").cloned().unwrap_or(Value::Null));
                    self.send(&api, Method::PATCH, &format!("{base}/{id}"), Some(json!(body)), calls).await?;
                }
                if fields.contains("assignments") {
                    self.assign(&api, change, id, ids, crate::kinds::update_profile::assignment_type(kind), calls).await?;
                }
            }
        }
        Ok(())
    }

    async fn delete(&self, change: &Change, id: &str, ids: &BTreeMap<Address, String>, calls: &mut Calls) -> Result<(), ExecError> {
        let kind = change.address.kind;
        let api = self.api(kind);
        let base = Self::collection(kind);
        if kind == Kind::RoleAssignment {
            // Only the live object says which assignment to remove; the
            // desired one may name another principal, role or type.
            let p = change.live.clone().ok_or_else(|| err(format!("{}: the plan does not record the live assignment to remove", change.address)))?;
            let eligible = p.get("assignment").and_then(Value::as_str) == Some("eligible");
            let scheduled = eligible || p.get("endDateTime").is_some_and(|e| !e.is_null());
            let principal = ref_id(as_reference(p.get("principal").unwrap_or(&Value::Null)).unwrap_or_default(), ids)
                .ok_or_else(|| err(format!("{}: principal has no object id", change.address)))?;
            let role = p.get("role").and_then(Value::as_str).unwrap_or_default();
            let path = if eligible { "/roleManagement/directory/roleEligibilityScheduleRequests" } else { "/roleManagement/directory/roleAssignmentScheduleRequests" };
            let body = json!({
                "action": "adminRemove",
                "principalId": principal,
                "roleDefinitionId": role_template_id(role).unwrap_or(role),
                "directoryScopeId": p.get("directoryScopeId").cloned().unwrap_or(json!("/")),
                "justification": "Expired or no longer declared in tenantctl desired state",
            });
            if scheduled {
                return self.pim_request(&api, path, body, PimDone::Removed, calls).await;
            }
            let refused = match api.execute(GraphRequest::new(Method::DELETE, format!("{base}/{id}"))).await {
                Ok(resp) => {
                    calls.note(&resp);
                    return Ok(());
                }
                Err(e) if e.is_not_found() => None,
                // Graph may answer 400 (Request_BadRequest, invalid object
                // identifier) rather than 404 for a schedule's id there.
                Err(e @ GraphError::InvalidRequest { status: 400, .. }) => Some(e),
                Err(e) => return Err(fail(e)),
            };
            // Not in /roleAssignments: an active schedule not yet mirrored
            // there (the live object was read under the schedule's id) is
            // removed through PIM; only if no schedule holds it either is it
            // gone. A 404 alone never counts as removed; a 400 with no
            // schedule behind it is the error it was.
            return match self.live_schedule(&api, path, &body).await? {
                Some(_) => self.pim_request(&api, path, body, PimDone::Removed, calls).await,
                None => refused.map_or(Ok(()), |e| Err(fail(e))),
            };
        }
        if kind == Kind::AutopilotProfile {
            // Intune refuses to delete an assigned profile.
            for (aid, _) in self.autopilot_current(&api, id).await? {
                self.send(&api, Method::DELETE, &format!("{base}/{id}/assignments/{aid}"), None, calls).await?;
            }
        }
        match api.execute(GraphRequest::new(Method::DELETE, format!("{base}/{id}"))).await {
            Ok(resp) => {
                calls.note(&resp);
                Ok(())
            }
            // Already gone (a previous run's response was lost): done.
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(fail(e)),
        }
    }

    async fn create_role_assignment(&self, r: &DesiredResource, ids: &BTreeMap<Address, String>, calls: &mut Calls) -> Result<String, ExecError> {
        let api = self.client.v1();
        let principal = ref_id(as_reference(r.props.get("principal").unwrap_or(&Value::Null)).unwrap_or_default(), ids)
            .ok_or_else(|| err(format!("{}: principal has no object id", r.address)))?;
        let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
        let role_id = role_template_id(role).unwrap_or(role).to_string();
        let scope = r.props.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/").to_string();
        let filter = urlencode(&format!("principalId eq {}", lit(&principal)));
        // A principal created moments ago may not have replicated yet.
        self.wait(&api, &format!("/directoryObjects/{principal}")).await?;
        // An activation of an eligible assignment shows in /roleAssignments
        // while it lasts; it is never adopted as an assignment.
        let activations = match api.list_all(&format!("/roleManagement/directory/roleAssignmentSchedules?$filter={filter}")).await {
            Ok(schedules) => role_assignment::activation_keys(&schedules),
            // Without Entra ID P2 there is no PIM, hence no activation.
            Err(e) if e.code() == Some(role_assignment::LICENCE_REQUIRED) => BTreeSet::new(),
            Err(e) => return Err(fail(e)),
        };
        let existing = |list: Vec<Value>| {
            list.into_iter()
                .filter(|a| !activations.contains(&role_assignment::assignment_key(a)))
                .filter(|a| a.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/") == scope)
                .find(|a| a.get("roleDefinitionId").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(&role_id)))
                .and_then(|a| a.get("id").and_then(Value::as_str).map(str::to_string))
        };
        match role_assignment::create_request(r, &principal, self.now) {
            role_assignment::Write::Permanent(body) => {
                let found = api.list_all(&format!("/roleManagement/directory/roleAssignments?$filter={filter}")).await.map_err(fail)?;
                if let Some(id) = existing(found) {
                    return Ok(id);
                }
                let created = self.send(&api, Method::POST, "/roleManagement/directory/roleAssignments", Some(body), calls).await?;
                id_of(&created)
            }
            role_assignment::Write::Schedule { path, body } => {
                let eligible = path.ends_with("roleEligibilityScheduleRequests");
                let lists: &[&str] = if eligible { &["roleEligibilitySchedules"] } else { &["roleAssignments", "roleAssignmentSchedules"] };
                for list in lists {
                    let found = api.list_all(&format!("/roleManagement/directory/{list}?$filter={filter}")).await.map_err(fail)?;
                    if let Some(id) = existing(found) {
                        return Ok(id);
                    }
                }
                let created = self.send(&api, Method::POST, path, Some(body), calls).await?;
                let schedule_id = created.get("targetScheduleId").and_then(Value::as_str).map(str::to_string);
                if eligible {
                    return schedule_id.map_or_else(|| id_of(&created), Ok);
                }
                // An active schedule shows up as a roleAssignment, which is
                // what reads match on; until it does, the schedule stands in.
                let found = api.list_all(&format!("/roleManagement/directory/roleAssignments?$filter={filter}")).await.map_err(fail)?;
                existing(found)
                    .or(schedule_id)
                    .ok_or_else(|| err(format!("{}: the assignment request was accepted but no active assignment appeared", r.address)))
            }
        }
    }

    /// The live (non-activation) schedule a PIM request's body names, from
    /// the assignment or eligibility schedules the request path belongs to.
    /// None also when the tenant has no PIM (no Entra ID P2).
    async fn live_schedule(&self, api: &GraphClient, request_path: &str, body: &Value) -> Result<Option<Value>, ExecError> {
        let list = if request_path.ends_with("roleEligibilityScheduleRequests") { "roleEligibilitySchedules" } else { "roleAssignmentSchedules" };
        let filter = urlencode(&format!("principalId eq {}", lit(body["principalId"].as_str().unwrap_or_default())));
        let found = match api.list_all(&format!("/roleManagement/directory/{list}?$filter={filter}")).await {
            Ok(found) => found,
            Err(e) if e.code() == Some(role_assignment::LICENCE_REQUIRED) => return Ok(None),
            Err(e) => return Err(fail(e)),
        };
        let key = role_assignment::assignment_key(body);
        Ok(found.into_iter().find(|s| role_assignment::assignment_key(s) == key && !role_assignment::is_activation(s)))
    }

    /// An `adminUpdate` or `adminRemove`. Both are retried after a network
    /// error, and a retry whose first attempt did land comes back 400
    /// (`RoleAssignmentExists` / `RoleAssignmentDoesNotExist`): that outcome
    /// counts as done only once the live schedule shows it is.
    async fn pim_request(&self, api: &GraphClient, path: &str, body: Value, done: PimDone, calls: &mut Calls) -> Result<(), ExecError> {
        let request = GraphRequest::new(Method::POST, path).json(body.clone()).safe_to_retry(true);
        let e = match api.execute(request).await {
            Ok(response) => {
                calls.note(&response);
                return Ok(());
            }
            Err(e) if matches!(e.code(), Some("RoleAssignmentExists" | "RoleAssignmentDoesNotExist")) => e,
            Err(e) => return Err(fail(e)),
        };
        let live = self.live_schedule(api, path, &body).await?;
        let end = |s: &Value| {
            s.pointer("/scheduleInfo/expiration/endDateTime")
                .and_then(Value::as_str)
                .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
                .map(|e| e.with_timezone(&Utc))
        };
        let finished = match (&done, &live) {
            (PimDone::Removed, None) => true,
            (PimDone::EndsAt(want), Some(s)) => {
                let want = want.as_str().and_then(|w| chrono::DateTime::parse_from_rfc3339(w).ok()).map(|w| w.with_timezone(&Utc));
                end(s) == want
            }
            _ => false,
        };
        if finished {
            tracing::debug!(path, error = %e, "PIM request answered 400, but the live schedule shows it done");
            Ok(())
        } else {
            Err(fail(e))
        }
    }

    /// `/assign` replaces the whole set: always the complete desired set.
    async fn assign(&self, api: &GraphClient, change: &Change, id: &str, ids: &BTreeMap<Address, String>, odata: &str, calls: &mut Calls) -> Result<(), ExecError> {
        let r = desired(change)?;
        let lookup = |a: &str| ref_id(a, ids);
        let assignments = r.props.get("assignments").unwrap_or(&Value::Null);
        // Assignment filters are named by display name or id: resolved
        // against the tenant's filters (beta) when any is used.
        let filters = if filters_named(assignments).is_empty() {
            Vec::new()
        } else {
            self.client.beta().list_all("/deviceManagement/assignmentFilters").await.map_err(fail)?
        };
        let filter_id = |f: &str| crate::kinds::resolve_filter(&filters, f);
        let body = assign_body(assignments, &lookup, &filter_id, odata).map_err(err)?;
        // `/assign` replaces the whole set, so sending it twice is harmless.
        let request = GraphRequest::new(Method::POST, format!("{}/{id}/assign", Self::collection(change.address.kind))).json(body).safe_to_retry(true);
        let response = api.execute(request).await.map_err(fail)?;
        calls.note(&response);
        Ok(())
    }

    async fn autopilot_current(&self, api: &GraphClient, id: &str) -> Result<Vec<(String, Value)>, ExecError> {
        let base = Self::collection(Kind::AutopilotProfile);
        let list = api.list_all(&format!("{base}/{id}/assignments")).await.map_err(fail)?;
        Ok(list
            .into_iter()
            .filter_map(|a| {
                let aid = a.get("id").and_then(Value::as_str)?.to_string();
                Some((aid, a.get("target").cloned().unwrap_or(Value::Null)))
            })
            .collect())
    }

    /// Autopilot assignments are one object each: add what is missing,
    /// remove what is not desired.
    async fn autopilot_assignments(&self, api: &GraphClient, r: &DesiredResource, id: &str, ids: &BTreeMap<Address, String>, calls: &mut Calls) -> Result<(), ExecError> {
        let base = Self::collection(Kind::AutopilotProfile);
        let lookup = |a: &str| ref_id(a, ids);
        let want = assignment_targets(r.props.get("assignments").unwrap_or(&Value::Null), &lookup).map_err(err)?;
        let key = |t: &Value| (t.get("@odata.type").and_then(Value::as_str).unwrap_or_default().to_string(), t.get("groupId").and_then(Value::as_str).unwrap_or_default().to_string());
        let have = self.autopilot_current(api, id).await?;
        let have_keys: BTreeSet<_> = have.iter().map(|(_, t)| key(t)).collect();
        let want_keys: BTreeSet<_> = want.iter().map(key).collect();
        for (aid, t) in &have {
            if !want_keys.contains(&key(t)) {
                self.send(api, Method::DELETE, &format!("{base}/{id}/assignments/{aid}"), None, calls).await?;
            }
        }
        for t in want {
            if !have_keys.contains(&key(&t)) {
                let body = json!({"@odata.type": "#microsoft.graph.windowsAutopilotDeploymentProfileAssignment", "target": t});
                self.send(api, Method::POST, &format!("{base}/{id}/assignments"), Some(body), calls).await?;
            }
        }
        Ok(())
    }

    async fn related(&self, api: &GraphClient, id: &str, rel: &str) -> Result<BTreeSet<String>, ExecError> {
        let list = api.list_all(&format!("/groups/{id}/{rel}?$select=id&$top=999")).await.map_err(fail)?;
        Ok(list.iter().filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string)).collect())
    }

    /// Add a member or owner; "already a member" is success, and a member
    /// not yet replicated is waited for once.
    async fn add_ref(&self, api: &GraphClient, group: &str, rel: &str, member: &str, calls: &mut Calls) -> Result<(), ExecError> {
        let body = json!({"@odata.id": format!("{}/v1.0/directoryObjects/{member}", self.client.cloud().graph_base())});
        let path = format!("/groups/{group}/{rel}/$ref");
        for attempt in 0..2 {
            // "Already a member" counts as success, so a repeat is harmless.
            match api.execute(GraphRequest::new(Method::POST, path.clone()).json(body.clone()).safe_to_retry(true)).await {
                Ok(resp) => {
                    calls.note(&resp);
                    return Ok(());
                }
                Err(e) if e.to_string().contains("already exist") => return Ok(()),
                Err(e) if e.is_not_found() && attempt == 0 => {
                    self.wait(api, &format!("/directoryObjects/{member}")).await?;
                    self.wait(api, &format!("/groups/{group}")).await?;
                }
                Err(e) => return Err(fail(e)),
            }
        }
        Err(err(format!("{path}: {member} never became readable")))
    }

    async fn wait(&self, api: &GraphClient, path: &str) -> Result<(), ExecError> {
        api.wait_until_readable(path).await.map(|_| ()).map_err(fail)
    }
}

/// Read one live object of `kind` by id (for `import`): its Graph body, or
/// None when no such object exists. Role assignments may be a permanent
/// assignment or a PIM schedule, so each place is tried.
pub async fn read_object(client: &GraphClient, kind: Kind, id: &str) -> Result<Option<Value>, GraphError> {
    let id = &*schema::object_id::path_segment(id);
    let api = api_of(client, kind);
    let paths: Vec<String> = match kind {
        Kind::RoleAssignment => ["roleAssignments", "roleEligibilitySchedules", "roleAssignmentSchedules"]
            .iter()
            .map(|c| format!("/roleManagement/directory/{c}/{id}"))
            .collect(),
        _ => vec![format!("{}/{id}", GraphExecutor::collection(kind))],
    };
    for path in paths {
        match api.get_json(&path).await {
            Ok(v) => return Ok(Some(v)),
            // Without Entra ID P2 there are no PIM schedules to find.
            Err(e) if e.is_not_found() || e.code() == Some(role_assignment::LICENCE_REQUIRED) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The client for `kind`'s Graph version (its provider's `api`).
fn api_of(client: &GraphClient, kind: Kind) -> GraphClient {
    match registry::provider(kind).api {
        Api::Beta => client.beta(),
        Api::V1 => client.v1(),
    }
}

fn id_of(v: &Value) -> Result<String, ExecError> {
    v.get("id").and_then(Value::as_str).map(str::to_string).ok_or_else(|| err("the create response has no id"))
}

/// Percent-encode a query value (spaces, quotes, and reserved characters).
fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}
