//! The sandbox's state database is opened only as a regular file. SQLite
//! follows links and opens whatever is at the path (and beside it, its
//! `-wal` and `-shm` files), so a link planted at `.tenantctl/sandbox.db`
//! would make tenantctl write its tenant into any file the user can write,
//! and a FIFO would hang it. Checked with `lstat`, before SQLite opens it.

use std::path::{Path, PathBuf};

use crate::error::SandboxError;

/// Refuse `db` (and its `-wal`/`-shm` companions) when something other
/// than a regular file stands there; a missing file is fine (created).
pub fn check(db: &Path) -> Result<(), SandboxError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(SandboxError::UnsafeStateFile { path: path.display().to_string(), what: format!("cannot be looked at: {e}") }),
        };
        let ty = meta.file_type();
        let what = if ty.is_symlink() {
            "a symbolic link"
        } else if ty.is_dir() {
            "a directory"
        } else if !ty.is_file() {
            "a FIFO, socket or device"
        } else {
            continue;
        };
        return Err(SandboxError::UnsafeStateFile { path: path.display().to_string(), what: what.into() });
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn only_regular_files_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sandbox.db");
        super::check(&db).unwrap();
        std::fs::write(&db, "").unwrap();
        super::check(&db).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("sandbox.db-wal")).unwrap();
        let e = super::check(&db).unwrap_err().to_string();
        assert!(e.contains("sandbox.db-wal") && e.contains("symbolic link"), "{e}");
    }
}
