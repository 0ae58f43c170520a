//! Stage 1, before parsing: opening the files of a desired-state directory
//! so that hostile input cannot hurt. A pull request can add anything to a
//! repository that CI plans, so only regular files inside the directory are
//! read:
//!
//! * a symlink whose target leaves the directory (`ln -s /proc/self/environ
//!   env.toml`, `x.toml -> ../.env`), a dangling symlink, a device, a FIFO
//!   or a socket is refused with an error naming the path, and never opened;
//! * files are opened with `O_NOFOLLOW | O_NONBLOCK` and checked again on the
//!   open descriptor, so a file swapped for a FIFO or a link after the check
//!   is still refused and a FIFO cannot hang the run;
//! * at most [`max_file_bytes`] (8 MB unless `TENANTCTL_MAX_FILE_BYTES` says
//!   otherwise) are read, through a bounded reader, so `/dev/zero` or a file
//!   that keeps growing cannot grow memory.
//!
//! Refusals carry no content of the file, so nothing from outside the
//! directory is ever echoed.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The default size limit of one desired-state file (8 MB): far above any
/// real tenant's file, far below what could hurt.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The environment variable that overrides [`DEFAULT_MAX_FILE_BYTES`].
pub const MAX_FILE_BYTES_ENV: &str = "TENANTCTL_MAX_FILE_BYTES";

/// The default size limit of one state file tenantctl writes itself (the
/// ledger, the delta snapshot): they grow with the tenant (the ledger of
/// an exported 100k-object tenant is over 8 MB), so they get their own,
/// larger bound; still bounded, so a wrong path cannot grow memory.
pub const DEFAULT_MAX_STATE_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// The environment variable that overrides [`DEFAULT_MAX_STATE_FILE_BYTES`].
pub const MAX_STATE_FILE_BYTES_ENV: &str = "TENANTCTL_MAX_STATE_FILE_BYTES";

/// Why a file was not read. None of these carry the file's content.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("is a symbolic link to a path outside {root}; only files inside the desired-state directory are read")]
    LinkLeaves { root: PathBuf },
    #[error("is a symbolic link whose target does not exist")]
    Dangling,
    #[error("is a symbolic link to a hidden file or folder ({target}); hidden files and folders are not read, through a link or otherwise")]
    LinkToHidden { target: String },
    #[error("is {what}, not a regular file; only regular files are read")]
    NotRegular { what: &'static str },
    #[error("is larger than the limit of {limit} bytes (set {MAX_FILE_BYTES_ENV} for desired-state files, {MAX_STATE_FILE_BYTES_ENV} for the ledger and other state files, to raise it)")]
    TooLarge { limit: u64 },
    #[error("cannot be read")]
    Io(#[source] std::io::Error),
}

/// The size limit in force: `TENANTCTL_MAX_FILE_BYTES` when it holds a
/// positive number, else [`DEFAULT_MAX_FILE_BYTES`].
pub fn max_file_bytes() -> u64 {
    std::env::var(MAX_FILE_BYTES_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_FILE_BYTES)
}

/// The size limit for state files (ledger, delta snapshot, reports):
/// `TENANTCTL_MAX_STATE_FILE_BYTES` when it holds a positive number, else
/// [`DEFAULT_MAX_STATE_FILE_BYTES`]; never below [`max_file_bytes`].
pub fn max_state_file_bytes() -> u64 {
    std::env::var(MAX_STATE_FILE_BYTES_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_STATE_FILE_BYTES)
        .max(max_file_bytes())
}

/// What kind of non-regular file `meta` describes, for the refusal.
fn describe(meta: &Metadata) -> &'static str {
    let ty = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ty.is_socket() {
            return "a socket";
        }
        if ty.is_block_device() || ty.is_char_device() {
            return "a device";
        }
    }
    if ty.is_dir() {
        "a directory"
    } else if ty.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// The path to open for `path`: itself, or for a symlink its target, which
/// must lie inside `root` (canonical). Nothing is opened here.
pub fn resolve_inside(root: &Path, path: &Path) -> Result<PathBuf, Refused> {
    let meta = std::fs::symlink_metadata(path).map_err(Refused::Io)?;
    let target = if meta.file_type().is_symlink() {
        let target = match std::fs::canonicalize(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refused::Dangling),
            Err(e) => return Err(Refused::Io(e)),
        };
        if !target.starts_with(root) {
            return Err(Refused::LinkLeaves {
                root: root.to_path_buf(),
            });
        }
        target
    } else {
        path.to_path_buf()
    };
    let meta = std::fs::symlink_metadata(&target).map_err(Refused::Io)?;
    if !meta.file_type().is_file() {
        return Err(Refused::NotRegular {
            what: describe(&meta),
        });
    }
    Ok(target)
}

/// Open a regular file without following a final symlink and without
/// blocking on a FIFO, then check what was opened.
fn open_regular(path: &Path) -> Result<File, Refused> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        // O_NOFOLLOW on a symlink: it was swapped in after the check.
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Refused::NotRegular {
                what: "a symbolic link",
            })
        }
        Err(e) => return Err(Refused::Io(e)),
    };
    let meta = file.metadata().map_err(Refused::Io)?;
    if !meta.file_type().is_file() {
        return Err(Refused::NotRegular {
            what: describe(&meta),
        });
    }
    Ok(file)
}

/// Read at most `limit` bytes of an open regular file; more is refused.
fn read_bounded(file: File, limit: u64) -> Result<Vec<u8>, Refused> {
    let size = file.metadata().map_err(Refused::Io)?.len();
    if size > limit {
        return Err(Refused::TooLarge { limit });
    }
    // The size can lie (files under /proc say 0) or change while reading:
    // the reader stops one byte past the limit whatever it says.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Refused::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Refused::TooLarge { limit });
    }
    Ok(bytes)
}

/// Read `path`, a file found under the canonical directory `root`, as the
/// loader may: a regular file (or a symlink to one inside `root`) of at
/// most `limit` bytes.
///
/// Hidden files and folders (a name starting with `.`: `.env`, `.git/`)
/// are skipped when listing the directory; a link to one is refused too,
/// so `x.toml -> .env` cannot read what the listing would never read.
pub fn read_inside(root: &Path, path: &Path, limit: u64) -> Result<Vec<u8>, Refused> {
    let target = resolve_inside(root, path)?;
    if target != path {
        let inside = target.strip_prefix(root).unwrap_or(&target);
        if inside.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')) {
            return Err(Refused::LinkToHidden {
                target: crate::diagnostic::shown_path(inside),
            });
        }
    }
    read_bounded(open_regular(&target)?, limit)
}

/// Read a state file (such as the ledger) that may not exist: `Ok(None)`
/// when it does not, else the same rules as [`read_inside`] with `root` the
/// file's own directory.
pub fn read_state_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, Refused> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Refused::Io(e)),
        Ok(_) => {}
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let root = std::fs::canonicalize(parent).map_err(Refused::Io)?;
    let target = resolve_inside(&root, path)?;
    read_bounded(open_regular(&target)?, limit).map(Some)
}

/// Opens a state file (the journal, the ledger's log) for appending,
/// creating it if missing, but never through a symbolic link (a link
/// planted beside the ledger would otherwise redirect tenantctl's writes to
/// any file) and only as a regular file (a FIFO does not block: it is
/// refused).
pub fn open_append(path: &Path) -> std::io::Result<File> {
    use std::io::{Seek, SeekFrom, Write};
    let mut options = OpenOptions::new();
    options.create(true).read(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let existed = path.symlink_metadata().is_ok();
    let mut file = options.open(path).map_err(|e| refused_link(path, e))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(format!("{} is a {}, not a regular file", path.display(), describe(&meta))));
    }
    if !existed {
        // A new journal or log: its name in the folder is made durable too.
        sync_parent(path)?;
    }
    // A line cut short by a kill is ended first, so the next line is not
    // glued to it (and lost to whoever reads the file line by line).
    if meta.len() > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(meta.len() - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

/// Makes a rename, link, creation or removal of `path` durable: the folder
/// holding it is synced (unix; elsewhere nothing to do), so after a power
/// loss the ledger, journal, trust root or lock is the new file, not the
/// old one or none.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `path` as a new regular file: never through a link, never over
/// an existing file (the temporary files of atomic rewrites and probes).
pub fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| refused_link(path, e))
}

/// `ELOOP` from `O_NOFOLLOW` means a symbolic link stood at `path`.
fn refused_link(path: &Path, e: std::io::Error) -> std::io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return std::io::Error::other(format!("{} is a symbolic link; tenantctl writes its state files only as regular files", path.display()));
    }
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        return std::io::Error::other(format!("{} already exists (a file or link left there); remove it", path.display()));
    }
    e
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_folder_of_a_state_file_is_synced() {
        let dir = tempfile::tempdir().expect("test fixture");
        sync_parent(&dir.path().join("ledger.lock")).expect("test fixture");
        assert!(sync_parent(&dir.path().join("missing/ledger.lock")).is_err());
        open_append(&dir.path().join("journal.jsonl")).expect("test fixture");
        assert!(dir.path().join("journal.jsonl").is_file());
    }

    #[test]
    fn regular_files_inside_are_read_links_leaving_are_not() {
        let dir = tempfile::tempdir().expect("test fixture");
        let outside = tempfile::tempdir().expect("test fixture");
        let root = std::fs::canonicalize(dir.path()).expect("test fixture");
        std::fs::write(root.join("a.toml"), "x = 1").expect("test fixture");
        std::fs::write(outside.path().join("secret"), "SENTINEL").expect("test fixture");
        std::os::unix::fs::symlink(root.join("a.toml"), root.join("b.toml")).expect("test fixture");
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("c.toml")).expect("test fixture");
        std::os::unix::fs::symlink(root.join("missing"), root.join("d.toml")).expect("test fixture");
        assert_eq!(
            read_inside(&root, &root.join("a.toml"), 100).expect("test fixture"),
            b"x = 1"
        );
        assert_eq!(
            read_inside(&root, &root.join("b.toml"), 100).expect("test fixture"),
            b"x = 1"
        );
        assert!(matches!(
            read_inside(&root, &root.join("c.toml"), 100),
            Err(Refused::LinkLeaves { .. })
        ));
        assert!(matches!(
            read_inside(&root, &root.join("d.toml"), 100),
            Err(Refused::Dangling)
        ));
        assert!(matches!(
            read_inside(&root, &root.join("a.toml"), 4),
            Err(Refused::TooLarge { limit: 4 })
        ));
    }

    #[test]
    fn a_link_swapped_in_after_the_check_is_not_followed() {
        let dir = tempfile::tempdir().expect("test fixture");
        let root = std::fs::canonicalize(dir.path()).expect("test fixture");
        std::os::unix::fs::symlink("/dev/zero", root.join("z.toml")).expect("test fixture");
        assert!(matches!(
            open_regular(&root.join("z.toml")),
            Err(Refused::NotRegular { .. })
        ));
    }

    #[test]
    fn the_bounded_reader_stops_at_the_limit_whatever_the_size_says() {
        // /dev/zero is a device, so open it directly to test the reader alone.
        let zero = File::open("/dev/zero").expect("test fixture");
        assert!(matches!(
            read_bounded(zero, 1024),
            Err(Refused::TooLarge { limit: 1024 })
        ));
    }
}

#[cfg(all(test, unix))]
mod append_tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_line_cut_short_is_ended_before_the_next_is_appended() {
        let dir = tempfile::tempdir().expect("test fixture");
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").expect("test fixture");
        open_append(&path).expect("test fixture").write_all(b"{\"c\":3}\n").expect("test fixture");
        let text = std::fs::read_to_string(&path).expect("test fixture");
        assert_eq!(text.lines().collect::<Vec<_>>(), ["{\"a\":1}", "{\"b\":", "{\"c\":3}"]);
        // A whole last line is left as it is.
        open_append(&path).expect("test fixture").write_all(b"{\"d\":4}\n").expect("test fixture");
        assert!(std::fs::read_to_string(&path).expect("test fixture").ends_with("{\"c\":3}\n{\"d\":4}\n"));
    }

    #[test]
    fn a_link_is_never_appended_through() {
        let dir = tempfile::tempdir().expect("test fixture");
        let target = dir.path().join("target");
        std::fs::write(&target, "x").expect("test fixture");
        std::os::unix::fs::symlink(&target, dir.path().join("link")).expect("test fixture");
        assert!(open_append(&dir.path().join("link")).is_err());
        assert_eq!(std::fs::read_to_string(&target).expect("test fixture"), "x");
    }
}
