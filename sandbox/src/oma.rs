//! Encrypted OMA-URI settings of custom device configuration profiles
//! (`omaSettings` on `windows10CustomConfiguration` and the other
//! `*CustomConfiguration` types), and the `getOmaSettingPlainTextValue`
//! function that reads them back.
//!
//! Values are stored as the client sent them. On `/beta` reads, string,
//! Base64 and XML settings come back the way Graph shows them:
//! `isEncrypted: true`, a `secretReferenceValueId`, and `value: "****"`.
//! Other setting types (integer, boolean, floating point, date-time) come
//! back as stored with `isEncrypted: false`.
//!
//! Sources for the wire shapes:
//! * microsoft-graph-docs-contrib, beta `resources/intune-deviceconfig-omasetting.md`:
//!   `isEncrypted` ("whether the value field is encrypted", read-only) and
//!   `secretReferenceValueId` ("ReferenceId for looking up secret for
//!   decryption", read-only) exist only on beta; the v1.0 page of the same
//!   resource has neither, so v1.0 reads here return plain values.
//!   (Whether real v1.0 masks values anyway is unverified.)
//! * `value: "****"` on encrypted items: GET responses quoted in
//!   nicolonsky/ModernWorkplaceConcierge#86, Microsoft365DSC PR #4059 and
//!   deploymenttheory/terraform-provider-microsoft365 PR #3363.
//! * `secretReferenceValueId` looks like `{guid}_{profileId}_{guid}`
//!   (a comment in Microsoft365DSC's `Get-OmaSettingPlainTextValue`).
//! * The function: beta `api/intune-deviceconfig-deviceconfiguration-getomasettingplaintextvalue.md`,
//!   `GET .../deviceConfigurations/{id}/getOmaSettingPlainTextValue(secretReferenceValueId='…')`
//!   answering `{"value": "<plain text>"}`; the v1.0 API page documents the
//!   same function, so both versions serve it here.
//! * Which types are encrypted: string (all the reports above), Base64 and
//!   XML by the brief and by analogy; integer and boolean are not (exports in
//!   Microsoft365DSC#3655 show them plain with `IsEncrypted = $False`).
//!   Base64/XML/float/date-time behaviour on real Graph is unverified.
//! * Unverified: the 404 body for an unknown `secretReferenceValueId`
//!   (Intune-style `ResourceNotFound` here), and whether Graph issues a new
//!   reference id when a value changes (here it is stable per setting).

use crate::error::GraphError;
use crate::graph::{Ctx, GResp, Version};
use crate::store::Record;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The function's name, as a path segment prefix.
pub const FUNCTION: &str = "getOmaSettingPlainTextValue";

/// What encrypted values look like on a read.
pub const MASK: &str = "****";

/// Whether settings of this `@odata.type` are stored encrypted.
pub fn is_encrypted_type(odata_type: &str) -> bool {
    matches!(
        odata_type.trim_start_matches('#').trim_start_matches("microsoft.graph."),
        "omaSettingString" | "omaSettingBase64" | "omaSettingStringXml"
    )
}

fn guid_from(bytes: &[u8]) -> String {
    let h = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A stable reference id for the setting at `index` of profile `profile_id`:
/// the same on every read, different per profile and setting.
pub fn secret_reference_id(profile_id: &str, index: usize, oma_uri: &str) -> String {
    let digest = Sha256::digest(format!("{profile_id}\u{0}{index}\u{0}{oma_uri}").as_bytes());
    format!("{}_{profile_id}_{}", guid_from(&digest[0..16]), guid_from(&digest[16..32]))
}

/// Drops the read-only encryption properties a client may send back.
pub fn strip_read_only(body: &mut Map<String, Value>) {
    if let Some(Value::Array(settings)) = body.get_mut("omaSettings") {
        for s in settings.iter_mut().filter_map(Value::as_object_mut) {
            s.remove("isEncrypted");
            s.remove("secretReferenceValueId");
        }
    }
}

/// Rewrites `omaSettings` of a profile being returned on a read.
pub fn present(ctx: &Ctx, profile_id: &str, out: &mut Map<String, Value>) {
    let Some(Value::Array(settings)) = out.get_mut("omaSettings") else {
        return;
    };
    for (i, s) in settings.iter_mut().enumerate() {
        let Some(s) = s.as_object_mut() else { continue };
        s.remove("isEncrypted");
        s.remove("secretReferenceValueId");
        if ctx.version != Version::Beta {
            continue;
        }
        let ty = s.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
        if is_encrypted_type(ty) {
            let uri = s.get("omaUri").and_then(Value::as_str).unwrap_or_default();
            let reference = secret_reference_id(profile_id, i, uri);
            s.insert("isEncrypted".into(), json!(true));
            s.insert("secretReferenceValueId".into(), json!(reference));
            s.insert("value".into(), json!(MASK));
        } else {
            s.insert("isEncrypted".into(), json!(false));
            s.insert("secretReferenceValueId".into(), Value::Null);
        }
    }
}

/// The reference id in `getOmaSettingPlainTextValue(secretReferenceValueId='…')`
/// (the name may be namespace-qualified); `None` when the segment is not a
/// call of the function. `Some(Err)` for a call without a usable argument.
pub fn parse_call(segment: &str) -> Option<Result<String, GraphError>> {
    let name = segment.strip_prefix("microsoft.graph.").unwrap_or(segment);
    let args = name.strip_prefix(FUNCTION)?;
    let inner = args.strip_prefix('(').and_then(|a| a.strip_suffix(')'));
    let bad = || GraphError::bad_request(format!("The parameter 'secretReferenceValueId' of function '{FUNCTION}' is missing or is not a string literal."));
    let Some(inner) = inner else { return Some(Err(bad())) };
    let Some((key, value)) = inner.split_once('=') else { return Some(Err(bad())) };
    if key.trim() != "secretReferenceValueId" {
        return Some(Err(bad()));
    }
    let v = value.trim();
    match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        // OData string literals double their quotes.
        Some(lit) => Some(Ok(lit.replace("''", "'"))),
        None => Some(Err(bad())),
    }
}

/// Answers the function for profile `profile_id`.
pub fn plain_text_value(ctx: &Ctx, profile_id: &str, rec: &Record, reference: &str) -> Result<GResp, GraphError> {
    let settings = rec.data.get("omaSettings").and_then(Value::as_array).cloned().unwrap_or_default();
    let found = settings.iter().enumerate().find(|(i, s)| {
        let ty = s.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
        let uri = s.get("omaUri").and_then(Value::as_str).unwrap_or_default();
        is_encrypted_type(ty) && secret_reference_id(profile_id, *i, uri) == reference
    });
    let Some((_, setting)) = found else {
        return Err(GraphError::intune(404, "ResourceNotFound", &format!("Resource not found: secret reference value with key '{reference}'")));
    };
    let value = match setting.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Ok(GResp::json(200, json!({"@odata.context": ctx.context("Edm.String"), "value": value})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_parsed_with_quotes_undoubled() {
        assert_eq!(parse_call("getOmaSettingPlainTextValue(secretReferenceValueId='a_b_c')").unwrap().unwrap(), "a_b_c");
        assert_eq!(parse_call("microsoft.graph.getOmaSettingPlainTextValue(secretReferenceValueId='it''s')").unwrap().unwrap(), "it's");
        assert!(parse_call("getOmaSettingPlainTextValue").unwrap().is_err());
        assert!(parse_call("getOmaSettingPlainTextValue(other='x')").unwrap().is_err());
        assert!(parse_call("assignments").is_none());
    }

    #[test]
    fn reference_ids_are_stable_and_distinct() {
        let a = secret_reference_id("p1", 0, "./Device/A");
        assert_eq!(a, secret_reference_id("p1", 0, "./Device/A"));
        assert_ne!(a, secret_reference_id("p1", 1, "./Device/A"));
        assert_ne!(a, secret_reference_id("p2", 0, "./Device/A"));
        assert_eq!(a.split('_').nth(1), Some("p1"));
    }
}
