//! Checks of the singletons: `[tenant]` and `[state]`.

use crate::path;
use crate::validate::names::{domain_problem, is_guid};
use crate::validate::Ctx;

pub(super) fn check_tenant(cx: &mut Ctx) {
    let Some(t) = &cx.state.tenant else {
        return;
    };
    let origin = &t.origin;
    if let Some(p) = domain_problem(&t.value.primary_domain) {
        cx.error(
            "invalid-domain",
            origin,
            &path!["tenant", "primary_domain"],
            format!("tenant.primary_domain: {p}"),
        );
    }
    for (i, d) in t.value.verified_domains.iter().enumerate() {
        if let Some(p) = domain_problem(d) {
            cx.error(
                "invalid-domain",
                origin,
                &path!["tenant", "verified_domains", i],
                format!("tenant.verified_domains: {p}"),
            );
        }
    }
    for (field, value) in [
        ("tenant_id", &t.value.tenant_id),
        ("client_id", &t.value.client_id),
    ] {
        if let Some(v) = value {
            if !is_guid(v) {
                cx.error(
                    "invalid-guid",
                    origin,
                    &path!["tenant", field],
                    format!("tenant.{field}: `{v}` is not a GUID such as `00000000-0000-0000-0000-000000000000`"),
                );
            }
        }
    }
}

/// `[state]`: an azurerm backend names its account and container, in
/// Azure's naming rules; a local one takes no azurerm settings.
pub(super) fn check_state_backend(cx: &mut Ctx) {
    use crate::kinds::state_backend::{account_problem, container_problem, prefix_problem, BackendKind};
    let Some(s) = &cx.state.state else {
        return;
    };
    let origin = &s.origin;
    let v = &s.value;
    match v.backend {
        BackendKind::Local => {
            for (field, value) in [("storage_account", &v.storage_account), ("container", &v.container), ("endpoint", &v.endpoint), ("prefix", &v.prefix)] {
                if value.is_some() {
                    cx.error("invalid-state", origin, &path!["state", field], format!("state.{field}: only an `azurerm` backend takes {field}; set backend = \"azurerm\" or remove it"));
                }
            }
        }
        BackendKind::Azurerm => {
            for (field, value, check) in [
                ("storage_account", &v.storage_account, account_problem as fn(&str) -> Option<String>),
                ("container", &v.container, container_problem),
            ] {
                match value {
                    None => {
                        cx.error("invalid-state", origin, &path!["state", "backend"], format!("state: an `azurerm` backend needs {field}"));
                    }
                    Some(x) => {
                        if let Some(p) = check(x) {
                            cx.error("invalid-state", origin, &path!["state", field], format!("state.{field}: {p}"));
                        }
                    }
                }
            }
            if let Some(p) = v.prefix.as_deref().and_then(prefix_problem) {
                cx.error("invalid-state", origin, &path!["state", "prefix"], format!("state.prefix: {p}"));
            }
            if let Some(p) = v.endpoint.as_deref().and_then(crate::kinds::state_backend::endpoint_problem) {
                cx.error("invalid-state", origin, &path!["state", "endpoint"], format!("state.endpoint: {p}"));
            }
        }
    }
}
