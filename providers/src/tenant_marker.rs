//! The governance marker tenantctl keeps in the tenant itself: an open
//! extension on the organization object (`com.tenantctl.governance`)
//! holding the fingerprint of the `[governance]` recorded as the trust
//! root. Whether a tenant has had governance adopted is then a fact of the
//! tenant, which neither a pull request (renaming every key) nor emptying
//! the tenant of declared objects can change; `apply` allows trust on
//! first use only when the tenant carries no marker.
//!
//! Graph: `GET /organization` (the tenant's organization id),
//! `GET /organization/{id}/extensions/{name}` (404 when absent),
//! `POST /organization/{id}/extensions` (create, `@odata.type`
//! `microsoft.graph.openTypeExtension`, `extensionName` and custom
//! properties) and `PATCH /organization/{id}/extensions/{name}` (update).
//! Application permissions: Organization.Read.All to read,
//! Organization.ReadWrite.All to write.
//!
//! Beside the fingerprint it records the approvers (and authors) of that
//! `[governance]` with their public keys and `approvals_required` (as
//! strings), so re-adopting another `[governance]` over the tenant needs
//! their signatures, whatever local state is at hand.

use serde_json::{json, Value};

use crate::graph::{GraphClient, GraphError};

/// The open extension's name (reverse DNS, as Graph recommends).
pub const EXTENSION_NAME: &str = "com.tenantctl.governance";

/// What the marker records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The fingerprint of the recorded `[governance]` (as journalled).
    pub fingerprint: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// How: `first-use`, `recorded`, `adopted`.
    pub how: String,
    /// The approvers of the recorded `[governance]`, `KEY=ed25519:BASE64`
    /// (sorted): whoever re-adopts another `[governance]` over this tenant
    /// needs their signatures. Empty in a marker written before they were
    /// recorded.
    pub approvers: Vec<String>,
    /// Its authors (beside the approvers), in the same form.
    pub authors: Vec<String>,
    /// Its `approvals_required`; `None` in a marker written before it was.
    pub approvals_required: Option<u32>,
    /// Approved plans applied to this tenant whose expiry has not passed,
    /// `HASH@UNIX_SECONDS` (the first [`PLAN_HASH_CHARS`] hex digits of
    /// the plan's hash, and its `not_after`): a replay from any runner is
    /// refused, whatever journal it has. Expired ones are dropped.
    pub applied_plans: Vec<String>,
    /// The seal of the ledger tenantctl last wrote after changing this
    /// tenant ([`engine::ledger_seal::digest`], 32 hex digits): a ledger
    /// whose digest is another proves none of its facts. `None` in a
    /// marker written before ledgers were sealed.
    pub ledger_seal: Option<String>,
    /// The seal of each ledger tenantctl wrote after changing this tenant,
    /// by the ledger's identity (`engine::Ledger::ledger_id`), the latest
    /// first and at most `engine::ledger_seal::MAX_SEALS` of them
    /// (`ledgerSeals`, `ID=DIGEST;…`): each desired-state directory's
    /// ledger is judged by its own. Empty in a marker written before.
    pub ledger_seals: Vec<(String, String)>,
    /// When a `reconcile --self-heal` pass last read every user and group
    /// in full rather than through its delta cache (RFC 3339,
    /// `deltaFullRead`): the cache is state anyone who can write the state
    /// container can change, so a pass reads in full again once this is
    /// older than its bound. `None`: never recorded (the next pass reads
    /// in full).
    pub delta_full_read: Option<String>,
}

/// Graph keeps at most 2 KB of data in one open extension of a directory
/// object (organization, user, group, device), the extension's own
/// definition included; the marker is kept under that, with room to spare.
pub const MAX_MARKER_BYTES: usize = 1900;

/// Hex digits of a plan's hash kept in [`Marker::applied_plans`] (128 bits).
pub const PLAN_HASH_CHARS: usize = 32;

impl Marker {
    /// The extension's JSON body (create and update take the same).
    pub fn body(&self) -> Value {
        // The body create and update both take (v1.0 opentypeextension-post-
        // and -update): "@odata.type" and "extensionName" are required, and
        // on a directory object the update replaces the extension's data whole.
        json!({
            "@odata.type": "microsoft.graph.openTypeExtension",
            "extensionName": EXTENSION_NAME,
            "trustFingerprint": self.fingerprint,
            "recordedAt": self.recorded_at,
            "recordedBy": self.how,
            "approverKeys": self.approvers.join(";"),
            "authorKeys": self.authors.join(";"),
            "approvalsRequired": self.approvals_required.map(|n| n.to_string()).unwrap_or_default(),
            "appliedPlans": self.applied_plans.join(";"),
            "ledgerSeal": self.ledger_seal.clone().unwrap_or_default(),
            "ledgerSeals": self.ledger_seals.iter().map(|(id, d)| format!("{id}={d}")).collect::<Vec<_>>().join(";"),
            "deltaFullRead": self.delta_full_read.clone().unwrap_or_default(),
        })
    }

    /// The size of [`Marker::body`] in bytes.
    pub fn size(&self) -> usize {
        self.body().to_string().len()
    }
}

/// `KEY=ed25519:BASE64` entries of one extension property (`;`-separated).
fn entries(v: &Value, k: &str) -> Vec<String> {
    v.get(k).and_then(Value::as_str).unwrap_or_default().split(';').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect()
}

/// The errors of reading or writing the marker.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("reading the tenant's organization object")]
    Organization(#[source] GraphError),
    #[error("the tenant's organization list names no organization id")]
    NoOrganization,
    #[error("reading the governance marker {EXTENSION_NAME} of organization {org}")]
    Read { org: String, #[source] source: GraphError },
    #[error("the governance marker {EXTENSION_NAME} of organization {org} would hold {size} bytes, more than the {MAX_MARKER_BYTES} kept under Graph's 2 KB limit for an open extension on a directory object (too many approved plans applied and not yet expired: make plans with a shorter `plan --valid-for`)")]
    TooLarge { org: String, size: usize },
    #[error("writing the governance marker {EXTENSION_NAME} of organization {org}")]
    Write { org: String, #[source] source: GraphError },
}

/// The read of the tenant's organization id (v1.0), which a reconcile
/// pass sends in its listings' `$batch`.
pub const ORGANIZATION: &str = "/organization?$select=id";

/// The tenant's organization id (`GET /organization`): the tenant id.
pub async fn organization_id(client: &GraphClient) -> Result<String, MarkerError> {
    let v = client.v1().get_json(ORGANIZATION).await.map_err(MarkerError::Organization)?;
    v.get("value")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|o| o.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(MarkerError::NoOrganization)
}

/// The tenant's marker, or `None` when it carries none (Graph answers 404
/// for an extension that does not exist). Any other failure is an error:
/// a marker that could not be read is never taken for "no marker".
pub async fn read(client: &GraphClient) -> Result<Option<Marker>, MarkerError> {
    let org = organization_id(client).await?;
    read_of(client, &org).await
}

/// [`read`] of the organization `org`, whose id the caller already read.
pub async fn read_of(client: &GraphClient, org: &str) -> Result<Option<Marker>, MarkerError> {
    let org = org.to_string();
    match client.v1().get_json(&format!("/organization/{org}/extensions/{EXTENSION_NAME}")).await {
        Ok(v) => {
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            Ok(Some(Marker {
                fingerprint: s("trustFingerprint"),
                recorded_at: s("recordedAt"),
                how: s("recordedBy"),
                approvers: entries(&v, "approverKeys"),
                authors: entries(&v, "authorKeys"),
                approvals_required: v.get("approvalsRequired").and_then(Value::as_str).and_then(|n| n.parse().ok()),
                applied_plans: entries(&v, "appliedPlans"),
                ledger_seal: v.get("ledgerSeal").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
                delta_full_read: v.get("deltaFullRead").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
                ledger_seals: entries(&v, "ledgerSeals").iter().filter_map(|e| e.split_once('=')).map(|(i, d)| (i.trim().to_string(), d.trim().to_string())).filter(|(i, d)| !i.is_empty() && !d.is_empty()).collect(),
            }))
        }
        Err(GraphError::NotFound { .. }) => Ok(None),
        Err(source) => Err(MarkerError::Read { org, source }),
    }
}

/// Update the marker of organization `org`, which the caller read and
/// found (`PATCH`, which on a directory object's open extension replaces
/// its data whole: `marker` carries every property, the ones it keeps).
pub async fn update_of(client: &GraphClient, org: &str, marker: &Marker) -> Result<(), MarkerError> {
    let org = org.to_string();
    if marker.size() > MAX_MARKER_BYTES {
        return Err(MarkerError::TooLarge { org, size: marker.size() });
    }
    client.v1().patch_json(&format!("/organization/{org}/extensions/{EXTENSION_NAME}"), marker.body()).await.map_err(|source| MarkerError::Write { org, source })?;
    Ok(())
}

/// Record `marker` in the tenant: update the extension, or create it when
/// the tenant has none yet.
pub async fn write(client: &GraphClient, marker: &Marker) -> Result<(), MarkerError> {
    let org = organization_id(client).await?;
    let v1 = client.v1();
    if marker.size() > MAX_MARKER_BYTES {
        return Err(MarkerError::TooLarge { org, size: marker.size() });
    }
    let body = marker.body();
    let path = format!("/organization/{org}/extensions/{EXTENSION_NAME}");
    match v1.get_json(&path).await {
        Ok(_) => {
            v1.patch_json(&path, body).await.map_err(|source| MarkerError::Write { org: org.clone(), source })?;
        }
        Err(GraphError::NotFound { .. }) => {
            v1.post_json(&format!("/organization/{org}/extensions"), body).await.map_err(|source| MarkerError::Write { org: org.clone(), source })?;
        }
        Err(source) => return Err(MarkerError::Read { org, source }),
    }
    Ok(())
}
