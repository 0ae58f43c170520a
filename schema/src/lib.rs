//! Stage 1 of the tenantctl pipeline: the desired-state model. TOML types for
//! every resource kind, loading a directory of files into one validated
//! [`DesiredState`] with source locations, and the JSON Schema editors use.

pub mod address;
pub mod change_limits;
pub mod built_in_roles;
pub mod clock;
pub mod datetime;
pub mod diagnostic;
pub mod env_names;
pub mod graph_types;
pub mod kind_facts;
pub mod kinds;
pub mod limits;
pub mod object_id;
pub mod load;
pub mod read;
pub(crate) mod registry;
mod salvage;
pub mod source;
pub mod state;
mod suggest;
pub mod validate;
pub mod device_rule;
pub mod rule_syntax;

pub use address::{Address, Kind};
pub use diagnostic::{Diagnostic, Diagnostics, Location, Severity};
pub use load::{load, load_bytes, load_str, LoadError};
pub use state::{Declared, DesiredState, ResolveError};

/// The JSON Schema of one desired-state file, for editors (taplo / Even
/// Better TOML read it through the `#:schema` directive).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(kinds::file::TenantFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
