//! What a script or remediation runs, shown to approvers as notes of its
//! change: the new content of each script file, or a line diff against
//! the content the tenant holds when it was read. Each line is a note of
//! its own, so the text and Markdown plans escape it as they escape every
//! note (control characters never reach a terminal raw).

use base64::Engine as _;
use schema::Kind;
use serde_json::Value;

use crate::plan::{Action, Change};

/// The content properties of the script kinds.
const CONTENTS: [&str; 3] = ["scriptContent", "detectionScriptContent", "remediationScriptContent"];

/// At most this many lines of a script are shown; the rest is counted.
const MAX_LINES: usize = 400;

/// At most this many characters of a line are shown.
const MAX_LINE_CHARS: usize = 400;

/// `line`, cut to [`MAX_LINE_CHARS`] characters (saying how many more).
fn cut(line: &str) -> String {
    let line = line.trim_end_matches(['\n', '\r']);
    let n = line.chars().count();
    if n <= MAX_LINE_CHARS {
        return line.to_string();
    }
    let head: String = line.chars().take(MAX_LINE_CHARS).collect();
    format!("{head}... ({} more characters)", n - MAX_LINE_CHARS)
}

fn decode(v: Option<&Value>) -> Option<String> {
    decode_bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn decode_bytes(v: Option<&Value>) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(v?.as_str()?).ok()
}

/// The notes of one content property: `None` when the change does not
/// set it.
fn content_notes(change: &Change, live: Option<&crate::Props>, content: &str) -> Option<Vec<String>> {
    let d = change.desired.as_ref()?;
    let hash = format!("{content}Sha256");
    let changed = change.action == Action::Create || change.action == Action::Replace || change.fields.iter().any(|f| f.field == hash);
    if !changed {
        return None;
    }
    let new = decode(d.create_only.get(content))?;
    let old = live.and_then(|l| decode(l.get(&format!("@tenantctl.{content}"))));
    let mut lines = Vec::new();
    match old {
        Some(old) if change.action != Action::Create => {
            // A byte-order mark or CR line ends show in no line diff.
            if let (Some(l), Some(f)) = (live.and_then(|l| decode_bytes(l.get(&format!("@tenantctl.{content}")))), decode_bytes(d.create_only.get(content))) {
                lines.extend(super::script_encoding::notes(content, &l, &f));
            }
            lines.push(format!("{content} changes (- as the tenant holds it, + as it will run):"));
            let diff = similar::TextDiff::from_lines(&old, &new);
            for ch in diff.iter_all_changes() {
                let sign = match ch.tag() {
                    similar::ChangeTag::Delete => "-",
                    similar::ChangeTag::Insert => "+",
                    similar::ChangeTag::Equal => " ",
                };
                lines.push(format!("{content} {sign} {}", cut(ch.value())));
            }
        }
        _ => {
            lines.push(format!("{content} as it will run:"));
            lines.extend(new.lines().map(|l| format!("{content} + {}", cut(l))));
        }
    }
    if lines.len() > MAX_LINES + 1 {
        let more = lines.len() - MAX_LINES - 1;
        lines.truncate(MAX_LINES + 1);
        lines.push(format!("{content}: {more} more line(s) not shown; read the file in the change itself"));
    }
    Some(lines)
}

/// Notes showing what each created or changed script runs (against the
/// content `observed` holds for its live object, read by id).
pub fn notes(changes: &mut [Change], observed: &crate::ObservedState) {
    for c in changes.iter_mut().filter(|c| matches!(c.address.kind, Kind::PlatformScript | Kind::Remediation)) {
        let live = c.id.as_deref().and_then(|id| observed.objects.get(&c.address.kind).into_iter().flatten().find(|o| o.id == id)).map(|o| &o.props);
        let mut add = Vec::new();
        for content in CONTENTS {
            add.extend(content_notes(c, live, content).into_iter().flatten());
        }
        c.notes.extend(add);
    }
}
