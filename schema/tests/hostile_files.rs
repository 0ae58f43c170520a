//! Input that cannot hurt: the loader reads only regular files inside the
//! desired-state directory, caps their size, never echoes content from
//! outside, and a file that fails to parse does not drown its own error in
//! false `unknown-reference` errors.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use schema::{load, Diagnostics, LoadError};

const GROUP: &str = "[group.ring]\ndisplay_name = \"Ring\"\nmail_nickname = \"ring\"\n";
const SENTINEL: &str = "SENTINEL-client-secret-7f3a9c";

fn invalid(dir: &Path) -> Diagnostics {
    match load(dir) {
        Err(LoadError::Invalid(d)) => d,
        Err(e) => panic!("expected located errors, got {e}"),
        Ok(_) => panic!("expected the load to fail"),
    }
}

/// The one error about `name`, located at that file, and the whole output
/// free of the sentinel.
fn refused(d: &Diagnostics, name: &str) -> String {
    let shown = d.to_string();
    assert!(
        !shown.contains(SENTINEL),
        "content from outside leaked:\n{shown}"
    );
    let errors: Vec<_> = d
        .errors()
        .filter(|e| e.location.as_ref().is_some_and(|l| l.file.ends_with(name)))
        .collect();
    assert_eq!(errors.len(), 1, "{shown}");
    let e = errors[0];
    assert!(e.message.contains(name), "the error names the path: {e}");
    assert!(shown.contains(&format!("{name}:1:1")), "{shown}");
    e.to_string()
}

fn dir_with_group() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("groups.toml"), GROUP).unwrap();
    dir
}

#[test]
fn a_symlink_to_a_file_outside_is_refused_unread() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(
        outside.path().join(".env"),
        format!("AZURE_CLIENT_SECRET = {SENTINEL}\n"),
    )
    .unwrap();
    let dir = dir_with_group();
    symlink(outside.path().join(".env"), dir.path().join("x.toml")).unwrap();
    // Relative links leaving the directory too.
    fs::create_dir(dir.path().join("sub")).unwrap();
    symlink(
        "../../../../../../..".to_string() + &outside.path().join(".env").display().to_string(),
        dir.path().join("sub/y.toml"),
    )
    .unwrap();
    let d = invalid(dir.path());
    let e = refused(&d, "x.toml");
    assert!(e.contains("outside"), "{e}");
    refused(&d, "sub/y.toml");
    assert!(d.errors().all(|e| e.code == "unsafe-file"), "{d}");
}

#[test]
fn a_symlink_to_proc_self_environ_is_refused_unread() {
    std::env::set_var("TENANTCTL_TEST_SENTINEL", SENTINEL);
    let dir = dir_with_group();
    symlink("/proc/self/environ", dir.path().join("env.toml")).unwrap();
    let d = invalid(dir.path());
    refused(&d, "env.toml");
}

#[test]
fn a_symlink_to_dev_zero_is_refused_without_reading() {
    let dir = dir_with_group();
    symlink("/dev/zero", dir.path().join("zero.toml")).unwrap();
    // Returning at all shows nothing was read from /dev/zero.
    let d = invalid(dir.path());
    refused(&d, "zero.toml");
}

#[test]
fn a_fifo_is_refused_and_does_not_hang() {
    let dir = dir_with_group();
    let fifo = dir.path().join("pipe.toml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let d = invalid(dir.path());
    let e = refused(&d, "pipe.toml");
    assert!(e.contains("FIFO"), "{e}");
}

#[test]
fn a_50_mb_file_is_refused_with_the_limit() {
    let dir = dir_with_group();
    let big = fs::File::create(dir.path().join("big.toml")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    let d = invalid(dir.path());
    let e = refused(&d, "big.toml");
    assert!(
        e.contains("8388608 bytes") && e.contains("TENANTCTL_MAX_FILE_BYTES"),
        "{e}"
    );
    assert_eq!(d.errors().next().unwrap().code, "file-too-large");
}

#[test]
fn a_symlink_inside_the_directory_is_read() {
    let dir = dir_with_group();
    fs::create_dir(dir.path().join("shared")).unwrap();
    fs::write(
        dir.path().join("shared/tenant.toml.txt"),
        "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n",
    )
    .unwrap();
    symlink("shared/tenant.toml.txt", dir.path().join("tenant.toml")).unwrap();
    let state = load(dir.path()).expect("a link inside the directory is followed");
    assert!(state.tenant.is_some());
}

#[test]
fn a_syntax_error_gives_exactly_the_real_error() {
    let dir = tempfile::tempdir().unwrap();
    // b.toml declares five groups and has one syntax error at its end.
    let mut groups = String::new();
    for k in ["g1", "g2", "g3", "g4"] {
        groups.push_str(&format!(
            "[group.{k}]\ndisplay_name = \"{k}\"\nmail_nickname = \"{k}\"\n\n"
        ));
    }
    groups.push_str("[group]\ng5 = { display_name = \"g5\", mail_nickname = \"g5\" }\n");
    groups.push_str("[group.g6]\ndisplay_name = \"g6\nmail_nickname = \"g6\"\n");
    fs::write(dir.path().join("b.toml"), groups).unwrap();
    // a.toml, listed first, refers to all of them many times.
    let mut refs = String::new();
    for (i, k) in ["g1", "g2", "g3", "g4", "g5", "g6"]
        .iter()
        .cycle()
        .take(15)
        .enumerate()
    {
        refs.push_str(&format!(
            "[update_ring.r{i}]\ndisplay_name = \"Ring {i}\"\nassignments = {{ include = [\"{k}\"] }}\n\n"
        ));
    }
    fs::write(dir.path().join("a.toml"), refs).unwrap();
    let d = invalid(dir.path());
    let errors: Vec<_> = d.errors().collect();
    assert_eq!(errors.len(), 1, "only the syntax error:\n{d}");
    assert_eq!(errors[0].code, "syntax", "{d}");
    assert!(errors[0]
        .location
        .as_ref()
        .unwrap()
        .file
        .ends_with("b.toml"));
    // A reference to something no file declares is still reported, after
    // the file-level error.
    fs::write(
        dir.path().join("c.toml"),
        "[update_ring.x]\ndisplay_name = \"X\"\nassignments = { include = [\"nowhere\"] }\n",
    )
    .unwrap();
    let d = invalid(dir.path());
    let codes: Vec<&str> = d.errors().map(|e| e.code).collect();
    assert_eq!(codes, ["syntax", "unknown-reference"], "{d}");
}

#[test]
fn a_refused_file_suppresses_unknown_references_it_may_have_satisfied() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("a.toml"),
        "[update_ring.x]\ndisplay_name = \"X\"\nassignments = { include = [\"ring\"] }\n",
    )
    .unwrap();
    symlink("/dev/zero", dir.path().join("groups.toml")).unwrap();
    let d = invalid(dir.path());
    let codes: Vec<&str> = d.errors().map(|e| e.code).collect();
    assert_eq!(codes, ["unsafe-file"], "{d}");
}

#[test]
fn a_symlinked_directory_is_refused_not_skipped() {
    let dir = dir_with_group();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("policies.toml"), format!("# {SENTINEL}\n{GROUP}")).unwrap();
    symlink(outside.path(), dir.path().join("shared")).unwrap();
    let d = invalid(dir.path());
    refused(&d, "shared");
}

/// The example tenant with a syntax error in groups.toml: the Managed
/// Desktop markings in tenant.toml name groups that file meant to declare,
/// and are not reported as unknown.
#[test]
fn a_syntax_error_in_the_examples_groups_gives_only_that_error() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../desired-state");
    for f in fs::read_dir(&example).unwrap() {
        let p = f.unwrap().path();
        fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let groups = dir.path().join("groups.toml");
    let text = fs::read_to_string(&groups).unwrap();
    fs::write(&groups, format!("{text}\n[group.broken\n")).unwrap();
    let d = invalid(dir.path());
    let codes: Vec<&str> = d.errors().map(|e| e.code).collect();
    assert_eq!(codes, ["syntax"], "{d}");
}
