//! Where the governance trust root is kept, and the checks that stop a
//! change of desired state from swapping it.
//!
//! The store is behind [`TrustStore`], so a state backend can hold it
//! instead of the local file `<ledger>.trust.json` ([`LocalTrust`]). For a
//! real tenant the local file sits beside the ledger, often in the
//! desired-state folder that pull requests change, so:
//!
//! * every recording (first use, an approved change, `governance adopt`)
//!   appends a `trust-root` line with the fingerprint of the recorded
//!   `[governance]` to the journal;
//! * a trust root missing while the journal shows one was recorded is
//!   refused (no silent trust on first use), and so is one whose
//!   `[governance]` is not the one last recorded (edited by hand): restore
//!   it, or re-adopt desired `[governance]` on purpose with
//!   `tenantctl governance adopt --reason TEXT`, which is loudly warned
//!   and journalled;
//! * with the local store inside a git working tree, every command that
//!   reads it warns: keep the state (and the trust root) in the azurerm
//!   backend for a real tenant.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use engine::governance::trust::TrustRoot;

use crate::output;

/// A place that holds one tenant's trust root.
pub trait TrustStore {
    /// Where it is, for messages.
    fn describe(&self) -> String;
    /// The recorded trust root, or `None` when none is stored.
    fn read(&self) -> Result<Option<TrustRoot>>;
    /// Store `root`, replacing what is there.
    fn write(&self, root: &TrustRoot) -> Result<()>;
    /// The local file, when the store is one (for the git check).
    fn local_file(&self) -> Option<PathBuf> {
        None
    }
}

/// The trust root as a file beside the ledger.
pub struct LocalTrust {
    path: PathBuf,
}

impl TrustStore for LocalTrust {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn read(&self) -> Result<Option<TrustRoot>> {
        let path = &self.path;
        // Beside the ledger, often inside the desired-state folder: read by the
        // loader's rules (no link leaving the folder, no device or FIFO, bounded).
        match schema::read::read_state_file(path, schema::read::max_file_bytes()).with_context(|| format!("reading {}", path.display()))? {
            Some(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", path.display()))?;
                TrustRoot::parse(&text).map(Some).with_context(|| format!("reading {}", path.display()))
            }
            None => Ok(None),
        }
    }

    fn write(&self, root: &TrustRoot) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        crate::write_atomic(&self.path, &root.render())
    }

    fn local_file(&self) -> Option<PathBuf> {
        Some(self.path.clone())
    }
}

/// The trust root as a blob of the `[state]` backend (azurerm): out of
/// the repository, so a pull request can neither delete nor edit it.
pub struct RemoteTrust {
    ledger: PathBuf,
    name: String,
}

impl TrustStore for RemoteTrust {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn read(&self) -> Result<Option<TrustRoot>> {
        match crate::state_side::read_remote(&self.ledger, crate::state_backend::StateKind::Trust)? {
            Some(Some(bytes)) => {
                let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", self.name))?;
                TrustRoot::parse(&text).map(Some).with_context(|| format!("reading {}", self.name))
            }
            _ => Ok(None),
        }
    }

    fn write(&self, root: &TrustRoot) -> Result<()> {
        // ETag-checked: a trust root another run recorded meanwhile is refused.
        if !crate::state_side::write_remote(&self.ledger, crate::state_backend::StateKind::Trust, root.render().as_bytes())? {
            bail!("{} is no longer kept in the state backend; nothing was recorded", self.name);
        }
        Ok(())
    }
}

/// The trust root store of the target whose ledger is `ledger`: the
/// `[state]` backend's blob under azurerm, else the file beside the ledger.
pub fn for_ledger(ledger: &Path) -> Result<Box<dyn TrustStore>> {
    Ok(match crate::state_side::remote_name(ledger, crate::state_backend::StateKind::Trust)? {
        Some(name) => Box::new(RemoteTrust { ledger: ledger.to_path_buf(), name }),
        None => Box::new(LocalTrust { path: crate::governance::trust_path(ledger) }),
    })
}

/// The fingerprint journalled for a recorded `[governance]`.
pub fn fingerprint(root: &TrustRoot) -> String {
    governance_fingerprint(&root.governance)
}

/// The fingerprint of a `[governance]`, as trust roots, the journal and
/// the tenant's marker record it.
pub fn governance_fingerprint(g: &schema::kinds::Governance) -> String {
    engine::plan::fingerprint(&serde_json::to_value(g).unwrap_or_default())
}

/// The journal action of a trust root recording.
pub const JOURNAL_ACTION: &str = "trust-root";

/// The last trust root recording in the journal beside `ledger`: its
/// fingerprint and when. Lines that are not JSON (a line cut short by a
/// kill) are skipped.
pub fn last_recorded(ledger: &Path) -> Result<Option<(String, String)>> {
    let path = crate::apply::journal_path(ledger);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading journal {}", path.display())),
    };
    if !meta.is_file() {
        // A link or device planted in place of the journal is never
        // followed; every command that writes refuses it before changing
        // anything (the journal is opened without following links).
        tracing::warn!(journal = %path.display(), "the journal is not a regular file; its trust root recordings are not read");
        return Ok(None);
    }
    let file = std::fs::File::open(&path).with_context(|| format!("reading journal {}", path.display()))?;
    let mut last = None;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading journal {}", path.display()))?;
        if !line.contains(JOURNAL_ACTION) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if v["action"] == JOURNAL_ACTION {
            if let Some(fp) = v["trust_fingerprint"].as_str() {
                last = Some((fp.to_string(), v["when"].as_str().unwrap_or_default().to_string()));
            }
        }
    }
    Ok(last)
}

/// How to get out of a refusal.
fn remedy(store: &dyn TrustStore) -> String {
    format!(
        "restore {} from backup (or the state backend), or, if the approvers in desired [governance] are the ones meant to be in force, re-adopt them on purpose with `tenantctl governance adopt DIR --reason \"TEXT\"` (warned and journalled)",
        store.describe()
    )
}

/// Read the trust root, refusing one that is missing or edited since the
/// journal last recorded it, and warning when the local file is in a git
/// working tree.
pub fn read_checked(ledger: &Path) -> Result<Option<TrustRoot>> {
    let store = for_ledger(ledger)?;
    warn_if_in_git(store.as_ref(), ledger);
    let root = store.read()?;
    let recorded = last_recorded(ledger)?;
    match (&root, recorded) {
        (None, Some((_, when))) => bail!(
            "refusing: the governance trust root {} is missing, but the journal shows one was recorded at {when}; trusting desired [governance] on first use now would let whoever removed it choose the approvers.\n{}",
            store.describe(),
            remedy(store.as_ref())
        ),
        (Some(r), Some((fp, when))) if fingerprint(r) != fp => bail!(
            "refusing: the governance trust root {} is not the one recorded at {when} (its [governance] was changed outside an approved apply); approvers cannot be swapped by editing it.\n{}",
            store.describe(),
            remedy(store.as_ref())
        ),
        (Some(r), _) => {
            crate::trust_ids::check(r, ledger, &store.describe())?;
            Ok(root)
        }
        _ => Ok(root),
    }
}

/// Whether `path` (or the directory it would be in) is inside a git
/// working tree: a `.git` directory or file in it or any parent.
pub fn in_git_tree(path: &Path) -> Option<PathBuf> {
    let start = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    start.ancestors().find(|d| d.join(".git").exists()).map(Path::to_path_buf)
}

/// The embedded sandbox's own state is never a real tenant's.
fn is_sandbox_ledger(ledger: &Path) -> bool {
    ledger.file_name().is_some_and(|n| n == "sandbox.lock")
}

fn warn_if_in_git(store: &dyn TrustStore, ledger: &Path) {
    if is_sandbox_ledger(ledger) {
        return;
    }
    let Some(file) = store.local_file() else { return };
    if let Some(repo) = in_git_tree(&file) {
        output::status(format!(
            "WARNING: the governance trust root {} is inside the git working tree {}: a change to that repository can delete or edit it. Keep the state of a real tenant in the azurerm state backend ([state] backend = \"azurerm\"), which holds the trust root apart from desired state.",
            file.display(),
            repo.display()
        ));
    }
}
