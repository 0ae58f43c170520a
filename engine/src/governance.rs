//! Governance from the service model, as pure functions over the plan and
//! the desired model: which changes are sensitive (and why), whether a saved
//! plan carries the approvals it needs, the guardrail lints, and ring-by-ring
//! rollout decisions. Nothing here reads a clock or a file: time comes in
//! through [`crate::PlanOptions`], keys and signatures as strings.
//!
//! # What is signed
//!
//! [`crate::Plan::hash`] covers everything in the plan except its `author`
//! and `approvals` (signatures cannot cover themselves). Every signature is
//! over a message that binds that hash *and* the author's public key:
//!
//! ```text
//! tenantctl-plan-approval-v1          (or tenantctl-plan-author-v1)
//! plan: sha256:...
//! author: ed25519:...
//! ```
//!
//! So an approver approves a specific author's plan: moving approvals to the
//! same plan re-signed by someone else invalidates them. The two roles use
//! different first lines, so an author's signature can never be replayed as
//! an approval.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use schema::kinds::role_assignment::PRIVILEGED_ROLES;
use schema::kinds::Governance;
use schema::{Address, Kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{as_reference, DesiredModel, ObservedState};
use crate::plan::{referenced_addresses, Action, Change, Plan};

// ---------------------------------------------------------------------------
// Sensitivity
// ---------------------------------------------------------------------------

/// Why a change needs approval, or `None`. Built-in rules first, then
/// `[governance] sensitive_kinds` / `sensitive_addresses`; `plan_size` makes
/// every change of an over-threshold plan sensitive.
pub fn classify(change: &Change, desired: &DesiredModel, plan_size: usize) -> Option<String> {
    let gov = &desired.governance;
    let a = &change.address;
    if change.action == Action::Forget {
        // Only the ledger changes; the tenant is not touched.
        return None;
    }
    if change.action == Action::Delete {
        return Some(format!("deletes {a}"));
    }
    if change.action == Action::Replace {
        return Some(format!("replaces {a} (deletes it and creates it again)"));
    }
    match a.kind {
        Kind::RoleAssignment => return Some("directory role assignment".into()),
        Kind::Guest if change.action == Action::Create => return Some("guest invitation".into()),
        Kind::Guest => return Some("guest access".into()),
        Kind::ConditionalAccess => return Some("conditional access policy".into()),
        _ => {}
    }
    if desired.service_accounts.contains(a) {
        return Some(format!("touches service account {a}"));
    }
    if desired.service_account_groups.contains(a) {
        return Some(format!("touches the service-accounts group {a}"));
    }
    if desired.protected_groups.contains(a) || gov.protected.iter().any(|p| *p == a.to_string()) {
        return Some(format!("touches protected {a}"));
    }
    // Anything that refers to a service account or a protected group
    // (memberships, assignments) touches it.
    if let Some(d) = &change.desired {
        let mut refs = BTreeSet::new();
        for v in d.props.values() {
            referenced_addresses(v, &mut refs);
        }
        if let Some(s) = refs.iter().find(|r| desired.service_accounts.contains(*r)) {
            return Some(format!("touches service account {s}"));
        }
    }
    if gov.sensitive_kinds.iter().any(|k| k == a.kind.as_str()) {
        return Some(format!("{} is a sensitive kind (governance.sensitive_kinds)", a.kind));
    }
    if gov.sensitive_addresses.iter().any(|s| *s == a.to_string()) {
        return Some(format!("{a} is listed in governance.sensitive_addresses"));
    }
    if plan_size as u64 > u64::from(gov.large_plan_threshold) {
        return Some(format!("the plan has {plan_size} changes, more than governance.large_plan_threshold ({})", gov.large_plan_threshold));
    }
    None
}

/// Why each sensitive change of `changes` is sensitive, by address.
pub fn sensitivity(changes: &[Change], desired: &DesiredModel) -> BTreeMap<Address, String> {
    let size = changes.iter().filter(|c| c.action != Action::Forget).count();
    changes.iter().filter_map(|c| classify(c, desired, size).map(|r| (c.address.clone(), r))).collect()
}

// ---------------------------------------------------------------------------
// Keys and signatures
// ---------------------------------------------------------------------------

/// The author of a saved plan: their public key and signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// `ed25519:BASE64`.
    pub public_key: String,
    /// Base64 signature over the author message (see the module docs).
    pub signature: String,
}

/// One approval of a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approver's name as `[governance.approvers]` gave it when signing
    /// (informational: apply names approvers from desired state, by key).
    pub approver: String,
    /// `ed25519:BASE64`.
    pub public_key: String,
    /// The plan hash the approver signed (so a mismatch can say which plan
    /// the signature was made for).
    pub plan: String,
    /// Base64 signature over the approval message.
    pub signature: String,
}

const AUTHOR_DOMAIN: &str = "tenantctl-plan-author-v1";
const APPROVAL_DOMAIN: &str = "tenantctl-plan-approval-v1";

fn message(domain: &str, plan_hash: &str, author_key: &str) -> Vec<u8> {
    format!("{domain}\nplan: {plan_hash}\nauthor: {author_key}\n").into_bytes()
}

/// `ed25519:BASE64` of a public key.
pub fn public_key_string(key: &VerifyingKey) -> String {
    format!("ed25519:{}", B64.encode(key.as_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an Ed25519 public key (expected `ed25519:` and 32 bytes of base64): {why}")]
pub struct KeyError {
    pub text: String,
    pub why: String,
}

/// Parse `ed25519:BASE64`.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let err = |why: &str| KeyError { text: text.to_string(), why: why.to_string() };
    let b64 = text.trim().strip_prefix("ed25519:").ok_or_else(|| err("missing the `ed25519:` prefix"))?;
    let bytes = B64.decode(b64).map_err(|e| err(&e.to_string()))?;
    let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| err(&format!("{} bytes, not 32", bytes.len())))?;
    VerifyingKey::from_bytes(&arr).map_err(|_| err("not a point on the curve"))
}

fn verify(key: &VerifyingKey, msg: &[u8], signature_b64: &str) -> bool {
    let Ok(bytes) = B64.decode(signature_b64.trim()) else { return false };
    let Ok(sig) = Signature::from_slice(&bytes) else { return false };
    key.verify(msg, &sig).is_ok()
}

/// Sign the plan as its author (replacing any earlier author and dropping
/// approvals, which were for the previous author).
pub fn sign_as_author(plan: &mut Plan, key: &SigningKey) {
    let public_key = public_key_string(&key.verifying_key());
    let hash = plan.hash();
    let sig = key.sign(&message(AUTHOR_DOMAIN, &hash, &public_key));
    plan.approvals.clear();
    plan.author = Some(Author { public_key, signature: B64.encode(sig.to_bytes()) });
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApproveError {
    #[error("the plan has no author; make it with `tenantctl plan --out PLAN.json --author-key FILE` so approvers know whose change they approve")]
    NoAuthor,
    #[error("this key is the plan's author's: nobody may approve their own change (separation of duties)")]
    OwnPlan,
    #[error("this key ({public_key}) already approved the plan")]
    AlreadySigned { public_key: String },
    #[error("this key ({public_key}) is not listed in [governance.approvers]; add it there before approving")]
    NotAnApprover { public_key: String },
}

/// Add an approval by `key` to the plan. Refuses plans without an author,
/// the author's own key, keys not listed as approvers, and a second
/// signature by the same key.
pub fn approve(plan: &mut Plan, gov: &Governance, key: &SigningKey) -> Result<String, ApproveError> {
    let author = plan.author.as_ref().ok_or(ApproveError::NoAuthor)?.public_key.clone();
    let public_key = public_key_string(&key.verifying_key());
    if same_key(&author, &public_key) {
        return Err(ApproveError::OwnPlan);
    }
    if plan.approvals.iter().any(|a| same_key(&a.public_key, &public_key)) {
        return Err(ApproveError::AlreadySigned { public_key });
    }
    let name = approver_name(gov, &public_key).ok_or_else(|| ApproveError::NotAnApprover { public_key: public_key.clone() })?;
    let hash = plan.hash();
    let sig = key.sign(&message(APPROVAL_DOMAIN, &hash, &author));
    plan.approvals.push(Approval { approver: name.clone(), public_key, plan: hash, signature: B64.encode(sig.to_bytes()) });
    Ok(name)
}

/// Two key strings name the same key (compared by decoded bytes, so
/// base64 padding or whitespace cannot make one key look like two).
fn same_key(a: &str, b: &str) -> bool {
    match (parse_public_key(a), parse_public_key(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// The approver's key in `[governance.approvers]` and their display name.
fn approver_name(gov: &Governance, public_key: &str) -> Option<String> {
    gov.approvers.iter().find(|(_, a)| same_key(&a.public_key, public_key)).map(|(k, a)| format!("{k} ({})", a.name))
}

fn approver_key_name(gov: &Governance, public_key: &str) -> Option<String> {
    gov.approvers.iter().find(|(_, a)| same_key(&a.public_key, public_key)).map(|(k, _)| k.clone())
}

/// Why a saved plan may not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("the plan has sensitive changes but no author; make it with `tenantctl plan --out PLAN.json --author-key FILE`")]
    NoAuthor,
    #[error("the author's public key is malformed: {0}")]
    AuthorKey(KeyError),
    #[error("the author's signature does not match this plan (the plan was changed after it was made, or signed by another key)")]
    AuthorSignature,
    #[error("approval {index} has a malformed public key: {error}")]
    ApprovalKey { index: usize, error: KeyError },
    #[error("approval {index} is by an unknown key {public_key}, not listed in [governance.approvers]")]
    UnknownKey { index: usize, public_key: String },
    #[error("approval {index} is by {name}'s key, which is the plan's author: nobody may approve their own change")]
    ByAuthor { index: usize, name: String },
    #[error("approval {index} is by {name}'s key, which also signed approval {first}")]
    Duplicate { index: usize, name: String, first: usize },
    #[error("approval {index} by {name}: signature does not match this plan (it was made for plan {signed}, this is {actual})")]
    OtherPlan { index: usize, name: String, signed: String, actual: String },
    #[error("approval {index} by {name}: the signature is not valid for this plan and author (the plan or the approval was tampered with)")]
    BadSignature { index: usize, name: String },
    #[error("the plan has {count} sensitive change(s) and needs {required} approval(s) from distinct approvers other than its author; it has {have}:\n{}", reasons.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    NotEnough { count: usize, required: u32, have: usize, reasons: Vec<String> },
}

/// Approvals that passed verification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verified {
    /// Approver keys (from `[governance.approvers]`) in signing order.
    pub approvers: Vec<String>,
    pub sensitive: usize,
}

/// Verify a saved plan's author and approvals against `[governance]`.
/// Sensitivity is re-derived from the changes (the plan's own `sensitive`
/// flags are not trusted). Every signature present is checked, needed or
/// not; a plan with sensitive changes needs an author and
/// `approvals_required` valid approvals by distinct listed keys other than
/// the author's.
pub fn verify_approvals(plan: &Plan, desired: &DesiredModel) -> Result<Verified, ApprovalError> {
    let gov = &desired.governance;
    let size = plan.changes.iter().filter(|c| c.action != Action::Forget).count();
    let reasons: Vec<String> = plan
        .changes
        .iter()
        .filter_map(|c| classify(c, desired, size).map(|r| format!("{}: {r}", c.address)))
        .collect();
    let hash = plan.hash();
    let author = match &plan.author {
        Some(a) => {
            let key = parse_public_key(&a.public_key).map_err(ApprovalError::AuthorKey)?;
            if !verify(&key, &message(AUTHOR_DOMAIN, &hash, &a.public_key), &a.signature) {
                return Err(ApprovalError::AuthorSignature);
            }
            Some(a.public_key.clone())
        }
        None if !reasons.is_empty() && gov.approvals_required > 0 => return Err(ApprovalError::NoAuthor),
        None => None,
    };
    let mut seen: Vec<(VerifyingKey, usize)> = Vec::new();
    let mut approvers = Vec::new();
    for (i, ap) in plan.approvals.iter().enumerate() {
        let index = i + 1;
        let key = parse_public_key(&ap.public_key).map_err(|error| ApprovalError::ApprovalKey { index, error })?;
        let name = approver_key_name(gov, &ap.public_key);
        let shown = name.clone().unwrap_or_else(|| ap.public_key.clone());
        if author.as_deref().is_some_and(|a| same_key(a, &ap.public_key)) {
            return Err(ApprovalError::ByAuthor { index, name: shown });
        }
        let Some(name) = name else {
            return Err(ApprovalError::UnknownKey { index, public_key: ap.public_key.clone() });
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            return Err(ApprovalError::Duplicate { index, name, first: *first });
        }
        if ap.plan != hash {
            return Err(ApprovalError::OtherPlan { index, name, signed: ap.plan.clone(), actual: hash.clone() });
        }
        let author_key = author.clone().unwrap_or_default();
        if !verify(&key, &message(APPROVAL_DOMAIN, &hash, &author_key), &ap.signature) {
            return Err(ApprovalError::BadSignature { index, name });
        }
        seen.push((key, index));
        approvers.push(name);
    }
    if !reasons.is_empty() && approvers.len() < gov.approvals_required as usize {
        return Err(ApprovalError::NotEnough { count: reasons.len(), required: gov.approvals_required, have: approvers.len(), reasons });
    }
    Ok(Verified { approvers, sensitive: reasons.len() })
}

// ---------------------------------------------------------------------------
// Lints
// ---------------------------------------------------------------------------

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
    ("unmanaged-target", "a managed policy is assigned (live) to a group desired state does not declare"),
    ("standing-privileged-access", "a person holds a privileged role with no expiry"),
    ("unmanaged-privileged-holder", "a live privileged role holder not in desired state"),
    ("certificate-expiring", "a certificate in a profile expires within 60 days (or has expired)"),
    ("approvals-unreachable", "approvals_required is more than the approvers listed can give"),
];

/// How long before expiry certificates are flagged.
pub const CERTIFICATE_WARNING_DAYS: i64 = 60;

fn allowed(gov: &Governance, f: &Finding) -> bool {
    gov.allow.iter().any(|a| *a == f.lint || *a == format!("{}:{}", f.lint, f.address))
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
            for t in refs_at("/assignments/include") {
                if service.contains(&t) {
                    out.push(finding(Severity::Error, "service-account-targeted", address, format!("assigned to {t}: service accounts get no policy")));
                }
            }
        }
        if address.kind == Kind::ConditionalAccess {
            let mut included = refs_at("/conditions/users/includeUsers");
            included.extend(refs_at("/conditions/users/includeGroups"));
            for t in included.iter().filter(|t| service.contains(t)) {
                out.push(finding(Severity::Error, "service-account-targeted", address, format!("includes {t}: service accounts get no MFA or conditional access")));
            }
            let excluded: BTreeSet<Address> = refs_at("/conditions/users/excludeUsers").into_iter().chain(refs_at("/conditions/users/excludeGroups")).collect();
            let group_excluded = desired.service_account_groups.iter().any(|g| excluded.contains(g));
            let missing: Vec<String> = desired.service_accounts.iter().filter(|s| !excluded.contains(*s)).map(|s| s.to_string()).collect();
            if !group_excluded && !missing.is_empty() {
                let what = match desired.service_account_groups.iter().next() {
                    Some(g) => format!("exclude {g}"),
                    None => format!("exclude {}", missing.join(", ")),
                };
                out.push(finding(Severity::Error, "service-accounts-not-excluded", address, format!("does not exclude the service accounts; {what}")));
            }
        }
        if address.kind == Kind::RoleAssignment && r.expires.is_none() {
            let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
            let principal = r.props.get("principal").and_then(as_reference).and_then(|p| p.parse::<Address>().ok());
            let person = principal.as_ref().is_some_and(|p| matches!(p.kind, Kind::User | Kind::Guest) && !desired.service_accounts.contains(p));
            if PRIVILEGED_ROLES.contains(&role) && person {
                out.push(finding(
                    Severity::Warning,
                    "standing-privileged-access",
                    address,
                    format!("{} holds {role} with no expiry; give it an `expires` (or make it eligible) so the access is time-boxed", principal.map(|p| p.to_string()).unwrap_or_default()),
                ));
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

/// Lints that need the live tenant: unmanaged assignment targets and
/// privileged role holders not in desired state.
pub fn lint_live(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Finding> {
    let gov = &desired.governance;
    let mut out = Vec::new();
    let known_ids: BTreeMap<&str, &Address> = ids.iter().map(|(a, i)| (i.as_str(), a)).collect();
    for (kind, objects) in &observed.objects {
        for o in objects {
            let Some(address) = known_ids.get(o.id.as_str()) else { continue };
            if kind.is_policy() && *kind != Kind::ConditionalAccess {
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
    for o in observed.objects.get(&Kind::RoleAssignment).into_iter().flatten() {
        if known_ids.contains_key(o.id.as_str()) {
            continue;
        }
        let role = o.props.get("role").and_then(Value::as_str).unwrap_or_default();
        if !PRIVILEGED_ROLES.contains(&role) {
            continue;
        }
        let principal = o.props.get("principal").and_then(as_reference).unwrap_or_default();
        let who = known_ids.get(principal).map(|a| a.to_string()).unwrap_or_else(|| format!("id:{principal}"));
        let kind = o.props.get("assignment").and_then(Value::as_str).unwrap_or("active");
        out.push(finding(
            Severity::Warning,
            "unmanaged-privileged-holder",
            format!("id:{}", o.id),
            format!("{who} holds {role} ({kind}) outside desired state; declare it or remove it"),
        ));
    }
    finish(gov, out)
}

fn finish(gov: &Governance, mut out: Vec<Finding>) -> Vec<Finding> {
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

/// Property names that hold a base64 DER certificate in Intune profiles
/// (trusted root, PKCS and SCEP profiles).
const CERT_FIELDS: &[&str] = &["trustedRootCertificate", "rootCertificate", "certificate", "pfxBlob", "serverCertificate"];

fn certificates(props: &crate::Props) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (k, v) in props {
        if CERT_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(k)) {
            if let Some(s) = v.as_str() {
                let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                let body = clean.trim_start_matches("-----BEGINCERTIFICATE-----").trim_end_matches("-----ENDCERTIFICATE-----");
                out.push((k.clone(), B64.decode(body).unwrap_or_default()));
            }
        }
    }
    out
}

/// One DER TLV: (tag, content, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut l = 0usize;
        for b in &rest[..n] {
            l = (l << 8) | usize::from(*b);
        }
        rest = &rest[n..];
        l
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The notAfter of an X.509 certificate in DER (a minimal parser: only the
/// path to `tbsCertificate.validity.notAfter` is read).
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (0x30, cert, _) = tlv(der)? else { return None };
    let (0x30, tbs, _) = tlv(cert)? else { return None };
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    let (_, _, r) = tlv(rest)?; // serialNumber
    let (_, _, r) = tlv(r)?; // signature algorithm
    let (_, _, r) = tlv(r)?; // issuer
    let (0x30, validity, _) = tlv(r)? else { return None };
    let (_, _, r) = tlv(validity)?; // notBefore
    let (tag, time, _) = tlv(r)?;
    let s = std::str::from_utf8(time).ok()?;
    let full = match tag {
        0x17 => {
            // UTCTime YYMMDDHHMMSSZ: 50-99 are 19xx.
            let yy: u32 = s.get(0..2)?.parse().ok()?;
            format!("{}{s}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 => s.to_string(),
        _ => return None,
    };
    chrono::NaiveDateTime::parse_from_str(full.trim_end_matches('Z'), "%Y%m%d%H%M%S").ok().map(|d| d.and_utc())
}

// ---------------------------------------------------------------------------
// Ring-by-ring rollout
// ---------------------------------------------------------------------------

/// How planning treats rollouts this run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutMode {
    /// Promote one ring at a time after each soak.
    #[default]
    Normal,
    /// Change no ring (`--hold-rollout`).
    Hold,
    /// Ignore soak times: every ring now (`--force-rollout`).
    Force,
}

/// A per-ring copy of a policy: which rollout it belongs to and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingOf {
    /// The policy as declared (`device_configuration.windows-restrictions`).
    pub policy: Address,
    /// Ring group keys in order.
    pub rings: Vec<String>,
    /// This copy's position in `rings`.
    pub index: usize,
    /// Soak time in seconds.
    pub soak_secs: i64,
}

/// A ring that has changes waiting for the previous ring to soak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingWait {
    pub address: Address,
    pub ring: String,
    /// When it may be promoted (absent when it waits for an earlier ring to
    /// be changed first, or for a hold to be lifted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    pub reason: String,
}

/// Parse a soak time such as `48h`, `2d`, `90m`, `30s` (the desired-state
/// grammar, [`schema::kinds::rollout::parse_duration`]).
pub fn parse_soak(s: &str) -> Option<i64> {
    schema::kinds::rollout::parse_duration(s)
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%MZ").to_string()
}

/// `t + secs`, saturating instead of panicking on absurd soak times.
fn after(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    Duration::try_seconds(secs).and_then(|d| t.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The address of ring `i`'s copy of a rolled-out policy.
fn ring_copy(ring: &RingOf, i: usize) -> Address {
    Address::new(ring.policy.kind, format!("{}@{}", ring.policy.key, ring.rings.get(i).map(String::as_str).unwrap_or_default()))
}

/// Hold back ring copies that may not change yet. A ring may change when
/// no earlier ring has changes of its own in this plan and every earlier
/// ring last changed (`converged_at`, the ledger's `changed_at`) at least
/// `soak` ago: the latest earlier change counts, so a ring that happened to
/// be in sync already cannot be used to skip a soak. Returns the changes
/// kept, and the rings that wait; rings waiting for an earlier ring say
/// when they could be promoted at the earliest, if every earlier ring is
/// applied on time.
pub fn gate_rollouts(
    changes: Vec<Change>,
    desired: &DesiredModel,
    converged_at: &dyn Fn(&Address) -> Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    mode: RolloutMode,
) -> (Vec<Change>, Vec<RingWait>) {
    let changing: BTreeSet<Address> = changes.iter().filter(|c| c.action != Action::Delete && c.action != Action::Forget).map(|c| c.address.clone()).collect();
    let mut keep = Vec::new();
    let mut waits = Vec::new();
    // When each waiting ring may change: known (soaking), or after an
    // earlier ring (estimated below).
    let mut soaking: BTreeMap<Address, DateTime<Utc>> = BTreeMap::new();
    let mut behind: BTreeSet<Address> = BTreeSet::new();
    for mut c in changes {
        // A policy that now rolls out ring by ring replaces its old single
        // object: keep that object until every ring has its own copy, so
        // no ring is left without the policy meanwhile.
        if c.action == Action::Delete && mode != RolloutMode::Force {
            let mut pending: Vec<&RingOf> = desired.rings.values().filter(|r| r.policy == c.address && changing.contains(&ring_copy(r, r.index))).collect();
            pending.sort_by_key(|r| r.index);
            let names: Vec<&str> = pending.iter().filter_map(|r| r.rings.get(r.index).map(String::as_str)).collect();
            if let Some(ring) = names.first().map(|n| n.to_string()) {
                waits.push(RingWait {
                    address: c.address.clone(),
                    ring,
                    until: None,
                    reason: format!("the rollout replaces it; kept until every ring has its own copy (pending: {})", names.join(", ")),
                });
                continue;
            }
        }
        let ring = desired.rings.get(&c.address);
        let Some(ring) = ring.filter(|_| c.action != Action::Delete && c.action != Action::Forget) else {
            keep.push(c);
            continue;
        };
        let name = |i: usize| ring.rings.get(i).cloned().unwrap_or_default();
        let ring_name = name(ring.index);
        let total = ring.rings.len();
        match mode {
            RolloutMode::Hold => {
                waits.push(RingWait { address: c.address.clone(), ring: ring_name, until: None, reason: "held by --hold-rollout".into() });
                continue;
            }
            RolloutMode::Force => {
                c.notes.push(format!("rollout: ring {} of {total} ({ring_name}), soak ignored by --force-rollout", ring.index + 1));
                keep.push(c);
                continue;
            }
            RolloutMode::Normal => {}
        }
        if ring.index == 0 {
            c.notes.push(format!("rollout: ring 1 of {total} ({ring_name}); later rings follow one at a time after each soak"));
            keep.push(c);
            continue;
        }
        if let Some(earlier) = (0..ring.index).find(|i| changing.contains(&ring_copy(ring, *i))) {
            behind.insert(c.address.clone());
            waits.push(RingWait { address: c.address.clone(), ring: ring_name, until: None, reason: format!("waiting for {} to be changed and soak", name(earlier)) });
            continue;
        }
        let latest = (0..ring.index).filter_map(|i| converged_at(&ring_copy(ring, i)).map(|t| (t, i))).max();
        let soak = schema::kinds::rollout::format_duration(ring.soak_secs);
        match latest {
            Some((t, i)) if now < after(t, ring.soak_secs) => {
                let until = after(t, ring.soak_secs);
                soaking.insert(c.address.clone(), until);
                waits.push(RingWait {
                    address: c.address.clone(),
                    ring: ring_name,
                    until: Some(fmt_time(until)),
                    reason: format!("waiting until {} ({} changed at {}, soak {soak})", fmt_time(until), name(i), fmt_time(t)),
                });
            }
            Some((_, i)) => {
                c.notes.push(format!("rollout: ring {} of {total} ({ring_name}); {} has soaked ({soak})", ring.index + 1, name(i)));
                keep.push(c);
            }
            None => {
                c.notes.push(format!("rollout: ring {} of {total} ({ring_name}); no earlier ring has a recorded change", ring.index + 1));
                keep.push(c);
            }
        }
    }
    // Rings behind an earlier changing ring: when they could follow, if
    // each ring before them is applied as soon as it may be.
    let now_changing: BTreeSet<&Address> = keep.iter().map(|c| &c.address).collect();
    for w in waits.iter_mut().filter(|w| behind.contains(&w.address)) {
        let Some(ring) = desired.rings.get(&w.address) else { continue };
        let mut when: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(ring.index + 1);
        for i in 0..=ring.index {
            let a = ring_copy(ring, i);
            let latest_before = when.iter().flatten().max().copied();
            let t = if now_changing.contains(&a) {
                Some(now)
            } else if let Some(u) = soaking.get(&a) {
                Some(*u)
            } else if behind.contains(&a) {
                latest_before.map(|t| after(t, ring.soak_secs))
            } else {
                converged_at(&a)
            };
            when.push(t);
        }
        if let Some(t) = when.last().copied().flatten() {
            w.reason.push_str(&format!(" ({} at the earliest)", fmt_time(t)));
        }
    }
    // In rollout order, not address order (`@mwd-broad` sorts first).
    waits.sort_by_key(|w| desired.rings.get(&w.address).map(|r| (r.policy.clone(), r.index)));
    (keep, waits)
}

#[cfg(test)]
#[path = "governance_tests.rs"]
mod tests;
