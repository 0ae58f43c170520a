//! Which desired-state directory this run's ledger is for, so the tenant's
//! marker can record which ledger each directory sealed last, and a ledger
//! another directory sealed is not taken for this one's (hostile run 28,
//! finding 1: another directory's sealed ledger copied in, or its azurerm
//! state pointed at by a changed `[state] prefix`). The rule is
//! [`engine::ledger_seal::Seal::Foreign`]'s.
//!
//! A ledger's place is the directory's path in its git work tree (else its
//! own name, `state_paths::dir_key`) with, on the local backend, where the
//! ledger file lies (relative to its git work tree, so every checkout of
//! a repository agrees; two working copies each with a ledger of their
//! own are two places). On the azurerm backend the directory's name alone:
//! a pull request pointing `[state] prefix` at another directory's state
//! changes the ledger under the same place. Hashed in the marker.

use std::path::Path;
use std::sync::OnceLock;

use engine::ledger_seal::{self, Seal};
use engine::Ledger;

use crate::state::LedgerStore;

/// This run's desired-state directory, named two ways.
struct Directory {
    /// Its path relative to the git work tree holding it (so `prod/ds` and
    /// `test/ds` differ), when it is in one: its place is then the same in
    /// every clone; outside one, two copies of a directory are two places.
    in_git: Option<String>,
    /// Its name alone, as a run outside any git work tree names it.
    plain: String,
}

static DIRECTORY: OnceLock<Directory> = OnceLock::new();

/// This run's desired-state directory (the first one a target was
/// connected for).
pub fn set(dir: &Path) {
    let abs = std::fs::canonicalize(dir).ok();
    let rel = abs.as_deref().and_then(|a| a.ancestors().find(|d| std::fs::symlink_metadata(d.join(".git")).is_ok()).and_then(|r| a.strip_prefix(r).ok()).map(|p| p.to_string_lossy().into_owned()));
    let _ = DIRECTORY.set(Directory { in_git: rel.filter(|r| !r.is_empty()), plain: crate::state_paths::dir_key(dir) });
}

/// The hash of the place of `store`'s ledger for this run's directory, if
/// the run connected one.
pub fn hash(store: &LedgerStore) -> Option<String> {
    let d = DIRECTORY.get()?;
    Some(place_hash(store, d.in_git.as_deref().unwrap_or(&d.plain), true))
}

/// The hash of the same place as a run named it before the directory was
/// in a git work tree (its name, the ledger's absolute path): a directory
/// put under git keeps its binding.
fn plain_hash(store: &LedgerStore) -> Option<String> {
    DIRECTORY.get().map(|d| place_hash(store, &d.plain, false))
}

fn place_hash(store: &LedgerStore, dir: &str, git: bool) -> String {
    let place = if store.is_remote() { String::new() } else { local_place(store.path(), git) };
    ledger_seal::directory_hash(&format!("{dir}\n{place}"))
}

/// Where a local ledger lies: relative to the git work tree holding it
/// (when `git`), else its absolute path.
fn local_place(ledger: &Path, git: bool) -> String {
    let parent = ledger.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let abs = std::fs::canonicalize(parent).unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(parent));
    let file = ledger.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let root = abs.ancestors().find(|d| git && std::fs::symlink_metadata(d.join(".git")).is_ok());
    let rel = root.and_then(|r| abs.strip_prefix(r).ok()).unwrap_or(&abs);
    format!("{}/{file}", rel.to_string_lossy())
}

/// Judge `ledger` (its seal judged already) against the ledger the
/// marker's `bindings` say this directory sealed last: a ledger the tenant
/// seals that names another identity is [`Seal::Foreign`].
pub fn judge(store: &LedgerStore, ledger: &mut Ledger, tenant: &str, bindings: &[(String, String)]) {
    let (Some(dir), Some(id)) = (hash(store), ledger.ledger_id.clone()) else { return };
    if !matches!(ledger.seal, Seal::Sealed | Seal::Broken { .. }) {
        return;
    }
    let Some((_, bound)) = bindings.iter().find(|(d, _)| *d == dir) else {
        // No binding for this place (a directory renamed or moved, or one
        // that never sealed): a ledger the marker binds to another place is
        // that directory's all the same (hostile run 29, finding 2: `git mv`
        // of the directory and another's sealed ledger put under the new
        // name were judged as before). A genuine rename is judged so until
        // its next approved complete apply binds it again.
        // Outside a git work tree every copy of a directory is a place of
        // its own (two checkouts of one desired state), so nothing can be
        // told; a pull request is always inside one.
        if !DIRECTORY.get().is_some_and(|d| d.in_git.is_some()) {
            return;
        }
        // The same directory before it was put under git keeps it.
        let plain = plain_hash(store);
        if bindings.iter().any(|(d, i)| i == ledger_seal::binding_id(&id) && Some(d) != plain.as_ref()) {
            ledger.seal = Seal::Foreign { ledger: ledger_seal::digest(ledger, tenant), id, bound: "(none: the tenant binds no ledger to this directory, and binds this one to another)".into() };
        }
        return;
    };
    if bound != ledger_seal::binding_id(&id) {
        ledger.seal = Seal::Foreign { ledger: ledger_seal::digest(ledger, tenant), id, bound: bound.clone() };
    }
}
