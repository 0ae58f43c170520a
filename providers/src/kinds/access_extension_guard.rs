//! The plan's check that a custom workflow extension it deletes is not
//! still called by a policy it leaves alone (issue 16, access14); an
//! extension whose type changes is deleted and made anew, so the old one
//! is judged as deleted, in the same plan (access16).
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
//!
//! When no access package is declared or owned, packages are not read
//! (`observe::kinds_in_scope`), so the guard has no policies to look at.
//! Then, only when a declared catalog drops a live extension
//! ([`unread_packages`]), the catalog's extensions are listed (for their
//! ids) and the policies with the extension each stage calls
//! (`access_policy_stages::called`, one listing), and a policy still
//! calling a dropped extension holds the catalog the same way: every
//! package is then one desired state does not declare. A plan that drops
//! no extension sends nothing more.

use std::collections::BTreeSet;

use engine::model::as_reference;
use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::Kind;
use serde_json::Value;

use super::access_catalog_extensions::PROP as EXTENSIONS;
use super::access_policy_stages::PROP as STAGES;
use super::str_field;
use crate::graph::{GraphClient, GraphError};

/// The code of a catalog change held because a policy it does not change
/// calls an extension it deletes.
pub const EXTENSION_IN_USE: &str = "extension-in-use";

/// Extensions as (lowercased display name, type).
type Named = BTreeSet<(String, String)>;

/// A catalog's extensions (props) as (lowercased display name, type):
/// an extension whose type changes is deleted and made anew (Graph does
/// not change a type), so the old one goes as one undeclared would.
fn named(v: Option<&Value>) -> Named {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|e| Some((e.get("displayName").and_then(Value::as_str)?.to_lowercase(), str_field(e, "type").to_string()))).collect()
}

/// Whether a stage (`stage`, calling an extension by display name `ext`)
/// calls one of `gone`: the extension of that name of the type that runs
/// at the stage (the only type Graph lets a stage call).
fn calls_gone(gone: &Named, stage: &str, ext: &str) -> bool {
    let name = ext.to_lowercase();
    match schema::kinds::access_package_stages::stage_type(stage) {
        Some(t) => gone.contains(&(name, t.to_string())),
        None => gone.iter().any(|(n, _)| *n == name),
    }
}

/// The live object `r` is matched with (the ledger's id, else its name).
fn matched<'a>(live: &'a [LiveObject], ledger: &Ledger, r: &engine::DesiredResource) -> Option<&'a LiveObject> {
    let id = ledger.id(&r.address);
    live.iter().find(|o| id.map_or(o.natural_key == r.natural_key, |id| o.id == id))
}

/// Run after every kind is read (`Readout::after` of the catalogs).
pub fn guard(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    let packages = observed.objects.get(&Kind::AccessPackage).cloned().unwrap_or_default();
    let declared: Vec<&engine::DesiredResource> = desired.resources.values().filter(|r| r.address.kind == Kind::AccessPackage).collect();
    let mut refused = Vec::new();
    for (r, c, gone) in dropping(observed, desired, ledger) {
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
                    if calls_gone(&gone, str_field(s, "stage"), ext) {
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
            refused.push((r.address.clone(), held(&blocked)));
        }
    }
    observed.held.extend(refused);
}

/// The catalog's change held for the policies (`blocked`, as words) that
/// still call an extension it deletes.
fn held(blocked: &[String]) -> engine::held::Held {
    engine::held::Held::new(
        EXTENSION_IN_USE,
        format!(
            "{}; Graph deletes a custom workflow extension only once no policy's stage calls it, so this catalog's change is not applied (the rest of the plan is). Take the stage off that policy (or declare its package), or keep declaring the extension",
            blocked.join("; ")
        ),
    )
}

/// The declared catalogs matched live, each with the live extensions it
/// deletes (lowercased name, type): no longer declared, or declared with
/// another type; catalogs whose change is already held are left out.
fn dropping<'a>(observed: &'a ObservedState, desired: &'a DesiredModel, ledger: &Ledger) -> Vec<(&'a engine::DesiredResource, &'a LiveObject, Named)> {
    let catalogs = observed.objects.get(&Kind::AccessCatalog).map(Vec::as_slice).unwrap_or_default();
    let mut out = Vec::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::AccessCatalog && !observed.held.contains_key(&r.address)) {
        let Some(want) = r.props.get(EXTENSIONS).map(|v| named(Some(v))) else { continue };
        let Some(c) = matched(catalogs, ledger, r) else { continue };
        let gone: Named = named(c.props.get(EXTENSIONS)).difference(&want).cloned().collect();
        if !gone.is_empty() {
            out.push((r, c, gone));
        }
    }
    out
}

/// The guard where packages were not read (none declared or owned): a
/// declared catalog that drops a live extension a policy still calls is
/// held, naming the policy and stage. Reads only when an extension is
/// dropped; a read that fails is said in a warning (apply checks again,
/// by name, before it deletes: `access_policy_stages::leave`). Only an
/// authentication failure is an error.
pub async fn unread_packages(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, observed: &mut ObservedState) -> Result<(), GraphError> {
    if observed.objects.contains_key(&Kind::AccessPackage) || observed.unreadable.contains_key(&Kind::AccessPackage) {
        return Ok(());
    }
    let catalogs: Vec<(schema::Address, String, Named)> = dropping(observed, desired, ledger).into_iter().map(|(r, c, gone)| (r.address.clone(), c.id.clone(), gone)).collect();
    if catalogs.is_empty() {
        return Ok(());
    }
    let api = client.v1();
    let mut called = None;
    for (address, catalog, gone) in catalogs {
        let found = async {
            let exts = super::access_catalog_extensions::list(&api, &catalog).await?;
            if called.is_none() {
                called = Some(super::access_policy_stages::called(&api).await?);
            }
            let called = called.as_ref().expect("read just above");
            let mut blocked = Vec::new();
            for x in exts.iter().filter(|x| gone.contains(&(str_field(x, "displayName").to_lowercase(), super::access_catalog_extensions::kind_of(x)))) {
                for c in called.get(&str_field(x, "id").to_lowercase()).into_iter().flatten() {
                    blocked.push(format!(
                        "policy `{}` of access package `{}` ({}), which desired state does not declare calls extension `{}` at stage {}",
                        c.policy,
                        c.package,
                        c.package_id,
                        str_field(x, "displayName"),
                        c.stage
                    ));
                }
            }
            Ok::<_, GraphError>(blocked)
        }
        .await;
        match found {
            Ok(blocked) if blocked.is_empty() => {}
            Ok(blocked) => {
                observed.held.insert(address, held(&blocked));
            }
            Err(e @ GraphError::Auth { .. }) => return Err(e),
            Err(e) => observed.warnings.push(format!(
                "{address}: this plan deletes custom workflow extensions; the policies that may still call them could not be read ({e}), so apply checks them before each delete"
            )),
        }
    }
    Ok(())
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
        let typed = |n: &str, t: &str| json!({"displayName": n, "type": t});
        let hook = |n: &str| typed(n, if n == "Offboard" { "assignment" } else { "request" });
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
        let mut o = observed.clone();
        guard(&mut o, &bare, &ledger);
        assert!(o.held.get(&catalog).expect("held").reason.contains("access package `Audit` (k1), which desired state does not declare"));

        // Still declared, with another type: the live one called is
        // deleted all the same (made anew), so it holds the catalog too.
        let mut retyped = DesiredModel::default();
        retyped.insert(declared(Kind::AccessCatalog, "guest-access", "Guest access", json!({EXTENSIONS: [hook("Onboard"), typed("Offboard", "request")]})));
        let mut o = observed.clone();
        guard(&mut o, &retyped, &ledger);
        assert!(o.held.get(&catalog).expect("held").reason.contains("calls extension `Offboard` at stage assignmentOneDayBeforeExpiration"));
        // The same type: nothing deleted, nothing held.
        let mut same = DesiredModel::default();
        same.insert(declared(Kind::AccessCatalog, "guest-access", "Guest access", json!({EXTENSIONS: [hook("Onboard"), hook("Offboard")]})));
        let mut o = observed;
        guard(&mut o, &same, &ledger);
        assert!(!o.held.contains_key(&catalog));
    }
}
