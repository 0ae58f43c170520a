//! A desired-state file of a few MB with tens of thousands of undeclared
//! references on ONE line (found by a hostile run: 700 000 of them used
//! 24 GB and minutes, each problem scanning and copying the whole line).
//! Each problem now costs bounded work, and the report shows the first few
//! of each kind with an exact count of the rest.

use std::process::Command;

/// References long enough that the line is ~3 MB with 60 000 of them.
fn one_line_file(refs: usize) -> String {
    let members = (0..refs)
        .map(|i| format!("\"nobody-declared-this-member-key-{i:08}\""))
        .collect::<Vec<_>>()
        .join(",");
    format!("[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\nmembers = [{members}]\n")
}

#[test]
fn a_one_line_file_with_many_unknown_references_gives_a_bounded_report() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    let refs = 60_000;
    let text = one_line_file(refs);
    assert!(text.len() > 2_500_000, "{}", text.len());
    std::fs::write(dir.join("groups.toml"), &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .arg("validate")
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // 20 problems shown in full (each with a window of the line, not the
    // 3 MB line), the rest counted exactly.
    assert!(stderr.len() < 20_000, "{} bytes of output", stderr.len());
    assert_eq!(stderr.matches("error[unknown-reference]").count(), 20, "{stderr}");
    assert!(
        stderr.contains(&format!("… and {} more error(s) [unknown-reference] not shown", refs - 20)),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{refs} error(s), 0 warning(s)")), "{stderr}");
    // The first ones are located exactly, with a caret under the value.
    assert!(stderr.contains("--> "), "{stderr}");
    assert!(stderr.contains("groups.toml:4:12"), "{stderr}");
    assert!(stderr.contains("group.g.members[1] refers to `nobody-declared-this-member-key-00000001`"), "{stderr}");
    // "Did you mean" is looked for only for a few: nothing is declared
    // close, so none is given, but the run still ends.
    assert!(!stderr.contains("did you mean"), "{stderr}");
}
