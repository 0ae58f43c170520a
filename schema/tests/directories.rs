//! `load` on real directories: recursive, merged, hidden entries and other
//! extensions skipped, and clear I/O errors for paths that are not one.

use std::fs;

use schema::{load, Kind, LoadError};

const TENANT: &str = "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n";
const GROUP: &str = "[group.ring]\ndisplay_name = \"Ring\"\nmail_nickname = \"ring\"\n";

#[test]
fn every_toml_file_below_the_directory_is_merged() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("nested/deeper")).unwrap();
    fs::create_dir_all(dir.path().join(".git")).unwrap();
    fs::write(dir.path().join("tenant.toml"), TENANT).unwrap();
    fs::write(dir.path().join("nested/deeper/groups.toml"), GROUP).unwrap();
    fs::write(dir.path().join("nested/notes.md"), "[group.x]\n").unwrap();
    fs::write(dir.path().join(".git/config.toml"), "garbage = [").unwrap();
    fs::write(dir.path().join(".hidden.toml"), "garbage = [").unwrap();
    let state = load(dir.path()).expect("loads");
    assert!(state.tenant.is_some());
    assert_eq!(
        state.counts().into_iter().find(|(k, _)| *k == Kind::Group),
        Some((Kind::Group, 1))
    );
    assert!(state.group["ring"]
        .origin
        .file
        .ends_with("nested/deeper/groups.toml"));
}

#[test]
fn duplicates_across_nested_files_name_both_places() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("sub")).unwrap();
    fs::write(dir.path().join("a.toml"), GROUP).unwrap();
    fs::write(dir.path().join("sub/b.toml"), format!("# moved\n{GROUP}")).unwrap();
    let Err(LoadError::Invalid(d)) = load(dir.path()) else {
        panic!("expected a duplicate")
    };
    let dup = d
        .errors()
        .find(|d| d.code == "duplicate")
        .expect("duplicate reported");
    let loc = dup.location.as_ref().unwrap();
    assert!(loc.file.ends_with("sub/b.toml") && loc.line == 2, "{dup}");
    assert!(
        dup.help.as_deref().unwrap_or("").contains("a.toml:1:1"),
        "{dup}"
    );
}

#[test]
fn a_missing_path_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    match load(&missing) {
        Err(LoadError::Io { path, source }) => {
            assert_eq!(path, missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn a_file_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.toml");
    fs::write(&file, TENANT).unwrap();
    match load(&file) {
        Err(e @ LoadError::Io { .. }) => {
            let LoadError::Io { source, .. } = &e else {
                unreachable!()
            };
            assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory);
            assert!(e.to_string().contains("tenant.toml"), "{e}");
            assert!(
                source.to_string().contains("pass the directory"),
                "{source}"
            );
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn an_empty_directory_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let Err(LoadError::Invalid(d)) = load(dir.path()) else {
        panic!("expected an error")
    };
    assert_eq!(d.0[0].code, "no-files");
    assert_eq!(
        d.0[0].location.as_ref().map(|l| (l.line, l.column)),
        Some((1, 1))
    );
}
