//! Where local state files live for a sandbox or `--graph-url` target:
//! keyed by desired-state directory and tenant id, never shared.
//!
//! `.tenantctl/` sits in the parent of the desired-state directory, so two
//! sibling directories (say `desired-state/` and an `export --out`
//! beside it) share it. Each directory's ledger therefore lives in its own
//! folder there, named by tenant:
//! `.tenantctl/<dir name>/sandbox-<tenant id>.lock` for the embedded
//! sandbox and `.tenantctl/<dir name>/graph-url-<tenant id>.lock` for a
//! `--graph-url` endpoint, with the log, journal, trust root, delta state
//! and lock file beside it (`<stem>.<kind>`). A real tenant's ledger stays
//! `tenantctl.lock` inside the directory (one directory, one `[tenant]`).
//!
//! Ledgers written before this keying (`.tenantctl/sandbox.lock`,
//! `.tenantctl/graph-url.lock`) are moved to the keyed place the first
//! time their directory is used, and the move is announced.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Which kind of endpoint a keyed ledger belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Sandbox,
    GraphUrl,
}

impl Endpoint {
    fn prefix(self) -> &'static str {
        match self {
            Endpoint::Sandbox => "sandbox",
            Endpoint::GraphUrl => "graph-url",
        }
    }
}

/// A name safe as one path component: letters, digits, `-` and `_` (a dot
/// would confuse the `<stem>.<kind>` names beside the ledger).
pub fn sanitize(s: &str) -> String {
    let out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// The desired-state directory's own name (`.`, `..` and a link to it
/// resolved, so `plan .` and `plan ../ds` key alike). A name changed by
/// [`sanitize`] gets a hash of the original, so `a b` and `a_b` differ.
pub fn dir_key(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "root".into());
    let safe = sanitize(&name);
    if safe == name {
        safe
    } else {
        // FNV-1a: stable across builds and platforms.
        let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        format!("{safe}-{hash:08x}")
    }
}

/// The keyed ledger of desired state `dir` in `tenant` at `endpoint`.
pub fn keyed_ledger(dir: &Path, endpoint: Endpoint, tenant: &str) -> PathBuf {
    crate::target::state_dir(dir).join(dir_key(dir)).join(format!("{}-{}.lock", endpoint.prefix(), sanitize(tenant)))
}

/// The ledger written before keying, shared by every directory in the parent.
pub fn unkeyed_ledger(dir: &Path, endpoint: Endpoint) -> PathBuf {
    crate::target::state_dir(dir).join(format!("{}.lock", endpoint.prefix()))
}

/// The tenant a keyed ledger's file name names, if it is one.
pub fn tenant_of(ledger: &Path) -> Option<String> {
    let stem = ledger.file_name()?.to_str()?.strip_suffix(".lock")?;
    let tenant = stem.strip_prefix("sandbox-").or_else(|| stem.strip_prefix("graph-url-"))?;
    (!tenant.is_empty()).then(|| tenant.to_string())
}

/// The tenant a `--graph-url` target signs in to: `AZURE_TENANT_ID`, else
/// the `tid` claim of `TENANTCTL_ACCESS_TOKEN`, else `[tenant]`'s id or
/// primary domain; `None` when nothing names it.
pub fn graph_url_tenant(lookup: &dyn Fn(&str) -> Option<String>, tenant: Option<&schema::kinds::Tenant>) -> Option<String> {
    lookup("AZURE_TENANT_ID")
        .or_else(|| lookup("TENANTCTL_ACCESS_TOKEN").and_then(|t| token_tenant(&t)))
        .or_else(|| tenant.map(|t| t.tenant_id.clone().unwrap_or_else(|| t.primary_domain.clone())))
}

/// The `tid` claim of a JWT (read, not verified: it only names a folder).
fn token_tenant(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("tid")?.as_str().filter(|t| !t.is_empty()).map(str::to_string)
}

/// The keyed ledger a `--graph-url` target at `url` uses (by tenant, else
/// by the endpoint's host and port).
pub fn graph_url_ledger(dir: &Path, url: &str, lookup: &dyn Fn(&str) -> Option<String>, tenant: Option<&schema::kinds::Tenant>) -> PathBuf {
    let key = graph_url_tenant(lookup, tenant).unwrap_or_else(|| url.split("://").nth(1).unwrap_or(url).split('/').next().unwrap_or("graph").to_string());
    keyed_ledger(dir, Endpoint::GraphUrl, &key)
}

/// The files kept beside a ledger, by the suffix that replaces `.lock`.
const BESIDE: &[&str] = &["lock", "ledger-wal.jsonl", "journal.jsonl", "trust.json"];

/// Move a ledger written before keying (and the files beside it) to its
/// keyed place, when the keyed place holds none yet. Returns what was said.
pub fn migrate_unkeyed(old: &Path, new: &Path) -> Result<Option<String>> {
    let has = |l: &Path| l.exists() || crate::state::wal_path(l).exists();
    if !has(old) || has(new) {
        return Ok(None);
    }
    if let Some(parent) = new.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut moved = Vec::new();
    for ext in BESIDE {
        let (from, to) = (old.with_extension(ext), new.with_extension(ext));
        if from.exists() && !to.exists() {
            match std::fs::rename(&from, &to) {
                Ok(()) => moved.push(from.display().to_string()),
                // Another run moved it meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("moving {} to {}", from.display(), to.display())),
            }
        }
    }
    if moved.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "MIGRATED state: moved {} to {} (ledgers are now kept per desired-state directory and tenant, so a sibling directory such as an export can no longer overwrite them)",
        moved.join(", "),
        new.with_extension("*").display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_by_directory_and_tenant() {
        let a = keyed_ledger(Path::new("repo/ds"), Endpoint::Sandbox, "t1");
        assert_eq!(a, Path::new("repo/.tenantctl/ds/sandbox-t1.lock"));
        assert_ne!(a, keyed_ledger(Path::new("repo/out"), Endpoint::Sandbox, "t1"));
        assert_ne!(a, keyed_ledger(Path::new("repo/ds"), Endpoint::Sandbox, "t2"));
        assert_ne!(a, keyed_ledger(Path::new("repo/ds"), Endpoint::GraphUrl, "t1"));
        // A domain as tenant: no dot reaches the file name.
        let d = keyed_ledger(Path::new("ds"), Endpoint::GraphUrl, "contoso.onmicrosoft.com");
        assert_eq!(d.file_name().expect("test fixture"), "graph-url-contoso_onmicrosoft_com.lock");
        assert_eq!(tenant_of(&d).as_deref(), Some("contoso_onmicrosoft_com"));
        assert_eq!(tenant_of(Path::new("x/tenantctl.lock")), None);
        assert_eq!(sanitize("../../etc"), "______etc");
        // Names sanitize would make equal stay apart; a link keys as its target.
        assert_ne!(dir_key(Path::new("x/a b")), dir_key(Path::new("x/a_b")));
        assert_eq!(dir_key(Path::new("x/a_b")), "a_b");
        let t = tempfile::tempdir().expect("test fixture");
        std::fs::create_dir(t.path().join("ds")).expect("test fixture");
        #[cfg(unix)]
        std::os::unix::fs::symlink(t.path().join("ds"), t.path().join("link")).expect("test fixture");
        #[cfg(unix)]
        assert_eq!(dir_key(&t.path().join("link")), "ds");
        assert_eq!(dir_key(&t.path().join("ds/.")), "ds");
    }

    #[test]
    fn the_tenant_of_a_graph_url_comes_from_the_credentials_or_the_token() {
        use base64::Engine;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"tid":"tid-from-token"}"#);
        let token = format!("h.{claims}.s");
        let env = |k: &str| (k == "TENANTCTL_ACCESS_TOKEN").then(|| token.clone());
        assert_eq!(graph_url_tenant(&env, None).as_deref(), Some("tid-from-token"));
        let env = |k: &str| (k == "AZURE_TENANT_ID").then(|| "t9".to_string());
        assert_eq!(graph_url_tenant(&env, None).as_deref(), Some("t9"));
        assert_eq!(graph_url_tenant(&|_| None, None), None);
    }

    #[test]
    fn an_unkeyed_ledger_moves_once_and_never_over_a_keyed_one() {
        let t = tempfile::tempdir().expect("test fixture");
        let old = t.path().join(".tenantctl/sandbox.lock");
        std::fs::create_dir_all(old.parent().expect("test fixture")).expect("test fixture");
        std::fs::write(&old, "version = 1\n").expect("test fixture");
        std::fs::write(old.with_extension("trust.json"), "{}").expect("test fixture");
        let new = t.path().join(".tenantctl/ds/sandbox-t.lock");
        let said = migrate_unkeyed(&old, &new).expect("test fixture").expect("test fixture");
        assert!(said.contains("MIGRATED") && said.contains("sandbox.lock"), "{said}");
        assert_eq!(std::fs::read_to_string(&new).expect("test fixture"), "version = 1\n");
        assert!(new.with_extension("trust.json").exists() && !old.exists());
        // A second unkeyed file never replaces the keyed one.
        std::fs::write(&old, "version = 1\n# other\n").expect("test fixture");
        assert!(migrate_unkeyed(&old, &new).expect("test fixture").is_none());
        assert_eq!(std::fs::read_to_string(&new).expect("test fixture"), "version = 1\n");
    }
}
