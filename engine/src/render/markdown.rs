//! Markdown made for a pull-request comment: a summary table of counts per
//! kind and action, then one collapsible section per resource with a diff.
//! Long plans stay readable because every resource is folded.

use std::collections::BTreeMap;
use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use crate::plan::{Action, Plan};
use crate::render::{diff_sides, headline, html_text, md_text, text_safe, MdContext};

const ACTIONS: [Action; 6] = [Action::Create, Action::Update, Action::Assign, Action::Replace, Action::Delete, Action::Forget];

/// Markdown paragraph text: live values escaped, engine quotes kept as code.
fn escape(s: &str) -> String {
    md_text(s, MdContext::Paragraph)
}

/// Text inside the `<summary>` HTML of a collapsible section.
fn summary_text(s: &str) -> String {
    let mut out = String::new();
    for c in html_text(s).chars() {
        match c {
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '*' => out.push_str("&#42;"),
            '~' => out.push_str("&#126;"),
            '\\' => out.push_str("&#92;"),
            c => out.push(c),
        }
    }
    out
}

pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## tenantctl plan\n");
    let _ = writeln!(out, "**{}** · {} unchanged\n", headline(plan), plan.unchanged.len());
    if !plan.changes.is_empty() {
        let mut by_kind: BTreeMap<schema::Kind, BTreeMap<Action, usize>> = BTreeMap::new();
        for c in &plan.changes {
            *by_kind.entry(c.address.kind).or_default().entry(c.action).or_insert(0) += 1;
        }
        let used: Vec<Action> = ACTIONS.iter().copied().filter(|a| by_kind.values().any(|m| m.contains_key(a))).collect();
        let _ = writeln!(out, "| kind | {} |", used.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(used.len()));
        for (kind, counts) in &by_kind {
            let cells: Vec<String> = used.iter().map(|a| counts.get(a).map(|n| n.to_string()).unwrap_or_default()).collect();
            let _ = writeln!(out, "| `{kind}` | {} |", cells.join(" | "));
        }
        let _ = writeln!(out);
    }
    for c in &plan.changes {
        let _ = writeln!(
            out,
            "<details><summary><code>{} {}</code> {} — {}</summary>\n",
            c.action.symbol(),
            c.address,
            c.action.as_str(),
            // The <details> line is an HTML block: HTML escaping applies,
            // plus Markdown's own characters for renderers that read
            // Markdown inside HTML.
            summary_text(&c.display_name)
        );
        let _ = writeln!(out, "{}{}\n", escape(&c.reason), c.id.as_deref().map(|i| escape(&format!(" (object `{i}`)"))).unwrap_or_default());
        if let Some(why) = plan.sensitive.get(&c.address) {
            let _ = writeln!(out, "**Sensitive:** {} (needs approval)\n", escape(why));
        }
        if !c.fields.is_empty() || !crate::render::deleted_settings(c).is_empty() {
            let (before, after) = diff_sides(c);
            // A fence longer than any run of backticks in the values, so
            // none closes it and every value is shown as it is applied
            // (hostile run 19: "```" was shown as "'''").
            let fence = "`".repeat(longest_backtick_run(&before).max(longest_backtick_run(&after)).max(2) + 1);
            let _ = writeln!(out, "{fence}diff");
            let diff = TextDiff::from_lines(&before, &after);
            for ch in diff.iter_all_changes() {
                let sign = match ch.tag() {
                    ChangeTag::Delete => "-",
                    ChangeTag::Insert => "+",
                    ChangeTag::Equal => " ",
                };
                // One line per diff line whatever the value holds.
                let _ = writeln!(out, "{sign} {}", text_safe(ch.value().trim_end_matches('\n')));
            }
            let _ = writeln!(out, "{fence}\n");
        }
        if !c.waits_on.is_empty() {
            let w: Vec<String> = c.waits_on.iter().map(|a| format!("`{a}`")).collect();
            let _ = writeln!(out, "Waits on: {}\n", w.join(", "));
        }
        for n in &c.notes {
            let _ = writeln!(out, "> **Note:** {}\n", escape(n));
        }
        let _ = writeln!(out, "</details>\n");
    }
    if !plan.unknown.is_empty() {
        let _ = writeln!(out, "### Could not be read\n\nNot counted as drift:\n");
        for u in &plan.unknown {
            let _ = writeln!(out, "- `{}`: {}", u.address, escape(&u.reason));
        }
        let _ = writeln!(out);
    }
    if !plan.refused.is_empty() {
        let _ = writeln!(out, "### Refused\n\nNot applied (the rest of the plan is):\n");
        for r in &plan.refused {
            let _ = writeln!(out, "- `{}` ({}): {}", r.address, escape(&r.code), escape(&r.reason));
        }
        let _ = writeln!(out);
    }
    if !plan.orphans.is_empty() {
        let _ = writeln!(out, "### Kept, no longer declared\n");
        for o in &plan.orphans {
            let _ = writeln!(out, "- `{}` {}: {}", o.address, escape(&format!("(`{}`)", o.id)), escape(&o.reason));
        }
        let _ = writeln!(out);
    }
    if !plan.rollout.is_empty() {
        let _ = writeln!(out, "### Rollout\n");
        for w in &plan.rollout {
            let _ = writeln!(out, "- `{}` {}: {}", w.address, escape(&w.ring), escape(&w.reason));
        }
        let _ = writeln!(out);
    }
    if !plan.lints.is_empty() {
        let _ = writeln!(out, "### Governance lints\n");
        for f in &plan.lints {
            let _ = writeln!(out, "- `{}` {}", f.lint, escape(&f.to_string()));
        }
        let _ = writeln!(out);
    }
    if let Some(c) = &plan.change {
        let _ = writeln!(out, "### Change record\n");
        for l in c.lines() {
            let _ = writeln!(out, "- {}", escape(&l));
        }
        let _ = writeln!(out);
    }
    if let Some(why) = plan.governance.as_ref().and_then(|g| g.reason()) {
        let _ = writeln!(out, "### Governance\n\n:lock: {}\n", escape(&why));
        for l in plan.governance.iter().flat_map(|g| g.field_lines()) {
            let _ = writeln!(out, "- {}", escape(&l));
        }
        let _ = writeln!(out);
    }
    // A change of [governance] needs approvals like a sensitive change.
    let governance_change = usize::from(plan.governance.as_ref().and_then(|g| g.reason()).is_some());
    if !plan.sensitive.is_empty() || governance_change > 0 || plan.author.is_some() || !plan.approvals.is_empty() {
        let _ = writeln!(out, "### Approvals\n");
        let _ = writeln!(out, "{} sensitive change(s).", plan.sensitive.len() + governance_change);
        if let Some(a) = &plan.author {
            let _ = writeln!(out, "- author: {}", escape(&format!("`{}`", a.public_key)));
        }
        for (i, a) in plan.approvals.iter().enumerate() {
            let _ = writeln!(out, "- approval {}: {} {}", i + 1, escape(&a.approver), escape(&format!("(`{}`)", a.public_key)));
        }
        let _ = writeln!(out);
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "### Warnings\n");
        for w in &plan.warnings {
            let _ = writeln!(out, "- :warning: {}", escape(w));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "<sub>plan `{}` · desired `{}` · live `{}`</sub>", short(&plan.hash()), short(&plan.desired_fingerprint), short(&plan.observed_fingerprint));
    out
}

fn short(h: &str) -> &str {
    let end = h.char_indices().nth(19).map(|(i, _)| i).unwrap_or(h.len());
    &h[..end]
}

/// The longest run of backticks in `text`.
fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}
