//! Stage 1 of the pipeline: read every `*.toml` under a directory, parse each
//! resource on its own (so one file reports all its bad resources at once),
//! merge, and validate. All problems are collected before failing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::address::{is_valid_key, Kind};
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Origin};
use crate::path;
use crate::source::{Seg, SourceFile};
use crate::state::{Declared, DesiredState};
use crate::suggest::closest;

/// Why desired state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read desired state at {}", crate::diagnostic::shown_path(.path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("desired state has {} error(s)", .0.errors().count())]
    Invalid(Diagnostics),
}

macro_rules! kind_tables {
    ($($variant:ident $field:ident $ty:ident $principal:literal $policy:literal;)*) => {
        const TOP_LEVEL: &[&str] = &[
            "tenant",
            "governance",
            "change",
            "state",
            $(stringify!($field),)*
        ];

        /// Parse the `[KIND.KEY]` tables of one kind into its map.
        fn kind_resources(
            source: &SourceFile,
            all: &[SourceFile],
            kind: Kind,
            value: toml::Value,
            state: &mut DesiredState,
            broken: &mut Broken,
            diags: &mut Diagnostics,
        ) {
            match kind {
                $(Kind::$variant => resources(source, all, kind, value, &mut state.$field, broken, diags),)*
            }
        }
    };
}

crate::with_kinds!(kind_tables);

/// Load and validate the desired state under `dir`.
pub fn load(dir: &Path) -> Result<DesiredState, LoadError> {
    let files = toml_files(dir)?;
    let mut diags = Diagnostics::default();
    let read = read_files(dir, files, &mut diags)?;
    if read.is_empty() && diags.is_empty() {
        diags.push(
            Diagnostic::error(
                "no-files",
                format!("no *.toml files found under {}", dir.display()),
            )
            .at(Some(Location::file(dir))),
        );
    }
    let mut state = load_read(read, diags)?;
    // Platform scripts and remediations name script files beside the TOML.
    crate::kinds::platform_script::attach_files(dir, &mut state)?;
    Ok(state)
}

/// Read the files found under `dir` by the rules of [`crate::read`]: a file
/// that is refused (a link leaving the directory, a FIFO, a device, too
/// large) is an error naming it, and the others are still read so every
/// problem is reported at once.
fn read_files(
    dir: &Path,
    files: Vec<PathBuf>,
    diags: &mut Diagnostics,
) -> Result<Vec<(PathBuf, Vec<u8>)>, LoadError> {
    let root = std::fs::canonicalize(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let limit = crate::read::max_file_bytes();
    let mut read = Vec::new();
    for path in files {
        match crate::read::read_inside(&root, &path, limit) {
            Ok(bytes) => read.push((path, bytes)),
            Err(crate::read::Refused::Io(source)) => return Err(LoadError::Io { path, source }),
            Err(refused) => {
                let code = match refused {
                    crate::read::Refused::TooLarge { .. } => "file-too-large",
                    _ => "unsafe-file",
                };
                diags.push(
                    Diagnostic::error(code, format!("{} {refused}", path.display()))
                        .at(Some(Location::file(&path)))
                        .with_help("desired state is read only from regular *.toml files inside its directory; nothing of this file was read"),
                );
            }
        }
    }
    Ok(read)
}

/// Load from in-memory files (path, text): used by tests.
pub fn load_str(files: &[(&str, &str)]) -> Result<DesiredState, LoadError> {
    load_read(
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.as_bytes().to_vec()))
            .collect(),
        Diagnostics::default(),
    )
}

/// Load from in-memory files given as raw bytes, exactly as `load` treats
/// files it reads: used by fuzzing and tests of non-UTF-8 input.
pub fn load_bytes(files: &[(&str, &[u8])]) -> Result<DesiredState, LoadError> {
    load_read(
        files
            .iter()
            .map(|(p, b)| (PathBuf::from(p), b.to_vec()))
            .collect(),
        Diagnostics::default(),
    )
}

fn load_read(
    files: Vec<(PathBuf, Vec<u8>)>,
    mut diags: Diagnostics,
) -> Result<DesiredState, LoadError> {
    let mut sources = Vec::new();
    // Files refused before reading may have declared anything.
    let unread = diags
        .errors()
        .any(|d| matches!(d.code, "unsafe-file" | "file-too-large"));
    let mut salvaged = Vec::new();
    for (path, bytes) in files {
        match String::from_utf8(bytes) {
            Ok(text) => sources.push(SourceFile::new(path, text)),
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                salvaged.extend(crate::salvage::declared_addresses(&text));
                let loc = Location::from_span(&path, &text, valid..valid + 1);
                diags.push(
                    Diagnostic::error("not-utf8", "file is not valid UTF-8")
                        .at(Some(loc))
                        .with_help("TOML files must be UTF-8 encoded"),
                );
            }
        }
    }
    load_sources(&sources, diags, salvaged, unread)
}

/// Problems that stop a whole file from being read or parsed: listed before
/// anything else, since whatever follows may be their consequence.
fn is_file_level(code: &str) -> bool {
    matches!(code, "unsafe-file" | "file-too-large" | "not-utf8" | "syntax")
}

fn load_sources(
    sources: &[SourceFile],
    mut diags: Diagnostics,
    mut salvaged: Vec<crate::Address>,
    unread: bool,
) -> Result<DesiredState, LoadError> {
    let mut state = DesiredState::default();
    let mut broken = Broken::default();
    for source in sources {
        if !load_file(source, sources, &mut state, &mut broken, &mut diags) {
            salvaged.extend(crate::salvage::declared_addresses(&source.text));
        }
    }
    state.broken = broken.resources.into_keys().collect();
    // Resources a file that failed to parse meant to declare count as
    // broken too, so references to them are not reported as unknown.
    state.broken.extend(salvaged);
    // Validate what did parse, so every problem is reported in one run;
    // references to resources that failed to parse are not reported again.
    crate::validate::validate(&state, sources, &mut diags);
    crate::limits::check(&state, sources, &mut diags);
    crate::change_limits::check(&state, sources, &mut diags);
    crate::env_names::check(&state, sources, &mut diags);
    crate::limits::shorten(&mut diags);
    if unread {
        // A file that was refused unread could have declared anything.
        diags.0.retain(|d| d.code != "unknown-reference");
    }
    diags.sort();
    // Stable: file order within each group is kept.
    diags.0.sort_by_key(|d| !is_file_level(d.code));
    if diags.has_errors() {
        return Err(LoadError::Invalid(diags));
    }
    state.warnings = diags;
    Ok(state)
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let meta = std::fs::metadata(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(LoadError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory: desired state is a directory of *.toml files; pass the directory that holds this file",
            ),
        });
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| LoadError::Io {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| LoadError::Io {
                path: d.clone(),
                source,
            })?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let ty = entry.file_type().map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            if hidden {
                continue;
            }
            if ty.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            } else if ty.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                // A link to a directory is not followed, but never skipped
                // in silence either: the resources it would hold would look
                // deleted. The reader refuses it with its path.
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Resources that failed to parse, with where they were declared, so a later
/// declaration of the same address is still a duplicate.
#[derive(Default)]
struct Broken {
    resources: BTreeMap<crate::Address, Origin>,
    /// `[tenant]` or `[governance]` tables that failed to parse.
    singletons: BTreeMap<String, Origin>,
}

/// Parse one file into `state`; false when it is not valid TOML at all.
fn load_file(
    source: &SourceFile,
    all: &[SourceFile],
    state: &mut DesiredState,
    broken: &mut Broken,
    diags: &mut Diagnostics,
) -> bool {
    let table: toml::Table = match toml::from_str(&source.text) {
        Ok(t) => t,
        Err(e) => {
            let loc = e
                .span()
                .map(|s| source.location(s))
                .unwrap_or_else(|| Location::file(&source.path));
            diags.push(Diagnostic::error("syntax", one_line(e.message())).at(Some(loc)));
            return false;
        }
    };
    if table.is_empty() {
        diags.push(
            Diagnostic::error("empty-file", "file declares nothing")
                .at(Some(Location::file(&source.path)))
                .with_help("add resources such as [group.KEY], or delete the file"),
        );
        return true;
    }
    for (name, value) in table {
        match name.as_str() {
            "tenant" => singleton(source, all, &name, value, &mut state.tenant, broken, diags),
            "governance" => singleton(source, all, &name, value, &mut state.governance, broken, diags),
            "state" => singleton(source, all, &name, value, &mut state.state, broken, diags),
            "change" => singleton(source, all, &name, value, &mut state.change, broken, diags),
            other => match other.parse::<Kind>() {
                Ok(kind) => kind_resources(source, all, kind, value, state, broken, diags),
                Err(_) => {
                    let mut d = Diagnostic::error("unknown-table", format!("unknown table `{other}`"))
                        .at(Some(source.locate(&path![other])));
                    d = match closest(other, TOP_LEVEL.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!("expected one of: {}", TOP_LEVEL.join(", "))),
                    };
                    diags.push(d);
                }
            },
        }
    }
    true
}

fn singleton<T: DeserializeOwned>(
    source: &SourceFile,
    all: &[SourceFile],
    name: &str,
    value: toml::Value,
    slot: &mut Option<Declared<T>>,
    broken: &mut Broken,
    diags: &mut Diagnostics,
) {
    let here = vec![Seg::from(name)];
    let origin = source.origin(&here);
    let first = slot
        .as_ref()
        .map(|d| &d.origin)
        .or_else(|| broken.singletons.get(name));
    if let Some(first) = first {
        diags.push(duplicate(format!("[{name}]"), source.located(&origin), first, all));
        return;
    }
    if !value.is_table() {
        broken.singletons.insert(name.to_string(), origin.clone());
        let found = if value.is_array() {
            "an array"
        } else {
            value.type_str()
        };
        diags.push(
            Diagnostic::error(
                "wrong-type",
                format!("[{name}] must be a table, found {found}"),
            )
            .at(Some(source.located(&origin)))
            .with_help(format!("write [{name}] once, followed by its fields")),
        );
        return;
    }
    match parse_value(source, &here, value, diags) {
        Some(value) => *slot = Some(Declared { value, origin }),
        None => {
            broken.singletons.insert(name.to_string(), origin);
        }
    }
}

fn resources<T: DeserializeOwned>(
    source: &SourceFile,
    all: &[SourceFile],
    kind: Kind,
    value: toml::Value,
    map: &mut BTreeMap<String, Declared<T>>,
    broken: &mut Broken,
    diags: &mut Diagnostics,
) {
    let toml::Value::Table(entries) = value else {
        let found = match &value {
            toml::Value::Array(a) if a.iter().all(toml::Value::is_table) => "an array of tables",
            other => other.type_str(),
        };
        diags.push(
            Diagnostic::error(
                "wrong-type",
                format!("`{kind}` must be a table of resources keyed by name, found {found}"),
            )
            .at(Some(source.locate(&path![kind.as_str()])))
            .with_help(format!("write [{kind}.KEY] tables")),
        );
        return;
    };
    for (key, value) in entries {
        let here = path![kind.as_str(), &key];
        let origin = source.origin(&here);
        if !is_valid_key(&key) {
            diags.push(
                Diagnostic::error("invalid-key", format!("`{key}` is not a valid key for a {kind}"))
                    .at(Some(source.located(&origin)))
                    .with_help("keys use letters, digits, `-` and `_`, start with a letter or digit, and have no dots"),
            );
            continue;
        }
        let address = crate::Address::new(kind, key.clone());
        if let Some(first) = map
            .get(&key)
            .map(|d| &d.origin)
            .or_else(|| broken.resources.get(&address))
        {
            diags.push(duplicate(format!("{kind}.{key}"), source.located(&origin), first, all));
            continue;
        }
        if !value.is_table() {
            diags.push(
                Diagnostic::error(
                    "wrong-type",
                    format!("{kind}.{key} must be a table, found {}", value.type_str()),
                )
                .at(Some(source.located(&origin)))
                .with_help(format!(
                    "each {kind} is its own table: write [{kind}.{key}] followed by its fields, or `{key}` is a field misplaced under [{kind}]"
                )),
            );
            broken.resources.insert(address, origin);
            continue;
        }
        match parse_value(source, &here, value, diags) {
            Some(value) => {
                map.insert(key, Declared { value, origin });
            }
            None => {
                broken.resources.insert(address, origin);
            }
        }
    }
}

/// Deserialize one resource, turning serde's error into a located diagnostic
/// at the exact field, with a "did you mean" for unknown fields.
fn parse_value<T: DeserializeOwned>(
    source: &SourceFile,
    here: &[Seg],
    value: toml::Value,
    diags: &mut Diagnostics,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(err) => {
            let mut full = here.to_vec();
            for seg in err.path().iter() {
                match seg {
                    serde_path_to_error::Segment::Seq { index } => full.push(Seg::Index(*index)),
                    // toml's private wrapper around native date-times is
                    // not a field anyone wrote.
                    serde_path_to_error::Segment::Map { key }
                        if key == crate::datetime::TOML_DATETIME_FIELD => {}
                    serde_path_to_error::Segment::Map { key } => full.push(Seg::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { variant } => {
                        full.push(Seg::Key(variant.clone()))
                    }
                    serde_path_to_error::Segment::Unknown => {}
                }
            }
            let message = one_line(&err.inner().to_string());
            diags.push(describe(source, &full, &message));
            None
        }
    }
}

/// toml's messages span lines and end with "in `field`", which the location
/// already says: keep the rest on one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| {
            let where_it_is = l.starts_with("in `") && l.ends_with('`');
            !l.is_empty() && !where_it_is
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// `what` is declared a second time at `origin`; the help names the first,
/// located in whichever of `all` declares it.
fn duplicate(what: String, origin: Location, first: &Origin, all: &[SourceFile]) -> Diagnostic {
    let first = all
        .iter()
        .find(|s| s.holds(first))
        .map(|s| s.located(first))
        .unwrap_or_else(|| Location::file(&first.file));
    Diagnostic::error("duplicate", format!("{what} is declared more than once"))
        .at(Some(origin))
        .with_help(format!("first declared at {}:{}:{}", first.file.display(), first.line, first.column))
}

/// Turn serde's message into one of our diagnostics.
fn describe(source: &SourceFile, path: &[Seg], message: &str) -> Diagnostic {
    let what = path_text(path);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // serde_path_to_error's path already ends at the unknown field.
        let parent = match path.last() {
            Some(Seg::Key(k)) if k == field => path_text(&path[..path.len() - 1]),
            _ => what.clone(),
        };
        let d = Diagnostic::error(
            "unknown-field",
            format!("unknown field `{field}` in {parent}"),
        )
        .at(Some(source.locate_key(path)));
        return match closest(field, names.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None if !names.is_empty() => {
                d.with_help(format!("expected one of: {}", names.join(", ")))
            }
            None => d,
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return Diagnostic::error(
            "missing-field",
            format!("{what} is missing required field `{field}`"),
        )
        .at(Some(source.locate(path)));
    }
    if let Some(problem) = crate::datetime::problem_in(message) {
        return Diagnostic::error("invalid-date", format!("{what}: {}", problem.message))
            .at(Some(source.locate(path)))
            .with_help(problem.help);
    }
    if message.starts_with("unknown variant") {
        return Diagnostic::error("invalid-value", format!("{what}: {message}"))
            .at(Some(source.locate(path)));
    }
    Diagnostic::error("wrong-type", format!("{what}: {message}")).at(Some(source.locate(path)))
}

/// `user.alice.assignments.include[2]`
pub(crate) fn path_text(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}
