//! The drift report rendered for terminals, PR comments, machines and
//! browsers: text, Markdown, JSON and one self-contained HTML page. Every
//! renderer escapes for its medium and hides secret fields.

use serde_json::Value;
use schema::Kind;

use super::DriftReport;
use crate::diff::canonical;
use crate::render::{html_text, md_code, md_text, show_value, text_safe as t, MdContext};

fn show_opt(field: &str, v: &Option<Value>) -> String {
    match v {
        Some(v) => show_value(field, &canonical(v)),
        None => "(absent)".to_string(),
    }
}

/// For terminals and logs.
pub fn render_text(r: &DriftReport) -> String {
    let mut out = format!("Drift report at {}: {}\n", r.generated_at, r.headline());
    let mut current: Option<Kind> = None;
    for i in &r.items {
        if current != Some(i.kind) {
            out.push_str(&format!("\n{}:\n", i.kind.as_str()));
            current = Some(i.kind);
        }
        out.push_str(&format!("  [{}] {} ({}) since {}\n      {}\n", i.drift.as_str(), t(&i.address), t(&i.display_name), t(&i.since), t(&i.detail)));
        for f in &i.fields {
            out.push_str(&format!("      {}: {} -> {}\n", t(&f.field), show_opt(&f.field, &f.live), show_opt(&f.field, &f.desired)));
        }
    }
    if !r.unknown.is_empty() {
        out.push_str("\nCould not be read (unknown, not drift):\n");
        for u in &r.unknown {
            out.push_str(&format!("  ? {}: {}\n", u.address, t(&u.reason)));
        }
    }
    for w in &r.warnings {
        out.push_str(&format!("warning: {}\n", t(w)));
    }
    out
}

/// Live text in Markdown outside code fences (see `render::md_text`).
fn md_cell(s: &str) -> String {
    md_text(s, MdContext::Paragraph)
}

/// For pull-request comments and issues.
pub fn render_markdown(r: &DriftReport) -> String {
    let mut out = format!("## Drift report\n\n{} — read at {}\n\n", r.headline(), r.generated_at);
    out.push_str("| Drift | Count |\n|---|---:|\n");
    for (k, n) in &r.counts {
        out.push_str(&format!("| {} | {n} |\n", k.label()));
    }
    out.push_str(&format!("| in sync | {} |\n| unknown | {} |\n", r.in_sync_count, r.unknown.len()));
    let mut current: Option<Kind> = None;
    for i in &r.items {
        if current != Some(i.kind) {
            out.push_str(&format!("\n### {}\n", i.kind.as_str()));
            current = Some(i.kind);
        }
        out.push_str(&format!("\n**{}** {} — *{}* since {}: {}\n", md_code(&i.address, MdContext::Paragraph), md_cell(&i.display_name), i.drift.as_str(), md_cell(&i.since), md_cell(&i.detail)));
        if !i.fields.is_empty() {
            out.push_str("\n| Field | Live (old) | Desired (new) |\n|---|---|---|\n");
            for f in &i.fields {
                let cell = |s: &str| md_code(s, MdContext::TableCell);
                out.push_str(&format!("| {} | {} | {} |\n", cell(&f.field), cell(&show_opt(&f.field, &f.live)), cell(&show_opt(&f.field, &f.desired))));
            }
        }
    }
    if !r.unknown.is_empty() {
        out.push_str("\n### Could not be read (unknown, not drift)\n\n");
        for u in &r.unknown {
            out.push_str(&format!("- `{}`: {}\n", u.address, md_cell(&u.reason)));
        }
    }
    if !r.warnings.is_empty() {
        out.push_str("\n### Warnings\n\n");
        for w in &r.warnings {
            out.push_str(&format!("- {}\n", md_cell(w)));
        }
    }
    out
}

pub fn render_json(r: &DriftReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:70rem;color:#1b1b1b;padding:0 1rem}\
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2rem}\
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.n{text-align:right}.item{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}\
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;font-size:.85rem;color:#fff;background:#666}\
.changed{background:#b05a00}.missing{background:#b00020}.expired{background:#7a1fa2}.unmanaged{background:#00639b}.undeclared{background:#555}\
.sync{color:#1b6e1b;font-weight:bold}.drift{color:#b00020;font-weight:bold}code{font-family:ui-monospace,Consolas,monospace;font-size:.9rem}\
.old{background:#fde8e8}.new{background:#e6f4e6}.muted{color:#666}";

/// One self-contained HTML file: inline CSS, no scripts, no external assets.
pub fn render_html(r: &DriftReport) -> String {
    let e = html_text;
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>tenantctl drift report {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n", e(&r.generated_at)));
    out.push_str("<h1>tenantctl drift report</h1>\n");
    let class = if r.in_sync { "sync" } else { "drift" };
    out.push_str(&format!("<p id=\"headline\" class=\"{class}\">{}</p>\n<p class=\"muted\">Read at {}</p>\n", e(&r.headline()), e(&r.generated_at)));
    out.push_str("<h2>Summary</h2>\n<table id=\"summary\">\n<tr><th>Drift</th><th>Count</th></tr>\n");
    for (k, n) in &r.counts {
        out.push_str(&format!("<tr data-kind=\"{}\"><td>{}</td><td class=\"n\">{n}</td></tr>\n", k.as_str(), e(k.label())));
    }
    out.push_str(&format!("<tr data-kind=\"in_sync\"><td>in sync</td><td class=\"n\">{}</td></tr>\n", r.in_sync_count));
    out.push_str(&format!("<tr data-kind=\"unknown\"><td>unknown (could not be read)</td><td class=\"n\">{}</td></tr>\n</table>\n", r.unknown.len()));
    let mut current: Option<Kind> = None;
    for i in &r.items {
        if current != Some(i.kind) {
            if current.is_some() {
                out.push_str("</section>\n");
            }
            out.push_str(&format!("<section id=\"kind-{0}\">\n<h2>{0}</h2>\n", i.kind.as_str()));
            current = Some(i.kind);
        }
        out.push_str(&format!(
            "<div class=\"item\" data-address=\"{}\">\n<p><span class=\"badge {}\">{}</span> <code>{}</code> {} <span class=\"muted\">since {}</span></p>\n<p>{}</p>\n",
            e(&i.address),
            i.drift.as_str(),
            i.drift.as_str(),
            e(&i.address),
            e(&i.display_name),
            e(&i.since),
            e(&i.detail)
        ));
        if !i.fields.is_empty() {
            out.push_str("<table class=\"diff\">\n<tr><th>Field</th><th>Live (old)</th><th>Desired (new)</th></tr>\n");
            for f in &i.fields {
                out.push_str(&format!(
                    "<tr><td><code>{}</code></td><td class=\"old\"><code>{}</code></td><td class=\"new\"><code>{}</code></td></tr>\n",
                    e(&f.field),
                    e(&show_opt(&f.field, &f.live)),
                    e(&show_opt(&f.field, &f.desired))
                ));
            }
            out.push_str("</table>\n");
        }
        out.push_str("</div>\n");
    }
    if current.is_some() {
        out.push_str("</section>\n");
    }
    if !r.unknown.is_empty() {
        out.push_str("<section id=\"unknown\">\n<h2>Could not be read (unknown, not drift)</h2>\n<ul>\n");
        for u in &r.unknown {
            out.push_str(&format!("<li><code>{}</code>: {}</li>\n", e(&u.address.to_string()), e(&u.reason)));
        }
        out.push_str("</ul>\n</section>\n");
    }
    if !r.warnings.is_empty() {
        out.push_str("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>\n");
        for w in &r.warnings {
            out.push_str(&format!("<li>{}</li>\n", e(w)));
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}
