//! Found by a hostile run: a file named with a newline or an ANSI escape
//! forged lines of the report, and a symlink inside the desired-state
//! folder to a hidden file (`x.toml -> .env`) was read although the hidden
//! file itself is skipped.

#![cfg(unix)]

use std::process::Command;

fn validate(dir: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tenantctl")).arg("validate").arg(dir).env("NO_COLOR", "1").output().unwrap();
    (out.status.code(), format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn file_names_cannot_forge_the_report() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    // Each file has a syntax error, so its name is shown in a location.
    for name in ["a\nerror: all good, 0 error(s).toml", "b\u{1b}[2J\u{1b}[32m.toml", "c\u{202e}lmot.toml"] {
        std::fs::write(dir.join(name), "[group.x\n").unwrap();
    }
    let (code, out) = validate(&dir);
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}'), "{out:?}");
    assert!(!out.lines().any(|l| l.starts_with("error: all good")), "a name started a line:\n{out}");
    assert!(out.contains("a\\u{a}error: all good, 0 error(s).toml:1:"), "{out}");
    assert!(out.contains("b\\u{1b}[2J\\u{1b}[32m.toml:1:"), "{out}");
    assert!(out.contains("c\\u{202e}lmot.toml:1:"), "{out}");
}

#[test]
fn a_link_to_a_hidden_file_inside_the_folder_is_refused_not_read() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(dir.join("tenant.toml"), "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n").unwrap();
    // Hidden files hold what must never be shown; as TOML they would fail
    // to parse and be echoed in the syntax error.
    std::fs::write(dir.join(".env"), "AZURE_CLIENT_SECRET=SENTINEL-hidden-1\n").unwrap();
    std::fs::write(dir.join(".git/config"), "token = SENTINEL-hidden-2 [\n").unwrap();
    let (code, out) = validate(&dir);
    assert_eq!(code, Some(0), "hidden files themselves are skipped:\n{out}");
    std::os::unix::fs::symlink(".env", dir.join("env.toml")).unwrap();
    std::os::unix::fs::symlink(dir.join(".git/config"), dir.join("git.toml")).unwrap();
    let (code, out) = validate(&dir);
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains("SENTINEL"), "a hidden file was read:\n{out}");
    assert!(out.contains("env.toml is a symbolic link to a hidden file or folder (.env)"), "{out}");
    assert!(out.contains("git.toml is a symbolic link to a hidden file or folder (.git/config)"), "{out}");
    // A link to a visible file inside is still read.
    std::fs::remove_file(dir.join("env.toml")).unwrap();
    std::fs::remove_file(dir.join("git.toml")).unwrap();
    std::fs::create_dir_all(dir.join("shared")).unwrap();
    std::fs::write(dir.join("shared/groups.inc"), "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\n").unwrap();
    std::os::unix::fs::symlink("shared/groups.inc", dir.join("groups.toml")).unwrap();
    let (code, out) = validate(&dir);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("group") && out.contains('1'), "{out}");
}
