//! `[platform_script.KEY]`: a Windows PowerShell platform script (beta
//! `deviceManagement/deviceManagementScripts`). Its content is a file kept
//! beside the TOML (`file`, relative to the desired-state directory), read
//! by `load` and compared by SHA-256: the plan shows the hashes, never the
//! script. Remediations (`super::remediation`) read their two scripts the
//! same way ([`attach_files`]).

use std::path::{Component, Path};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// runAsAccountType: the context the script runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunAsAccount {
    /// The device's SYSTEM account.
    System,
    /// The signed-in user.
    User,
}

impl RunAsAccount {
    pub fn as_str(self) -> &'static str {
        match self {
            RunAsAccount::System => "system",
            RunAsAccount::User => "user",
        }
    }
}

/// `[platform_script.KEY]`: a Windows PowerShell platform script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformScript {
    /// Natural key of the script.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The script, a file relative to the desired-state directory (e.g.
    /// `scripts/set-time-zone.ps1`); one that leaves the directory (`..`,
    /// an absolute path, a symbolic link out) is refused.
    pub file: String,
    /// runAsAccount: `system` (Intune's default) or `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_account: Option<RunAsAccount>,
    /// enforceSignatureCheck: run only if signed by a trusted publisher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_signature_check: Option<bool>,
    /// runAs32Bit: run in the 32-bit PowerShell host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_32_bit: Option<bool>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
    /// The bytes of `file`, read by `load` (never part of the TOML).
    #[serde(skip)]
    #[schemars(skip)]
    pub content: Option<Vec<u8>>,
}

/// Why a script path written in TOML is refused before any file is
/// touched, if it is: empty, absolute, climbing out (`..`), through a
/// hidden file or folder, or not a `.ps1` file.
pub fn script_path_problem(file: &str) -> Option<String> {
    if file.trim().is_empty() {
        return Some("is empty".into());
    }
    if file.contains('\\') {
        return Some("uses `\\`; write paths with `/`".into());
    }
    let p = Path::new(file);
    if p.is_absolute() || file.starts_with('/') || file.get(1..2) == Some(":") {
        return Some("is absolute; script files are named relative to the desired-state directory".into());
    }
    for c in p.components() {
        match c {
            Component::Normal(s) if s.to_string_lossy().starts_with('.') => return Some("goes through a hidden file or folder, which is never read".into()),
            Component::Normal(_) | Component::CurDir => {}
            _ => return Some("leaves the desired-state directory (`..`)".into()),
        }
    }
    if !file.to_lowercase().ends_with(".ps1") {
        return Some("is not a PowerShell script (`.ps1`)".into());
    }
    None
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Origin};
use crate::path;
use crate::source::Seg;
use crate::validate::policy::check_assignments;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.platform_script.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::PlatformScript, named.collect());
    for (key, d) in &s.platform_script {
        let p = &d.value;
        check_script_path(cx, &d.origin, Kind::PlatformScript, key, "file", &p.file);
        check_tags(cx, &d.origin, Kind::PlatformScript, key, &p.scope_tags);
        check_assignments(cx, Kind::PlatformScript, key, &d.origin, &p.assignments);
    }
}

/// A script path's problem as a located error.
pub(crate) fn check_script_path(cx: &mut Ctx, origin: &Origin, kind: Kind, key: &str, field: &str, file: &str) {
    if let Some(problem) = script_path_problem(file) {
        cx.error("invalid-script-file", origin, &path![kind.as_str(), key, field], format!("{kind}.{key}: {field} `{file}` {problem}"))
            .help = Some("e.g. `scripts/set-time-zone.ps1`, a file inside the desired-state directory".into());
    }
}

/// Each `scope_tags` entry names a declared tag (or `default`).
pub(crate) fn check_tags(cx: &mut Ctx, origin: &Origin, kind: Kind, key: &str, tags: &[String]) {
    for (i, t) in tags.iter().enumerate() {
        if !super::scope_tag::is_default(t) {
            cx.reference(origin, &path![kind.as_str(), key, "scope_tags", i], t, &[Kind::ScopeTag]);
        }
    }
}

/// Reads the script files the platform scripts and remediations name
/// (relative to `dir`, the desired-state directory) into their `content`.
/// A file that is missing, leaves the directory (by `..` or a symbolic
/// link anywhere on its path), is not a regular file or is too large is an
/// error at the `file` field; nothing of a refused file is read.
pub fn attach_files(dir: &Path, state: &mut crate::DesiredState) -> Result<(), crate::LoadError> {
    let root = std::fs::canonicalize(dir).map_err(|source| crate::LoadError::Io { path: dir.to_path_buf(), source })?;
    let mut diags = Diagnostics::default();
    for (key, d) in state.platform_script.iter_mut() {
        d.value.content = read_or_report(&root, &d.origin, Kind::PlatformScript, key, "file", &d.value.file, &mut diags);
    }
    for (key, d) in state.remediation.iter_mut() {
        d.value.detection_content = read_or_report(&root, &d.origin, Kind::Remediation, key, "detection_file", &d.value.detection_file, &mut diags);
        if let Some(f) = d.value.remediation_file.clone() {
            d.value.remediation_content = read_or_report(&root, &d.origin, Kind::Remediation, key, "remediation_file", &f, &mut diags);
        }
    }
    if diags.has_errors() {
        diags.sort();
        return Err(crate::LoadError::Invalid(diags));
    }
    Ok(())
}

fn read_or_report(root: &Path, origin: &Origin, kind: Kind, key: &str, field: &str, file: &str, diags: &mut Diagnostics) -> Option<Vec<u8>> {
    match read_script(root, file) {
        Ok(bytes) => Some(bytes),
        Err(why) => {
            let at = path![kind.as_str(), key, field];
            diags.push(
                Diagnostic::error("invalid-script-file", format!("{kind}.{key}: {field} `{file}` {why}"))
                    .at(Some(locate(root, origin, &at)))
                    .with_help("script files are read only from regular files inside the desired-state directory"),
            );
            None
        }
    }
}

/// The bytes of the script at `file` under `root` (canonical), or why not.
pub fn read_script(root: &Path, file: &str) -> Result<Vec<u8>, String> {
    if let Some(problem) = script_path_problem(file) {
        return Err(problem);
    }
    let joined = root.join(file);
    let canonical = match std::fs::canonicalize(&joined) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("does not exist (or is a link to nothing)".into()),
        Err(_) => return Err("cannot be read".into()),
    };
    if !canonical.starts_with(root) {
        return Err("is, or goes through, a symbolic link leaving the desired-state directory; nothing of it was read".into());
    }
    if canonical.strip_prefix(root).is_ok_and(|inside| inside.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.'))) {
        return Err("is, or goes through, a link to a hidden file or folder, which is never read".into());
    }
    crate::read::read_inside(root, &canonical, crate::read::max_file_bytes()).map_err(|e| e.to_string())
}

/// Where `path` is in the TOML file `origin` names (the file's start when
/// it cannot be read again).
fn locate(root: &Path, origin: &Origin, path: &[Seg]) -> Location {
    let Ok(bytes) = crate::read::read_inside(root, &origin.file, crate::read::max_file_bytes()) else {
        return Location::file(&origin.file);
    };
    match String::from_utf8(bytes) {
        Ok(text) => crate::source::SourceFile::new(origin.file.to_path_buf(), text).locate(path),
        Err(_) => Location::file(&origin.file),
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/deviceManagementScripts"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
