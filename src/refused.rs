//! Declared resources the plan refuses (a licence the tenant lacks, a
//! policy delete Graph would refuse while assignments go through it):
//! their changes are not applied, the rest of the plan is, and `plan`,
//! `apply` and `reconcile` exit 1 while any is refused. Each is said as a
//! located error (`error[needs-licence]: ... --> file:line:column`) where
//! the declaration is found again, else by its address.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use engine::held::Refused;
use schema::diagnostic::Origin;
use schema::{Address, Diagnostic, Kind};

/// The kinds whose declarations a plan may refuse: their origins are kept
/// past the load (the parsed files are dropped before the tenant is read).
const KINDS: [Kind; 4] = [Kind::AccessCatalog, Kind::AccessPackage, Kind::AccessPackageAssignment, Kind::RoleAssignment];

/// Where the declarations of those kinds are, to locate a refusal.
#[derive(Default)]
pub struct Origins {
    root: Option<PathBuf>,
    by_address: BTreeMap<Address, Origin>,
}

impl Origins {
    /// The origins of `state`'s declarations of the kinds a plan may refuse.
    pub fn of(dir: &Path, state: &schema::DesiredState) -> Origins {
        let mut by_address = BTreeMap::new();
        for kind in KINDS {
            for key in state.keys(kind) {
                let a = Address::new(kind, key);
                if let Some(o) = state.origin(&a) {
                    by_address.insert(a, o.clone());
                }
            }
        }
        Origins { root: std::fs::canonicalize(dir).ok(), by_address }
    }

    /// The line and column of `address`'s declaration, read again from its
    /// file under the desired-state directory (by the loader's rules).
    fn locate(&self, address: &Address) -> Option<schema::Location> {
        let (root, origin) = (self.root.as_ref()?, self.by_address.get(address)?);
        let bytes = schema::read::read_inside(root, &origin.file, schema::read::max_file_bytes()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        Some(schema::source::SourceFile::new(origin.file.to_path_buf(), text).locate(&origin.path))
    }
}

/// A refusal's code as a diagnostic code.
fn code(c: &str) -> &'static str {
    match c {
        "needs-licence" => "needs-licence",
        "policy-in-use" => "policy-in-use",
        "refers-to-refused" => "refers-to-refused",
        _ => "refused",
    }
}

/// The error that makes `plan`, `apply` and `reconcile --once` exit 1:
/// every refused resource, located, with why (escaped: a reason carries
/// live names).
pub fn summary(refused: &[Refused], origins: &Origins) -> Option<String> {
    if refused.is_empty() {
        return None;
    }
    let mut text = format!("error: {} declared resource(s) refused by the tenant; their changes are not applied, the rest of the plan is (exit 1):", refused.len());
    for r in refused {
        let d = Diagnostic::error(code(&r.code), format!("{}: {}", r.address, engine::render::text_safe(&r.reason))).at(origins.locate(&r.address));
        text.push('\n');
        text.push_str(d.to_string().trim_end());
    }
    Some(text)
}

/// `code`, or 1 after saying `refused` when anything was.
pub fn exit(code: std::process::ExitCode, refused: Option<&str>) -> std::process::ExitCode {
    match refused {
        Some(text) => {
            crate::output::status(text);
            std::process::ExitCode::from(1)
        }
        None => code,
    }
}
