//! Stage 5, the Graph side: carry out one planned change. Decides nothing
//! (the plan did). How each kind is written in Graph is its module's
//! `create`, `update` and `delete` (through `KindProvider`), given a
//! [`Writer`]; this module drives them:
//! - creates first look the natural key up, so a create whose response was
//!   lost (killed process, dropped connection) is adopted, never duplicated;
//! - after a create, the new object is waited for until readable, because
//!   Entra replicates asynchronously and dependents would see 404s;
//! - deletes of objects already gone are done.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use engine::apply::{ExecError, Executor, Outcome};
use engine::model::as_reference;
use engine::{Action, Change, DesiredResource, Props};
use rand::Rng;
use schema::{Address, Kind};
use serde_json::Value;

use crate::graph::write_batch::WriteBatcher;
use crate::graph::{GraphClient, GraphError, GraphRequest, GraphResponse, Method};
use crate::kinds::registry::{self, Api, BoxFuture};
use crate::kinds::role_assignment;

mod outcome;
use outcome::Calls;
pub use outcome::definite_refusal;

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
    /// The create failed, and Graph answered every write it sent with a
    /// definite refusal ([`definite_refusal`]; `status`: the last one):
    /// nothing of it can exist, so it need not be waited for.
    Refused { address: &'a Address, status: u16 },
}

/// Records create events; an error stops the create.
type CreateHook = Box<dyn Fn(CreateEvent<'_>) -> Result<(), String> + Send + Sync>;

pub struct GraphExecutor {
    client: GraphClient,
    env: EnvLookup,
    now: DateTime<Utc>,
    create_retry_delay: std::time::Duration,
    hook: Option<CreateHook>,
    /// Writes and create lookups coalesced into `$batch` (see `with_batching`).
    batcher: Option<std::sync::Arc<WriteBatcher>>,
}

impl GraphExecutor {
    /// `env` looks up environment variables (initial passwords).
    pub fn new(client: GraphClient, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static, now: DateTime<Utc>) -> Self {
        GraphExecutor { client, env: Box::new(env), now, create_retry_delay: std::time::Duration::from_secs(2), hook: None, batcher: None }
    }

    /// Call `hook` before each create's POST and as soon as Graph answers it
    /// with an id, before waiting for the object to replicate: a run killed
    /// in between leaves a record that the object may exist, so the next
    /// run waits for it instead of creating it again. A hook error fails
    /// the create before anything more is sent, and stops the run
    /// ([`ExecError::stops_run`]).
    pub fn with_create_hook(mut self, hook: impl Fn(CreateEvent<'_>) -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    fn event(&self, e: CreateEvent<'_>) -> Result<(), ExecError> {
        match &self.hook {
            // Recorded before the POST: the create was never sent.
            Some(h) => h(e).map_err(|m| match e {
                CreateEvent::Sending { .. } => ExecError { stops_run: true, not_sent: true, ..err(format!("recording the create before sending it (nothing was sent): {m}")) },
                CreateEvent::Created { .. } => ExecError { stops_run: true, ..err(format!("recording the create: {m}")) },
                // The create failed already; its pending mark stays, and the
                // next run waits for it as before.
                CreateEvent::Refused { .. } => err(format!("recording the refused create: {m}")),
            }),
            None => Ok(()),
        }
    }

    /// Send the writes and create lookups of concurrent changes together in
    /// `$batch` calls (20 items each, each item paced and retried on its
    /// own). Run 20 times as many changes at once as there are calls to
    /// keep in flight, or the batches carry little.
    pub fn with_batching(mut self) -> Self {
        self.batcher = Some(WriteBatcher::new(&self.client));
        self
    }

    /// Batching with another wait before a batch that is not full goes
    /// (tests use a long one so that what goes together is predictable).
    pub fn with_batch_linger(mut self, linger: std::time::Duration) -> Self {
        self.batcher = Some(WriteBatcher::with_linger(&self.client, linger));
        self
    }

    /// One request, batched with other changes' when batching is on.
    async fn exec(&self, api: &GraphClient, request: GraphRequest) -> Result<GraphResponse, GraphError> {
        match &self.batcher {
            Some(b) => b.execute(api, request).await,
            None => api.execute(request).await,
        }
    }

    /// A collection (a create lookup), its first page batched when batching is on.
    async fn list(&self, api: &GraphClient, path: &str) -> Result<Vec<Value>, GraphError> {
        match &self.batcher {
            Some(b) => b.list_all(api, path).await,
            None => api.list_all(path).await,
        }
    }

    /// The wait before looking a create up again after an ambiguous
    /// failure, multiplied by the attempt number (tests shorten it).
    pub fn with_create_retry_delay(mut self, delay: std::time::Duration) -> Self {
        self.create_retry_delay = delay;
        self
    }
}

pub(crate) fn fail(e: GraphError) -> ExecError {
    // A Network error on a POST that may have reached the server is not
    // retried by the client; it is ambiguous, and only the caller knows
    // how to retry it safely (creates look their natural key up again).
    let retryable = e.is_retryable() || matches!(e, GraphError::Network { .. } | GraphError::Transient { .. } | GraphError::Throttled { .. });
    ExecError { request_id: e.request_id().map(str::to_string), message: e.to_string(), retryable, stops_run: false, not_sent: false }
}

pub(crate) fn err(message: impl Into<String>) -> ExecError {
    ExecError { message: message.into(), request_id: None, retryable: false, stops_run: false, not_sent: false }
}

/// How many times a create is retried after an ambiguous failure. Each try
/// starts with a natural-key lookup, so a create that did reach Graph is
/// adopted, not repeated.
const CREATE_ATTEMPTS: u32 = 4;

/// Object id of a reference: an address (through `ids`) or `id:X` for an
/// object tenantctl does not manage.
fn ref_id(target: &str, ids: &BTreeMap<Address, String>) -> Option<String> {
    if let Some(raw) = target.strip_prefix("id:") {
        return Some(raw.to_string());
    }
    // A live reference to an object desired state does not name (a
    // portal-made administrative unit or custom role an out-of-band
    // assignment uses) is its object id itself (hostile run 19, finding 12).
    if schema::object_id::is_guid(target) {
        return Some(target.to_string());
    }
    target.parse::<Address>().ok().and_then(|a| ids.get(&a).cloned())
}

/// What a kind's `create`, `update` and `delete` are given: the change,
/// the ids known so far, and the calls that every write goes through (so
/// request ids reach the journal and create events the ledger).
pub struct Writer<'a> {
    exec: &'a GraphExecutor,
    change: &'a Change,
    ids: &'a BTreeMap<Address, String>,
    calls: &'a Calls,
}

impl<'a> Writer<'a> {
    pub(crate) fn change(&self) -> &'a Change {
        self.change
    }

    pub(crate) fn address(&self) -> &'a Address {
        &self.change.address
    }

    /// The change's desired resource (a create or update always has one).
    pub(crate) fn desired(&self) -> Result<&'a DesiredResource, ExecError> {
        self.change.desired.as_ref().ok_or_else(|| err(format!("{}: the plan carries no desired properties", self.change.address)))
    }

    /// The client at the kind's Graph version.
    pub(crate) fn api(&self) -> GraphClient {
        api_of(&self.exec.client, self.change.address.kind)
    }

    /// The client itself (for another version than the kind's).
    pub(crate) fn client(&self) -> &'a GraphClient {
        &self.exec.client
    }

    /// The kind's collection.
    pub(crate) fn base(&self) -> &'static str {
        registry::provider(self.change.address.kind).collection
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.exec.now
    }

    /// An environment variable (initial passwords); never logged.
    pub(crate) fn env(&self, var: &str) -> Option<String> {
        (self.exec.env)(var)
    }

    /// The top-level properties the change touches.
    pub(crate) fn touched(&self) -> BTreeSet<String> {
        // Fields the ledger records only (a guest's expiry) are never sent.
        let kind = self.change.address.kind;
        self.change.fields.iter().filter(|f| !engine::governance::recorded::is_ledger_field(kind, &f.field)).map(|f| f.field.split('.').next().unwrap_or(&f.field).to_string()).collect()
    }

    /// The touched top-level properties with their desired values (null
    /// for one no longer declared), but `skip` and `assignments`.
    pub(crate) fn scalar(&self, skip: &[&str]) -> Result<Props, ExecError> {
        let r = self.desired()?;
        Ok(self
            .touched()
            .into_iter()
            .filter(|f| !skip.contains(&f.as_str()) && f != "assignments")
            .map(|f| {
                let v = r.props.get(&f).cloned().unwrap_or(Value::Null);
                (f, v)
            })
            .collect())
    }

    /// Object id of a reference: an address created or known so far, or
    /// `id:X` for an object tenantctl does not manage.
    pub(crate) fn ref_id(&self, target: &str) -> Option<String> {
        ref_id(target, self.ids)
    }

    /// Whether `id` is the object of an address of `kind` this apply knows
    /// (declared or owned).
    pub(crate) fn knows(&self, kind: Kind, id: &str) -> bool {
        self.ids.iter().any(|(a, i)| a.kind == kind && i.eq_ignore_ascii_case(id))
    }

    /// Object ids of a list of references; one without an id yet is an error.
    pub(crate) fn ref_ids(&self, v: Option<&Value>) -> Result<BTreeSet<String>, ExecError> {
        let mut out = BTreeSet::new();
        for r in v.and_then(Value::as_array).into_iter().flatten() {
            let target = as_reference(r).unwrap_or_default();
            out.insert(self.ref_id(target).ok_or_else(|| err(format!("{target} has no object id yet")))?);
        }
        Ok(out)
    }

    /// Send one request, noting its request id; the response body.
    pub(crate) async fn send(&self, api: &GraphClient, method: Method, path: &str, body: Option<Value>) -> Result<Value, ExecError> {
        let mut request = GraphRequest::new(method, path);
        request.body = body;
        self.execute(api, request).await
    }

    /// Execute a prepared request (e.g. one safe to retry), noting its
    /// request id; the response body.
    pub(crate) async fn execute(&self, api: &GraphClient, request: GraphRequest) -> Result<Value, ExecError> {
        let method = request.method.clone();
        let response = self.exec.exec(api, request).await;
        self.calls.wrote(&method, &response);
        let response = response.map_err(fail)?;
        self.calls.note(&response);
        Ok(response.body.unwrap_or(Value::Null))
    }

    /// Execute a request, handing its error back to the caller to judge.
    pub(crate) async fn try_execute(&self, api: &GraphClient, request: GraphRequest) -> Result<Value, GraphError> {
        let method = request.method.clone();
        let response = self.exec.exec(api, request).await;
        self.calls.wrote(&method, &response);
        let response = response?;
        self.calls.note(&response);
        Ok(response.body.unwrap_or(Value::Null))
    }

    /// Record that Graph answered the create's POST with `id` (before
    /// waiting for it to replicate).
    pub(crate) fn created(&self, id: &str) -> Result<(), ExecError> {
        self.exec.event(CreateEvent::Created { address: &self.change.address, id })
    }

    /// POST `body` to the kind's collection and record the new id.
    pub(crate) async fn post_new(&self, path: &str, body: Value) -> Result<String, ExecError> {
        let created = self.send(&self.api(), Method::POST, path, Some(body)).await?;
        let id = id_of(&created)?;
        self.created(&id)?;
        Ok(id)
    }

    /// Wait until `path` is readable (replication after a create).
    pub(crate) async fn wait(&self, api: &GraphClient, path: &str) -> Result<(), ExecError> {
        match &self.exec.batcher {
            Some(b) => b.wait_until_readable(api, path).await.map(|_| ()).map_err(fail),
            None => api.wait_until_readable(path).await.map(|_| ()).map_err(fail),
        }
    }

    /// Every item of a collection (a lookup before a write): its first page
    /// rides in a `$batch` with other changes' requests when batching is on.
    pub(crate) async fn list(&self, api: &GraphClient, path: &str) -> Result<Vec<Value>, GraphError> {
        self.exec.list(api, path).await
    }

    /// Execute a request, returning the whole response (its status and
    /// headers too), batched when batching is on; the request id is noted.
    pub(crate) async fn execute_raw(&self, api: &GraphClient, request: GraphRequest) -> Result<GraphResponse, GraphError> {
        let method = request.method.clone();
        let response = self.exec.exec(api, request).await;
        self.calls.wrote(&method, &response);
        let response = response?;
        self.calls.note(&response);
        Ok(response)
    }
}

impl Executor for GraphExecutor {
    async fn execute(&self, change: &Change, ids: &BTreeMap<Address, String>) -> Result<Outcome, ExecError> {
        let calls = Calls::default();
        let w = Writer { exec: self, change, ids, calls: &calls };
        let (id, note) = match change.action {
            Action::Forget => (None, None),
            Action::Create => {
                let (id, note) = self.create_idempotent(&w).await?;
                (Some(id), note)
            }
            // A ratification: the tenant already has it; only the ledger
            // records it as approved (engine::governance::ratify).
            Action::Update if engine::governance::ratify::is_ratify(change) => {
                let id = change.id.clone().ok_or_else(|| err(format!("{}: no object id to ratify", change.address)))?;
                (Some(id), Some("recorded as approved in the ledger; nothing was sent to Graph (the tenant already had it)".to_string()))
            }
            Action::Update | Action::Assign => {
                let id = change.id.clone().ok_or_else(|| err(format!("{}: no object id to update", change.address)))?;
                self.update(&w, &id).await?;
                (Some(id), None)
            }
            Action::Delete => {
                let id = change.id.clone().ok_or_else(|| err(format!("{}: no object id to delete", change.address)))?;
                self.delete(&w, &id).await?;
                (None, None)
            }
            Action::Replace => {
                let old = change.id.clone().ok_or_else(|| err(format!("{}: no object id to replace", change.address)))?;
                self.delete(&w, &old).await?;
                let (id, note) = self.create_idempotent(&w).await?;
                (Some(id), note)
            }
        };
        Ok(Outcome { id, request_ids: calls.take(), note })
    }
}

impl GraphExecutor {
    fn api(&self, kind: Kind) -> GraphClient {
        api_of(&self.client, kind)
    }

    fn collection(kind: Kind) -> &'static str {
        registry::provider(kind).collection
    }

    /// An existing object with the change's natural key, if any (the
    /// kind's `NaturalKey` says how it is found).
    async fn lookup(&self, kind: Kind, r: &DesiredResource) -> Result<Option<String>, ExecError> {
        let Some(key) = &registry::provider(kind).natural_key else {
            return Ok(None);
        };
        let (filter, wanted) = (key.filter)(r);
        let select = if key.select.is_empty() { format!("id,{}", key.field) } else { format!("id,{},{}", key.field, key.select) };
        // An empty filter: the collection takes no `$filter`; it is listed whole and matched here.
        let path = if filter.is_empty() { format!("{}?$top=999", Self::collection(kind)) } else { format!("{}?$filter={}&$select={select}", Self::collection(kind), urlencode(&filter)) };
        let found: Vec<Value> = self.list(&self.api(kind), &path).await.map_err(fail)?.into_iter().filter(|o| (key.matches)(o, r, &wanted)).collect();
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

    async fn create_idempotent(&self, w: &Writer<'_>) -> Result<(String, Option<String>), ExecError> {
        let mut attempt = 1;
        loop {
            match self.create(w).await {
                Err(e) if e.retryable && attempt < CREATE_ATTEMPTS => {
                    tracing::debug!(address = %w.change.address, attempt, error = %e.message, "create failed ambiguously; looking it up and trying again");
                    // Give a create that did land time to replicate, so the
                    // lookup sees it rather than making a duplicate.
                    tokio::time::sleep(self.create_retry_delay * attempt).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn create(&self, w: &Writer<'_>) -> Result<(String, Option<String>), ExecError> {
        let change = w.change;
        let r = w.desired()?;
        let kind = change.address.kind;
        if let Some(existing) = self.lookup(kind, r).await? {
            // A previous run created it but never recorded it: adopt it and
            // bring it to the desired state rather than creating a duplicate.
            // Only what a create writes after its POST (the kind's
            // `after_post`) may be missing: a create that failed after its
            // POST (its licences refused a moment, a connection dropped) is
            // retried as an adoption, which must finish the job. Properties
            // were in the POST, and re-sending them could touch fields Graph
            // refuses to change (isAssignableToRole) or that app-only calls
            // may not set on privileged users. The next plan compares everything.
            let mut adopt = change.clone();
            adopt.fields = registry::provider(kind)
                .after_post
                .iter()
                .filter(|k| r.props.contains_key(**k))
                .map(|k| engine::diff::FieldChange { field: k.to_string(), before: None, after: r.props.get(*k).cloned() })
                .collect();
            adopt.id = Some(existing.clone());
            if !adopt.fields.is_empty() {
                let aw = Writer { exec: self, change: &adopt, ids: w.ids, calls: w.calls };
                self.update(&aw, &existing).await?;
            }
            return Ok((existing.clone(), Some(format!("adopted existing object {existing} with the same natural key"))));
        }
        let address = &change.address;
        self.event(CreateEvent::Sending { address })?;
        let id = match (registry::provider(kind).create)(w).await {
            Ok(id) => id,
            Err(e) => {
                // Refused for sure (a 400 for a password Graph finds too
                // weak): nothing to wait for. Anything that may have landed
                // keeps the mark: a false clear under lag would create a
                // duplicate (hostile run 23, finding 9).
                if let Some(status) = w.calls.refused_only() {
                    if let Err(not) = self.event(CreateEvent::Refused { address, status }) {
                        tracing::warn!(address = %address, error = %not.message, "the refused create's pending mark was not cleared");
                    }
                }
                return Err(e);
            }
        };
        self.event(CreateEvent::Created { address, id: &id })?;
        if reads_back_after_create(kind) {
            w.wait(&self.api(kind), &format!("{}/{}", Self::collection(kind), schema::object_id::path_segment(&id))).await?;
        }
        Ok((id, None))
    }

    async fn update(&self, w: &Writer<'_>, id: &str) -> Result<(), ExecError> {
        (registry::provider(w.change.address.kind).update)(w, id).await
    }

    async fn delete(&self, w: &Writer<'_>, id: &str) -> Result<(), ExecError> {
        (registry::provider(w.change.address.kind).delete)(w, id).await
    }
}

/// Kinds whose create returns before Graph serves the new object, and whose
/// own create does not wait for it: the create is read back by id (with the
/// replication delays) before it counts as applied. The ledger's `applied`
/// then means "seen": a later run that cannot find such an object waits for
/// it, or, when a killed run never saw it, does not create it again within
/// the replication limit ([`crate::settle`]); before, a conditional access
/// policy recorded as applied from its `POST`'s answer alone was called gone
/// after the window and created twice under lag (hostile run 22, finding 2).
fn reads_back_after_create(kind: Kind) -> bool {
    registry::provider(kind).created == registry::Created::ListedReadBack
}

/// The plain delete most kinds use: `DELETE {collection}/{id}`; an object
/// already gone (a previous run's response was lost) is done.
pub fn delete_plain<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        match w.try_execute(&w.api(), GraphRequest::new(Method::DELETE, format!("{}/{id}", w.base()))).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(fail(e)),
        }
    })
}

/// Read one live object of `kind` by id (for `import`): its Graph body, or
/// None when no such object exists. Each of the kind's `import_paths` (or
/// its collection) is tried in turn.
pub async fn read_object(client: &GraphClient, kind: Kind, id: &str) -> Result<Option<Value>, GraphError> {
    let id = &*schema::object_id::path_segment(id);
    let api = api_of(client, kind);
    let p = registry::provider(kind);
    let paths: Vec<String> = if p.import_paths.is_empty() {
        vec![format!("{}/{id}", p.collection)]
    } else {
        p.import_paths.iter().map(|c| format!("{c}/{id}")).collect()
    };
    for path in paths {
        match api.get_json(&path).await {
            // An access package assignment that ended (`expired`) still
            // answers by id, but is gone as the kind reads it (not listed).
            Ok(v) if kind == Kind::AccessPackageAssignment && !crate::kinds::access_package_assignment::grants(&v) => return Ok(None),
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

pub(crate) fn id_of(v: &Value) -> Result<String, ExecError> {
    v.get("id").and_then(Value::as_str).map(str::to_string).ok_or_else(|| err("the create response has no id"))
}

/// Percent-encode a query value (spaces, quotes, and reserved characters).
pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// A random initial password meeting Entra's complexity rule.
pub(crate) fn generate_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#$%*-_=+";
    let mut rng = rand::thread_rng();
    // Upper, lower, digit and symbol guaranteed, for Entra's complexity rule.
    let mut p: String = (0..20).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect();
    p.push_str("Aa1!");
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::error::{ApiErrorBody, RequestInfo};

    fn post() -> RequestInfo {
        RequestInfo { method: "POST".into(), path: "/v1.0/users".into() }
    }

    #[test]
    fn only_a_sure_refusal_is_definite() {
        let invalid = |status| GraphError::InvalidRequest { request: post(), status, detail: Box::new(ApiErrorBody { code: "Request_BadRequest".into(), ..Default::default() }) };
        assert_eq!(definite_refusal(&invalid(400)), Some(400));
        assert_eq!(definite_refusal(&invalid(422)), Some(422));
        assert_eq!(definite_refusal(&invalid(408)), None, "a timeout may have landed");
        assert_eq!(definite_refusal(&GraphError::PermissionDenied { request: post(), status: 403, permission: None, detail: None }), Some(403));
        assert_eq!(definite_refusal(&GraphError::Conflict { request: post(), status: 409, detail: None }), None, "an object with the key exists");
        assert_eq!(definite_refusal(&GraphError::Throttled { request: post(), status: 429, attempts: 3, retry_after: None, detail: None }), None);
        assert_eq!(definite_refusal(&GraphError::Transient { request: post(), last_status: Some(503), attempts: 3, detail: None }), None);
        assert_eq!(definite_refusal(&GraphError::Transient { request: post(), last_status: None, attempts: 3, detail: None }), None);
    }
}
