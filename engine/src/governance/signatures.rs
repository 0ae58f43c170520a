//! Keys and signatures of saved plans: the author's signature, approvals,
//! and verifying them against `[governance.approvers]`.
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

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use schema::kinds::Governance;
use serde::{Deserialize, Serialize};

use super::sensitivity::classify;
use crate::model::DesiredModel;
use crate::plan::{Action, Plan};


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

pub(super) const AUTHOR_DOMAIN: &str = "tenantctl-plan-author-v1";
pub(super) const APPROVAL_DOMAIN: &str = "tenantctl-plan-approval-v1";

pub(super) fn message(domain: &str, plan_hash: &str, author_key: &str) -> Vec<u8> {
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
    if let Some(why) = schema::kinds::governance::ed25519_key_problem(&arr) {
        return Err(err(why));
    }
    VerifyingKey::from_bytes(&arr).map_err(|_| err("not a point on the curve"))
}

fn verify(key: &VerifyingKey, msg: &[u8], signature_b64: &str) -> bool {
    let Ok(bytes) = B64.decode(signature_b64.trim()) else { return false };
    let Ok(sig) = Signature::from_slice(&bytes) else { return false };
    // Strict: refuses small-order keys and R, and non-canonical s, so no
    // signature verifies without the private key.
    key.verify_strict(msg, &sig).is_ok()
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
    #[error("this key is {name}'s, who wrote this change (the plan's --author-name): nobody may approve their own change (separation of duties)")]
    OwnChange { name: String },
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
    if let Some(w) = plan.written_by.as_deref().filter(|w| super::written_by::is_writers_key(gov, w, &public_key)) {
        return Err(ApproveError::OwnChange { name: w.to_string() });
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
pub(super) fn same_key(a: &str, b: &str) -> bool {
    match (parse_public_key(a), parse_public_key(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// The approver's key in `[governance.approvers]` and their display name.
fn approver_name(gov: &Governance, public_key: &str) -> Option<String> {
    gov.approvers.iter().find(|(_, a)| same_key(&a.public_key, public_key)).map(|(k, a)| format!("{k} ({})", a.name))
}

/// Each approval's `approver` replaced by the name `[governance.approvers]`
/// gives its key (or says it is no approver's): the name in a plan file or
/// a detached approval is not signed, so it is never what is shown.
pub fn name_approvals_by_key(plan: &mut Plan, gov: &Governance) {
    for a in &mut plan.approvals {
        a.approver = approver_name(gov, &a.public_key).unwrap_or_else(|| "(a key no approver in force holds)".to_string());
    }
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
    #[error("approval {index} is by an unknown key {public_key}, not listed among the approvers in force ([governance.approvers] of the recorded trust root; approvers a plan adds count only after it is applied)")]
    UnknownKey { index: usize, public_key: String },
    #[error("the plan's author key {public_key} is not listed in [governance.authors] or [governance.approvers] in force: sensitive plans are authored by listed people")]
    UnlistedAuthor { public_key: String },
    #[error("approval {index} is by {name}'s key, which is the plan's author: nobody may approve their own change")]
    ByAuthor { index: usize, name: String },
    #[error("approval {index} is by {name}, who wrote this change (the plan's --author-name {writer}): nobody may approve their own change")]
    ByWriter { index: usize, name: String, writer: String },
    #[error("{0}")]
    UnlistedWriter(String),
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
    /// The author, `key (Name)` when listed, else the public key.
    pub author: Option<String>,
    pub sensitive: usize,
}

/// Verify a saved plan's author and approvals against `[governance]`.
/// Sensitivity is re-derived from the changes (the plan's own `sensitive`
/// flags are not trusted). Every signature present is checked, needed or
/// not; a plan with sensitive changes needs an author and
/// `approvals_required` valid approvals by distinct listed keys other than
/// the author's.
///
/// The approvers, authors and `approvals_required` are those in force (the
/// plan's governance review, which apply recomputes from the recorded trust
/// root; desired state's only on first use). A change is sensitive by the
/// rules in force or the desired ones, and a change of `[governance]`
/// itself is sensitive.
pub fn verify_approvals(plan: &Plan, desired: &DesiredModel) -> Result<Verified, ApprovalError> {
    let in_force_model = plan.governance.as_ref().map(|g| super::trust::in_force_model(desired, &g.in_force));
    let judged = in_force_model.as_ref().unwrap_or(desired);
    let gov = &judged.governance;
    let size = plan.changes.iter().filter(|c| c.action != Action::Forget).count();
    let mut reasons: Vec<String> = plan
        .changes
        .iter()
        .filter_map(|c| classify(c, desired, size).or_else(|| classify(c, judged, size)).map(|r| format!("{}: {r}", c.address)))
        .collect();
    // What only the tenant made sensitive (a live member of the
    // service-accounts group) is in the plan's own list, which apply checks
    // against a fresh plan: counted too (it can only add, never remove).
    for (a, why) in &plan.sensitive {
        if !plan.changes.iter().any(|c| &c.address == a && (classify(c, desired, size).is_some() || classify(c, judged, size).is_some())) {
            reasons.push(format!("{a}: {why}"));
        }
    }
    if let Some(r) = plan.governance.as_ref().and_then(|g| g.reason()) {
        reasons.push(format!("governance: {r}"));
    }
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
    if let Some(problem) = plan.written_by.as_deref().and_then(|w| super::written_by::problem(gov, w)) {
        return Err(ApprovalError::UnlistedWriter(problem));
    }
    let mut author_name = author.as_deref().map(|a| super::trust::key_name(gov, a).unwrap_or_else(|| a.to_string()));
    if let Some(w) = plan.written_by.as_deref().and_then(|w| super::written_by::listed(gov, w)) {
        // The person who wrote the change, then the key that signed it.
        author_name = Some(match author_name {
            Some(signer) => format!("{w} (signed by {signer})"),
            None => w.to_string(),
        });
    }
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
        if let Some(w) = plan.written_by.as_deref().filter(|w| super::written_by::is_writers_key(gov, w, &ap.public_key)) {
            return Err(ApprovalError::ByWriter { index, name: shown, writer: w.to_string() });
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
    if let Some(a) = &author {
        let listed = gov.authors.values().chain(gov.approvers.values()).any(|x| same_key(&x.public_key, a));
        if !listed && !reasons.is_empty() && gov.approvals_required > 0 {
            return Err(ApprovalError::UnlistedAuthor { public_key: a.clone() });
        }
    }
    if !reasons.is_empty() && approvers.len() < gov.approvals_required as usize {
        return Err(ApprovalError::NotEnough { count: reasons.len(), required: gov.approvals_required, have: approvers.len(), reasons });
    }
    Ok(Verified { approvers, author: author_name, sensitive: reasons.len() })
}
