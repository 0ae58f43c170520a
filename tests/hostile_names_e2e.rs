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

/// The embedded sandbox's database is opened by SQLite, which follows
/// links: a link or FIFO planted at `.tenantctl/sandbox.db` (or its `-wal`)
/// is refused, naming it, and its target is not written.
#[test]
fn a_planted_link_or_fifo_at_the_sandbox_database_is_refused() {
    for plant in ["link", "wal-link", "fifo"] {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("desired");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("groups.toml"), "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\n").unwrap();
        let state = work.path().join(".tenantctl");
        std::fs::create_dir_all(&state).unwrap();
        let victim = work.path().join("victim.txt");
        std::fs::write(&victim, "keep").unwrap();
        let at = match plant {
            "link" => {
                std::os::unix::fs::symlink(&victim, state.join("sandbox.db")).unwrap();
                "sandbox.db is a symbolic link"
            }
            "wal-link" => {
                std::os::unix::fs::symlink(&victim, state.join("sandbox.db-wal")).unwrap();
                "sandbox.db-wal is a symbolic link"
            }
            _ => {
                assert!(Command::new("mkfifo").arg(state.join("sandbox.db")).status().unwrap().success());
                "sandbox.db is a FIFO"
            }
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
            .current_dir(work.path())
            .args(["plan", "desired"])
            .env("NO_COLOR", "1")
            .env_remove("TENANTCTL_GRAPH_URL")
            .env_remove("TENANTCTL_LEDGER")
            .env_remove("AZURE_TENANT_ID")
            .env_remove("AZURE_CLIENT_ID")
            .env_remove("AZURE_CLIENT_SECRET")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{plant}: plan hung");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{plant}: {err}");
        assert!(err.contains(at), "{plant}: {err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep", "{plant}");
    }
}
