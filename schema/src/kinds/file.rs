//! The shape of one desired-state file, for the JSON Schema. Loading parses
//! each resource on its own (see `load`), but accepts exactly this shape.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::*;

macro_rules! tenant_file {
    ($($variant:ident $field:ident $ty:ident $principal:literal $policy:literal;)*) => {
        /// One tenantctl desired-state file. Any file may declare any resources;
        /// all `*.toml` files under the directory are merged.
        #[derive(Debug, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[schemars(title = "tenantctl desired state")]
        pub struct TenantFile {
            pub tenant: Option<Tenant>,
            pub governance: Option<Governance>,
            /// The change record plans made from this directory carry.
            pub change: Option<super::change::ChangeRecord>,
            pub state: Option<StateBackend>,
            $(
                #[serde(default)]
                pub $field: BTreeMap<String, $ty>,
            )*
        }
    };
}

crate::with_kinds!(tenant_file);
