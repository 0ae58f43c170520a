//! Requests already waiting under a policy the plan narrows, re-points or
//! deletes.
//!
//! Narrowing an assignment policy (fewer people may request, self-requests
//! turned off, approval or an approval stage added, people taken out of a
//! group it admits, directly, through a nested group or a narrowed rule:
//! `access_policy_audience`, `access_policy_reach`) or re-pointing one of
//! its approval stages (an approver taken out, or a person taken out of an
//! approver group: `access_policy_approvers`) changes what Entra admits,
//! or who approves, from then on; requests already waiting for an approver are
//! neither re-checked nor cancelled, so an approver can still grant what
//! the policy no longer admits. The plan says so, naming them, policy by
//! policy: for each declared package matched live (the ledger's id, else
//! its name), the live policies the plan narrows, and those it deletes (a
//! live policy desired state no longer declares, renamed with another
//! change or removed: hostile run 24, finding 12), are known by their live
//! ids; the package's requests are listed as "List assignmentRequests"
//! (v1.0) documents for one package
//! (`$expand=accessPackage&$filter=accessPackage/id eq '{id}'`, with
//! `requestor` expanded, also documented there) and with
//! `assignment($expand=assignmentPolicy)`: a request's `assignment`
//! "supports `$expand`" and takes its own expansions ("Get
//! accessPackageAssignmentRequest" shows `assignment($expand=target)`),
//! and an assignment's `assignmentPolicy` "supports `$expand`" (the v1.0
//! accessPackageAssignment resource). The `userAdd` requests still waiting
//! (`submitted`, `pendingApproval`, `scheduled`: the v1.0
//! `accessPackageRequestState` members before a decision) whose policy id
//! is one narrowed, re-pointed or deleted are named in a plan warning;
//! of a policy narrowed only through its groups' membership, only the
//! requests of the people taken out (by the requestor's `objectId`). A request whose
//! policy Graph does not give (no assignment, or the nested expansion
//! refused, when the documented listing is asked again without it), or a
//! package whose policies' ids could not be read, is never taken as
//! another policy's: its waiting requests are named with that said.
//!
//! A package whose granted roles grow (`access_package_roles_added`) has
//! every request waiting on it named too: approved, each is granted the
//! roles added.
//!
//! Costs nothing unless a policy is narrowed, re-pointed or deleted, or a
//! package's roles grow: one listing of
//! the policies, and one of requests per such package. A listing that
//! fails (after the client's retries) is said in the warning, never taken
//! as "none waiting"; only an authentication failure fails the plan.

use std::collections::{BTreeMap, BTreeSet};

use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::{Address, Kind};
use serde_json::Value;

use super::access_package::{declared_policy_names, policy_keys, policy_package, POLICIES_LISTING};
use super::access_package_assignment::REQUESTS;
use super::access_policy_approvers::{regrouped, repointed};
use super::access_policy_reach::Directory;
use super::access_policy_audience::{dropped, resolve};
use super::access_policy_rename::{names, rename};
use super::registry::lit;
use super::str_field;
use crate::graph::{GraphClient, GraphError};

/// The states of a request no one has decided yet.
const WAITING: &[&str] = &["submitted", "pendingApproval", "scheduled"];

/// Where a package's props hold its policies, by lowercased name.
const POLICIES: &str = "policies";

/// Which scopes admit everyone another admits (`allowedTargetScope`).
fn covers(wide: &str, narrow: &str) -> bool {
    wide == narrow
        || match wide {
            "allDirectoryAndExternalUsers" => !narrow.contains("ServicePrincipal") && !narrow.contains("AgentIdentities") && narrow != "notSpecified",
            "allDirectoryUsers" => ["allMemberUsers", "specificDirectoryUsers"].contains(&narrow),
            "allExternalUsers" => ["specificConnectedOrganizationUsers", "allConfiguredConnectedOrganizationUsers"].contains(&narrow),
            "allConfiguredConnectedOrganizationUsers" => narrow == "specificConnectedOrganizationUsers",
            "allDirectoryServicePrincipals" => narrow == "specificDirectoryServicePrincipals",
            _ => false,
        }
}

fn flag(p: &Value, pointer: &str) -> bool {
    p.pointer(pointer).and_then(Value::as_bool).unwrap_or(false)
}

fn stages(p: &Value) -> usize {
    p.pointer("/requestApprovalSettings/stages").and_then(Value::as_array).map_or(0, Vec::len)
}

/// How the declared policy `want` narrows the live one `have`, if it does.
pub fn narrowing(want: &Value, have: &Value) -> Vec<String> {
    let mut why = Vec::new();
    let (ws, hs) = (str_field(want, "allowedTargetScope"), str_field(have, "allowedTargetScope"));
    if !covers(ws, hs) {
        why.push(format!("who may request goes from {hs} to {ws}"));
    } else if ws == hs && ws.starts_with("specific") {
        let kept = want.get("specificAllowedTargets").and_then(Value::as_array).cloned().unwrap_or_default();
        let dropped = have.get("specificAllowedTargets").and_then(Value::as_array).into_iter().flatten().filter(|t| !kept.contains(t)).count();
        if dropped > 0 {
            why.push(format!("{dropped} of its allowed requestors taken out"));
        }
    }
    // Settings desired state leaves out are not changed by the plan.
    let declared = want.get("requestorSettings").is_some_and(Value::is_object);
    if declared && flag(have, "/requestorSettings/enableTargetsToSelfAddAccess") && !flag(want, "/requestorSettings/enableTargetsToSelfAddAccess") {
        why.push("requestors may no longer ask for themselves".into());
    }
    let approval = "/requestApprovalSettings/isApprovalRequiredForAdd";
    if flag(want, approval) && !flag(have, approval) {
        why.push("approval is now required".into());
    } else if flag(want, approval) && stages(want) > stages(have) {
        why.push(format!("approval goes from {} to {} stage(s)", stages(have), stages(want)));
    }
    why
}

/// A live policy the plan narrows, re-points or deletes: its key in the
/// package's props, what the plan does to it, as words, and whose waiting
/// requests it concerns: everyone's (`None`), or only those of the people
/// (live ids) it stops admitting through its groups' membership.
struct Touched {
    key: String,
    said: String,
    only: Option<BTreeSet<String>>,
    /// Whether it re-points an approval stage.
    moved: bool,
}

/// The declared policy `want` with its specific targets and approvers
/// named as live ones are (a reference to the object id: the ledger's,
/// else the live object with the declared one's natural key), so a
/// subject kept is not taken for one taken out. A subject not found live
/// stays as declared.
fn resolved(want: &Value, desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Value {
    let mut w = want.clone();
    let each = |v: Option<&mut Value>| {
        if let Some(Value::Array(ts)) = v {
            for t in ts.iter_mut() {
                *t = resolve(t, desired, ledger, observed);
            }
        }
    };
    each(w.get_mut("specificAllowedTargets"));
    if let Some(Value::Array(stages)) = w.pointer_mut("/requestApprovalSettings/stages") {
        for s in stages.iter_mut() {
            for list in ["primaryApprovers", "fallbackPrimaryApprovers", "escalationApprovers", "fallbackEscalationApprovers"] {
                each(s.get_mut(list));
            }
        }
    }
    w
}

/// What the plan does to the live policy `have` it keeps as `want`, if
/// it touches the requests waiting through it.
fn kept(w: &Value, have: &Value, key: &str, dir: &Directory<'_>, desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Option<Touched> {
    let want = resolved(w, desired, ledger, observed);
    let mut why = narrowing(&want, have);
    let narrowed = !why.is_empty();
    let members = dropped(&want, have, dir);
    why.extend(members.said.iter().cloned());
    let mut moved = repointed(&want, have);
    moved.extend(regrouped(&want, have, dir));
    let verb = if why.is_empty() { "re-points the approval of" } else { "narrows" };
    why.extend(moved.iter().cloned());
    if why.is_empty() {
        return None;
    }
    // Only the people taken out of its groups, unless the policy itself changes.
    let only = (!narrowed && moved.is_empty() && !members.everyone).then_some(members.people);
    Some(Touched { key: key.to_string(), said: format!("{verb} policy `{}` ({})", str_field(w, "displayName"), why.join("; ")), only, moved: !moved.is_empty() })
}

/// The declared packages matched live, each with the live policies the
/// plan narrows, re-points or deletes.
fn touched<'a>(desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState, live: &'a [LiveObject]) -> Vec<(String, &'a LiveObject, Vec<Touched>)> {
    let mut out = Vec::new();
    let dir = Directory::new(desired, ledger, observed);
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::AccessPackage) {
        let id = ledger.id(&r.address);
        let Some(o) = live.iter().find(|o| id.map_or(o.natural_key == r.natural_key, |id| o.id == id)) else { continue };
        let (Some(want), Some(have)) = (r.props.get(POLICIES).and_then(Value::as_object), o.props.get(POLICIES).and_then(Value::as_object)) else { continue };
        let mut said = Vec::new();
        // Live policies by key: a policy renamed alone is already keyed by
        // its new name (`access_policy_rename::guard`); one with no
        // declared namesake is deleted by the package's writer.
        for (key, h) in have {
            match want.get(key) {
                Some(w) => said.extend(kept(w, h, key, &dir, desired, ledger, observed)),
                None => said.push(Touched { key: key.clone(), said: format!("deletes policy `{}`", str_field(h, "displayName")), only: None, moved: false }),
            }
        }
        if !said.is_empty() {
            out.push((r.address.to_string(), o, said));
        }
    }
    out
}

/// Each live policy's id, by (package id, key in the package's props),
/// keyed as the package's read keys them (`access_package::policy_keys`)
/// and, for a policy renamed alone, under its new name as the rename guard
/// re-keys it.
async fn policy_ids(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, live: &[LiveObject]) -> Result<BTreeMap<(String, String), String>, GraphError> {
    let listed = client.v1().list_all(POLICIES_LISTING).await?;
    let mut by_package: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for p in &listed {
        by_package.entry(policy_package(p)).or_default().push(p);
    }
    let packages: Vec<_> = desired.resources.range(Address::new(Kind::AccessPackage, "")..).take_while(|(a, _)| a.kind == Kind::AccessPackage).map(|(_, r)| r).collect();
    let declared = declared_policy_names(packages.iter().copied());
    let mut out = BTreeMap::new();
    for (package, pols) in by_package {
        for (key, p) in policy_keys(pols, &declared) {
            out.insert((package.to_string(), key), str_field(p, "id").to_string());
        }
    }
    for r in packages {
        let id = ledger.id(&r.address);
        let Some(o) = live.iter().find(|o| id.map_or(o.natural_key == r.natural_key, |id| o.id == id)) else { continue };
        if let Some((old, new)) = rename(&names(&r.props), &names(&o.props)) {
            if let Some(pid) = out.get(&(o.id.clone(), old.to_string())).cloned() {
                out.insert((o.id.clone(), new.to_string()), pid);
            }
        }
    }
    Ok(out)
}

/// A `userAdd` request still waiting.
pub(super) struct Waiting {
    /// `who (request id, state)`.
    pub shown: String,
    /// The id of the policy it came through, when Graph gave it.
    pub policy: Option<String>,
    /// That policy's display name, when Graph gave it.
    pub policy_name: Option<String>,
    /// The requestor's object id, when Graph gave it.
    pub requestor: Option<String>,
}

/// The package's `userAdd` requests still waiting, in a stable order.
pub(super) async fn waiting(client: &GraphClient, package: &str) -> Result<Vec<Waiting>, GraphError> {
    let filter = crate::apply::urlencode(&format!("accessPackage/id eq {}", lit(package)));
    let api = client.v1();
    let listed = match api.list_all(&format!("{REQUESTS}?$expand=accessPackage,requestor,assignment($expand=assignmentPolicy)&$filter={filter}")).await {
        // The nested expansion refused: the documented per-package
        // listing, each request's policy then unknown.
        Err(GraphError::InvalidRequest { status: 400, .. }) => api.list_all(&format!("{REQUESTS}?$expand=accessPackage,requestor&$filter={filter}")).await?,
        other => other?,
    };
    let mut out: BTreeMap<(String, String), Waiting> = BTreeMap::new();
    for r in listed.iter().filter(|r| str_field(r, "requestType") == "userAdd" && WAITING.contains(&str_field(r, "state"))) {
        let subject = r.get("requestor").cloned().unwrap_or(Value::Null);
        let name = [str_field(&subject, "principalName"), str_field(&subject, "displayName"), str_field(&subject, "objectId")].into_iter().find(|s| !s.is_empty()).unwrap_or("an unknown requestor").to_string();
        let id = str_field(r, "id").to_string();
        let policy = r.pointer("/assignment/assignmentPolicy/id").and_then(Value::as_str).filter(|p| !p.is_empty()).map(str::to_string);
        let policy_name = r.pointer("/assignment/assignmentPolicy/displayName").and_then(Value::as_str).filter(|p| !p.is_empty()).map(str::to_string);
        let requestor = Some(str_field(&subject, "objectId").to_string()).filter(|o| !o.is_empty());
        out.insert((name.to_lowercase(), id.clone()), Waiting { shown: format!("{name} ({id}, {})", str_field(r, "state")), policy, policy_name, requestor });
    }
    Ok(out.into_values().collect())
}

/// "1 request already waiting ... through it is not re-checked", "2
/// requests ... through them are not re-checked" (`policies` changed).
fn waiting_said(n: usize, policies: usize) -> String {
    let (noun, verb) = if n == 1 { ("request", "is") } else { ("requests", "are") };
    let it = if policies == 1 { "it" } else { "them" };
    format!("{n} {noun} already waiting for approval through {it} {verb} not re-checked by Entra and")
}

/// Whether a request by `requestor` is one `only` concerns (`None`:
/// everyone's). A requestor Graph did not give is never left out.
fn concerns(only: Option<&BTreeSet<String>>, requestor: Option<&String>) -> bool {
    match (only, requestor) {
        (Some(people), Some(r)) => people.contains(r),
        _ => true,
    }
}

/// A touched policy by live id: its name shown, and whose requests it
/// concerns (`Touched::only`).
type Known = BTreeMap<String, (String, Option<BTreeSet<String>>)>;

/// The waiting requests of one package that came through a policy in
/// `touched` (by live id) and that its change concerns, or whose policy is
/// not known and that any change concerns, each shown with the policy it
/// came through.
fn through_touched(who: Vec<Waiting>, touched: &Known) -> Vec<String> {
    who.into_iter()
        .filter_map(|w| match &w.policy {
            Some(p) => touched.get(p).filter(|(_, only)| concerns(only.as_ref(), w.requestor.as_ref())).map(|(name, _)| format!("{} through policy `{name}`", w.shown)),
            None => touched.values().any(|(_, only)| concerns(only.as_ref(), w.requestor.as_ref())).then(|| format!("{}, whose policy Graph did not give", w.shown)),
        })
        .collect()
}

/// The declared packages matched live whose granted roles the plan grows,
/// with the roles added (`access_package_roles_added`).
fn grown<'a>(desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState, live: &'a [LiveObject]) -> Vec<(String, &'a LiveObject, Vec<String>)> {
    let mut out = Vec::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::AccessPackage) {
        let id = ledger.id(&r.address);
        let Some(o) = live.iter().find(|o| id.map_or(o.natural_key == r.natural_key, |id| o.id == id)) else { continue };
        let roles = super::access_package_roles_added::added(r, o, desired, ledger, observed);
        if !roles.is_empty() {
            out.push((r.address.to_string(), o, roles));
        }
    }
    out
}

/// Warn, for each package whose policy the plan narrows, re-points or
/// deletes, of the requests already waiting through it, and for each
/// package whose granted roles it grows, of every request waiting on it.
/// Only an authentication failure is an error.
pub async fn read(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, observed: &mut ObservedState) -> Result<(), GraphError> {
    if observed.unreadable.contains_key(&Kind::AccessPackage) {
        return Ok(());
    }
    let live = observed.objects.get(&Kind::AccessPackage).cloned().unwrap_or_default();
    super::access_package_deleted_requests::warn(client, desired, ledger, observed, &live).await?;
    // By package address: the policies touched, and the roles added.
    let mut packages: BTreeMap<String, (&LiveObject, Vec<Touched>, Vec<String>)> = BTreeMap::new();
    for (address, o, said) in touched(desired, ledger, observed, &live) {
        packages.insert(address, (o, said, Vec::new()));
    }
    for (address, o, roles) in grown(desired, ledger, observed, &live) {
        packages.entry(address).or_insert_with(|| (o, Vec::new(), Vec::new())).2 = roles;
    }
    if packages.is_empty() {
        return Ok(());
    }
    let ids = if packages.values().any(|(_, said, _)| !said.is_empty()) {
        match policy_ids(client, desired, ledger, &live).await {
            Ok(ids) => Ok(ids),
            Err(e @ GraphError::Auth { .. }) => return Err(e),
            Err(e) => Err(e.to_string()),
        }
    } else {
        Ok(BTreeMap::new())
    };
    for (address, (o, said, roles)) in packages {
        let listed = match waiting(client, &o.id).await {
            Ok(who) => Ok(who),
            Err(e @ GraphError::Auth { .. }) => return Err(e),
            Err(e) => Err(e),
        };
        if !roles.is_empty() {
            match &listed {
                Ok(who) if who.is_empty() => {}
                Ok(who) => {
                    let shown: Vec<String> = who.iter().map(|w| w.policy_name.as_ref().map_or_else(|| w.shown.clone(), |p| format!("{} through policy `{p}`", w.shown))).collect();
                    observed.warnings.push(super::access_package_roles_added::warning(&address, &roles, &shown));
                }
                Err(e) => observed.warnings.push(format!(
                    "{address}: this plan adds to what the access package grants ({}); the requests waiting for approval on it could not be read ({e}), so any already waiting, which would be granted the roles added once approved, are not shown: approvers should check them",
                    roles.join(", ")
                )),
            }
        }
        if said.is_empty() {
            continue;
        }
        warn_touched(&address, o, &said, &ids, listed, observed);
    }
    Ok(())
}

/// The warning for one package whose policies the plan narrows, re-points
/// or deletes, from its waiting requests as listed.
fn warn_touched(address: &str, o: &LiveObject, said: &[Touched], ids: &Result<BTreeMap<(String, String), String>, String>, listed: Result<Vec<Waiting>, GraphError>, observed: &mut ObservedState) {
    let changed = said.iter().map(|t| t.said.as_str()).collect::<Vec<_>>().join(", ");
    // The live ids of the policies touched, with the names shown; any
    // not known (its id not read) and the package's waiting requests
    // are all named, never matched by name.
    let known: Result<Known, String> = match ids {
        Ok(ids) => said
            .iter()
            .map(|t| {
                let name = o.props.get(POLICIES).and_then(|p| p.get(&t.key)).map(|p| str_field(p, "displayName").to_string()).unwrap_or_else(|| t.key.clone());
                ids.get(&(o.id.clone(), t.key.clone())).map(|id| (id.clone(), (name, t.only.clone()))).ok_or_else(|| format!("policy `{}` was not among the policies read", t.key))
            })
            .collect(),
        Err(e) => Err(format!("the package's policies could not be read ({e})")),
    };
    match listed {
        Ok(who) => {
            let (who, note) = match &known {
                Ok(touched) => (through_touched(who, touched), String::new()),
                // Not knowing the policy, every request any change
                // concerns: everyone's, unless each change is to
                // groups' membership only (then those people's).
                Err(why) => {
                    let any = |w: &Waiting| said.iter().any(|t| concerns(t.only.as_ref(), w.requestor.as_ref()));
                    let whose = if said.iter().all(|t| t.only.is_some()) { "of the people taken out " } else { "" };
                    (who.into_iter().filter(any).map(|w| w.shown).collect(), format!(" (which policy each came through is not known: {why}; every request {whose}waiting on the package is named)"))
                }
            };
            if !who.is_empty() {
                let moved = if said.iter().any(|t| t.moved) { "; an approver taken out of a stage can still decide those sent to them: have the approvers now declared decide" } else { "" };
                observed.warnings.push(format!(
                    "{address}: this plan {changed}, but {} can still be approved: {}{note}. Approvers: deny those the changed policy no longer admits{moved}",
                    waiting_said(who.len(), said.len()),
                    who.join(", ")
                ));
            }
        }
        Err(e) => observed.warnings.push(format!(
            "{address}: this plan {changed}; the requests waiting for approval on the package could not be read ({e}), so any already waiting are not shown: approvers should check them"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn narrowing_is_told_from_widening() {
        let base = json!({"allowedTargetScope": "allExternalUsers", "requestorSettings": {"enableTargetsToSelfAddAccess": true}, "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "stages": [{}]}});
        assert!(narrowing(&base, &base).is_empty());
        let mut wider = base.clone();
        wider["allowedTargetScope"] = json!("allDirectoryAndExternalUsers");
        assert!(narrowing(&wider, &base).is_empty(), "a wider scope narrows nothing");
        assert_eq!(narrowing(&base, &wider), vec!["who may request goes from allDirectoryAndExternalUsers to allExternalUsers".to_string()]);
        let mut two = base.clone();
        two["requestApprovalSettings"]["stages"] = json!([{}, {}]);
        assert_eq!(narrowing(&two, &base), vec!["approval goes from 1 to 2 stage(s)".to_string()]);
        let mut open = base.clone();
        open["requestApprovalSettings"]["isApprovalRequiredForAdd"] = json!(false);
        assert_eq!(narrowing(&base, &open), vec!["approval is now required".to_string()]);
        let mut closed = base.clone();
        closed["requestorSettings"]["enableTargetsToSelfAddAccess"] = json!(false);
        assert_eq!(narrowing(&closed, &base), vec!["requestors may no longer ask for themselves".to_string()]);
        let specific = |t: Value| json!({"allowedTargetScope": "specificDirectoryUsers", "specificAllowedTargets": t});
        assert_eq!(narrowing(&specific(json!(["a"])), &specific(json!(["a", "b"]))), vec!["1 of its allowed requestors taken out".to_string()]);
        assert!(narrowing(&specific(json!(["a", "b"])), &specific(json!(["a"]))).is_empty());
    }

    #[test]
    fn a_request_whose_policy_is_unknown_is_never_dropped() {
        let w = |shown: &str, policy: Option<&str>| Waiting { shown: shown.into(), policy: policy.map(str::to_string), policy_name: None, requestor: Some(format!("u-{shown}")) };
        let touched = Known::from([("p1".to_string(), ("Narrowed".to_string(), None))]);
        let named = through_touched(vec![w("a", Some("p1")), w("b", Some("p2")), w("c", None)], &touched);
        assert_eq!(named, vec!["a through policy `Narrowed`".to_string(), "c, whose policy Graph did not give".to_string()]);
    }

    #[test]
    fn a_policy_narrowed_through_its_groups_concerns_only_the_people_taken_out() {
        let w = |shown: &str, policy: Option<&str>| Waiting { shown: shown.into(), policy: policy.map(str::to_string), policy_name: None, requestor: Some(format!("u-{shown}")) };
        let touched = Known::from([("p1".to_string(), ("Staff".to_string(), Some(BTreeSet::from(["u-a".to_string(), "u-c".to_string()]))))]);
        let named = through_touched(vec![w("a", Some("p1")), w("b", Some("p1")), w("c", None), w("d", None)], &touched);
        assert_eq!(named, vec!["a through policy `Staff`".to_string(), "c, whose policy Graph did not give".to_string()]);
        let mut unknown = w("e", Some("p1"));
        unknown.requestor = None;
        assert_eq!(through_touched(vec![unknown], &touched), vec!["e through policy `Staff`".to_string()], "a requestor Graph did not give is never left out");
    }
}
