//! Authentication methods judged by their effective targets (hostile run
//! 14, finding 13): a method declared `enabled` without `include` keeps
//! the tenant's live targets (tenantctl does not manage them), and a
//! registration campaign in state `default` (Microsoft-managed, which
//! Entra treats as enabled) or `enabled` reaches its targets as well.
//! Reaching a service account is `service-account-targeted`, whatever
//! declares the targets, and the plan's change of the policy shows the
//! effective targets, so the approver sees whom the method reaches.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use super::targets::assignment_reach;
use crate::model::{as_reference, DesiredModel, ObservedState};
use crate::plan::Change;

/// Targets as judged: addresses, whether `all_users` is one, and the
/// live ids no declared object has (shown, not judged).
#[derive(Debug, Default)]
struct Targets {
    addresses: Vec<Address>,
    all: bool,
    unknown: Vec<String>,
    /// The live ids of `unknown`.
    unknown_ids: Vec<String>,
}

impl Targets {
    fn of(v: Option<&Value>, by_id: &HashMap<&str, &Address>) -> Targets {
        let mut t = Targets::default();
        for x in v.and_then(Value::as_array).into_iter().flatten() {
            if x.as_str() == Some("all_users") {
                t.all = true;
                continue;
            }
            let Some(r) = as_reference(x) else { continue };
            let r = r.strip_prefix("id:").unwrap_or(r);
            match (r.parse::<Address>(), by_id.get(r)) {
                (Ok(a), _) => t.addresses.push(a),
                (Err(_), Some(a)) => t.addresses.push((*a).clone()),
                (Err(_), None) => {
                    t.unknown.push(format!("group id:{r}"));
                    t.unknown_ids.push(r.to_string());
                }
            }
        }
        t
    }

    fn words(&self) -> String {
        let mut w: Vec<String> = Vec::new();
        if self.all {
            w.push("all_users".into());
        }
        w.extend(self.addresses.iter().map(Address::to_string));
        w.extend(self.unknown.iter().cloned());
        if w.is_empty() {
            "none".into()
        } else {
            w.join(", ")
        }
    }
}

/// One thing judged: what it is, its effective include and exclude, and
/// where each came from.
struct Judged {
    what: String,
    include: Targets,
    exclude: Targets,
    source: &'static str,
}

/// Service-account findings for methods and campaigns judged on their
/// effective targets, and a note on the plan's change of the policy with
/// those targets.
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, changes: &mut [Change]) -> Vec<Finding> {
    lint_indexed(desired, observed, &super::index::IdIndex::new(ids), changes)
}

/// [`lint`] with the plan's shared id index.
pub(crate) fn lint_indexed(desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>, changes: &mut [Change]) -> Vec<Finding> {
    let mut out = Vec::new();
    let by_id = ids.by_id();
    let live_read = !observed.unreadable.contains_key(&Kind::AuthenticationMethodsPolicy);
    let fix = match desired.service_account_groups.iter().next() {
        Some(g) => format!("declare `include` and `exclude = [\"{}\"]`", g.key),
        None => "declare `include` and exclude the service accounts".to_string(),
    };
    for (address, r) in desired.resources.iter().filter(|(a, _)| a.kind == Kind::AuthenticationMethodsPolicy) {
        let live = ids.get(address).and_then(|id| observed.objects.get(&Kind::AuthenticationMethodsPolicy).into_iter().flatten().find(|o| o.id == *id)).filter(|_| live_read);
        let mut judged: Vec<Judged> = Vec::new();
        for (id, m) in r.props.get("methods").and_then(Value::as_object).into_iter().flatten() {
            if m.get("state").and_then(Value::as_str) != Some("enabled") {
                continue;
            }
            if m.get("include").is_some() {
                // Declared targets are judged from desired state
                // (`identity_lints`), but for the live members of declared
                // groups whose membership desired state does not manage.
                let j = Judged { what: format!("method {id}"), include: Targets::of(m.get("include"), by_id), exclude: Targets::of(m.get("exclude"), by_id), source: "declared" };
                out.extend(unmanaged_groups(desired, observed, ids, &j, address, &fix));
                continue;
            }
            let live_m = live.and_then(|o| o.props.get("methods")).and_then(|ms| ms.get(id));
            let Some(live_m) = live_m else {
                out.push(Finding {
                    severity: Severity::Error,
                    lint: "service-account-targeted".into(),
                    address: address.to_string(),
                    message: format!("method {id} is enabled with no declared targets, and its live targets were not read, so whether it reaches the service accounts is unknown; {fix}"),
                });
                continue;
            };
            let exclude = match m.get("exclude") {
                Some(e) => Targets::of(Some(e), by_id),
                None => Targets::of(live_m.get("exclude"), by_id),
            };
            judged.push(Judged { what: format!("method {id}"), include: Targets::of(live_m.get("include"), by_id), exclude, source: "live (not declared)" });
        }
        if let Some(c) = r.props.get("registrationCampaign") {
            let state = c.get("state").and_then(Value::as_str).unwrap_or_default();
            let declared = c.get("include").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
            if state == "enabled" && declared {
                let j = Judged { what: "the registration campaign (state enabled)".into(), include: Targets::of(c.get("include"), by_id), exclude: Targets::of(c.get("exclude"), by_id), source: "declared" };
                out.extend(unmanaged_groups(desired, observed, ids, &j, address, &fix));
            }
            if state == "default" && declared {
                // `enabled` with declared targets is judged from desired state.
                judged.push(Judged { what: "the registration campaign (state default: Microsoft-managed, enabled)".into(), include: Targets::of(c.get("include"), by_id), exclude: Targets::of(c.get("exclude"), by_id), source: "declared" });
            } else if matches!(state, "default" | "enabled") && !declared {
                if let Some(lc) = live.and_then(|o| o.props.get("registrationCampaign")) {
                    let exclude = if c.get("exclude").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) { c.get("exclude") } else { lc.get("exclude") };
                    judged.push(Judged { what: format!("the registration campaign (state {state})"), include: Targets::of(lc.get("include"), by_id), exclude: Targets::of(exclude, by_id), source: "live (not declared)" });
                }
            }
        }
        let mut notes = Vec::new();
        for j in &judged {
            notes.push(format!("effective targets of {}: include {}; exclude {} ({})", j.what, j.include.words(), j.exclude.words(), j.source));
            let reach = assignment_reach(desired, &j.include.addresses, &j.exclude.addresses, j.include.all);
            out.extend(undeclared_groups(desired, observed, by_id, j, address, &fix));
            if j.source == "declared" {
                out.extend(unmanaged_groups(desired, observed, ids, j, address, &fix));
            }
            for (s, how) in &reach.accounts {
                out.push(Finding {
                    severity: Severity::Error,
                    lint: "service-account-targeted".into(),
                    address: address.to_string(),
                    message: format!("{} reaches service account {s} {how} through its {} targets (include {}; exclude {}): service accounts get no MFA; {fix}", j.what, j.source, j.include.words(), j.exclude.words()),
                });
            }
        }
        if let Some(c) = changes.iter_mut().find(|c| c.address == *address) {
            c.notes.extend(notes);
        }
    }
    super::lints::finish(&desired.governance, out)
}

/// The live members of group `id`, nested groups followed, or `None` when
/// some group on the way was not read.
fn live_members(observed: &ObservedState, id: &str) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut todo = vec![id.to_string()];
    let mut seen = BTreeSet::new();
    while let Some(g) = todo.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        for (m, t) in observed.memberships.get(&g)? {
            if t == super::live::GROUP {
                todo.push(m.clone());
            } else {
                out.insert(m.clone());
            }
        }
    }
    Some(out)
}

/// Undeclared groups among live include targets, judged by their live
/// members: a service account among them (not proved excluded) is
/// reached; a group whose membership could not be read leaves it unknown.
fn undeclared_groups(desired: &DesiredModel, observed: &ObservedState, by_id: &HashMap<&str, &Address>, j: &Judged, address: &Address, fix: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let live_groups: BTreeSet<&str> = observed.objects.get(&Kind::Group).into_iter().flatten().map(|o| o.id.as_str()).collect();
    let excluded = super::targets::proven_excluded(desired, &j.exclude.addresses);
    let finding = |message: String| Finding { severity: Severity::Error, lint: "service-account-targeted".into(), address: address.to_string(), message };
    for g in &j.include.unknown_ids {
        if !live_groups.contains(g.as_str()) && !observed.unreadable.contains_key(&Kind::Group) {
            // Not a group (a user target): shown, nothing to follow.
            continue;
        }
        match live_members(observed, g).filter(|_| !observed.unreadable.contains_key(&Kind::Group)) {
            None => out.push(finding(format!(
                "{} includes group id:{g} ({} targets), which desired state does not declare and whose live membership could not be read: whether it reaches the service accounts is unknown; {fix}",
                j.what, j.source
            ))),
            Some(members) => {
                for s in members.iter().filter_map(|m| by_id.get(m.as_str())).filter(|a| desired.service_accounts.contains(**a) && !excluded.contains(**a)) {
                    out.push(finding(format!(
                        "{} reaches service account {s} through group id:{g}, a live member ({}; {} targets): service accounts get no MFA; {fix}",
                        j.what,
                        super::live_reach::UNMANAGED_MEMBERSHIP,
                        j.source
                    )));
                }
            }
        }
    }
    out
}

/// Declared groups among declared include targets whose membership desired
/// state does not manage (no `members`, no rule), judged by their live
/// members as assignment targets are (hostile run 17, finding 10): a
/// service account among them, not proved excluded (declared exclusion, or
/// the live members of an excluded group), is reached; membership that
/// could not be read leaves it unknown.
fn unmanaged_groups(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, j: &Judged, address: &Address, fix: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if [Kind::User, Kind::Group].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    let mut excluded: BTreeSet<Address> = super::targets::proven_excluded(desired, &j.exclude.addresses);
    for e in &j.exclude.addresses {
        let held = super::live_members::of(desired, observed, ids, e);
        excluded.extend(held.addresses.values().cloned());
    }
    let finding = |message: String| Finding { severity: Severity::Error, lint: "service-account-targeted".into(), address: address.to_string(), message };
    for g in j.include.addresses.iter().filter(|g| g.kind == Kind::Group && !super::live::manages_membership(desired, g) && !desired.service_account_groups.contains(*g)) {
        let held = super::live_members::of(desired, observed, ids, g);
        for (m, (_, path)) in &held.members {
            let Some(s) = held.address(m).filter(|a| desired.service_accounts.contains(*a) && !excluded.contains(*a)) else { continue };
            out.push(finding(format!(
                "{} reaches service account {s} through {path}, which holds it live ({}; {} targets): service accounts get no MFA; {fix}",
                j.what,
                super::live_reach::UNMANAGED_MEMBERSHIP,
                j.source
            )));
        }
        for path in &held.unread {
            out.push(finding(format!("{} includes {g} ({} targets), and the live membership of {path} was not read: whether it reaches the service accounts is unknown; {fix}", j.what, j.source)));
        }
    }
    out
}
