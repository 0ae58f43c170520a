//! Certificates in Intune profiles: finding them and reading their expiry.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};

/// Property names that hold a base64 DER certificate in Intune profiles
/// (trusted root, PKCS and SCEP profiles).
const CERT_FIELDS: &[&str] = &["trustedRootCertificate", "rootCertificate", "certificate", "pfxBlob", "serverCertificate"];

pub(super) fn certificates(props: &crate::Props) -> Vec<(String, Vec<u8>)> {
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

/// The notAfter of an X.509 certificate in DER, parsed with the
/// maintained `x509-cert` crate (strict DER: trailing bytes, truncated or
/// indefinite-length encodings are refused, so `None`).
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let since_epoch = cert.tbs_certificate.validity.not_after.to_unix_duration();
    let secs = i64::try_from(since_epoch.as_secs()).ok()?;
    DateTime::<Utc>::from_timestamp(secs, since_epoch.subsec_nanos())
}
