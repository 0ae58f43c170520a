//! The service model's rules for access packages, checked where they are
//! written: guest access is temporary and approved by a second person.
//!
//! * `access-without-approval`: a policy that admits external users, or
//!   that grants a group holding a directory role (at the tenant or over
//!   an administrative unit), a member of an administrative unit a role
//!   is scoped to (`access_package_units`), a role-assignable or
//!   protected group, or one conditional access excludes, needs approval;
//!   an automatic assignment policy never has it (nobody requests, nobody
//!   approves).
//! * `standing-guest-access`: such a policy must end access (`noExpiration`
//!   or an end beyond the horizon time-boxed access ends within is
//!   standing access).
//! * `self-approval`: nobody may approve their own request: an approver
//!   who could be a requestor, or the requestor's manager with no
//!   fallback (external requestors have no manager in the tenant).
//!   Fallback approvers are held to the same rule as primary ones: a
//!   fallback who could request could approve their own request too.
//! * `service-account-access-package`: a package never grants the
//!   service-accounts group or a group holding a service account.
//! * `service-account-approver`: a service account (or a group reaching
//!   one) never approves a request, primary or fallback: approval is a
//!   person's second key.
//!
//! The first three are allowed by a reasoned exception
//! (`"<lint>:access_package.KEY" = "why"` in `[governance.exceptions]`);
//! the last two are not.

use std::collections::BTreeSet;

use crate::address::{Address, Kind};
use crate::kinds::access_package::{special_approver, AssignmentPolicy, AFTER_DATE_TIME, AFTER_DURATION, NO_EXPIRATION};
use crate::kinds::access_package_reach as reach_rules;
use crate::kinds::access_package_units as units;
use crate::kinds::user::UserKind;
use crate::path;
use crate::validate::{Ctx, MAX_EXPIRY_DAYS};

pub const WITHOUT_APPROVAL: &str = "access-without-approval";
pub const STANDING_GUEST_ACCESS: &str = "standing-guest-access";
pub const SELF_APPROVAL: &str = "self-approval";
pub const SERVICE_ACCOUNT: &str = "service-account-access-package";
pub const SERVICE_ACCOUNT_APPROVER: &str = "service-account-approver";

/// The declared members of group `g`, transitively (users, guests and
/// groups), `g` included.
pub(crate) fn reach(cx: &Ctx, g: &Address) -> BTreeSet<Address> {
    let mut out = BTreeSet::new();
    let mut todo = vec![g.clone()];
    while let Some(a) = todo.pop() {
        if !out.insert(a.clone()) || a.kind != Kind::Group {
            continue;
        }
        if let Some(grp) = cx.state.group.get(a.key.as_str()) {
            for m in grp.value.members.iter().flatten() {
                if let Ok(m) = cx.state.resolve(m, &[Kind::User, Kind::Guest, Kind::Group]) {
                    todo.push(m);
                }
            }
        }
    }
    out
}

fn excepted(cx: &Ctx, lint: &str, key: &str) -> bool {
    let scoped = format!("{lint}:access_package.{key}");
    cx.state.governance.as_ref().is_some_and(|g| g.value.exceptions.get(&scoped).is_some_and(|why| !why.trim().is_empty()))
}

/// Why granting group `g` is granting privileged access, if it is: what
/// `g` holds, or what a group `g` is nested in holds (hostile run 17,
/// finding 1).
fn sensitive_group(cx: &Ctx, g: &Address) -> Option<String> {
    let own = |h: &Address| direct_sensitive(cx, h).or_else(|| reach_rules::grants_of(cx, h)).or_else(|| units::unit_reach(cx, h));
    if let Some(why) = own(g) {
        return Some(why);
    }
    reach_rules::containing_groups(cx, g).into_iter().find_map(|h| own(&h).map(|why| format!("{g} is a member of {h}: {why}")))
}

/// Why group `g` itself is privileged by its own declaration, role
/// assignments or conditional access exclusions.
fn direct_sensitive(cx: &Ctx, g: &Address) -> Option<String> {
    let grp = cx.state.group.get(g.key.as_str())?;
    if grp.value.protected {
        return Some(format!("{g} is protected"));
    }
    if grp.value.is_assignable_to_role {
        return Some(format!("{g} is role-assignable"));
    }
    for (rk, ra) in &cx.state.role_assignment {
        if cx.state.resolve(&ra.value.principal, &[Kind::User, Kind::Guest, Kind::Group]).ok().as_ref() == Some(g) {
            return Some(format!("{g} holds {}{} (role_assignment.{rk})", ra.value.role, units::over_unit(cx, ra.value.scope.as_ref())));
        }
    }
    for (ck, ca) in &cx.state.conditional_access {
        if ca.value.users.exclude_groups.iter().any(|x| cx.state.resolve(x, &[Kind::Group]).ok().as_ref() == Some(g)) {
            return Some(format!("conditional_access.{ck} excludes {g}"));
        }
    }
    None
}

/// The service accounts and the service-accounts group, as addresses.
fn service_principals(cx: &Ctx) -> BTreeSet<Address> {
    let mut out: BTreeSet<Address> = cx.state.user.iter().filter(|(_, u)| u.value.kind == UserKind::Service).map(|(k, _)| Address::new(Kind::User, k.as_str())).collect();
    let sa_group = cx.state.governance.as_ref().and_then(|g| g.value.managed_desktop.as_ref()).and_then(|m| m.service_accounts_group.as_ref());
    if let Some(g) = sa_group.and_then(|g| cx.state.resolve(g, &[Kind::Group]).ok()) {
        out.insert(g);
    }
    out
}

/// Every governance rule over every declared package.
pub(crate) fn validate(cx: &mut Ctx) {
    let service = service_principals(cx);
    for (key, d) in &cx.state.access_package {
        let (p, o) = (&d.value, &d.origin);
        let granted: Vec<(usize, Address)> = p.groups.iter().enumerate().filter_map(|(i, g)| cx.state.resolve(g, &[Kind::Group]).ok().map(|a| (i, a))).collect();
        let mut why_sensitive = None;
        for (i, g) in &granted {
            let reached = reach(cx, g);
            if let Some(s) = reached.iter().find(|a| service.contains(*a)) {
                let how = if s == g { String::new() } else { format!(" (it holds {s})") };
                cx.error(SERVICE_ACCOUNT, o, &path!["access_package", key, "groups", *i], format!("access_package.{key} grants {g}{how}: service accounts are never granted through an access package, and a package never grants their group"));
            }
            if why_sensitive.is_none() {
                why_sensitive = sensitive_group(cx, g);
            }
        }
        for (pk, pol) in &p.policies {
            policy_rules(cx, key, pk, pol, why_sensitive.as_deref(), o, &service);
        }
    }
}

fn policy_rules(cx: &mut Ctx, key: &str, pk: &str, pol: &AssignmentPolicy, grants: Option<&str>, o: &crate::diagnostic::Origin, service: &BTreeSet<Address>) {
    let name = format!("access_package.{key}.policies.{pk}");
    let external = reach_rules::admits_external(cx, pol);
    let why = match (&external, grants) {
        (Some(scope), _) => Some(format!("it admits external users ({scope})")),
        (None, Some(g)) => Some(format!("it grants privileged access ({g})")),
        (None, None) => None,
    };
    let hint = |lint: &str| format!("or record a reasoned exception `\"{lint}:access_package.{key}\"` in [governance.exceptions]");
    if let Some(why) = &why {
        // An automatic policy assigns with nobody approving, whatever
        // its approval settings say (`access_package_automatic`).
        if pol.automatic_request_settings.is_some() && !excepted(cx, WITHOUT_APPROVAL, key) {
            let at = path!["access_package", key, "policies", pk, "automatic_request_settings", "membership_rule"];
            cx.error(WITHOUT_APPROVAL, o, &at, format!("{name}: {why}, and it assigns the package automatically to everyone its membership_rule matches, with no second person approving; use a request-based policy with approval stages (remove automatic_request_settings), {}", hint(WITHOUT_APPROVAL)));
        }
        let approved = pol.automatic_request_settings.is_some() || pol.request_approval_settings.as_ref().is_some_and(|a| a.is_approval_required_for_add && !a.stages.is_empty());
        if !approved && !excepted(cx, WITHOUT_APPROVAL, key) {
            let at: Vec<crate::source::Seg> = if pol.request_approval_settings.is_some() { path!["access_package", key, "policies", pk, "request_approval_settings", "is_approval_required_for_add"].to_vec() } else { path!["access_package", key, "policies", pk, "display_name"].to_vec() };
            cx.error(WITHOUT_APPROVAL, o, &at, format!("{name}: {why}, so a second person must approve each request; set request_approval_settings with is_approval_required_for_add = true and a stage of approvers, {}", hint(WITHOUT_APPROVAL)));
        }
        let e = &pol.expiration;
        let standing = match e.kind.as_str() {
            NO_EXPIRATION => Some("never ends (noExpiration)".to_string()),
            AFTER_DURATION => e.duration.as_deref().and_then(crate::kinds::access_package::duration_days).filter(|d| *d > MAX_EXPIRY_DAYS).map(|d| format!("lasts {d} days")),
            AFTER_DATE_TIME => e.end_date_time.filter(|t| *t > cx.now + chrono::Duration::days(MAX_EXPIRY_DAYS)).map(|t| format!("ends {}", t.format("%Y-%m-%d"))),
            _ => None,
        };
        reach_rules::update_rules(cx, key, pk, pol, why, o);
        if external.is_some() {
            reach_rules::internal_approver(cx, key, pk, pol, why, o);
        }
        if let Some(s) = standing.filter(|_| !excepted(cx, STANDING_GUEST_ACCESS, key)) {
            cx.error(STANDING_GUEST_ACCESS, o, &path!["access_package", key, "policies", pk, "expiration", "type"], format!("{name}: access it grants {s}, but {why} and such access is time-boxed within {MAX_EXPIRY_DAYS} days; use afterDuration (e.g. `P30D`), {}", hint(STANDING_GUEST_ACCESS)));
        }
    }
    let requestors: Vec<Address> = pol.specific_allowed_targets.iter().filter_map(|t| cx.state.resolve(t, &[Kind::Group, Kind::User, Kind::Guest]).ok()).collect();
    let requestor_reach: BTreeSet<Address> = requestors.iter().flat_map(|r| reach(cx, r)).collect();
    let people = People { key, name: &name, pol, o, service, requestor_reach: &requestor_reach };
    if let Some(a) = &pol.request_approval_settings {
        for (i, s) in a.stages.iter().enumerate() {
            // Escalation approvers are a second key like the primary ones:
            // the same rules, and the manager needs a fallback as well.
            let pairs = [("primary_approvers", &s.primary_approvers, &s.fallback_primary_approvers, "fallback_primary_approvers"), ("escalation_approvers", &s.escalation_approvers, &s.fallback_escalation_approvers, "fallback_escalation_approvers")];
            for (field, list, fallback, fallback_field) in pairs {
                for (j, who) in list.iter().enumerate() {
                    let at = path!["access_package", key, "policies", pk, "request_approval_settings", "stages", i, field, j];
                    if who == "requestor_manager" && fallback.is_empty() {
                        if !excepted(cx, SELF_APPROVAL, key) {
                            cx.error(SELF_APPROVAL, o, &at, format!("{name}: stage {} is approved ({field}) by the requestor's manager with no {fallback_field}: a requestor with no manager (every external user) would have no second person approving", i + 1));
                        }
                        continue;
                    }
                    people.judge(cx, &at, &format!("stage {} names", i + 1), field, who);
                }
                for (j, who) in fallback.iter().enumerate() {
                    let at = path!["access_package", key, "policies", pk, "request_approval_settings", "stages", i, fallback_field, j];
                    people.judge(cx, &at, &format!("stage {} names", i + 1), fallback_field, who);
                }
            }
        }
    }
    if let Some(r) = &pol.review_settings {
        for (field, list) in [("primary_reviewers", &r.primary_reviewers), ("fallback_reviewers", &r.fallback_reviewers)] {
            for (j, who) in list.iter().enumerate() {
                let at = path!["access_package", key, "policies", pk, "review_settings", field, j];
                people.judge(cx, &at, "its review names", field, who);
            }
        }
    }
}

/// The policy whose approvers and reviewers are judged: a service account
/// never approves or reviews, nor does anyone the policy admits.
struct People<'a> {
    key: &'a str,
    name: &'a str,
    pol: &'a AssignmentPolicy,
    o: &'a crate::diagnostic::Origin,
    service: &'a BTreeSet<Address>,
    requestor_reach: &'a BTreeSet<Address>,
}

impl People<'_> {
    fn judge(&self, cx: &mut Ctx, at: &[crate::source::Seg], what: &str, field: &str, who: &str) {
        let (key, pol, o) = (self.key, self.pol, self.o);
        let name = self.name;
        if special_approver(who).is_some() {
            return;
        }
        let Ok(approver) = cx.state.resolve(who, &[Kind::User, Kind::Guest, Kind::Group]) else { return };
        let approvers = reach(cx, &approver);
        if let Some(sa) = approvers.iter().find(|x| self.service.contains(*x)) {
            let via = if *sa == approver { String::new() } else { format!(" (it holds {sa})") };
            cx.error(SERVICE_ACCOUNT_APPROVER, o, at, format!("{name}: {what} {approver}{via} among its {field}: a service account never approves or reviews a request (approval is a person's second key)"));
            return;
        }
        if let Some(why) = reach_rules::granted_approver(cx, key, &approver, &approvers, field) {
            cx.error(SELF_APPROVAL, o, at, format!("{name}: {why}"));
            return;
        }
        if let Some(why) = crate::kinds::access_package_approver_groups::self_service_grant(cx, key, &approver, &approvers, field).filter(|_| !excepted(cx, SELF_APPROVAL, key)) {
            cx.error(SELF_APPROVAL, o, at, format!("{name}: {why}"));
            return;
        }
        let overlap = match pol.allowed_target_scope.as_str() {
            "allMemberUsers" => approvers.iter().find(|x| x.kind == Kind::User || x.kind == Kind::Group).cloned(),
            "allDirectoryUsers" => approvers.iter().next().cloned(),
            "allExternalUsers" | "allConfiguredConnectedOrganizationUsers" | "specificConnectedOrganizationUsers" => approvers.iter().find(|x| x.kind == Kind::Guest).cloned(),
            _ => approvers.iter().find(|x| self.requestor_reach.contains(*x)).cloned(),
        };
        if let Some(x) = overlap.filter(|_| !excepted(cx, SELF_APPROVAL, key)) {
            let via = if x == approver { String::new() } else { format!(" (through {x})") };
            cx.error(SELF_APPROVAL, o, at, format!("{name}: approver {approver}{via} (its {field}) may also request the package ({}), so could approve or review their own access; approvers and reviewers must be people the policy does not admit", pol.allowed_target_scope));
        }
    }
}
