//! Talking to Microsoft Graph: the client (auth, retry, paging, `$batch`,
//! delta) and one provider per resource kind that maps Graph objects to and
//! from the engine's normalized model. Providers never decide what to
//! change; the engine does.
pub mod graph;
pub mod apply;
pub mod apply_batch;
pub mod ca_unmodelled;
pub mod delta;
pub mod export;
mod export_split;
pub mod kinds;
pub mod listing_batch;
pub mod membership;
pub mod observe;
pub mod replication_env;
pub mod settle;
pub mod state_blob;
pub mod state_lock;
pub mod tenant_marker;
pub mod licensing;
pub mod licence_loss;
pub mod tenant_settings;
