//! Conditional access conditions and controls of Graph v1.0 that desired
//! state does not model: workload identities (`conditions.clientApplications`),
//! authentication flows, custom authentication factors and the secure
//! sign-in session control.
//!
//! The desired model pins what it does not model to unset, so a PATCH of
//! an adopted policy that holds any of them would silently clear it (a
//! location exclusion disappears). Such a policy is therefore not exported,
//! and a declared policy matching one is refused at plan time, naming the
//! fields, rather than wiped.

use engine::{DesiredModel, Ledger, ObservedState};
use schema::Kind;
use serde_json::Value;

/// The live prop that carries the unmodelled fields found on the policy
/// read from Graph. Desired state never declares it, so it is never diffed.
pub const KEY: &str = "@unmodelled";

/// What desired state models, per nested object of the policy.
const CONDITIONS: &[&str] = &[
    "applications",
    "users",
    "clientAppTypes",
    "locations",
    "platforms",
    "devices",
    "signInRiskLevels",
    "userRiskLevels",
    "servicePrincipalRiskLevels",
    "insiderRiskLevels",
];
const APPLICATIONS: &[&str] = &["includeApplications", "excludeApplications", "includeUserActions", "includeAuthenticationContextClassReferences", "applicationFilter"];
const USERS: &[&str] = &[
    "includeUsers",
    "excludeUsers",
    "includeGroups",
    "excludeGroups",
    "includeRoles",
    "excludeRoles",
    "includeGuestsOrExternalUsers",
    "excludeGuestsOrExternalUsers",
];
const DEVICES: &[&str] = &["deviceFilter"];
const GRANT: &[&str] = &["operator", "builtInControls", "authenticationStrength", "termsOfUse"];
const SESSION: &[&str] = &["signInFrequency", "persistentBrowser", "applicationEnforcedRestrictions", "cloudAppSecurity", "disableResilienceDefaults"];

fn unset(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Object(m) => m.iter().all(|(k, v)| k.contains('@') || unset(v)),
        other => engine::diff::is_empty(other),
    }
}

fn extra(raw: &Value, path: &str, modelled: &[&str], out: &mut Vec<String>) {
    if let Some(Value::Object(m)) = raw.pointer(path) {
        for (k, v) in m {
            if !k.contains('@') && !modelled.contains(&k.as_str()) && !unset(v) {
                out.push(format!("{}.{k}", path.trim_start_matches('/').replace('/', ".")));
            }
        }
    }
}

/// The non-empty fields of a policy read from Graph that desired state does
/// not model, as dotted paths (`conditions.locations`), sorted.
pub fn fields(raw: &Value) -> Vec<String> {
    let mut out = Vec::new();
    extra(raw, "/conditions", CONDITIONS, &mut out);
    extra(raw, "/conditions/applications", APPLICATIONS, &mut out);
    extra(raw, "/conditions/users", USERS, &mut out);
    extra(raw, "/conditions/devices", DEVICES, &mut out);
    extra(raw, "/grantControls", GRANT, &mut out);
    extra(raw, "/sessionControls", SESSION, &mut out);
    out.sort();
    out
}

/// The unmodelled fields recorded on a normalized live policy.
pub fn of(props: &engine::Props) -> Vec<String> {
    props.get(KEY).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// Why a policy holding `fields` is neither exported nor updated.
pub fn reason(fields: &[String]) -> String {
    format!(
        "the live policy sets {}, which desired state does not model; updating it would clear them. Remove them in the portal or leave the policy undeclared",
        fields.join(", ")
    )
}

/// Refuse every declared policy whose live match (by ledger id, else by
/// display name) holds unmodelled fields.
pub fn refuse(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    let Some(live) = observed.objects.get(&Kind::ConditionalAccess) else { return };
    let mut refused = Vec::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::ConditionalAccess) {
        let matched: Vec<_> = match ledger.id(&r.address) {
            Some(id) => live.iter().filter(|o| o.id == id).collect(),
            None => live.iter().filter(|o| o.natural_key == r.natural_key).collect(),
        };
        for o in matched {
            let fields = of(&o.props);
            if !fields.is_empty() {
                refused.push((r.address.clone(), format!("conditional access policy {} ({}): {}", o.display_name, o.id, reason(&fields))));
            }
        }
    }
    observed.refused.extend(refused);
}
