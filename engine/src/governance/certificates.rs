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
