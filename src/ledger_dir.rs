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
//!
//! Inside a git work tree the place also names the repository, by its
//! remote's address (`remote.origin.url`, else the first remote's, without
//! scheme, user name, password or `.git`): hostile run 30, finding B found
//! two repositories that both keep desired state at `ds/` (or the README's
//! `desired-state/`) one place, so each one's seal made the other's honest
//! ledger "another directory's", and a pull request copying the other
//! repository's sealed ledger in was not told apart. A pull request cannot
//! change the remote: it lives in `.git/config`, which is not in the tree.
//! A repository with no remote is named by its path alone, as before, and
//! so is a binding a run made before the repository was named (it is
//! judged as then until this directory's next seal binds it anew).

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
    /// The repository holding it, by its remote ([`repository`]).
    repo: Option<String>,
    /// Its name alone, as a run outside any git work tree names it.
    plain: String,
}

impl Directory {
    /// How the place names the directory: its repository and path in it,
    /// else its path in the work tree, else its name.
    fn name(&self) -> String {
        match (&self.repo, &self.in_git) {
            (Some(r), Some(g)) => format!("{r}\n{g}"),
            (_, Some(g)) => g.clone(),
            _ => self.plain.clone(),
        }
    }
}

static DIRECTORY: OnceLock<Directory> = OnceLock::new();

/// This run's desired-state directory (the first one a target was
/// connected for).
pub fn set(dir: &Path) {
    let abs = std::fs::canonicalize(dir).ok();
    let root = abs.as_deref().and_then(|a| a.ancestors().find(|d| std::fs::symlink_metadata(d.join(".git")).is_ok()));
    let rel = abs.as_deref().zip(root).and_then(|(a, r)| a.strip_prefix(r).ok()).map(|p| p.to_string_lossy().into_owned());
    let in_git = rel.filter(|r| !r.is_empty());
    let repo = root.filter(|_| in_git.is_some()).and_then(repository);
    let _ = DIRECTORY.set(Directory { in_git, repo, plain: crate::state_paths::dir_key(dir) });
}

/// The repository whose work tree `root` is, by its remote's address
/// (`remote.origin.url`, else the first remote's), as [`normalize`] gives
/// it; `None` when git is not installed or the repository has no remote.
fn repository(root: &Path) -> Option<String> {
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git").arg("-C").arg(root).args(args).stdin(std::process::Stdio::null()).stderr(std::process::Stdio::null()).output().ok()?;
        o.status.success().then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let url = git(&["config", "--get", "remote.origin.url"]).or_else(|| {
        let all = git(&["config", "--get-regexp", r"^remote\..*\.url$"])?;
        let mut urls: Vec<String> = all.lines().filter_map(|l| l.split_once(' ').map(|(_, u)| u.to_string())).collect();
        urls.sort();
        urls.into_iter().next()
    })?;
    normalize(&url)
}

/// A remote's address without what differs between clones of one
/// repository: the scheme, a user name or token, a port's absence, the
/// `.git` ending, case (`https://x:TOKEN@github.com/Org/Repo.git`,
/// `git@github.com:org/repo` and `ssh://git@github.com/org/repo` are all
/// `github.com/org/repo`). Only its hash leaves the run.
fn normalize(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = match url.split_once("://") {
        Some((_, r)) => r.to_string(),
        // scp-like `user@host:path`; a local path stays a path.
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') && !path.starts_with('/') || url.contains('@') => format!("{host}/{path}"),
            _ => url.to_string(),
        },
    };
    let rest = match rest.split_once('/') {
        Some((authority, path)) => {
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{host}/{path}")
        }
        None => rest.rsplit_once('@').map_or(rest.clone(), |(_, h)| h.to_string()),
    };
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest).trim_end_matches('/');
    (!rest.is_empty()).then(|| rest.to_lowercase())
}

/// The hash of the place of `store`'s ledger for this run's directory, if
/// the run connected one.
pub fn hash(store: &LedgerStore) -> Option<String> {
    let d = DIRECTORY.get()?;
    Some(place_hash(store, &d.name(), true))
}

/// The hash of the same place as a run named it before places named the
/// repository (its path in the work tree alone), when they differ.
fn unnamed_repo_hash(store: &LedgerStore) -> Option<String> {
    let d = DIRECTORY.get()?;
    d.repo.as_ref().and(d.in_git.as_deref()).map(|g| place_hash(store, g, true))
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
    // A binding made before places named the repository is this place's
    // until this directory's next seal binds it anew.
    let older = unnamed_repo_hash(store);
    let found = bindings.iter().find(|(d, _)| *d == dir).or_else(|| bindings.iter().find(|(d, _)| Some(d) == older.as_ref()));
    let Some((_, bound)) = found else {
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
        if bindings.iter().any(|(d, i)| i == ledger_seal::binding_id(&id) && Some(d) != plain.as_ref() && Some(d) != older.as_ref()) {
            ledger.seal = Seal::Foreign { ledger: ledger_seal::digest(ledger, tenant), id, bound: "(none: the tenant binds no ledger to this directory, and binds this one to another)".into() };
        }
        return;
    };
    if bound != ledger_seal::binding_id(&id) {
        ledger.seal = Seal::Foreign { ledger: ledger_seal::digest(ledger, tenant), id, bound: bound.clone() };
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn clones_of_one_repository_name_it_alike() {
        for url in [
            "https://github.com/Contoso/Tenant.git",
            "https://x-access-token:ghs_SECRET@github.com/contoso/tenant.git",
            "https://user@github.com/contoso/tenant/",
            "git@github.com:contoso/tenant.git",
            "ssh://git@github.com/contoso/tenant",
            "  https://github.com/contoso/tenant\n",
        ] {
            assert_eq!(normalize(url).as_deref(), Some("github.com/contoso/tenant"), "{url}");
        }
        assert_eq!(normalize("https://dev.azure.com/contoso/it/_git/tenant").as_deref(), Some("dev.azure.com/contoso/it/_git/tenant"));
        assert_eq!(normalize("/srv/git/tenant.git").as_deref(), Some("/srv/git/tenant"));
        assert_ne!(normalize("https://github.com/contoso/tenant"), normalize("https://github.com/fabrikam/tenant"));
        assert_eq!(normalize(""), None);
    }
}
