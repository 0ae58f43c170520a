//! The pure core of tenantctl: the normalized model both sides are compared
//! in, the resource graph, the diff, `plan()`, the ledger, and the renderers
//! of plans. No I/O and no HTTP: callers read and write; this decides.

pub mod apply;
pub mod assign_notes;
pub mod catalog_order;
pub mod change_index;
pub mod completed;
pub mod diff;
pub mod drift;
pub mod fast_hash;
pub mod fingerprint;
pub mod governance;
pub mod graph;
pub mod ledger;
pub mod model;
pub mod plan;
pub mod plan_types;
pub mod props;
pub mod render;
pub mod plan_app_live;
pub mod ledger_location;
pub mod ledger_seal;
pub mod log_owned;
pub mod held;
pub mod secret_env;
pub mod shared_resources;
pub mod removed_policies;
pub mod lookalike;

pub use ledger::Ledger;
pub use model::{DesiredModel, DesiredResource, LiveObject, ObservedState, Props};
pub use plan::{plan, Action, Change, Plan, PlanError, PlanOptions};
