//! Hostile strings through every renderer. Live values (objects renamed out
//! of band, unmanaged policies) reach the renderers without passing
//! validation, so they are tested through live objects in the sandbox; a
//! declared hostile name goes through validation and the same renderers;
//! a 10 MB name is refused at validate. Every output either escapes the
//! value for its format or never contains it.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

/// The table: HTML/Markdown injection, control characters and terminal
/// escapes, right-to-left overrides and isolates.
const HOSTILE: &[&str] = &[
    "<img src=x onerror=alert(1)></details><script>alert(2)</script>",
    "Invoice\u{202E}fdp.exe",
    "red\x1b[31mALERT\x1b[0m\nforged line: all in sync\r\tend",
    "| cell | `code` [link](http://evil.example) ![px](http://evil.example/p.png) *em* ~~s~~ \\",
    "\u{2066}isolated\u{2069}\u{200B}\u{FEFF}\u{85}",
];

/// What must never appear raw in a text, Markdown or HTML output.
const RAW: &[&str] = &[
    "\u{202E}", "\u{2066}", "\u{2069}", "\u{200B}", "\u{FEFF}", "\u{85}", "\x1b", "\r", "\t",
];
/// What must never appear raw in Markdown or HTML (text shows it as is).
const MARKUP: &[&str] = &["<img", "<script", "[link](", "![px]("];

fn fixture(dir: &Path, domain: &str, extra: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("tenant.toml"),
        format!(
            r#"
[tenant]
primary_domain = "{domain}"

[governance]
approvals_required = 0
unattended = "a test fixture of rendering and reads, not of approval"

[group.devices]
display_name = "Managed Devices"
mail_nickname = "managed-devices"

[device_configuration.base]
odata_type = "windows10GeneralConfiguration"
display_name = "Baseline"
settings = {{ passwordRequired = true }}
assignments = {{ include = ["devices"] }}
{extra}"#
        ),
    )
    .unwrap();
}

fn assert_escaped(what: &str, out: &str) {
    for raw in RAW {
        assert!(!out.contains(raw), "{what} contains {raw:?} raw:\n{out}");
    }
    assert!(
        !out.lines()
            .any(|l| l.trim_start().starts_with("forged line")),
        "{what}: a value started a line of its own:\n{out}"
    );
    if what.contains("markdown") || what.contains("html") {
        // Inside a code fence markup is shown literally; a value cannot
        // close the fence (every fence line is one of ours: "```diff" or "```").
        let outside = without_code_spans(&outside_fences(what, out));
        // Markdown links mean nothing in HTML; tags mean something in both.
        for raw in MARKUP
            .iter()
            .filter(|m| what.contains("markdown") || m.starts_with('<'))
        {
            assert!(
                !outside.contains(raw),
                "{what} contains {raw:?} raw outside code fences:\n{out}"
            );
        }
    }
}

/// Markdown text with its code spans (shown literally) removed: a run of n
/// backticks up to the next run of exactly n.
fn without_code_spans(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|c| **c == '`').count();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let n = run_at(i);
        let mut j = i + n;
        let mut closed = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let m = run_at(j);
                if m == n {
                    closed = Some(j + m);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match closed {
            Some(end) => i = end,
            None => {
                out.extend(&chars[i..i + n]);
                i += n;
            }
        }
    }
    out
}

fn outside_fences(what: &str, out: &str) -> String {
    let mut inside = false;
    let mut kept = String::new();
    for line in out.lines() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            assert!(
                line == "```diff" && !inside || line == "```" && inside,
                "{what}: unexpected fence line {line:?}:\n{out}"
            );
            inside = !inside;
            continue;
        }
        if !inside {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    assert!(!inside, "{what}: an unclosed fence:\n{out}");
    kept
}

fn assert_markdown_structure(what: &str, out: &str) {
    let out = &without_code_spans(&outside_fences(what, out));
    assert_eq!(
        out.matches("<details>").count(),
        out.matches("</details>").count(),
        "{what}: a value closed a <details>:\n{out}"
    );
    assert!(!out.contains("</details><script"), "{what}:\n{out}");
    // Every row of a table has its header's column count: no value adds a cell.
    let mut header: Option<usize> = None;
    for line in out.lines() {
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let cells = line.replace("\\|", "").matches('|').count();
        match header {
            None => header = Some(cells),
            Some(n) => assert_eq!(cells, n, "{what}: a value split a table row: {line}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_live_values_are_escaped_by_every_renderer() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    fixture(&dir, &sb.domain(), "");
    let state = schema::load(&dir).expect("fixture loads");
    let client = client(&sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(work.path().join("tenantctl.lock"), ledger.render()).unwrap();

    // Out of band: the managed policy renamed, a setting changed to a
    // hostile value, and unmanaged policies named with every hostile string.
    let base = ledger
        .id(&"device_configuration.base".parse().unwrap())
        .unwrap()
        .to_string();
    let url = format!(
        "{}/_sandbox/objects/deviceConfigurations/{base}",
        sb.base_url()
    );
    let r = reqwest::Client::new()
        .patch(&url)
        .json(&json!({"displayName": HOSTILE.join(" / "), "passwordRequired": HOSTILE[2]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    for name in HOSTILE {
        client
            .beta()
            .post_json("/deviceManagement/deviceConfigurations", json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": name}))
            .await
            .unwrap();
    }

    let d = dir.to_str().unwrap();
    let now = "2026-11-23T12:00:00Z";
    for (what, args) in [
        ("plan text", vec!["plan", d]),
        ("plan markdown", vec!["plan", d, "--format", "markdown"]),
        ("drift text", vec!["drift", d, "--no-record", "--now", now]),
        (
            "drift markdown",
            vec![
                "drift",
                d,
                "--format",
                "markdown",
                "--no-record",
                "--now",
                now,
            ],
        ),
        (
            "drift html",
            vec!["drift", d, "--format", "html", "--no-record", "--now", now],
        ),
    ] {
        let o = cli(&sb, work.path(), &args);
        let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
        assert!(
            o.status.code().is_some_and(|c| c != 101),
            "{what}: {stderr}"
        );
        assert!(
            stdout.contains("Invoice"),
            "{what} shows the live objects:\n{stdout}\n{stderr}"
        );
        assert_escaped(what, &stdout);
        assert_escaped(&format!("{what} (stderr)"), &stderr);
        if what.ends_with("markdown") {
            assert_markdown_structure(what, &stdout);
        }
        if what.ends_with("html") {
            assert!(
                stdout.contains("&lt;img src=x onerror=alert(1)&gt;&lt;/details&gt;"),
                "{stdout}"
            );
        }
        if what == "drift text" {
            assert!(
                stdout.contains("Invoice\\u{202e}fdp.exe"),
                "the override is shown escaped:\n{stdout}"
            );
        }
    }
    // JSON keeps the exact values (serde escapes them for JSON).
    for args in [
        vec!["plan", d, "--format", "json"],
        vec!["drift", d, "--format", "json", "--no-record", "--now", now],
    ] {
        let o = cli(&sb, work.path(), &args);
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)));
        let all = v.to_string();
        assert!(
            !text(&o.stdout).contains('\x1b') && !text(&o.stdout).contains("\nforged"),
            "JSON escapes control characters"
        );
        assert!(
            all.contains("Invoice\u{202E}fdp.exe") || all.contains("Invoice\\u202efdp.exe"),
            "JSON round-trips the live value: {all}"
        );
    }
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_declared_values_are_escaped_or_refused() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    // Declared names with injection, overrides and (TOML-escaped) controls.
    let mut extra = String::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        let toml_string = serde_json::to_string(h).unwrap();
        extra.push_str(&format!("\n[group.hostile{i}]\ndisplay_name = {toml_string}\nmail_nickname = \"hostile{i}\"\ndescription = {toml_string}\n"));
    }
    fixture(&dir, &sb.domain(), &extra);
    let d = dir.to_str().unwrap();
    for (what, args) in [
        ("validate", vec!["validate", d]),
        ("plan text", vec!["plan", d]),
        ("plan markdown", vec!["plan", d, "--format", "markdown"]),
    ] {
        let o = cli(&sb, work.path(), &args);
        let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{what}: {stderr}");
        assert_escaped(what, &stdout);
        if what == "plan markdown" {
            assert_markdown_structure(what, &stdout);
            assert!(
                stdout.contains("&lt;img src=x onerror=alert(1)&gt;&lt;/details&gt;"),
                "{stdout}"
            );
        }
    }

    // A 10 MB name is refused at validate, at its location, in a short
    // report (the file limit raised so the value reaches validation).
    let huge = format!(
        "\n[group.huge]\nmail_nickname = \"huge\"\ndisplay_name = \"{}\"\n",
        "<b>\u{202E}".repeat(10 * 1024 * 1024 / 6)
    );
    std::fs::write(dir.join("huge.toml"), &huge).unwrap();
    let o = command(&sb, work.path())
        .env("TENANTCTL_MAX_FILE_BYTES", (20 * 1024 * 1024).to_string())
        .args(["validate", d])
        .output()
        .unwrap();
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{}", &out[..out.len().min(3000)]);
    assert!(
        out.contains("error[too-long]: group.huge: display_name is")
            && out.contains("huge.toml:4:16"),
        "{}",
        &out[..out.len().min(3000)]
    );
    assert!(out.len() < 8000, "the report is {} bytes", out.len());
    assert_escaped("validate of a 10 MB name", &out);
    // With the default file limit, the file itself is refused unread.
    let o = cli(&sb, work.path(), &["plan", d]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out.contains("error[file-too-large]") && out.contains("huge.toml"),
        "{}",
        &out[..out.len().min(3000)]
    );
    sb.shutdown().await.unwrap();
}
