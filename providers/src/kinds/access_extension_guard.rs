//! The plan's check that a custom workflow extension it deletes is not
//! still called by a policy it leaves alone (issue 16, access14).
//!
//! Graph refuses to delete a catalog's extension while an assignment
//! policy's stage (`customExtensionStageSettings`) calls it. When a
//! declared catalog no longer declares a live extension, the policies of
//! the catalog's packages (already read, `access_package`) that call it
//! are looked at: a policy of a declared package is rewritten by this
//! plan without the stage (validation lets no declared stage name an
//! undeclared extension) and its package's write deletes the extension
//! afterwards (`access_policy_stages::release`); a policy of a package
//! desired state does not declare (made in the portal), or of a package
//! whose change is itself held, still calls it after apply. Then the
//! catalog's change is held (`extension-in-use`), naming each such policy
//! and stage, so the plan says so instead of apply failing on Graph's
//! refusal.

use std::collections::BTreeSet;

use engine::model::as_reference;
use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::Kind;
use serde_json::Value;

use super::access_catalog_extensions::PROP as EXTENSIONS;
use super::access_policy_stages::PROP as STAGES;

/// The code of a catalog change held because a policy it does not change
/// calls an extension it deletes.
pub const EXTENSION_IN_USE: &str = "extension-in-use";

fn names(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|e| e.get("displayName").and_then(Value::as_str)).map(str::to_lowercase).collect()
}

/// The live object `r` is matched with (the ledger's id, else its name).
fn matched<'a>(live: &'a [LiveObject], ledger: &Ledger, r: &engine::DesiredResource) -> Option<&'a LiveObject> {
    let id = ledger.id(&r.address);
    live.iter().find(|o| id.map_or(o.natural_key == r.natural_key, |id| o.id == id))
}

/// Run after every kind is read (`Readout::after` of the catalogs).
pub fn guard(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    let catalogs = observed.objects.get(&Kind::AccessCatalog).cloned().unwrap_or_default();
    let packages = observed.objects.get(&Kind::AccessPackage).cloned().unwrap_or_default();
    let declared: Vec<&engine::DesiredResource> = desired.resources.values().filter(|r| r.address.kind == Kind::AccessPackage).collect();
    let mut refused = Vec::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::AccessCatalog) {
        let Some(want) = r.props.get(EXTENSIONS).map(|v| names(Some(v))) else { continue };
        let Some(c) = matched(&catalogs, ledger, r) else { continue };
        let gone: BTreeSet<String> = names(c.props.get(EXTENSIONS)).difference(&want).cloned().collect();
        if gone.is_empty() {
            continue;
        }
        let mut blocked = Vec::new();
        for p in packages.iter().filter(|p| p.props.get("catalog").and_then(as_reference) == Some(c.id.as_str())) {
            let owner = declared.iter().find(|d| matched(std::slice::from_ref(p), ledger, d).is_some());
            let rewritten = owner.is_some_and(|d| !observed.held.contains_key(&d.address));
            if rewritten {
                continue;
            }
            for pol in p.props.get("policies").and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
                for s in pol.get(STAGES).and_then(Value::as_array).into_iter().flatten() {
                    let ext = s.get("customExtension").and_then(Value::as_str).unwrap_or_default();
                    if gone.contains(&ext.to_lowercase()) {
                        let whose = match owner {
                            Some(d) => format!("{} (its change is held)", d.address),
                            None => format!("access package `{}` ({}), which desired state does not declare", p.display_name, p.id),
                        };
                        blocked.push(format!(
                            "policy `{}` of {whose} calls extension `{ext}` at stage {}",
                            pol.get("displayName").and_then(Value::as_str).unwrap_or_default(),
                            s.get("stage").and_then(Value::as_str).unwrap_or_default()
                        ));
                    }
                }
            }
        }
        if !blocked.is_empty() {
            refused.push((
                r.address.clone(),
                engine::held::Held::new(
                    EXTENSION_IN_USE,
                    format!(
                        "{}; Graph deletes a custom workflow extension only once no policy's stage calls it, so this catalog's change is not applied (the rest of the plan is). Take the stage off that policy (or declare its package), or keep declaring the extension",
                        blocked.join("; ")
                    ),
                ),
            ));
        }
    }
    observed.held.extend(refused);
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::model::reference;
    use engine::{DesiredResource, Props};
    use schema::Address;
    use serde_json::json;

    fn live(kind: Kind, id: &str, name: &str, props: Value) -> LiveObject {
        LiveObject { kind, id: id.into(), natural_key: name.to_lowercase(), display_name: name.into(), props: props.as_object().cloned().unwrap_or_default().into_iter().collect() }
    }

    fn declared(kind: Kind, key: &str, name: &str, props: Value) -> DesiredResource {
        let p: Props = props.as_object().cloned().unwrap_or_default().into_iter().collect();
        DesiredResource { address: Address::new(kind, key), natural_key: name.to_lowercase(), display_name: name.into(), props: p, immutable: Vec::new(), assignment_props: Vec::new(), create_only: Props::new(), depends_on: Vec::new(), expires: None }
    }

    #[test]
    fn only_a_policy_this_plan_leaves_calling_a_dropped_extension_holds_the_catalog() {
        let hook = |n: &str| json!({"displayName": n});
        let mut observed = ObservedState::default();
        observed.insert(live(Kind::AccessCatalog, "c1", "Guest access", json!({EXTENSIONS: [hook("Onboard"), hook("Offboard")]})));
        let calls = json!({"policies": {"p": {"displayName": "P", STAGES: [{"stage": "assignmentOneDayBeforeExpiration", "customExtension": "Offboard"}]}}, "catalog": reference("c1")});
        observed.insert(live(Kind::AccessPackage, "k1", "Audit", calls));
        let mut desired = DesiredModel::default();
        desired.insert(declared(Kind::AccessCatalog, "guest-access", "Guest access", json!({EXTENSIONS: [hook("Onboard")]})));
        desired.insert(declared(Kind::AccessPackage, "audit", "Audit", json!({})));
        let ledger = Ledger::default();
        let catalog = Address::new(Kind::AccessCatalog, "guest-access");

        // The declared package is rewritten without the stage: nothing held.
        let mut o = observed.clone();
        guard(&mut o, &desired, &ledger);
        assert!(!o.held.contains_key(&catalog), "{:?}", o.held);

        // Its own change held: the policy keeps calling it.
        let mut o = observed.clone();
        o.held.insert(Address::new(Kind::AccessPackage, "audit"), engine::held::Held::new("policy-in-use", "held"));
        guard(&mut o, &desired, &ledger);
        let why = &o.held.get(&catalog).expect("held").reason;
        assert!(why.contains("policy `P` of access_package.audit (its change is held) calls extension `Offboard` at stage assignmentOneDayBeforeExpiration"), "{why}");

        // Not declared at all: held, naming the package.
        let mut bare = DesiredModel::default();
        bare.insert(declared(Kind::AccessCatalog, "guest-access", "Guest access", json!({EXTENSIONS: [hook("Onboard")]})));
        let mut o = observed;
        guard(&mut o, &bare, &ledger);
        assert!(o.held.get(&catalog).expect("held").reason.contains("access package `Audit` (k1), which desired state does not declare"));
    }
}
