//! The service accounts `reconcile` holds changes of when the plan's own
//! classification does not name them (`engine::drift::sensitivity`, the
//! fallback): as the planner judges them, not by `kind` alone. Declared
//! `kind = "service"`, members of the service-accounts group as desired
//! state declares them (the model's service accounts), the live members of
//! that group (directly or nested, `governance::accounts::live_members`),
//! and users the ledger records as applied service accounts.

use std::collections::{BTreeMap, BTreeSet};

use engine::{DesiredModel, Ledger, ObservedState, Plan};
use schema::{Address, Kind};

/// `by_kind` (declared `kind = "service"`) with the rest of the planner's
/// service accounts added.
pub fn judged(by_kind: BTreeSet<Address>, desired: &DesiredModel, observed: &ObservedState, plan: &Plan, ledger: &Ledger) -> BTreeSet<Address> {
    let mut out = by_kind;
    out.extend(desired.service_accounts.iter().cloned());
    let live_by_id: BTreeMap<&str, &engine::model::LiveObject> = observed.objects.get(&Kind::User).into_iter().chain(observed.objects.get(&Kind::Group)).flatten().map(|o| (o.id.as_str(), o)).collect();
    let matched: BTreeMap<Address, &engine::model::LiveObject> = plan.ids.iter().filter_map(|(a, id)| live_by_id.get(id.as_str()).map(|o| (a.clone(), *o))).collect();
    let live = engine::governance::accounts::live_members(desired, observed, &matched);
    out.extend(engine::governance::accounts::recorded(desired, ledger, &matched, &live));
    out.extend(live.into_keys());
    out
}
