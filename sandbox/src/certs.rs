//! Certificates registered for the sandbox client, and verification of
//! client assertions against them, as Entra does for an app registration's
//! certificate credentials: the assertion's `x5t#S256` (or legacy `x5t`)
//! header names a registered certificate, and its PS256 or RS256 signature
//! must verify with that certificate's public key. With no certificate
//! registered, every assertion is refused.
//!
//! Independent of the providers crate: the X.509 parsing here is the little
//! DER walk needed to reach the subjectPublicKeyInfo.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD as B64_STD, URL_SAFE_NO_PAD as B64};
use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};

/// A certificate credential of the sandbox client.
#[derive(Debug, Clone)]
pub struct RegisteredCertificate {
    /// base64url SHA-256 of the certificate DER (`x5t#S256`).
    pub thumbprint_sha256: String,
    /// base64url SHA-1 of the certificate DER (`x5t`).
    pub thumbprint_sha1: String,
    public_key: RsaPublicKey,
}

/// Why a certificate could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("no PEM `CERTIFICATE` block found")]
    NoCertificate,
    #[error("the certificate is not valid base64 PEM")]
    Base64,
    #[error("the certificate is not DER an X.509 parser can walk")]
    Der,
    #[error("the certificate's public key is not an RSA key")]
    NotRsa,
}

impl RegisteredCertificate {
    /// The first `CERTIFICATE` block of PEM text (other blocks, such as a
    /// private key in the same file, are ignored and never kept).
    pub fn from_pem(pem: &str) -> Result<Self, CertificateError> {
        let begin = "-----BEGIN CERTIFICATE-----";
        let start = pem.find(begin).ok_or(CertificateError::NoCertificate)? + begin.len();
        let end = pem[start..]
            .find("-----END CERTIFICATE-----")
            .ok_or(CertificateError::NoCertificate)?
            + start;
        let b64: String = pem[start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = B64_STD.decode(b64).map_err(|_| CertificateError::Base64)?;
        Self::from_der(&der)
    }

    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let spki = subject_public_key_info(der).ok_or(CertificateError::Der)?;
        let public_key =
            RsaPublicKey::from_public_key_der(spki).map_err(|_| CertificateError::NotRsa)?;
        let mut sha1 = sha1::Sha1::new();
        sha1.update(der);
        Ok(RegisteredCertificate {
            thumbprint_sha256: B64.encode(Sha256::digest(der)),
            thumbprint_sha1: B64.encode(sha1.finalize()),
            public_key,
        })
    }
}

/// One DER element: (tag, whole element, content, rest after it).
type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn tlv(b: &[u8]) -> Option<Element<'_>> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    if end > b.len() {
        return None;
    }
    Some((tag, &b[..end], &b[header..end], &b[end..]))
}

/// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
/// serialNumber, signature, issuer, validity, subject,
/// subjectPublicKeyInfo, ... }, ... }: the whole subjectPublicKeyInfo.
fn subject_public_key_info(der: &[u8]) -> Option<&[u8]> {
    let (0x30, _, cert, _) = tlv(der)? else {
        return None;
    };
    let (0x30, _, tbs, _) = tlv(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, _, after) = tlv(rest)?;
    if tag == 0xA0 {
        rest = after;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = tlv(rest)?.3;
    }
    let (0x30, spki, _, _) = tlv(rest)? else {
        return None;
    };
    Some(spki)
}

/// The certificates registered for the client; shared by every request.
#[derive(Debug, Clone, Default)]
pub struct CertificateStore(Arc<Mutex<Vec<RegisteredCertificate>>>);

impl CertificateStore {
    fn list(&self) -> Vec<RegisteredCertificate> {
        self.0
            .lock()
            .map(|v| v.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Register a certificate (again registering the same one is a no-op).
    pub fn register(&self, cert: RegisteredCertificate) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !v
            .iter()
            .any(|c| c.thumbprint_sha256 == cert.thumbprint_sha256)
        {
            v.push(cert);
        }
    }

    /// Remove every registered certificate.
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// SHA-256 thumbprints of the registered certificates.
    pub fn thumbprints(&self) -> Vec<String> {
        self.list()
            .into_iter()
            .map(|c| c.thumbprint_sha256)
            .collect()
    }

    /// Verify a client assertion's signature; the error is the reason Entra
    /// would give (for AADSTS700027).
    pub fn verify(
        &self,
        header: &serde_json::Value,
        signing_input: &str,
        signature_b64: &str,
    ) -> Result<(), String> {
        let certs = self.list();
        if certs.is_empty() {
            return Err("no certificate is registered for the application, so no client assertion can be verified".into());
        }
        let by_sha256 = header.get("x5t#S256").and_then(serde_json::Value::as_str);
        let by_sha1 = header.get("x5t").and_then(serde_json::Value::as_str);
        let named = match (by_sha256, by_sha1) {
            (Some(t), _) => certs.iter().find(|c| c.thumbprint_sha256 == t),
            (None, Some(t)) => certs.iter().find(|c| c.thumbprint_sha1 == t),
            (None, None) => {
                return Err(
                    "the assertion header has no 'x5t#S256' or 'x5t' certificate thumbprint".into(),
                )
            }
        };
        let Some(cert) = named else {
            return Err(format!(
                "the key was not found; thumbprint of key used by client: '{}'",
                by_sha256.or(by_sha1).unwrap_or_default()
            ));
        };
        let signature = B64
            .decode(signature_b64.trim_end_matches('='))
            .map_err(|_| "the signature is not base64url".to_string())?;
        let ok = match header.get("alg").and_then(serde_json::Value::as_str) {
            Some("PS256") => rsa::pss::Signature::try_from(signature.as_slice())
                .ok()
                .is_some_and(|s| {
                    rsa::pss::VerifyingKey::<Sha256>::new(cert.public_key.clone())
                        .verify(signing_input.as_bytes(), &s)
                        .is_ok()
                }),
            Some("RS256") => rsa::pkcs1v15::Signature::try_from(signature.as_slice())
                .ok()
                .is_some_and(|s| {
                    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(cert.public_key.clone())
                        .verify(signing_input.as_bytes(), &s)
                        .is_ok()
                }),
            other => {
                return Err(format!(
                    "the signing algorithm {} is not supported; use PS256 or RS256",
                    other.unwrap_or("(none)")
                ))
            }
        };
        if ok {
            Ok(())
        } else {
            Err("the client assertion contains an invalid signature".into())
        }
    }
}
