//! The guardrail lints of the service model, over the desired model and
//! the live tenant.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use schema::kinds::role_assignment::{is_privileged, READ_ONLY_ROLES};
use schema::kinds::Governance;
use schema::{Address, Kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::certificates::{certificates, not_after};
use crate::model::{as_reference, DesiredModel, ObservedState};
use crate::plan::{referenced_addresses, Action, Change};


#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding of a named lint. `allow` in `[governance]` silences it by
/// `lint` or `lint:address`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub lint: String,
    /// The resource concerned (`kind.key`), or a live object (`id:...`).
    pub address: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}[{}] {}: {}", self.lint, self.address, self.message)
    }
}

/// Lint names, for docs and `allow`.
pub const LINTS: &[(&str, &str)] = &[
    ("service-account-targeted", "a service account or the service-accounts group is targeted by a policy or conditional access"),
    ("service-accounts-not-excluded", "a conditional access policy does not exclude the service accounts"),
    ("break-glass-not-excluded", "an enabled conditional access policy reaches a protected (break-glass) account without excluding it"),
    ("unmanaged-target", "a managed policy is assigned (live) to a group desired state does not declare"),
    ("standing-privileged-access", "anyone (person, guest, group, service account) holds a privileged role permanently: active with no expiry"),
    ("permanent-eligibility", "a privileged role is eligible with no expiry (or one beyond the 400-day horizon): a warning; eligibility should be reviewed"),
    ("service-account-role", "a service account holds (directly, or through a group) a role it does not declare in allowed_roles, or a read-only account a role that writes"),
    ("service-account-privileged", "a service account holds (directly, or through a group) a privileged role: refused even when allowed_roles lists it, unless a reasoned exception in [governance.exceptions] was approved by two"),
    ("unmanaged-privileged-holder", "a live privileged role holder not in desired state"),
    ("global-admin-not-removed", "an out-of-band Global Administrator is kept because no declared path to Global Administrator stays (a warning naming the holder)"),
    ("ring-devices-only", "a Managed Desktop ring device group holds something other than devices (declared or live)"),
    ("one-autopilot-profile", "more than one Autopilot profile targets the all-devices group (live)"),
    ("certificate-expiring", "a certificate in a profile expires within 60 days (or has expired)"),
    ("approvals-unreachable", "approvals_required is more than the approvers listed can give"),
    ("privileged-activation-without-mfa", "a privileged role's PIM settings let it be activated without MFA"),
    ("privileged-activation-without-approval", "a privileged role's PIM settings let it be activated without approval (or are not declared)"),
    ("privileged-assignment-without-expiry", "a privileged role's PIM settings let it be assigned active with no end (or beyond 400 days)"),
    ("privileged-role-pim-settings-undeclared", "a privileged role is assigned eligibly but its PIM settings (role_policy) are not declared"),
    ("ca-exempt-member", "a person is a live member of a group a conditional access policy excludes, whose membership desired state does not manage"),
    ("pim-approver-service-account", "a service account (directly, or through a group) approves a role's PIM activations"),
    ("oma-local-accounts", "a custom OMA-URI setting or a Settings Catalog setting sets local accounts, groups or user rights (or enables the built-in Administrator or Guest), or an OMA-URI setting carries a password inline: an error unless [governance.exceptions] gives the reason"),
    ("unmanaged-policy-member", "a person or a ring device is a live member of a group a device policy is assigned to, whose membership desired state does not manage"),
    ("unmanaged-intune-admin", "Intune admin access held outside desired state: an out-of-band Intune role assignment, or a person in the member group (membership not managed) of one"),
];

/// Roles whose out-of-band holding is an error (and removed unattended).
pub const TENANT_CONTROL_ROLES: &[&str] = &["Global Administrator", "Privileged Role Administrator"];

/// How long before expiry certificates are flagged.
pub const CERTIFICATE_WARNING_DAYS: i64 = 60;

fn allowed(gov: &Governance, f: &Finding) -> bool {
    let scoped = format!("{}:{}", f.lint, f.address);
    if f.lint == SERVICE_ACCOUNT_PRIVILEGED {
        // Only a reasoned exception for this assignment, in a governance
        // that needs two approvers for any change (the exception itself is
        // such a change, journalled when the trust root records it); never
        // `allow`, never a blanket exception for the lint.
        let two = gov.approvals_required >= 2 && gov.unattended.is_none();
        return two && gov.exceptions.get(&scoped).is_some_and(|why| !why.trim().is_empty());
    }
    if f.lint == super::oma_review::OMA_LOCAL_ACCOUNTS {
        // Local administrators written in a profile: only with a reason.
        return gov.exceptions.get(&scoped).is_some_and(|why| !why.trim().is_empty());
    }
    gov.allow.iter().any(|a| *a == f.lint || *a == scoped) || gov.exceptions.keys().any(|k| *k == f.lint || *k == scoped)
}

fn finding(severity: Severity, lint: &str, address: impl ToString, message: String) -> Finding {
    Finding { severity, lint: lint.into(), address: address.to_string(), message }
}

/// Lints of the desired model alone (what `validate` runs), at `now`.
pub fn lint_desired(desired: &DesiredModel, now: DateTime<Utc>) -> Vec<Finding> {
    let gov = &desired.governance;
    let mut out = Vec::new();
    let service: BTreeSet<&Address> = desired.service_accounts.iter().chain(desired.service_account_groups.iter()).collect();
    let listed = gov.approvers.len() as u32;
    if gov.approvals_required > 0 && listed < gov.approvals_required {
        out.push(finding(
            Severity::Warning,
            "approvals-unreachable",
            "governance",
            format!("approvals_required = {} but only {listed} approver(s) are listed: no sensitive plan could ever be applied", gov.approvals_required),
        ));
    }
    for (address, r) in &desired.resources {
        let refs_at = |path: &str| -> Vec<Address> {
            let mut set = BTreeSet::new();
            if let Some(v) = pointer(&r.props, path) {
                referenced_addresses(v, &mut set);
            }
            set.into_iter().collect()
        };
        if address.kind.is_policy() || address.kind == Kind::AutopilotProfile {
            // Filtered targets count as much as plain ones (a filter narrows
            // devices, it does not take an account out of a target).
            let mut include = refs_at("/assignments/include");
            include.extend(refs_at("/assignments/filters"));
            let mut direct = false;
            for t in &include {
                if service.contains(t) {
                    direct = true;
                    out.push(finding(Severity::Error, "service-account-targeted", address, format!("assigned to {t}: service accounts get no policy")));
                }
            }
            let all_users = pointer(&r.props, "/assignments/allUsers").and_then(Value::as_bool) == Some(true)
                || pointer(&r.props, "/assignments/filters").and_then(Value::as_object).is_some_and(|f| f.values().flat_map(|v| v.as_array().into_iter().flatten()).any(|t| t.as_str() == Some("allUsers")));
            if !direct {
                let reach = super::targets::assignment_reach(desired, &include, &refs_at("/assignments/exclude"), all_users);
                out.extend(effective_findings(desired, address, &reach, "service accounts get no policy"));
            }
        }
        if address.kind == Kind::ConditionalAccess {
            let mut included = refs_at("/conditions/users/includeUsers");
            included.extend(refs_at("/conditions/users/includeGroups"));
            for t in included.iter().filter(|t| service.contains(t)) {
                out.push(finding(Severity::Error, "service-account-targeted", address, format!("includes {t}: service accounts get no MFA or conditional access")));
            }
            let excluded: BTreeSet<Address> = refs_at("/conditions/users/excludeUsers").into_iter().chain(refs_at("/conditions/users/excludeGroups")).collect();
            let excluded_list: Vec<Address> = excluded.iter().cloned().collect();
            if !included.iter().any(|t| service.contains(t)) {
                // Mixed and nested groups; "All" users is the next lint's.
                let reach = super::targets::assignment_reach(desired, &included, &excluded_list, false);
                out.extend(effective_findings(desired, address, &reach, "service accounts get no MFA or conditional access"));
            }
            // Each service account must be PROVED excluded: named, or a
            // member of an excluded group by its declared members or its
            // rule evaluated against the account's declared properties.
            let proved = super::targets::proven_excluded(desired, &excluded_list);
            let missing: Vec<String> = desired.service_accounts.iter().filter(|s| !proved.contains(*s)).map(|s| s.to_string()).collect();
            let group_excluded = desired.service_account_groups.iter().find(|g| excluded.contains(*g));
            if !missing.is_empty() {
                let msg = match (group_excluded, desired.service_account_groups.iter().next()) {
                    (Some(g), _) => format!(
                        "excludes {g}, but {g} is not proved to hold {} (not among its declared members, and its membership rule does not match the declared properties); exclude them by name or correct the rule",
                        missing.join(", ")
                    ),
                    (None, Some(g)) => format!("does not exclude the service accounts; exclude {g}"),
                    (None, None) => format!("does not exclude the service accounts; exclude {}", missing.join(", ")),
                };
                out.push(finding(Severity::Error, "service-accounts-not-excluded", address, msg));
            }
        }
        if address.kind == Kind::RoleAssignment {
            out.extend(role_lints(desired, address, r, now));
        }
        out.extend(super::intune_roles::lints(desired, address, r));
        out.extend(super::identity_lints::lints(desired, address, r));
        out.extend(super::breakglass_ca::lints(desired, address, r));
        out.extend(super::admin_reach::unit_lints(desired, address, r));
        out.extend(super::declared_access::lints(desired, address, r, now));
        out.extend(super::oma_review::lints(desired, address, r));
        out.extend(super::licensed_reach::lints(desired, address, r));
        out.extend(super::role_names::lints(desired, address, r));
        out.extend(super::strength_names::lints(desired, address, r));
        if address.kind == Kind::AccessPackage {
            out.extend(super::package_approvers::lints(desired, address, r));
            out.extend(super::package_automatic::lints(desired, address, r));
        }
        if address.kind == Kind::AccessPackageAssignment {
            // A service account by the service-accounts group's rule, not
            // only by `kind` (which validation already refuses; hostile
            // run 15, finding 11).
            let target = r.props.get(super::package_assignment::TARGET).and_then(crate::model::as_reference).and_then(|t| t.parse::<Address>().ok());
            if let Some(t) = target.filter(|t| desired.service_accounts.contains(t)) {
                out.push(finding(Severity::Error, "service-account-access-package", address, format!("{t} is a service account: service accounts are never granted access through an access package")));
            }
        }
        if matches!(address.kind, Kind::DeviceConfiguration | Kind::CompliancePolicy) {
            for (field, der) in certificates(&r.props) {
                match not_after(&der) {
                    Some(end) if end <= now + Duration::days(CERTIFICATE_WARNING_DAYS) => {
                        let when = end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                        let msg = if end <= now { format!("the certificate in {field} expired at {when}") } else { format!("the certificate in {field} expires at {when}, within {CERTIFICATE_WARNING_DAYS} days") };
                        out.push(finding(Severity::Warning, "certificate-expiring", address, msg));
                    }
                    Some(_) => {}
                    None => out.push(finding(Severity::Warning, "certificate-expiring", address, format!("{field} is not a DER certificate whose expiry can be read"))),
                }
            }
        }
    }
    finish(gov, out)
}

/// Findings for what an assignment reaches beyond what it names.
fn effective_findings(desired: &DesiredModel, address: &Address, reach: &super::targets::Reach, why: &str) -> Vec<Finding> {
    let fix = match desired.service_account_groups.iter().next() {
        Some(g) => format!("exclude {g}"),
        None => "exclude the service accounts".to_string(),
    };
    let mut out: Vec<Finding> =
        reach.accounts.iter().map(|(s, how)| finding(Severity::Error, "service-account-targeted", address, format!("reaches service account {s} {how}: {why}; {fix}"))).collect();
    if out.is_empty() && !desired.service_accounts.is_empty() {
        for m in &reach.maybe {
            out.push(finding(Severity::Error, "service-account-targeted", address, format!("could reach service accounts: {m}; {why}; {fix}")));
        }
    }
    out
}

/// Least privilege and zero standing access for one declared role
/// assignment: a service account holds only the roles it declares (a
/// read-only one only read-only roles); nobody holds a privileged role
/// permanently (active with no `expires`).
fn role_lints(desired: &DesiredModel, address: &Address, r: &crate::DesiredResource, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
    let principal = r.props.get("principal").and_then(as_reference).and_then(|p| p.parse::<Address>().ok());
    let Some(principal) = principal else { return out };
    if desired.service_account_roles.contains_key(&principal) {
        out.extend(service_account_role(desired, address, &principal, role, ""));
    }
    if desired.service_account_groups.contains(&principal) && !READ_ONLY_ROLES.contains(&role) {
        out.push(finding(Severity::Error, "service-account-role", address, format!("{principal} holds service accounts; give roles to each account it may hold them, not {role} to the group")));
    } else if principal.kind == Kind::Group {
        // A service account in a group holding a role holds the role: the
        // same rules as a direct assignment (declared members, nested).
        for (account, how) in super::targets::group_reach(desired, &principal).accounts {
            out.extend(service_account_role(desired, address, &account, role, &format!(" {how}")));
        }
    }
    let eligible = r.props.get("assignment").and_then(Value::as_str) == Some("eligible");
    // An end years away (`9999-12-31`) is standing access too: beyond the
    // horizon time-boxed access must end within, it counts as permanent.
    let horizon = now + Duration::days(schema::validate::MAX_EXPIRY_DAYS);
    let standing = match r.expires {
        None => Some("permanently".to_string()),
        Some(e) if e > horizon => Some(format!("until {} (beyond the {}-day horizon of time-boxed access)", e.format("%Y-%m-%d"), schema::validate::MAX_EXPIRY_DAYS)),
        Some(_) => None,
    };
    match (is_privileged(role), standing, eligible) {
        (true, Some(how), false) => out.push(finding(
            Severity::Error,
            "standing-privileged-access",
            address,
            format!("{principal} holds {role} {how}; make it eligible or give it an `expires` (time-boxed through PIM), or except it with a reason in [governance.exceptions]"),
        )),
        // Eligibility is just-in-time, not standing access, but one that
        // never ends outlives the need it was granted for and is never
        // reviewed: PIM's own default ends eligibility after a year.
        (true, Some(how), true) => out.push(finding(
            Severity::Warning,
            "permanent-eligibility",
            address,
            format!("{principal} is eligible for {role} {how}; give it an `expires` within {} days so the eligibility is reviewed", schema::validate::MAX_EXPIRY_DAYS),
        )),
        _ => {}
    }
    out
}

/// The least-privilege rules for service account `account` holding `role`
/// (directly, or `how` through a group): only roles its `allowed_roles`
/// declares, only read-only ones when it is read-only, and never a
/// privileged role (`service-account-privileged`, whatever allowed_roles
/// says: service accounts hold no privileged admin access).
pub(crate) fn service_account_role(desired: &DesiredModel, address: impl ToString, account: &Address, role: &str, how: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(sr) = desired.service_account_roles.get(account) else { return out };
    if sr.read_only && !READ_ONLY_ROLES.contains(&role) {
        out.push(finding(
            Severity::Error,
            "service-account-role",
            address.to_string(),
            format!("{account} is read-only and may hold only read-only roles ({}); {role}{how} is not one", READ_ONLY_ROLES.join(", ")),
        ));
    } else if !schema::kinds::user::allows(&sr.allowed, schema::kinds::user::RoleSpace::Directory, role) {
        let allowed = if sr.allowed.is_empty() { "none".to_string() } else { sr.allowed.join(", ") };
        out.push(finding(
            Severity::Error,
            "service-account-role",
            address.to_string(),
            format!("{account} may hold only the roles it declares in allowed_roles ({allowed}); {role}{how} is not one"),
        ));
    }
    if is_privileged(role) {
        let address = address.to_string();
        out.push(finding(
            Severity::Error,
            SERVICE_ACCOUNT_PRIVILEGED,
            &address,
            format!(
                "{account} is a service account and would hold the privileged role {role}{how}: service accounts hold no privileged admin access, active or eligible, time-boxed or not, whatever allowed_roles says; give the role to a person through PIM, or record a break-glass exception `\"{SERVICE_ACCOUNT_PRIVILEGED}:{address}\" = \"REASON\"` in [governance.exceptions] (a change of [governance], approved by two approvers in force; honoured only with approvals_required >= 2 and no `unattended`)"
            ),
        ));
    }
    out
}

/// The lint refusing a privileged role on a service account.
pub const SERVICE_ACCOUNT_PRIVILEGED: &str = "service-account-privileged";

/// Lints that need the live tenant: unmanaged assignment targets and
/// privileged role holders not in desired state.
pub fn lint_live(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Finding> {
    lint_live_indexed(desired, observed, &super::index::IdIndex::new(ids))
}

/// [`lint_live`] with the plan's shared id index.
pub(crate) fn lint_live_indexed(desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>) -> Vec<Finding> {
    let gov = &desired.governance;
    let mut out = Vec::new();
    let known_ids = ids.by_id();
    // Unknown is unknown: with groups unread, no target can be called
    // unmanaged; with principals or assignments unread, no holder can be
    // called out-of-band.
    let groups_read = !observed.unreadable.contains_key(&Kind::Group);
    let holders_read = ![Kind::User, Kind::Guest, Kind::Group, Kind::RoleAssignment].iter().any(|k| observed.unreadable.contains_key(k));
    for (kind, objects) in &observed.objects {
        for o in objects {
            let Some(address) = known_ids.get(o.id.as_str()) else { continue };
            if kind.is_policy() && *kind != Kind::ConditionalAccess && groups_read {
                let mut targets = Vec::new();
                if let Some(Value::Object(m)) = o.props.get("assignments") {
                    for k in ["include", "exclude"] {
                        for t in m.get(k).and_then(Value::as_array).into_iter().flatten() {
                            if let Some(id) = as_reference(t) {
                                if !matches!(known_ids.get(id), Some(a) if a.kind == Kind::Group) {
                                    targets.push(id.to_string());
                                }
                            }
                        }
                    }
                }
                for t in targets {
                    out.push(finding(Severity::Error, "unmanaged-target", address, format!("is assigned to group id:{t}, which desired state does not manage")));
                }
            }
        }
    }
    out.extend(super::reach_once::merge(super::live::lint_membership_indexed(desired, observed, ids), super::unmanaged_reach::lint(desired, observed, ids)));
    out.extend(super::licensed_reach::live(desired, observed, ids));
    for o in observed.objects.get(&Kind::RoleAssignment).into_iter().flatten().filter(|_| holders_read) {
        if known_ids.contains_key(o.id.as_str()) {
            continue;
        }
        let role = o.props.get("role").and_then(Value::as_str).unwrap_or_default();
        let principal = o.props.get("principal").and_then(as_reference).unwrap_or_default();
        // A service account given a role out of band: least privilege as
        // for a declared assignment (a group principal: `live::role_groups`).
        if let Some(account) = known_ids.get(principal).filter(|a| desired.service_accounts.contains(**a)) {
            out.extend(service_account_role(desired, format!("id:{}", o.id), account, role, " (assigned out of band)"));
        }
        if !is_privileged(role) {
            continue;
        }
        let who = known_ids.get(principal).map(|a| a.to_string()).unwrap_or_else(|| format!("id:{principal}"));
        let kind = o.props.get("assignment").and_then(Value::as_str).unwrap_or("active");
        // Out-of-band privileged access (active or eligible) is an error;
        // its removal is in the plan (`out_of_band_removals`), which settles
        // it, and runs unattended. A protected holder keeps it: held.
        let severity = Severity::Error;
        out.push(finding(
            severity,
            "unmanaged-privileged-holder",
            format!("id:{}", o.id),
            format!("{who} holds {role} ({kind}) outside desired state; declare it or remove it"),
        ));
    }
    out.extend(super::admin_reach::unmanaged_intune_assignments(desired, observed, ids));
    out.extend(super::access::kept_global_admins_indexed(desired, observed, ids));
    finish(gov, out)
}

/// Lints never block their remedy: an error whose violation this plan's
/// changes remove becomes a warning that says so. `unmanaged-target` is
/// remedied by a change of the policy's assignments (desired assignments
/// name only managed groups) or its deletion; `unmanaged-privileged-holder`
/// by the deletion of that assignment.
pub fn settle(lints: &mut [Finding], changes: &[Change]) {
    // Only errors are settled: without one, no index is built.
    if !lints.iter().any(|f| f.severity == Severity::Error) {
        return;
    }
    // Changes indexed once by what a finding names (its address, or
    // `id:<live id>` for deletes), in plan order, so settling is linear in
    // findings + changes rather than their product.
    let mut by_address: std::collections::HashMap<String, Vec<&Change>> = std::collections::HashMap::new();
    let mut deletes_by_id: std::collections::HashMap<String, &Change> = std::collections::HashMap::new();
    for c in changes {
        by_address.entry(c.address.to_string()).or_default().push(c);
        if c.action == Action::Delete {
            if let Some(id) = c.id.as_deref() {
                deletes_by_id.entry(format!("id:{id}")).or_insert(c);
            }
        }
    }
    for f in lints.iter_mut().filter(|f| f.severity == Severity::Error) {
        let remedy = match f.lint.as_str() {
            "unmanaged-target" => by_address.get(&f.address).into_iter().flatten().copied().find(|c| {
                matches!(c.action, Action::Delete | Action::Replace)
                    || (matches!(c.action, Action::Update | Action::Assign) && c.fields.iter().any(|x| x.field == "assignments" || x.field.starts_with("assignments.")))
            }),
            "unmanaged-privileged-holder" => deletes_by_id.get(&f.address).copied(),
            _ => None,
        };
        if let Some(c) = remedy {
            f.severity = Severity::Warning;
            f.message.push_str(&format!("; this plan removes it ({} {}), so it does not block", c.action.as_str(), c.address));
        }
    }
}

/// The live state once `changes` are applied, as far as the live lints
/// look at it: deleted (or replaced) objects are gone, and a policy whose
/// assignments the plan sets holds the desired ones only (its live
/// assignments are dropped; the desired ones are linted from desired state).
pub fn after_plan(observed: &ObservedState, changes: &[Change]) -> ObservedState {
    let (gone, reassigned) = after_plan_ids(changes);
    let mut after = observed.clone();
    if gone.is_empty() && reassigned.is_empty() {
        return after;
    }
    // One pass over the live objects (a pass per change was quadratic).
    for objects in after.objects.values_mut() {
        objects.retain(|o| !gone.contains(o.id.as_str()));
        for o in objects.iter_mut().filter(|o| reassigned.contains(o.id.as_str())) {
            o.props.remove("assignments");
        }
    }
    after
}

/// The ids [`after_plan`] removes (deleted or replaced) and those whose
/// live assignments it drops (the plan sets them); both empty when the
/// state after the plan is the observed state, as far as lints look.
pub fn after_plan_ids(changes: &[Change]) -> (std::collections::HashSet<&str>, std::collections::HashSet<&str>) {
    let (mut gone, mut reassigned) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    for c in changes {
        let Some(id) = c.id.as_deref() else { continue };
        // A ratification sends nothing: the tenant keeps its live
        // assignments, and a live error about them still blocks (taking
        // it for a reassignment downgraded it, and copied every reviewed
        // policy's state: perf11 at 100k).
        if super::ratify::is_ratify(c) {
            continue;
        }
        if matches!(c.action, Action::Delete | Action::Replace) {
            gone.insert(id);
        } else if matches!(c.action, Action::Update | Action::Assign) && c.fields.iter().any(|x| x.field == "assignments" || x.field.starts_with("assignments.")) {
            reassigned.insert(id);
        }
    }
    (gone, reassigned)
}

/// Lints never block their remedy: a live error that the state after the
/// plan no longer has ([`after_plan`]) becomes a warning that says so. An
/// error the state after the plan still has, told another way (the same
/// account reached by another path), is kept as an error.
pub fn settle_after(live: &mut Vec<Finding>, after: &[Finding]) {
    let same = |a: &Finding, f: &Finding| a.lint == f.lint && a.address == f.address && a.message == f.message;
    let kept: Vec<Finding> = after.iter().filter(|a| a.severity == Severity::Error && !live.iter().any(|f| same(a, f))).cloned().collect();
    for f in live.iter_mut().filter(|f| f.severity == Severity::Error) {
        if !after.iter().any(|a| same(a, f)) {
            f.severity = Severity::Warning;
            f.message.push_str("; the state after this plan no longer has it, so it does not block");
        }
    }
    live.extend(kept);
}

pub(super) fn finish(gov: &Governance, mut out: Vec<Finding>) -> Vec<Finding> {
    out.retain(|f| !allowed(gov, f));
    out.sort();
    out.dedup();
    // Errors first, then by lint and address.
    out.sort_by(|a, b| (std::cmp::Reverse(a.severity), &a.lint, &a.address, &a.message).cmp(&(std::cmp::Reverse(b.severity), &b.lint, &b.address, &b.message)));
    out
}

fn pointer<'a>(props: &'a crate::Props, path: &str) -> Option<&'a Value> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let first = parts.next()?;
    let v = props.get(first)?;
    match parts.next() {
        Some(rest) => v.pointer(&format!("/{rest}")),
        None => Some(v),
    }
}

#[cfg(test)]
mod settle_after_tests {
    use super::*;

    fn error(message: &str) -> Finding {
        Finding { severity: Severity::Error, lint: "service-account-targeted".into(), address: "device_configuration.p".into(), message: message.into() }
    }

    #[test]
    fn an_error_the_state_after_the_plan_still_has_another_way_is_kept() {
        let mut live = vec![error("reaches service account user.a through group id:x")];
        settle_after(&mut live, &[error("reaches service account user.a through group.g")]);
        assert_eq!(live.len(), 2, "{live:?}");
        assert_eq!(live[0].severity, Severity::Warning);
        assert_eq!(live[1].severity, Severity::Error);
        assert_eq!(live[1].message, "reaches service account user.a through group.g");
        // Still there after the plan: unchanged.
        let mut live = vec![error("m")];
        settle_after(&mut live, &[error("m")]);
        assert_eq!(live, vec![error("m")]);
    }

    #[test]
    fn a_ratification_reassigns_nothing() {
        let assigned = |notes: Vec<String>| {
            let mut c = Change::new("device_configuration.p".parse().expect("an address"), Action::Update, "p", "r");
            c.id = Some("id-1".into());
            c.fields = vec![crate::diff::FieldChange { field: "assignments".into(), before: None, after: Some(serde_json::json!([])) }];
            c.notes = notes;
            c
        };
        let plain = [assigned(Vec::new())];
        let (_, reassigned) = after_plan_ids(&plain);
        assert!(reassigned.contains("id-1"), "an update that sets assignments reassigns");
        // Sends nothing: the live assignments stay, and so do their errors.
        let ratified = [assigned(vec![super::super::ratify::RATIFY_NOTE.into()])];
        let (gone, reassigned) = after_plan_ids(&ratified);
        assert!(gone.is_empty() && reassigned.is_empty(), "{reassigned:?}");
    }
}
