//! Markdown that fits a size limit (GitHub refuses pull-request comments
//! over 65,536 characters). The summary table, sensitive changes and the
//! closing sections (lints, approvals, what could not be read, warnings)
//! are kept; other changes keep their full section while it fits, then
//! shrink to one line each, then to a count, with a pointer to the saved
//! plan. The result never exceeds the limit in bytes (and so in characters).
//!
//! Works on the output of [`super::markdown`] by its structure: a head up to
//! the first change section (`<details>` ... `</details>`, one per change in
//! plan order), then `### ` sections, then the `<sub>` footer line.

use crate::plan::Plan;

/// Sections kept before anything but the head: what reviewers must see.
const ESSENTIAL: [&str; 2] = ["### Governance lints", "### Approvals"];
/// The sections after the changes, most important first.
const TAIL_PRIORITY: [&str; 7] = [
    "### Governance lints",
    "### Approvals",
    "### Could not be read",
    "### Refused",
    "### Warnings",
    "### Rollout",
    "### Kept, no longer declared",
];

/// [`super::markdown`], shortened to at most `max_bytes` bytes.
pub fn markdown_within(plan: &Plan, max_bytes: usize) -> String {
    let full = super::markdown(plan);
    if full.len() <= max_bytes {
        return full;
    }
    let parts = split(&full);
    let total = parts.blocks.len();
    let sensitive: Vec<bool> = if total == plan.changes.len() {
        plan.changes
            .iter()
            .map(|c| plan.sensitive.contains_key(&c.address))
            .collect()
    } else {
        vec![false; total]
    };
    // Room for the pointer line, whose numbers are not known yet.
    let reserve = pointer(max_bytes, total, total, total).len() + 16;
    let mut budget = max_bytes.saturating_sub(reserve);
    let mut take = |piece_len: usize| -> bool {
        if piece_len <= budget {
            budget -= piece_len;
            true
        } else {
            false
        }
    };
    let head_fits = take(parts.head.len()) && take(parts.footer.len());
    if !head_fits {
        return hard_cut(&full, max_bytes, total);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Shown {
        Full,
        Line,
        Hidden,
    }
    let mut shown = vec![Shown::Hidden; total];
    let mut tail: Vec<Option<String>> = vec![None; parts.sections.len()];
    let order = section_order(&parts.sections);
    let (essential, other): (Vec<usize>, Vec<usize>) = order
        .into_iter()
        .partition(|&i| ESSENTIAL.iter().any(|p| parts.sections[i].starts_with(p)));
    // 1. Lints and approvals.
    for i in essential {
        tail[i] = fit_section(parts.sections[i], &mut take);
    }
    // 2. Every sensitive change listed, as one line...
    for i in (0..total).filter(|&i| sensitive[i]) {
        if take(one_line(parts.blocks[i], true).len()) {
            shown[i] = Shown::Line;
        }
    }
    // ... and in full while that fits.
    for i in (0..total).filter(|&i| sensitive[i]) {
        let line = one_line(parts.blocks[i], true).len();
        if shown[i] == Shown::Line
            && parts.blocks[i].len() > line
            && take(parts.blocks[i].len() - line)
        {
            shown[i] = Shown::Full;
        }
    }
    // 3. The other closing sections, most important first.
    for i in other {
        tail[i] = fit_section(parts.sections[i], &mut take);
    }
    // 4. Other changes in plan order: full sections while they fit...
    for i in (0..total).filter(|&i| !sensitive[i]) {
        if take(parts.blocks[i].len()) {
            shown[i] = Shown::Full;
        } else {
            break;
        }
    }
    // ... then one line each.
    for i in 0..total {
        if shown[i] == Shown::Hidden && take(one_line(parts.blocks[i], sensitive[i]).len()) {
            shown[i] = Shown::Line;
        }
    }
    let mut out = String::with_capacity(max_bytes);
    out.push_str(parts.head);
    let mut in_list = false;
    for (i, block) in parts.blocks.iter().enumerate() {
        match shown[i] {
            Shown::Full => {
                if in_list {
                    out.push('\n');
                    in_list = false;
                }
                out.push_str(block);
            }
            Shown::Line => {
                out.push_str(&one_line(block, sensitive[i]));
                in_list = true;
            }
            Shown::Hidden => {}
        }
    }
    if in_list {
        out.push('\n');
    }
    for s in tail.into_iter().flatten() {
        out.push_str(&s);
    }
    let full_count = shown.iter().filter(|s| **s == Shown::Full).count();
    let line_count = shown.iter().filter(|s| **s == Shown::Line).count();
    out.push_str(&pointer(max_bytes, total, full_count, line_count));
    out.push_str(parts.footer);
    if out.len() > max_bytes {
        return hard_cut(&full, max_bytes, total);
    }
    out
}

/// A closing section whole, or its first lines and a `…` item, or nothing.
fn fit_section(section: &str, take: &mut impl FnMut(usize) -> bool) -> Option<String> {
    if take(section.len()) {
        return Some(section.to_owned());
    }
    let mut kept = String::new();
    for line in section.split_inclusive('\n') {
        if take(line.len()) {
            kept.push_str(line);
        } else {
            break;
        }
    }
    if kept.is_empty() {
        return None;
    }
    let more = "- …\n\n";
    if take(more.len()) {
        kept.push_str(more);
    }
    Some(kept)
}

struct Parts<'a> {
    head: &'a str,
    blocks: Vec<&'a str>,
    sections: Vec<&'a str>,
    footer: &'a str,
}

fn split(full: &str) -> Parts<'_> {
    let footer_at = full.rfind("<sub>").unwrap_or(full.len());
    let (body, footer) = full.split_at(footer_at);
    let first_block = body.find("<details>");
    let first_section = body.find("\n### ").map(|i| i + 1);
    let head_end = [first_block, first_section]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(body.len());
    let head = &body[..head_end];
    let mut rest = &body[head_end..];
    let mut blocks = Vec::new();
    while rest.starts_with("<details>") {
        let end = rest
            .find("</details>\n")
            .map(|i| i + "</details>\n".len())
            .unwrap_or(rest.len());
        // The blank line after a section belongs to it.
        let end = if rest[end..].starts_with('\n') {
            end + 1
        } else {
            end
        };
        blocks.push(&rest[..end]);
        rest = &rest[end..];
    }
    let mut sections = Vec::new();
    while !rest.is_empty() {
        let next = rest[1..]
            .find("\n### ")
            .map(|i| i + 2)
            .unwrap_or(rest.len());
        sections.push(&rest[..next]);
        rest = &rest[next..];
    }
    Parts {
        head,
        blocks,
        sections,
        footer,
    }
}

fn section_order(sections: &[&str]) -> Vec<usize> {
    let rank = |s: &str| {
        TAIL_PRIORITY
            .iter()
            .position(|p| s.starts_with(p))
            .unwrap_or(TAIL_PRIORITY.len())
    };
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.sort_by_key(|&i| (rank(sections[i]), i));
    order
}

/// A change section as one list item: its summary line.
fn one_line(block: &str, sensitive: bool) -> String {
    let summary = block
        .split_once("<summary>")
        .and_then(|(_, r)| r.split_once("</summary>"))
        .map(|(s, _)| s)
        .unwrap_or("(change)");
    format!(
        "- {summary}{}\n",
        if sensitive { " — **sensitive**" } else { "" }
    )
}

fn pointer(max_bytes: usize, total: usize, full: usize, lines: usize) -> String {
    let hidden = total.saturating_sub(full + lines);
    let mut s = format!("> :scissors: Shortened to fit {max_bytes} bytes: {full} of {total} change(s) shown in full, {lines} as one line");
    if hidden > 0 {
        s.push_str(&format!(", {hidden} not listed"));
    }
    s.push_str(". The saved plan (`plan.json`, uploaded with this run) has every change.\n\n");
    s
}

/// Last resort when even the head does not fit: the first bytes, cut at a
/// character boundary, and the pointer.
fn hard_cut(full: &str, max_bytes: usize, total: usize) -> String {
    let tail = format!("\n\n{}", pointer(max_bytes, total, 0, 0));
    if tail.len() >= max_bytes {
        let mut end = max_bytes;
        while !tail.is_char_boundary(end) {
            end -= 1;
        }
        return tail[..end].to_owned();
    }
    let mut end = max_bytes - tail.len();
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{tail}", &full[..end])
}
