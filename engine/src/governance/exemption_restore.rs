//! The service-accounts group's membership rule put back as approved, when
//! that only takes people out of the exemption (hostile run 17, finding 4).
//!
//! Membership of the service-accounts group exempts an account from
//! conditional access (MFA). A portal edit that widens its rule
//! (`... or (user.userPrincipalName -startsWith "adele")`) makes a person a
//! "service account". Putting the approved rule back ends that exemption:
//! it grants nothing, so like other removals of out-of-band access it runs
//! unattended. It is judged only on proof:
//!
//! * the correction is a proven restore (the ledger's record of what was
//!   approved is beyond the change's reach: [`super::tightens::restores`]);
//! * it changes only `membershipRule`;
//! * every live account (members and guests, all read) the approved rule
//!   admits, the live rule admits too, both rules evaluated
//!   ([`super::rule::evaluate`]); an account either rule cannot be judged
//!   for ("cannot tell") makes the restore a change someone approves.
//!
//! A restore that would exempt an account the tenant does not exempt now
//! (a compromised service account taken out in an emergency) stays held.
//! The note names who loses the exemption, so the plan, the journal and
//! drift say what the drift exempted.

use schema::Kind;
use serde_json::Value;

use crate::model::{DesiredModel, LiveObject, ObservedState, Props};
use crate::plan::{Action, Change};

/// The start of the note on a proven narrowing restore.
const NOTE: &str = "puts the service-accounts group's rule back as it was approved and last applied, which only ends exemptions from conditional access granted out of band";

/// Whether `change` is a proven narrowing restore of the service-accounts
/// group's rule ([`mark`] noted it): it ends exemptions only, so it needs
/// no approval.
pub fn proven(change: &Change) -> bool {
    change.address.kind == Kind::Group
        && change.action == Action::Update
        && only_rule(change)
        && super::tightens::restores(change)
        && change.notes.iter().any(|n| n.starts_with(NOTE))
}

fn only_rule(change: &Change) -> bool {
    !change.fields.is_empty() && change.fields.iter().all(|f| f.field == "membershipRule")
}

/// The properties a rule is evaluated against: the live object's, with its
/// user principal name (the natural key) where the listing's props lack it.
fn account_props(o: &LiveObject) -> Props {
    let mut p = o.props.clone();
    if !p.contains_key("userPrincipalName") {
        p.insert("userPrincipalName".into(), Value::String(o.natural_key.clone()));
    }
    p
}

/// Note each proven restore of the service-accounts group's rule that only
/// takes accounts out of the exemption, naming them.
pub fn mark(changes: &mut [Change], desired: &DesiredModel, observed: &ObservedState, by_id: &std::collections::HashMap<&str, &schema::Address>) {
    if [Kind::User, Kind::Guest].iter().any(|k| observed.unreadable.contains_key(k)) {
        return;
    }
    for c in changes.iter_mut() {
        if c.address.kind != Kind::Group || c.action != Action::Update || !desired.service_account_groups.contains(&c.address) || !only_rule(c) || !super::tightens::restores(c) {
            continue;
        }
        let [f] = c.fields.as_slice() else { continue };
        let (Some(live), Some(approved)) = (f.before.as_ref().and_then(Value::as_str), f.after.as_ref().and_then(Value::as_str)) else { continue };
        let mut losing = Vec::new();
        let mut narrows = true;
        for o in [Kind::User, Kind::Guest].iter().flat_map(|k| observed.objects.get(k).into_iter().flatten()) {
            let props = account_props(o);
            match (super::rule::evaluate(live, &props), super::rule::evaluate(approved, &props)) {
                (Some(true), Some(false)) => losing.push(by_id.get(o.id.as_str()).map(|a| a.to_string()).unwrap_or_else(|| format!("{} ({})", o.natural_key, o.id))),
                (Some(_), Some(false)) | (Some(true), Some(true)) => {}
                _ => {
                    narrows = false;
                    break;
                }
            }
        }
        if narrows {
            losing.sort();
            let who = if losing.is_empty() { "no account exempted now loses it".to_string() } else { format!("no longer exempted: {}", losing.join(", ")) };
            c.notes.push(format!("{NOTE} ({who}): it needs no approval and reconcile --self-heal applies it unattended"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;
    use serde_json::json;

    fn account(id: &str, upn: &str) -> LiveObject {
        let mut props = Props::new();
        props.insert("userPrincipalName".into(), json!(upn));
        LiveObject { kind: Kind::User, id: id.into(), natural_key: upn.into(), display_name: upn.into(), props }
    }

    fn restore(live: &str, approved: &str) -> Change {
        Change {
            address: "group.service-accounts".parse().expect("test fixture"),
            action: Action::Update,
            display_name: "SA".into(),
            id: Some("g".into()),
            reason: String::new(),
            fields: vec![FieldChange { field: "membershipRule".into(), before: Some(json!(live)), after: Some(json!(approved)) }],
            waits_on: vec![],
            wave: 0,
            desired: None,
            notes: vec![super::super::tightens::RESTORES_NOTE.into()],
            live: None,
        }
    }

    fn judged(live: &str, approved: &str, upn_adele: &str) -> Change {
        let mut desired = DesiredModel::default();
        desired.service_account_groups.insert("group.service-accounts".parse().expect("test fixture"));
        let mut observed = ObservedState::default();
        observed.objects.insert(Kind::User, vec![account("1", "MSADMIN@contoso.com"), account("2", upn_adele)]);
        let adele: schema::Address = "user.adele".parse().expect("test fixture");
        let by_id = std::collections::HashMap::from([("2", &adele)]);
        let mut c = [restore(live, approved)];
        mark(&mut c, &desired, &observed, &by_id);
        c[0].clone()
    }

    #[test]
    fn narrowing_restores_are_proven_and_name_who_loses() {
        let approved = r#"(user.userPrincipalName -startsWith "MSADMIN@")"#;
        let widened = r#"(user.userPrincipalName -startsWith "MSADMIN@") or (user.userPrincipalName -startsWith "adele")"#;
        let c = judged(widened, approved, "adele@contoso.com");
        assert!(proven(&c), "{:?}", c.notes);
        assert!(c.notes.iter().any(|n| n.contains("no longer exempted: user.adele")), "{:?}", c.notes);
    }

    #[test]
    fn a_restore_that_exempts_again_is_not_proven() {
        // The portal took MSADMIN out (an emergency): putting it back
        // exempts an account the tenant does not exempt now.
        let approved = r#"(user.userPrincipalName -startsWith "MSADMIN@")"#;
        let c = judged(r#"(user.userPrincipalName -startsWith "NOBODY@")"#, approved, "adele@contoso.com");
        assert!(!proven(&c));
        // A rule tenantctl cannot evaluate proves nothing.
        let c = judged(r#"(user.jobTitle -match "x")"#, approved, "adele@contoso.com");
        assert!(!proven(&c));
        // Without the restore note (a change of desired state), never.
        let mut c = judged(r#"(user.userPrincipalName -startsWith "MSADMIN@") or (user.userPrincipalName -startsWith "adele")"#, approved, "adele@contoso.com");
        c.notes.retain(|n| n != super::super::tightens::RESTORES_NOTE);
        assert!(!proven(&c));
    }
}
