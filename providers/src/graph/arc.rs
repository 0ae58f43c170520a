//! Azure Arc-enabled servers' managed identity: the Hybrid Instance
//! Metadata Service (himds) on the machine, announced by `IDENTITY_ENDPOINT`
//! with `IMDS_ENDPOINT`.
//!
//! The flow (as Microsoft's SDKs do it): `GET IDENTITY_ENDPOINT?
//! api-version=2019-11-01&resource=...` with `Metadata: true` is answered
//! `401` with `WWW-Authenticate: Basic realm=<path of a .key file>`; the
//! caller proves it may read that file (only root and the
//! `himds` group can) by sending its contents back in
//! `Authorization: Basic <contents>`.
//!
//! The key is a secret, so: the realm must name a `.key` file directly in
//! the agent's token directory (`/var/opt/azcmagent/tokens/` on Linux,
//! `%ProgramData%\AzureConnectedMachineAgent\Tokens\` on Windows, or
//! `TENANTCTL_ARC_KEY_DIR` for tests), not a link, at most 4096 bytes; and
//! it is sent only to an identity endpoint on loopback (himds listens on
//! `127.0.0.1:40342`), never to another host.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use url::Url;

use super::auth::AuthError;
use super::secret::Secret;

/// `api-version` of the Arc identity endpoint.
pub const ARC_API_VERSION: &str = "2019-11-01";
/// The test override of the agent's token directory.
pub const ARC_KEY_DIR_ENV: &str = "TENANTCTL_ARC_KEY_DIR";
/// The largest key file read (as the SDKs limit it).
pub const MAX_KEY_BYTES: u64 = 4096;

const SOURCE: &str = "azure-arc";

fn refused(message: String) -> AuthError {
    AuthError::ManagedIdentity { source_name: SOURCE, status: 401, message }
}

/// The agent's token directory on this platform (or the override).
pub fn key_dir(get: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = get(ARC_KEY_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    if cfg!(target_os = "linux") {
        Some(PathBuf::from("/var/opt/azcmagent/tokens"))
    } else if cfg!(windows) {
        get("ProgramData").map(|p| Path::new(&p).join("AzureConnectedMachineAgent").join("Tokens"))
    } else {
        None
    }
}

/// Whether `endpoint` is on this machine (127.0.0.0/8, ::1, `localhost`).
pub fn is_loopback(endpoint: &Url) -> bool {
    match endpoint.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The challenge key may only go to the identity endpoint on this machine.
pub fn check_loopback(endpoint: &Url) -> Result<(), AuthError> {
    if is_loopback(endpoint) {
        Ok(())
    } else {
        Err(AuthError::NotConfigured {
            reason: format!("IDENTITY_ENDPOINT {endpoint} is not on this machine: the Azure Arc identity endpoint listens on loopback (127.0.0.1:40342), and its challenge key is never sent elsewhere"),
        })
    }
}

/// The key file a `WWW-Authenticate: Basic realm=<path>` challenge names,
/// checked to sit directly in `dir` with the `.key` extension.
pub fn challenge_path(www_authenticate: &str, dir: &Path) -> Result<PathBuf, AuthError> {
    let realm = www_authenticate
        .trim()
        .strip_prefix("Basic realm=")
        .ok_or_else(|| refused(format!("the challenge is not `Basic realm=<key file>`: {www_authenticate:?}")))?
        .trim()
        .trim_matches('"');
    let path = PathBuf::from(realm);
    let named = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !named.ends_with(".key") {
        return Err(refused(format!("the challenge names {realm}, which is not a .key file")));
    }
    let plain = path.components().all(|c| matches!(c, Component::Normal(_) | Component::RootDir | Component::Prefix(_)));
    if !plain || path.parent() != Some(dir) {
        return Err(refused(format!("the challenge names {realm}, outside the Azure Arc agent's token directory {}", dir.display())));
    }
    Ok(path)
}

/// Read the key a challenge names (a regular file, not a link, bounded).
pub fn read_key(path: &Path) -> Result<Secret, AuthError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| refused(format!("cannot read the challenge key file {}: {e}", path.display())))?;
    if !meta.file_type().is_file() {
        return Err(refused(format!("the challenge key {} is not a regular file", path.display())));
    }
    if meta.len() > MAX_KEY_BYTES {
        return Err(refused(format!("the challenge key {} is larger than {MAX_KEY_BYTES} bytes", path.display())));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| refused(format!("cannot read the challenge key file {}: {e}", path.display())))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(refused(format!("the challenge key file {} is empty", path.display())));
    }
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_must_name_a_key_file_in_the_agent_directory() {
        let dir = Path::new("/var/opt/azcmagent/tokens");
        assert_eq!(challenge_path("Basic realm=/var/opt/azcmagent/tokens/abc.key", dir).expect("test fixture"), dir.join("abc.key"));
        assert_eq!(challenge_path("Basic realm=\"/var/opt/azcmagent/tokens/abc.key\"", dir).expect("test fixture"), dir.join("abc.key"));
        for bad in [
            "Basic realm=/etc/shadow",
            "Basic realm=/etc/ssh/host.key",
            "Basic realm=/var/opt/azcmagent/tokens/../../../etc/x.key",
            "Basic realm=/var/opt/azcmagent/tokens/sub/x.key",
            "Bearer realm=/var/opt/azcmagent/tokens/abc.key",
            "Basic realm=",
        ] {
            assert!(challenge_path(bad, dir).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_goes_only_to_loopback() {
        for ok in ["http://127.0.0.1:40342/metadata/identity/oauth2/token", "http://localhost:40342/x", "http://[::1]:1/x"] {
            assert!(check_loopback(&Url::parse(ok).expect("test fixture")).is_ok(), "{ok}");
        }
        for bad in ["http://169.254.169.254/x", "http://10.0.0.4:40342/x", "https://attacker.example/x"] {
            assert!(check_loopback(&Url::parse(bad).expect("test fixture")).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_file_is_bounded_and_never_a_link() {
        let t = tempfile::tempdir().expect("test fixture");
        let key = t.path().join("a.key");
        std::fs::write(&key, "s3cret\n").expect("test fixture");
        assert_eq!(read_key(&key).expect("test fixture").expose(), "s3cret");
        let big = t.path().join("big.key");
        std::fs::write(&big, vec![b'x'; 5000]).expect("test fixture");
        assert!(read_key(&big).is_err());
        #[cfg(unix)]
        {
            let link = t.path().join("l.key");
            std::os::unix::fs::symlink(&key, &link).expect("test fixture");
            assert!(read_key(&link).unwrap_err().to_string().contains("not a regular file"));
        }
    }
}
