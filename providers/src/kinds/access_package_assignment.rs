//! Access package assignments (`/identityGovernance/entitlementManagement/
//! assignments`, v1.0): a guest or user holding an access package through
//! one of its policies until its expiry. Read from the assignments listing
//! with `$expand=target,accessPackage,assignmentPolicy` (the docs show
//! `$expand=target,accessPackage`; `assignmentPolicy` is the same entity's
//! navigation property). Written only through assignment requests
//! (`/assignmentRequests`): `adminAdd` (target, policy and package by id,
//! a schedule ending at `expires`, the justification), `adminUpdate` of the
//! schedule when only the expiry changes, `adminRemove` to end it. The
//! natural key is (package, target): a create first looks for a live
//! assignment of the package to the target and adopts it, so a request
//! whose answer was lost is never made twice. An assignment still being
//! delivered is neither in sync nor requested again: it is unknown until
//! Graph delivers it. Ended (`expired`) and failed ones grant nothing and
//! are not read.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::governance::package_assignment::{EXPIRES, PACKAGE, POLICY, TARGET};
use engine::model::{as_reference, reference};
use engine::{DesiredModel, DesiredResource, Ledger, LiveObject, ObservedState, Props};
use schema::kinds::AccessPackageAssignment;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::access_package::{policy_package, POLICIES_LISTING};
use super::registry::{Api, BoxFuture, Created, KindProvider, Read};
use super::{ref_to, resource, str_field};
use crate::apply::{err, fail, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphClient, GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AccessPackageAssignment,
    collection: REQUESTS,
    api: Api::V1,
    // Found by (package, target) ids, which only apply knows: `create`
    // looks the pair up itself.
    natural_key: None,
    created: Created::Elsewhere,
    desired: |s, m| {
        for (k, d) in &s.access_package_assignment {
            m.insert(desired(k, &d.value, s));
        }
    },
    export_file: "access-package-assignments.toml",
    export_title: "Access package assignments",
    read: Read::Own(read),
    create,
    update,
    delete,
    export,
    import_paths: &[ASSIGNMENTS],
    listings: || vec![LISTING.to_string()],
    after_post: &[],
};

/// Where assignments are written (through requests) ...
pub const REQUESTS: &str = "/identityGovernance/entitlementManagement/assignmentRequests";
/// ... and where they are read.
pub const ASSIGNMENTS: &str = "/identityGovernance/entitlementManagement/assignments";
/// Live only: whether an automatic assignment policy made it.
const AUTOMATIC: &str = "automatic";
pub(crate) const LISTING: &str = "/identityGovernance/entitlementManagement/assignments?$expand=target,accessPackage,assignmentPolicy";
/// States that hold (or are about to hold) access; `expired` and
/// `deliveryFailed` grant nothing.
pub(crate) const LIVE_STATES: &[&str] = &["delivering", "partiallyDelivered", "delivered"];
/// States whose delivery is not finished.
const PENDING_STATES: &[&str] = &["delivering", "partiallyDelivered"];
/// Live-only: the assignment's state (never declared, so never compared).
const STATE: &str = "state";
/// Live-only: the policy's display name as Graph spells it (for export).
const POLICY_NAME: &str = "policyName";
/// Live-only: the policy's id, so an assignment through a policy named
/// like another (keyed `name [id]` on its package,
/// `access_package::policy_keys`) is told apart (`access_policy_rename::guard`).
pub(crate) const POLICY_ID: &str = "policyId";

fn natural_key(package: &str, target: &str) -> String {
    format!("{{{{{package}}}}}|{{{{{target}}}}}")
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn desired(key: &str, a: &AccessPackageAssignment, state: &DesiredState) -> DesiredResource {
    let package = ref_to(state, &a.package, &[Kind::AccessPackage]);
    let target = ref_to(state, &a.target, &[Kind::Guest, Kind::User]);
    let policy = state
        .resolve(&a.package, &[Kind::AccessPackage])
        .ok()
        .and_then(|p| state.access_package.get(p.key.as_str()))
        .and_then(|p| p.value.policies.get(a.policy.as_str()))
        .map_or_else(|| a.policy.clone(), |p| p.display_name.clone());
    let key_part = |v: &Value| as_reference(v).unwrap_or_default().to_string();
    let nk = natural_key(&key_part(&package), &key_part(&target));
    let mut p = Props::new();
    p.insert(PACKAGE.into(), package);
    p.insert(POLICY.into(), json!(policy.to_lowercase()));
    p.insert(TARGET.into(), target);
    p.insert(EXPIRES.into(), json!(rfc3339(a.expires)));
    let mut r = resource(Address::new(Kind::AccessPackageAssignment, key), nk, format!("{} in {}", a.target, a.package), p);
    // Another package, target or policy is another assignment.
    r.immutable = vec![PACKAGE.into(), TARGET.into(), POLICY.into()];
    r.expires = Some(a.expires);
    if let Some(j) = &a.justification {
        r.create_only.insert("justification".into(), json!(j));
    }
    r
}

/// A live assignment (with its target, package and policy expanded).
pub fn normalize(raw: &Value) -> LiveObject {
    let package = raw.get("accessPackage").map(|p| str_field(p, "id")).unwrap_or_default();
    let target = raw.get("target").map(|t| str_field(t, "objectId")).unwrap_or_default();
    let policy = raw.get("assignmentPolicy").map(|p| str_field(p, "displayName")).unwrap_or_default();
    let end = raw
        .pointer("/schedule/expiration/endDateTime")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| json!(rfc3339(t.with_timezone(&chrono::Utc))))
        .unwrap_or(Value::Null);
    let mut p = Props::new();
    p.insert(PACKAGE.into(), reference(package));
    p.insert(POLICY.into(), json!(policy.to_lowercase()));
    p.insert(POLICY_NAME.into(), json!(policy));
    p.insert(POLICY_ID.into(), json!(raw.get("assignmentPolicy").map(|p| str_field(p, "id")).unwrap_or_default()));
    p.insert(TARGET.into(), reference(target));
    p.insert(EXPIRES.into(), end);
    p.insert(STATE.into(), raw.get(STATE).cloned().unwrap_or(Value::Null));
    // Made by an automatic assignment policy (Entra's, by its rule), so
    // never exported as an administrator's declaration.
    let automatic = super::access_policy_automatic::is_on(raw.pointer("/assignmentPolicy/automaticRequestSettings"));
    p.insert(AUTOMATIC.into(), json!(automatic));
    let who = raw.get("target").map(|t| str_field(t, "displayName")).filter(|n| !n.is_empty()).unwrap_or(target);
    let what = raw.get("accessPackage").map(|p| str_field(p, "displayName")).filter(|n| !n.is_empty()).unwrap_or(package);
    LiveObject {
        kind: Kind::AccessPackageAssignment,
        id: str_field(raw, "id").to_string(),
        natural_key: natural_key(package, target),
        display_name: format!("{who} in {what}"),
        props: p,
    }
}

/// Whether a raw assignment still holds (or is about to hold) access:
/// not `expired` nor `deliveryFailed`.
pub fn grants(v: &Value) -> bool {
    LIVE_STATES.contains(&state_of(v))
}

fn state_of(v: &Value) -> &str {
    v.get(STATE).and_then(Value::as_str).unwrap_or_default()
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let listed = cx.client.v1().list_all(LISTING).await;
        super::entitlement_licence::or_unavailable(listed.map(|all| {
            let objects = all.iter().filter(|a| LIVE_STATES.contains(&state_of(a))).map(normalize).collect();
            Readout { objects, after: Some(pending), refused: BTreeMap::new() }
        }))
    })
}

/// Assignments still being delivered are unknown (not in sync, and never
/// requested again): by the ledger's id, or by (package, target) for a
/// declared one the ledger does not hold yet.
fn pending(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    let live: Vec<&LiveObject> = observed.objects.get(&Kind::AccessPackageAssignment).into_iter().flatten().filter(|o| o.props.get(STATE).and_then(Value::as_str).is_some_and(|s| PENDING_STATES.contains(&s))).collect();
    let mut unread = BTreeMap::new();
    for o in live {
        let owned = ledger.resources.iter().find(|(a, e)| a.kind == Kind::AccessPackageAssignment && e.id == o.id).map(|(a, _)| a.clone());
        let id_of = |r: &DesiredResource, k: &str| r.props.get(k).and_then(as_reference).and_then(|a| a.parse::<Address>().ok()).and_then(|a| ledger.id(&a).map(str::to_string));
        let declared = || {
            desired.resources.values().find(|r| {
                r.address.kind == Kind::AccessPackageAssignment
                    && id_of(r, PACKAGE).as_deref() == o.props.get(PACKAGE).and_then(as_reference)
                    && id_of(r, TARGET).as_deref() == o.props.get(TARGET).and_then(as_reference)
            })
        };
        if let Some(a) = owned.or_else(|| declared().map(|r| r.address.clone())) {
            let state = o.props.get(STATE).and_then(Value::as_str).unwrap_or_default();
            unread.insert(a, format!("its assignment {} is still being delivered (state {state}): not in sync yet, and not requested again", o.id));
        }
    }
    observed.unread.extend(unread);
}

fn assignment_path(id: &str) -> String {
    format!("{ASSIGNMENTS}/{}", schema::object_id::path_segment(id))
}

/// The object id a reference prop names.
fn id_for(w: &Writer<'_>, r: &DesiredResource, prop: &str) -> Result<String, ExecError> {
    let target = r.props.get(prop).and_then(as_reference).ok_or_else(|| err(format!("{}: no {prop}", w.address())))?;
    w.ref_id(target).ok_or_else(|| err(format!("{}: {target} has no object id yet", w.address())))
}

/// The id of the package's policy named (lowercased) `name`.
async fn policy_id(w: &Writer<'_>, api: &GraphClient, package: &str, name: &str) -> Result<String, ExecError> {
    let all = w.list(api, POLICIES_LISTING).await.map_err(fail)?;
    all.iter()
        .find(|p| policy_package(p) == package && str_field(p, "displayName").to_lowercase() == name)
        .map(|p| str_field(p, "id").to_string())
        .ok_or_else(|| err(format!("{}: access package {package} has no policy named `{name}`", w.address())))
}

/// A live (or being delivered) assignment of `package` to `target`.
async fn existing(w: &Writer<'_>, api: &GraphClient, package: &str, target: &str) -> Result<Option<Value>, ExecError> {
    let all = w.list(api, LISTING).await.map_err(fail)?;
    let mut found = all.into_iter().filter(|a| LIVE_STATES.contains(&state_of(a)) && a.get("accessPackage").map(|p| str_field(p, "id")) == Some(package) && a.get("target").map(|t| str_field(t, "objectId")) == Some(target));
    Ok(found.next())
}

/// The schedule of a request: from `start` (an update keeps the
/// assignment's own start, as the docs' extension example does; a new
/// assignment starts now) to the declared expiry.
fn schedule(w: &Writer<'_>, r: &DesiredResource, start: Option<&str>) -> Result<Value, ExecError> {
    let end = r.props.get(EXPIRES).and_then(Value::as_str).ok_or_else(|| err(format!("{}: no expiry (there is no standing access)", w.address())))?;
    let start = start.filter(|s| !s.is_empty()).map(str::to_string).unwrap_or_else(|| rfc3339(w.now()));
    Ok(json!({"startDateTime": start, "expiration": {"type": "afterDateTime", "endDateTime": end}}))
}

/// The live assignment `id` (None when Graph no longer has it).
async fn read_assignment(w: &Writer<'_>, api: &GraphClient, id: &str) -> Result<Option<Value>, GraphError> {
    match w.try_execute(api, GraphRequest::new(Method::GET, assignment_path(id))).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn start_of(assignment: &Value) -> Option<&str> {
    assignment.get("schedule").and_then(|s| s.get("startDateTime")).and_then(Value::as_str)
}

fn justification(r: &DesiredResource) -> Value {
    json!(r.create_only.get("justification").and_then(Value::as_str).unwrap_or("Declared in tenantctl desired state"))
}

async fn request_update(w: &Writer<'_>, api: &GraphClient, r: &DesiredResource, id: &str, start: Option<&str>) -> Result<(), ExecError> {
    let body = json!({"requestType": "adminUpdate", "assignment": {"id": id}, "schedule": schedule(w, r, start)?, "justification": justification(r)});
    w.send(api, Method::POST, REQUESTS, Some(body)).await.map(|_| ())
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let api = w.api();
        let (package, target) = (id_for(w, r, PACKAGE)?, id_for(w, r, TARGET)?);
        // Adopted, never requested twice: a request whose answer was lost,
        // or an assignment made in the portal.
        if let Some(found) = existing(w, &api, &package, &target).await? {
            let id = str_field(&found, "id").to_string();
            let live = normalize(&found);
            if live.props.get(EXPIRES) != r.props.get(EXPIRES) && !PENDING_STATES.contains(&state_of(&found)) {
                request_update(w, &api, r, &id, start_of(&found)).await?;
            }
            return Ok(id);
        }
        let policy = policy_id(w, &api, &package, r.props.get(POLICY).and_then(Value::as_str).unwrap_or_default()).await?;
        let body = json!({
            "requestType": "adminAdd",
            "assignment": {"targetId": target, "assignmentPolicyId": policy, "accessPackageId": package},
            "schedule": schedule(w, r, None)?,
            "justification": justification(r),
        });
        let request = w.send(&api, Method::POST, REQUESTS, Some(body)).await?;
        let rid = str_field(&request, "id").to_string();
        if rid.is_empty() {
            return Err(err(format!("{}: Graph answered the assignment request without an id", w.address())));
        }
        let rpath = format!("{REQUESTS}/{}", schema::object_id::path_segment(&rid));
        w.wait(&api, &rpath).await?;
        let made = w.send(&api, Method::GET, &format!("{rpath}?$expand=assignment"), None).await?;
        let id = made.get("assignment").map(|a| str_field(a, "id")).unwrap_or_default().to_string();
        if id.is_empty() {
            let state = str_field(&made, "state");
            return Err(err(format!("{}: assignment request {rid} is {state} and names no assignment yet; the next plan finds the assignment by package and target", w.address())));
        }
        w.created(&id)?;
        w.wait(&api, &assignment_path(&id)).await?;
        Ok(id)
    })
}

/// Only the expiry changes in place (package, target and policy replace).
fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        if w.touched().contains(EXPIRES) {
            let api = w.api();
            let live = read_assignment(w, &api, id).await.map_err(fail)?.ok_or_else(|| err(format!("{}: assignment {id} is gone; the next plan requests it again", w.address())))?;
            request_update(w, &api, r, id, start_of(&live)).await?;
        }
        Ok(())
    })
}

/// `adminRemove`; an assignment already gone (ended, failed, or a lost
/// answer) is done. Graph documents no status for removing one that is
/// gone (a catalog's remove answers 400), so it is read first.
fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let api = w.api();
        match read_assignment(w, &api, id).await.map_err(fail)? {
            None => return Ok(()),
            Some(a) if !LIVE_STATES.contains(&state_of(&a)) => return Ok(()),
            Some(_) => {}
        }
        let mut req = GraphRequest::new(Method::POST, REQUESTS);
        req.body = Some(json!({"requestType": "adminRemove", "assignment": {"id": id}}));
        match w.try_execute(&api, req).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(fail(e)),
        }
    })
}

/// A live assignment as TOML; Err when what it names is not exported or
/// it never ends. `policy_key` gives the key the package's export gave a
/// policy (package id, lowercased name; `access_policy_keys`).
pub fn export_one(o: &LiveObject, key_of: &dyn Fn(&str) -> Option<Address>, policy_key: &dyn Fn(&str, &str) -> Option<String>) -> Result<AccessPackageAssignment, String> {
    let p = &o.props;
    if p.get(AUTOMATIC) == Some(&Value::Bool(true)) {
        return Err("it was made by an automatic assignment policy (by its membership rule), which the package's export declares".into());
    }
    let id = |k: &str| p.get(k).and_then(as_reference).unwrap_or_default().to_string();
    let package = key_of(&id(PACKAGE)).filter(|a| a.kind == Kind::AccessPackage).ok_or_else(|| format!("access package {} is not exported", id(PACKAGE)))?;
    let target = key_of(&id(TARGET)).filter(|a| matches!(a.kind, Kind::Guest | Kind::User)).ok_or_else(|| format!("target {} is not an exported user or guest", id(TARGET)))?;
    let expires = p
        .get(EXPIRES)
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or("it never ends (standing access cannot be declared)")?;
    let name = p.get(POLICY).and_then(Value::as_str).unwrap_or_default();
    let shown = p.get(POLICY_NAME).and_then(Value::as_str).unwrap_or(name);
    let policy = policy_key(&id(PACKAGE), name).ok_or_else(|| format!("its policy `{shown}` is not exported with access package {}", package.key))?;
    Ok(AccessPackageAssignment { package: package.key.to_string(), policy, target: target.to_string(), expires, justification: None })
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let keys = &cx.keys;
        let found = export_one(o, &|id| keys.key_of(id).cloned(), &|package, name| keys.policy_keys.get(&(package.to_string(), name.to_string())).cloned());
        match found {
            Ok(x) => {
                let a = cx.key(Kind::AccessPackageAssignment, &o.display_name, &o.id);
                t.insert(a.key.clone(), x);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("access package assignment {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::AccessPackageAssignment, "", &t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_assignment_reads_as_declared() {
        let raw = json!({
            "id": "a1", "state": "delivered",
            "schedule": {"startDateTime": "2026-12-01T00:00:00Z", "expiration": {"type": "afterDateTime", "endDateTime": "2027-03-31T17:00:00.000Z"}},
            "target": {"objectId": "u1", "displayName": "Jane"}, "accessPackage": {"id": "p1", "displayName": "Audit"}, "assignmentPolicy": {"id": "pol", "displayName": "Fabrikam auditors"},
        });
        let o = normalize(&raw);
        assert_eq!(o.natural_key, "{{p1}}|{{u1}}");
        assert_eq!(o.props[EXPIRES], json!("2027-03-31T17:00:00Z"));
        assert_eq!(o.props[POLICY], json!("fabrikam auditors"));
        let keys = crate::kinds::access_policy_keys::policy_keys(["Fabrikam auditors", "Fabrikam auditors!"]);
        let a = export_one(
            &o,
            &|id| match id {
                "p1" => Some(Address::new(Kind::AccessPackage, "audit")),
                "u1" => Some(Address::new(Kind::Guest, "jane")),
                _ => None,
            },
            &|package, name| (package == "p1").then(|| keys.get(name).cloned()).flatten(),
        )
        .expect("exports");
        assert_eq!((a.package.as_str(), a.policy.as_str(), a.target.as_str()), ("audit", "fabrikam-auditors", "guest.jane"));
        let mut open = o.clone();
        open.props.insert(EXPIRES.into(), Value::Null);
        assert!(export_one(&open, &|_| None, &|_, _| None).is_err());
    }
}
